"""The in-memory index of handled MessageSids (bot/handled.py): a sid once added is always found,
across chunk merges and whatever its filter bit shares with others; a sid never added is not."""

from __future__ import annotations

from bot.handled import SidIndex, _key


def sid(n: int) -> str:
    return f"SM{n:032x}"


def test_every_sid_added_is_found_and_others_are_not() -> None:
    stored = [sid(n) for n in range(3_000)]
    index = SidIndex(stored)
    added = [sid(n) for n in range(3_000, 3_000 + 5 * SidIndex.CHUNK + 7)]  # several merges
    for one in added:
        index.add(one)
    assert len(index) == len(stored) + len(added)
    assert all(one in index for one in stored + added)
    assert not any(sid(n) in index for n in range(100_000, 120_000))


def test_a_sid_whose_filter_bit_is_taken_is_still_told_apart() -> None:
    # Find a never-added sid sharing its filter bit with an added one: the bit lets it through
    # to the sorted chunks, which must still say no.
    index = SidIndex([sid(n) for n in range(50_000)])
    mask = SidIndex.FILTER_BITS - 1
    taken = {_key(sid(n)) & mask for n in range(50_000)}
    shared = next(sid(n) for n in range(50_000, 10_000_000) if _key(sid(n)) & mask in taken)
    assert shared not in index
    index.add(shared)
    assert shared in index
