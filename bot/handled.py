"""Which inbound MessageSids were already answered, so a retry gets the same TwiML again.

    handled = HandledMessages(db, every_sid_stored, recent=10_000)
    handled.known(sid)          # the answer if recent, or the future of a turn in progress
    await handled.stored(sid)   # the stored answer, asking the database only when it may exist

Every handled sid is indexed in memory as a 64-bit hash (8 bytes a sid: a million fit in 8 MB),
so a new message (the common case) is known to be new without a database round trip; only a
hash that is present, a real retry or a one-in-2^64 collision, is looked up in the database.
"""

from __future__ import annotations

import asyncio
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Iterable

from storage.db import Database
from storage.queries import find_handled


def _key(sid: str) -> int:
    # Python's own string hash: 64 bits, keyed afresh in every process (so nobody can aim for a
    # collision, which would only cost a database look-up anyway), and cached in the string.
    # The index is built at start from the stored sids, so keys never outlive the process.
    return hash(sid)


class SidIndex:
    """A set of 64-bit sid hashes in sorted arrays that merge like a binary counter: new hashes
    collect in a small set, which is sorted into a chunk when full; chunks of similar size are
    merged, so there are O(log n) of them and each look-up is a few bisections. In front of
    them, one bit per hash's low bits (a one-function Bloom filter, 2 MB) turns nearly every new
    sid away without a bisection: with a million sids stored, 94 in 100 look-ups stop there."""

    CHUNK = 4096
    FILTER_BITS = 1 << 24

    def __init__(self, sids: Iterable[str] = ()) -> None:
        keys = sorted({_key(sid) for sid in sids})
        self._chunks: list[array[int]] = [array("q", keys)]
        self._new: set[int] = set()
        self._filter = bytearray(self.FILTER_BITS // 8)
        for key in keys:
            self._mark(key)

    def __len__(self) -> int:
        return sum(len(chunk) for chunk in self._chunks) + len(self._new)

    def _mark(self, key: int) -> None:
        bit = key & (self.FILTER_BITS - 1)
        self._filter[bit >> 3] |= 1 << (bit & 7)

    def add(self, sid: str) -> None:
        key = _key(sid)
        self._mark(key)
        self._new.add(key)
        if len(self._new) >= self.CHUNK:
            self._chunks.append(array("q", sorted(self._new)))
            self._new.clear()
            while len(self._chunks) > 1 and len(self._chunks[-2]) <= 2 * len(self._chunks[-1]):
                newer, older = self._chunks.pop(), self._chunks.pop()
                # Two sorted runs: timsort merges them in one linear pass.
                self._chunks.append(array("q", sorted(older + newer)))

    def __contains__(self, sid: str) -> bool:
        key = _key(sid)
        bit = key & (self.FILTER_BITS - 1)
        if not self._filter[bit >> 3] & (1 << (bit & 7)):
            return False
        if key in self._new:
            return True
        for chunk in self._chunks:
            at = bisect_left(chunk, key)
            if at < len(chunk) and chunk[at] == key:
                return True
        return False


class TurnFailed(Exception):
    """Given to retries waiting on a turn that failed and changed nothing: run it again."""


class HandledMessages:
    """A sid being handled right now has a future here, so a concurrent retry waits for the
    first answer instead of running the turn again. Look-ups that must ask the database are
    gathered and asked together, one round trip for every turn that arrived meanwhile."""

    def __init__(self, db: Database, stored_sids: Iterable[str], recent: int) -> None:
        self._db = db
        self._capacity = recent
        self._index = SidIndex(stored_sids)
        self._recent: OrderedDict[str, str] = OrderedDict()
        # A turn in progress, with the futures of retries waiting for its answer (made only
        # when a retry actually arrives: nearly every turn has none).
        self._in_flight: dict[str, list[asyncio.Future[str]]] = {}
        self._asked: dict[str, list[asyncio.Future[str | None]]] = {}
        self._ask_scheduled = False

    def remember(self, sid: str, twiml: str) -> None:
        self._index.add(sid)
        self._recent[sid] = twiml
        if len(self._recent) > self._capacity:
            self._recent.popitem(last=False)

    def known(self, sid: str) -> str | asyncio.Future[str] | None:
        """The answer already given to `sid`, or a future of the answer being made now."""
        twiml = self._recent.get(sid)
        if twiml is not None:
            return twiml
        waiting = self._in_flight.get(sid)
        if waiting is None:
            return None
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        waiting.append(future)
        return future

    def begin(self, sid: str) -> None:
        self._in_flight[sid] = []

    def finish(self, sid: str, twiml: str | None) -> None:
        """The turn for `sid` is over: answered with `twiml`, or failed (None: may run again)."""
        waiting = self._in_flight.pop(sid)
        if twiml is not None:
            self.remember(sid, twiml)
        for future in waiting:
            if future.done():
                continue
            if twiml is not None:
                future.set_result(twiml)
            else:
                future.set_exception(TurnFailed(sid))

    def may_be_stored(self, sid: str) -> bool:
        """False for a sid never handled (nearly every message): no need to ask `stored`."""
        return sid in self._index

    async def stored(self, sid: str) -> str | None:
        if sid not in self._index:
            return None
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._asked.setdefault(sid, []).append(future)
        if not self._ask_scheduled:
            self._ask_scheduled = True
            asyncio.get_running_loop().call_soon(self._ask_database)
        return await future

    def _ask_database(self) -> None:
        self._ask_scheduled = False
        asked, self._asked = self._asked, {}
        asyncio.get_running_loop().create_task(self._answer(asked))

    async def _answer(self, asked: dict[str, list[asyncio.Future[str | None]]]) -> None:
        sids = list(asked)
        found: dict[str, str] = {}
        try:
            for start in range(0, len(sids), 500):
                found.update(await self._db.read(find_handled, sids[start : start + 500]))
        except Exception as error:
            for futures in asked.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(error)
            return
        for sid, futures in asked.items():
            for future in futures:
                if not future.done():
                    future.set_result(found.get(sid))
