"""LIST <words>: which homes a guest's words find (conversations/search.py)."""

from __future__ import annotations

from conversations.model import Property
from conversations.search import HomeSearch

HOMES = [
    Property(1, "+1555", "Beach House", "Malibu, CA", "On the sand.\nSleeps 4.", 250),
    Property(2, "+1555", "Cabin", "Tahoe", "A log cabin by the beach of the lake.", 120),
    Property(3, "+1555", "Loft", "SoHo", "Café downstairs; “quiet” street.", 300),
    Property(4, "+1555", "Beachside Cabin", "Malibu", "Sleeps 2", 90),
]


def ids(homes: list[Property]) -> list[int]:
    return [home.id for home in homes]


def test_every_word_must_be_found_in_the_title_place_or_description() -> None:
    search = HomeSearch(HOMES)
    assert ids(search.matching(["beach"])) == [1, 2, 4]  # part of a word counts: "beachside"
    assert ids(search.matching(["beach", "cabin"])) == [2, 4]
    assert ids(search.matching(["malibu", "sleeps"])) == [1, 4]
    assert ids(search.matching(["sand.", "sleeps"])) == [1]  # across a line break
    assert ids(search.matching(["cabin", "loft"])) == []
    assert ids(search.matching(["2"])) == [4]  # the last home is searched to its end
    assert ids(search.matching([])) == [1, 2, 3, 4]


def test_words_meet_homes_as_guests_can_text_them() -> None:
    search = HomeSearch(HOMES)
    # Casefolded, and in GSM-7: curly quotes are plain, accents kept where GSM-7 has them.
    assert ids(search.matching(["café"])) == [3]
    assert ids(search.matching(['"quiet"'])) == [3]
    assert ids(search.matching(["soho"])) == [3]


def test_a_word_never_spans_two_homes() -> None:
    search = HomeSearch(HOMES[:2])
    # Home 1 ends "sleeps 4." and home 2 starts "cabin": nothing reads "4.cabin".
    assert search.matching(["4.cabin"]) == []
