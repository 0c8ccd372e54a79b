"""Running one conversation turn, SPEC §2 steps 2 to 5: deduplicate, find the conversation,
decide, perform, commit. The webhook handler (bot/webhook.py) does the HTTP around it.

    answer = await turns.run(sms, cookie)   # -> Answer(twiml, cookie)
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from bot.handled import HandledMessages, TurnFailed
from bot.sessions import Sessions
from bot.twiml import render
from bot.world import TurnFacts, World
from conversations import texts
from conversations.flow import Decision, Inbound, Outgoing, Rules, decide, expire, remind
from conversations.model import Property
from storage.base import Listed
from storage.db import Database
from storage.queries import load_snapshot
from storage.writes import stamp

log = logging.getLogger(__name__)


class InboundSms(NamedTuple):
    """The webhook's form, checked: what Twilio told us about one inbound message."""

    sid: str
    phone: str  # From, E.164 where it can be
    bot_phone: str  # To
    body: str
    media: tuple[tuple[str, str], ...] = ()  # (MediaUrl{N}, MediaContentType{N})


class Answer(NamedTuple):
    twiml: str
    cookie: str | None
    replayed: bool = False
    failed: bool = False  # the apology: the turn could not be decided or committed


class Turns(Protocol):
    """What the service asks of its turn runner, whichever store is under it: `TurnRunner`
    below (the embedded store: memory written through) or `SharedTurnRunner`
    (bot/shared_turns.py: PostgreSQL, the database's state read and locked each turn)."""

    sessions: Sessions

    async def run(self, sms: InboundSms, cookie: str | None) -> Answer: ...
    async def homes(self) -> list[Property]: ...
    async def add_home(
        self, host_phone: str, host_name: str | None, home: Property, now: datetime
    ) -> Listed: ...
    def opted_out(self, phone: str) -> bool: ...  # what this process knows without asking
    async def opt_out(self, phone: str) -> None: ...
    async def expire_due(self, ttl: timedelta, bot_phone: str, now: datetime) -> int: ...
    def housekeeping(self, now: datetime) -> None: ...
    async def reload(self) -> None: ...
    async def close(self) -> None: ...


class PairLocks:
    """One turn at a time per conversation, in arrival order.

    A pair with a turn running has a queue of waiting turns; an idle pair has no entry at all,
    so a quiet conversation costs nothing and the first turn of a pair never waits.
    """

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], deque[asyncio.Future[None]]] = {}

    async def acquire(self, pair: tuple[str, str]) -> None:
        waiting = self._held.get(pair)
        if waiting is None:
            self._held[pair] = deque()
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release(pair)  # it was our turn: hand it on
            else:
                waiting.remove(turn)
            raise

    def release(self, pair: tuple[str, str]) -> None:
        waiting = self._held[pair]
        while waiting:
            turn = waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        del self._held[pair]


class TurnRunner:
    def __init__(
        self,
        db: Database,
        world: World,
        sessions: Sessions,
        *,
        max_nights: int,
        timezone: str,
        idle: timedelta,
        same_day_until_hour: int = 0,
        clock: Callable[[], datetime],
        on_queued: Callable[[], None],
        handled_sids: Iterable[str] = (),
        recent_sids: int = 10_000,
    ) -> None:
        self.db = db
        self.world = world
        self.sessions = sessions
        self.handled = HandledMessages(db, handled_sids, recent_sids)
        self.locks = PairLocks()
        self.max_nights = max_nights
        self.zone = ZoneInfo(timezone)
        self.same_day_until_hour = same_day_until_hour
        self.idle = idle
        self.clock = clock
        self.on_queued = on_queued
        self._ready = asyncio.Event()
        self._ready.set()

    async def run(self, sms: InboundSms, cookie: str | None) -> Answer:
        if not self._ready.is_set():
            await self._ready.wait()
        known = self.handled.known(sms.sid)
        if known is not None:
            return await self._replay(sms, known)
        self.handled.begin(sms.sid)
        twiml: str | None = None
        pair = (sms.bot_phone, sms.phone)
        try:
            await self.locks.acquire(pair)
            try:
                if not self._ready.is_set():
                    # Memory is being rebuilt: decide only on the rebuilt world.
                    await self._ready.wait()
                stored = None
                if self.handled.may_be_stored(sms.sid):  # a retry (or a hash collision)
                    stored = await self.handled.stored(sms.sid)
                if stored is not None:
                    twiml = stored
                    return self._answer(sms, stored, replayed=True)
                twiml, answer = await self._turn(sms, cookie)
                return answer
            finally:
                self.locks.release(pair)
        finally:
            self.handled.finish(sms.sid, twiml)

    async def _replay(self, sms: InboundSms, known: str | asyncio.Future[str]) -> Answer:
        if isinstance(known, str):
            return self._answer(sms, known, replayed=True)
        try:
            twiml = await known
        except TurnFailed:
            # The first delivery failed and was rolled back: this one runs the turn afresh.
            return await self.run(sms, None)
        return self._answer(sms, twiml, replayed=True)

    def _answer(self, sms: InboundSms, twiml: str, *, replayed: bool = False) -> Answer:
        conversation = self.world.live_conversation(sms.bot_phone, sms.phone, self.clock())
        cookie = self.sessions.cookie_for(conversation) if conversation else None
        return Answer(twiml, cookie, replayed)

    async def _turn(self, sms: InboundSms, cookie: str | None) -> tuple[str | None, Answer]:
        now = self.clock()
        world = self.world
        conversation = world.live_conversation(sms.bot_phone, sms.phone, now)
        if conversation is not None and cookie and not self.sessions.names(cookie, conversation):
            # Stale, forged or foreign: the pair's own live session continues regardless.
            log.info("ignored a session cookie that does not name this pair's conversation")
        if conversation is None:
            conversation = world.new_conversation(sms.bot_phone, sms.phone, now)
        local = now.astimezone(self.zone)
        same_day = local.hour < self.same_day_until_hour  # a stay may still start today
        rules = Rules(now, local.date(), self.max_nights, same_day)
        try:
            decision = decide(Inbound(sms.phone, sms.body, sms.media), conversation, world, rules)
        except Exception:
            log.exception("turn %s failed while deciding; nothing was changed", sms.sid)
            return None, self._apology(sms)
        twiml = render(decision.replies, sms.phone)
        urls = tuple(url for url, _ in sms.media)
        facts = TurnFacts(sms.sid, sms.phone, sms.bot_phone, sms.body, urls, now)
        try:
            writes = world.perform(facts, conversation, decision, twiml)
            await self.db.commit(writes)
        except Exception:
            log.exception("turn %s failed while committing; reloading from the database", sms.sid)
            await self.reload()
            return None, self._apology(sms)
        if decision.notifications:
            self.on_queued()
        return twiml, Answer(twiml, self.sessions.cookie_for(conversation))

    def _apology(self, sms: InboundSms) -> Answer:
        person = self.world.person(sms.phone)
        if person is not None and person.opted_out:
            # Nothing, even an apology, after STOP.
            return Answer(render([], sms.phone), None, failed=True)
        return Answer(render([Outgoing(sms.phone, texts.APOLOGY)], sms.phone), None, failed=True)

    async def perform_expiry(
        self, decision: Decision, bot_phone: str, now: datetime | None = None
    ) -> None:
        """Perform an expiry or a reminder decided outside a turn (bot/expiry.py)."""
        writes = self.world.perform_expiry(decision, bot_phone, now or self.clock())
        try:
            await self.db.commit(writes)
        except Exception:
            log.exception("expiring a request failed; reloading from the database")
            await self.reload()
            return
        self.on_queued()

    async def homes(self) -> list[Property]:
        return list(self.world.properties.values())

    async def add_home(
        self, host_phone: str, host_name: str | None, home: Property, now: datetime
    ) -> Listed:
        """List a home (the operator's add-home, the demo): in memory at once, then committed;
        the host's home of that title if there is one already."""
        found = self.world.home_titled(host_phone, home.title)
        if found is None:
            home, writes = self.world.add_home(host_phone, host_name, home, now)
            await self.db.write(writes)
        host = self.world.person(host_phone)
        return Listed(found or home, found is not None, host.name if host else None)

    def opted_out(self, phone: str) -> bool:
        person = self.world.person(phone)
        return bool(person and person.opted_out)

    async def expire_due(self, ttl: timedelta, bot_phone: str, now: datetime) -> int:
        """Expire every pending request older than `ttl` and remind the hosts of those older
        than half of it; returns how many expired."""
        expired = reminded = 0
        for listed in self.world.pending():
            # Each step awaits a commit, and memory may be rebuilt meanwhile: decide on what
            # the current world holds now, never on the object listed before.
            reservation = self.world.reservation(listed.id)
            if reservation is None or reservation.status != "pending":
                continue
            waited = now - reservation.created_at
            if waited >= ttl:
                decision = expire(reservation, self.world)
                expired += decision is not None
            elif waited >= ttl / 2:
                decision = remind(reservation, self.world)
                reminded += decision is not None
            else:
                continue
            if decision is not None:
                await self.perform_expiry(decision, bot_phone, now)
        if reminded:
            log.info("reminded hosts of %d pending request(s)", reminded)
        return expired

    def housekeeping(self, now: datetime) -> None:
        self.world.forget_idle(now)

    async def close(self) -> None:
        pass

    async def opt_out(self, phone: str) -> None:
        """Twilio refused a message because this person replied STOP: send them nothing more."""
        writes = self.world.set_opted_out(phone, self.clock())
        if writes:
            await self.db.commit(writes)

    async def reload(self) -> None:
        """Memory may be ahead of the database after a failed commit: rebuild it from disk.

        New turns wait meanwhile; turns already committing finish first, so nothing that was
        committed is missing from the rebuilt memory.
        """
        if not self._ready.is_set():
            await self._ready.wait()
            return
        self._ready.clear()
        try:
            await self.db.flush()
            self.world = await load_world(self.db, self.idle, self.clock())
        finally:
            self._ready.set()


async def load_world(db: Database, idle: timedelta, now: datetime) -> World:
    snapshot = await db.read(load_snapshot, stamp(now - idle), 0)
    return World(snapshot, idle)
