"""Running turns on a shared store (PostgreSQL): any number of instances, one service.

    turns = await SharedTurnRunner.start(store, config, sessions, idle, clock, outbox.wake)
    answer = await turns.run(sms, cookie)

Nothing a turn decides on is this process's memory, except the listed homes (see `HomeCache`).
Per turn: the pair's lock and what the turn may read in one round trip, `decide` on a
`TurnView` of it, everything written and committed in a second (storage/postgres/turns.py).
What the view was not given it notes instead of guessing; the turn asks for all of it at once
and decides again (decide is pure, so a second decision is as good as a first). A write the
database refuses because the view moved meanwhile (a request decided on another instance, a
second confirmed stay over the same nights) rolls back, and the turn is loaded and decided
afresh: what it then says is what it would have said had it come second.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.sessions import Sessions
from bot.turns import Answer, InboundSms, PairLocks
from bot.twiml import render
from conversations import texts
from conversations.flow import Decision, Inbound, Outgoing, Rules, decide, expire, remind
from conversations.model import Conversation, Person, Property, Reservation
from conversations.search import HomeSearch
from storage.base import Listed
from storage.postgres.changes import InboundFacts, timed_changes, turn_changes
from storage.postgres.store import AlreadyHandled, Overlap, PairTurn, PostgresStore, StaleTurn

log = logging.getLogger(__name__)

OPEN = ("pending", "confirmed")
ATTEMPTS = 4  # decisions a turn may take when the database keeps moving under it
ASKS = 4  # rounds of "what the view was not given" before a turn gives up


class HomeCache:
    """Every home, in this instance's memory for LIST and a home's details: they are few, and
    read by most turns. Each turn's load carries the version of the homes in the database; a
    cache behind it is refreshed before deciding, and a NOTIFY from any instance's change
    refreshes it meanwhile, so a home listed, paused, re-priced or redacted anywhere is seen
    by every instance's next turn."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self.version: str | None = None
        self.by_id: dict[int, Property] = {}
        self.listed: list[Property] = []
        self._search: HomeSearch | None = None
        self._refreshing: asyncio.Task[None] | None = None
        self._again = False

    async def refresh(self) -> None:
        homes, version = await self._store.homes_and_version()
        self.by_id = {home.id: home for home in homes}
        self.listed = [home for home in homes if home.active]
        self._search = None
        self.version = version

    async def ensure(self, version: str | None) -> None:
        if version is not None and version != self.version:
            await self.refresh()

    def changed(self) -> None:
        """Another instance changed homes (NOTIFY): refresh in the background, once at a time."""
        if self._refreshing is not None and not self._refreshing.done():
            self._again = True
            return
        self._refreshing = asyncio.get_running_loop().create_task(self._refresh_soon())

    async def _refresh_soon(self) -> None:
        while True:
            self._again = False
            try:
                await self.refresh()
            except Exception:
                log.exception("refreshing the homes failed; the next turn will try again")
                self.version = None
            if not self._again:
                return

    def search_index(self) -> HomeSearch:
        if self._search is None:
            self._search = HomeSearch(self.listed)
        return self._search

    async def close(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()
            await asyncio.gather(self._refreshing, return_exceptions=True)


class TurnView:
    """What one turn may read (conversations.flow.World), from its load: the person, their
    homes, their reservations and the open ones at their homes, the people those involve; the
    homes from the cache. Asked for anything else, it answers "none" and notes the question:
    the runner then loads every noted thing at once and decides again."""

    def __init__(self, homes: HomeCache, sender: str | None) -> None:
        self._homes = homes
        self.sender = sender
        self.people: dict[str, Person] = {}
        self._known_phones: set[str] = set() if sender is None else {sender}
        self.own_homes: list[Property] = []
        self._own: dict[int, Property] = {}
        self._extra_homes: dict[int, Property] = {}
        self._asked_homes: set[int] = set()
        self.reservations: dict[int, Reservation] = {}
        self._asked_reservations: set[int] = set()
        self._open_known: set[int] = set()
        self._open_at: dict[int, list[Reservation]] = {}
        self.new_reservation_id: int | None = None
        self.clear_missing()

    def clear_missing(self) -> None:
        self.missing_people: set[str] = set()
        self.missing_reservations: set[int] = set()
        self.missing_open_at: set[int] = set()
        self.missing_homes: set[int] = set()
        self.wants_reservation_id = False

    @property
    def missing(self) -> bool:
        return bool(
            self.missing_people
            or self.missing_reservations
            or self.missing_open_at
            or self.missing_homes
            or self.wants_reservation_id
        )

    def add(self, loaded: dict[str, Any], *, own: bool = False) -> None:
        """Take in a load (own=True: its homes are the sender's) or what more was asked."""
        if loaded.get("person") is not None:
            person: Person = loaded["person"]
            self.people[person.phone] = person
        for person in loaded.get("people") or ():
            self.people[person.phone] = person
        self._known_phones |= self.missing_people | set(self.people)
        for home in loaded.get("homes") or ():
            if own:
                self._own[home.id] = home
            else:
                self._extra_homes[home.id] = home
        if own:
            self.own_homes = sorted(self._own.values(), key=lambda h: h.id)
        self._asked_homes |= self.missing_homes
        for reservation in loaded.get("reservations") or ():
            self.reservations[reservation.id] = reservation
        self._asked_reservations |= self.missing_reservations
        self._open_known |= set(loaded.get("open_at") or ())
        self._open_at = {}
        for reservation in self.reservations.values():
            if reservation.status in OPEN:
                self._open_at.setdefault(reservation.property_id, []).append(reservation)
        if loaded.get("new_reservation_id") is not None:
            self.new_reservation_id = int(loaded["new_reservation_id"])

    # -- conversations.flow.World ------------------------------------------------------------

    def person(self, phone: str) -> Person | None:
        found = self.people.get(phone)
        if found is None and phone not in self._known_phones:
            self.missing_people.add(phone)
        return found

    def property(self, property_id: int) -> Property | None:
        found = (
            self._own.get(property_id)
            or self._homes.by_id.get(property_id)
            or self._extra_homes.get(property_id)
        )
        if found is None and property_id not in self._asked_homes:
            self.missing_homes.add(property_id)
        return found

    def listed(self) -> Sequence[Property]:
        return self._homes.listed

    def homes_of(self, phone: str) -> Sequence[Property]:
        if phone == self.sender:
            return self.own_homes
        return [home for home in self._homes.by_id.values() if home.host_phone == phone]

    def search_index(self) -> HomeSearch:
        return self._homes.search_index()

    def reservation(self, reservation_id: int) -> Reservation | None:
        found = self.reservations.get(reservation_id)
        if found is None and reservation_id not in self._asked_reservations:
            self.missing_reservations.add(reservation_id)
        return found

    def reservations_of_guest(self, phone: str) -> Sequence[Reservation]:
        # The load brings every reservation of the sender as a guest.
        return sorted(
            (r for r in self.reservations.values() if r.guest_phone == phone), key=lambda r: r.id
        )

    def pending_for_host(self, phone: str) -> Sequence[Reservation]:
        homes = {home.id for home in self.homes_of(phone)}
        return sorted(
            (
                r
                for r in self.reservations.values()
                if r.status == "pending" and r.property_id in homes
            ),
            key=lambda r: r.id,
        )

    def reservations_at(self, property_id: int) -> Sequence[Reservation]:
        if property_id not in self._open_known:
            self.missing_open_at.add(property_id)
            return []
        return self._open_at.get(property_id, [])

    def is_host(self, phone: str) -> bool:
        return bool(self.homes_of(phone))

    def next_reservation_id(self) -> int:
        if self.new_reservation_id is None:
            self.wants_reservation_id = True
            return 0
        return self.new_reservation_id


def _conversation(row: dict[str, Any]) -> Conversation:
    return Conversation(
        int(row["id"]),
        row["bot_phone"],
        row["phone"],
        row["state"],
        datetime.fromisoformat(row["started_at"]),
        datetime.fromisoformat(row["last_at"]),
        row["data"],
        int(row["version"]),
    )


class SharedTurnRunner:
    def __init__(
        self,
        store: PostgresStore,
        sessions: Sessions,
        homes: HomeCache,
        *,
        max_nights: int,
        timezone: str,
        same_day_until_hour: int = 0,
        idle: timedelta,
        clock: Callable[[], datetime],
        on_queued: Callable[[], None],
    ) -> None:
        self.store = store
        self.sessions = sessions
        self.homes_cache = homes
        self.max_nights = max_nights
        self.zone = ZoneInfo(timezone)
        self.same_day_until_hour = same_day_until_hour
        self.idle = idle
        self.clock = clock
        self.on_queued = on_queued
        # Turns of one pair queue here in arrival order before they queue for the pair's lock
        # in PostgreSQL: fewer connections waiting, and this instance's order kept.
        self.locks = PairLocks()
        self.redecided = 0  # turns decided again because the database moved under them

    @classmethod
    async def start(
        cls,
        store: PostgresStore,
        config: Config,
        sessions: Sessions,
        idle: timedelta,
        clock: Callable[[], datetime],
        on_queued: Callable[[], None],
    ) -> SharedTurnRunner:
        homes = HomeCache(store)
        await homes.refresh()
        store.subscribe("airtng_homes", homes.changed)
        store.subscribe("airtng_outbox", on_queued)
        return cls(
            store,
            sessions,
            homes,
            max_nights=config.booking.max_nights,
            timezone=config.booking.timezone,
            same_day_until_hour=config.booking.same_day_until_hour,
            idle=idle,
            clock=clock,
            on_queued=on_queued,
        )

    async def run(self, sms: InboundSms, cookie: str | None) -> Answer:
        pair = (sms.bot_phone, sms.phone)
        await self.locks.acquire(pair)
        try:
            return await self._run(sms, cookie)
        finally:
            self.locks.release(pair)

    async def _run(self, sms: InboundSms, cookie: str | None) -> Answer:
        now = self.clock()
        since = now - self.idle
        person: Person | None = None
        try:
            async with self.store.pair_turn(sms.sid, sms.bot_phone, sms.phone, since) as turn:
                for _ in range(ATTEMPTS):
                    loaded = turn.loaded
                    if loaded["handled"] is not None:
                        return self._replay(loaded)
                    person = loaded["person"]
                    answer = await self._turn(turn, sms, cookie, now, since)
                    if answer is not None:
                        return answer
                    self.redecided += 1
                    await turn.load(lock=False)  # the pair is still ours
                log.error("turn %s: the database kept moving; nothing was changed", sms.sid)
        except Exception:
            log.exception("turn %s failed; nothing was changed", sms.sid)
        return self._apology(sms, person)

    async def _turn(
        self, turn: PairTurn, sms: InboundSms, cookie: str | None, now: datetime, since: datetime
    ) -> Answer | None:
        """Decide and write one turn; None if the database refused it (decide again)."""
        loaded = turn.loaded
        await self.homes_cache.ensure(loaded["homes_version"])
        if loaded["conversation"] is not None:
            conversation = _conversation(loaded["conversation"])
            if cookie and not self.sessions.names(cookie, conversation):
                log.info("ignored a session cookie that does not name this pair's conversation")
        else:
            conversation = Conversation(
                int(loaded["new_conversation_id"]), sms.bot_phone, sms.phone, "start", now, now
            )
        view = TurnView(self.homes_cache, sms.phone)
        view.add(loaded, own=True)
        local = now.astimezone(self.zone)
        same_day = local.hour < self.same_day_until_hour  # a stay may still start today
        rules = Rules(now, local.date(), self.max_nights, same_day)
        decision = await self._decide(
            turn, view, Inbound(sms.phone, sms.body, sms.media), conversation, rules
        )
        twiml = render(decision.replies, sms.phone)
        facts = InboundFacts(
            sms.sid, sms.phone, sms.bot_phone, sms.body, tuple(u for u, _ in sms.media), now
        )
        changes = turn_changes(facts, conversation, loaded["person"], decision, twiml, since)
        try:
            await turn.apply(changes)
        except (StaleTurn, Overlap, AlreadyHandled) as error:
            log.info("turn %s: %s; deciding it again on what is there now", sms.sid, error)
            return None
        if decision.notifications:
            self.on_queued()
        return Answer(twiml, self.sessions.cookie_for(conversation))

    async def _decide(
        self,
        turn: PairTurn,
        view: TurnView,
        inbound: Inbound,
        conversation: Conversation,
        rules: Rules,
    ) -> Decision:
        for _ in range(ASKS):
            try:
                decision = decide(inbound, conversation, view, rules)
            except Exception:
                if not view.missing:
                    raise
                # It went wrong on a "none" the view gave for lack of a load: ask, decide again.
            else:
                if not view.missing:
                    return decision
            more = await turn.more(
                view.missing_people,
                view.missing_reservations,
                view.missing_open_at,
                view.missing_homes,
                view.wants_reservation_id,
            )
            view.add(more)
            view.clear_missing()
        raise RuntimeError("the turn kept asking for more than it was given")

    def _replay(self, loaded: dict[str, Any]) -> Answer:
        row = loaded.get("conversation")
        cookie = self.sessions.cookie_for(_conversation(row)) if row else None
        return Answer(loaded["handled"], cookie, replayed=True)

    def _apology(self, sms: InboundSms, person: Person | None) -> Answer:
        if person is not None and person.opted_out:
            # Nothing, even an apology, after STOP.
            return Answer(render([], sms.phone), None, failed=True)
        return Answer(render([Outgoing(sms.phone, texts.APOLOGY)], sms.phone), None, failed=True)

    # -- beside the turns ------------------------------------------------------------------

    async def homes(self) -> list[Property]:
        return await self.store.homes()

    async def add_home(
        self, host_phone: str, host_name: str | None, home: Property, now: datetime
    ) -> Listed:
        return await self.store.add_home(host_phone, host_name, home, now)

    def opted_out(self, phone: str) -> bool:
        return False  # the outbox's claim reads it from the database with each row

    async def opt_out(self, phone: str) -> None:
        await self.store.opt_out(phone, self.clock())

    async def expire_due(self, ttl: timedelta, bot_phone: str, now: datetime) -> int:
        """Expire and remind as bot/turns.py does, on one instance at a time (an advisory lock),
        each change guarded so that a request decided meanwhile is left alone."""
        expired = reminded = 0
        async with self.store.expiry_leader() as leader:
            if not leader:
                return 0
            loaded = await self.store.pending_since(now - ttl / 2)
            await self.homes_cache.refresh()
            view = TurnView(self.homes_cache, None)
            view.add(loaded)
            for reservation in sorted(loaded["reservations"], key=lambda r: r.id):
                if now - reservation.created_at >= ttl:
                    decision = expire(reservation, view)
                    kind = "expired"
                else:
                    decision = remind(reservation, view)
                    kind = "reminded"
                if decision is None:
                    continue
                try:
                    await self.store.apply(timed_changes(decision, bot_phone, now, now - self.idle))
                except StaleTurn:
                    continue  # decided or reminded meanwhile, by a turn or another instance
                if kind == "expired":
                    expired += 1
                else:
                    reminded += 1
        if expired or reminded:
            self.on_queued()
        if reminded:
            log.info("reminded hosts of %d pending request(s)", reminded)
        return expired

    def housekeeping(self, now: datetime) -> None:
        pass  # nothing to forget: conversations live in the database only

    async def reload(self) -> None:
        await self.homes_cache.refresh()

    async def close(self) -> None:
        await self.homes_cache.close()
