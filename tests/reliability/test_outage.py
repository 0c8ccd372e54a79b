"""Twilio down for a while (issue 4 item 2): the REST stand-in answers 500, then 429 with
Retry-After, then hangs, then drops connections, window after window, while guests keep
texting. The webhooks answer all along; the outbox shows its retries (attempts, the last error)
while they go on; when Twilio recovers every message is delivered exactly once. Permanent
refusals (21211, 21610) are recorded as failed with their code and never tried again.

tests/bot/test_outbox.py covers each fault once; these are sustained outages, with traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.config import OutboxConfig
from tests.bot.test_webhook import Restarted, outbox_rows, request_stay
from tests.conftest import HOSTS, Bot, Clock
from tests.phones import TwilioPhone
from tests.reliability import summary
from tests.reliability.conftest import assert_consistent
from tests.twilio_api import FaultKind, TwilioAPI

# On both stores (the `backend` fixture): the consistency checks read the SQLite file or the
# PostgreSQL database (tests/reliability/conftest.py).

HOST_A, HOST_B = HOSTS
HOST_C = "+15550100003"
TITLES = {HOST_A: "Beach House", HOST_B: "City Loft", HOST_C: "Garden Cottage"}

# Patient enough to outlast the outage: a message gives up only after many more attempts than
# the outage can use (tests/bot/test_outbox.py covers giving up).
SHORT = OutboxConfig(
    concurrency=16,
    max_attempts=100,
    base_delay_seconds=0.05,
    max_delay_seconds=0.4,
    request_timeout_seconds=1.0,
)
LONG = OutboxConfig(
    concurrency=16,
    max_attempts=100,
    base_delay_seconds=0.1,
    max_delay_seconds=2.0,
    request_timeout_seconds=1.0,
)

# How each fault shows in the outbox's error column while the message waits for its retry.
ERROR_TEXT = {
    "500": "HTTP 500",
    "503": "HTTP 503",
    "429": "HTTP 429",
    "timeout": "TimeoutError",
    "close": "Disconnected",
}


@contextlib.asynccontextmanager
async def patient_bot(
    tmp_path: Path, twilio: TwilioAPI, clock: Clock, outbox: OutboxConfig
) -> AsyncIterator[Bot]:
    async with Restarted(tmp_path, twilio, clock, outbox=outbox) as bot:
        for host, title in TITLES.items():
            await bot.add_home(host, title)
        yield bot


@dataclass
class Window:
    kind: FaultKind
    seconds: float
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Observed:
    answered: list[float] = field(default_factory=list)  # when webhooks answered 200
    # (row, attempts, error) of rows seen waiting for a retry
    retrying: set[tuple[int, int, str]] = field(default_factory=set)


def schedule(twilio: TwilioAPI, windows: list[Window]) -> list[tuple[float, float, Window]]:
    """The windows back to back from now, on the stand-in's clock: (start, end, window)."""
    start = twilio.clock()
    spans = []
    offset = 0.0
    for window in windows:
        twilio.fail_for(offset + window.seconds, window.kind, **window.options)
        spans.append((start + offset, start + offset + window.seconds, window))
        offset += window.seconds
    return spans


async def chatter(bot: Bot, phone: TwilioPhone, until: float, seen: Observed) -> None:
    """A guest texting all through the outage; every text must be answered."""
    bodies = ("LIST", "MY", "HELP", "MENU")
    n = 0
    while bot.twilio.clock() < until:
        reply = await phone.ask(bodies[n % len(bodies)])
        assert reply, "an empty answer during the outage"
        seen.answered.append(bot.twilio.clock())
        n += 1
        await asyncio.sleep(0.02)  # a person's pace, not a load test


async def watch_outbox(bot: Bot, until: float, seen: Observed) -> None:
    """What an operator sees during the outage: rows waiting with attempts and an error."""
    while bot.twilio.clock() < until:
        for row in await outbox_rows(bot):
            if row["status"] in ("queued", "sending") and row["attempts"] >= 2 and row["error"]:
                seen.retrying.add((row["id"], row["attempts"], row["error"]))
        await asyncio.sleep(0.05)


async def bookings(bot: Bot, first: int, count: int, spread: float) -> list[int]:
    """`count` guests request stays, started `spread` seconds apart (pacing, not waiting)."""

    async def one(n: int) -> int:
        await asyncio.sleep(n * spread)
        host = list(TITLES)[n % len(TITLES)]
        guest = bot.phone(f"+1555040{first + n:04d}")
        home = list(TITLES).index(host) + 1
        return await request_stay(bot, guest, home=home, start=20 + 5 * n, name=f"Guest {n}")

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def ride_out(
    bot: Bot, windows: list[Window], guests: int, talkers: int = 3
) -> tuple[Observed, list[dict[str, Any]]]:
    """Run the windows while guests book and others chat; return what was seen meanwhile and
    the outbox once it drained."""
    spans = schedule(bot.twilio, windows)
    end = spans[-1][1]
    total = sum(w.seconds for w in windows)
    seen = Observed()
    phones = [bot.phone(f"+1555041{n:04d}") for n in range(talkers)]
    async with asyncio.timeout(total + 60):
        refs, *_ = await asyncio.gather(
            bookings(bot, 0, guests, spread=total / guests),
            watch_outbox(bot, end, seen),
            *(chatter(bot, phone, end, seen) for phone in phones),
        )
        assert sorted(refs) == list(range(1, guests + 1))
        await bot.drained(timeout=30)
    rows = await outbox_rows(bot)

    # The webhooks answered in every window of the outage, whatever Twilio did.
    for start, stop, window in spans:
        assert any(start <= at < stop for at in seen.answered), f"no answer during {window}"
    # Each kind of fault was met, and its retries were visible in the outbox meanwhile.
    faults = Counter(r.fault for r in bot.twilio.create_requests() if r.fault)
    for window in windows:
        assert faults[window.kind] >= 1, (window, faults)
        assert any(ERROR_TEXT[window.kind] in error for _, _, error in seen.retrying), (
            window.kind,
            seen.retrying,
        )
    summary.add("outage_seconds_simulated", total)
    summary.add("webhooks_answered_during_outages", len(seen.answered))
    return seen, rows


def assert_each_delivered_once(bot: Bot, rows: list[dict[str, Any]]) -> None:
    created = Counter((m["to"], m["body"]) for m in bot.twilio.created)
    assert [key for key, n in created.items() if n != 1] == []
    assert set(created) == {(row["to"], row["body"]) for row in rows}
    for row in rows:
        assert row["status"] in ("sent", "delivered"), row
        assert (row["error"], row["error_code"]) == (None, None), row
        assert bot.twilio.message(row["twilio_sid"])["body"] == row["body"]
    summary.add("notifications_checked_exactly_once", len(rows))


ROLLING = [
    Window("500", 1.2),
    Window("429", 1.2, {"retry_after": 1}),
    Window("timeout", 1.5, {"hang": 3}),
    Window("close", 1.2),
]


async def test_a_rolling_outage_delays_but_loses_and_repeats_nothing(
    tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    async with patient_bot(tmp_path, twilio_api, clock, SHORT) as bot:
        seen, rows = await ride_out(bot, ROLLING, guests=12)
        assert_each_delivered_once(bot, rows)
        # The backoff shows in the record: messages queued early needed several attempts.
        assert sum(row["attempts"] > 1 for row in rows) >= 3, rows
        for row_id, attempts, _ in seen.retrying:
            (row,) = [r for r in rows if r["id"] == row_id]
            assert row["attempts"] >= attempts
        assert_consistent(tmp_path / "airtng.db")


@pytest.mark.parametrize(
    "window",
    [
        Window("500", 2.0),
        Window("429", 2.5, {"retry_after": 1}),
        Window("timeout", 3.5, {"hang": 3}),
        Window("close", 2.0),
    ],
    ids=lambda w: w.kind,
)
async def test_one_kind_of_outage_at_a_time(
    tmp_path: Path, twilio_api: TwilioAPI, clock: Clock, window: Window
) -> None:
    async with patient_bot(tmp_path, twilio_api, clock, SHORT) as bot:
        _, rows = await ride_out(bot, [window], guests=6)
        assert_each_delivered_once(bot, rows)
        assert any(row["attempts"] > 1 for row in rows)
        if window.kind == "429":
            # Retry-After is honoured: no message was tried again sooner than Twilio asked.
            tries: dict[str, list[tuple[float, str | None]]] = {}
            for request in twilio_api.create_requests():
                body = request.form["Body"][0]
                tries.setdefault(body, []).append((request.received_at, request.fault))
            for body, times in tries.items():
                for (before, fault), (after, _) in itertools.pairwise(times):
                    if fault == "429":
                        assert after - before >= 0.95, (body, times)
        assert_consistent(tmp_path / "airtng.db")


@pytest.mark.slow
async def test_a_long_rolling_outage(tmp_path: Path, twilio_api: TwilioAPI, clock: Clock) -> None:
    windows = [
        Window("500", 10),
        Window("503", 5),
        Window("429", 10, {"retry_after": 2}),
        Window("timeout", 10, {"hang": 3}),
        Window("close", 10),
    ]
    async with patient_bot(tmp_path, twilio_api, clock, LONG) as bot:
        _, rows = await ride_out(bot, windows, guests=60, talkers=5)
        assert_each_delivered_once(bot, rows)
        assert sum(row["attempts"] > 1 for row in rows) >= 10
        assert_consistent(tmp_path / "airtng.db")


# -- permanent refusals -------------------------------------------------------------------------


async def test_permanent_refusals_fail_with_their_code_and_are_never_retried(
    tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    """Through a 500 outage, host B's number turns out invalid (21211) and host C has replied
    STOP at Twilio (21610): their notices fail for good with the code, A's is delivered."""
    async with patient_bot(tmp_path, twilio_api, clock, SHORT) as bot:
        twilio_api.fail_for(2.0, "500")
        twilio_api.fail_for(3600, "21211", to=HOST_B)
        twilio_api.opted_out.add(HOST_C)
        refs = await bookings(bot, 100, 3, spread=0)
        await bot.drained(timeout=30)
        rows = {row["to"]: row for row in await outbox_rows(bot)}
        assert rows[HOST_A]["status"] in ("sent", "delivered") and rows[HOST_A]["attempts"] >= 2

        for host, code in ((HOST_B, 21211), (HOST_C, 21610)):
            row = rows[host]
            assert (row["status"], row["error_code"], row["twilio_sid"]) == ("failed", code, None)
            assert row["error"], row
            tried = [r for r in twilio_api.create_requests() if r.form["To"] == [host]]
            assert row["attempts"] == len(tried) >= 2  # 500s first, then the refusal, once
            assert [r.status for r in tried][-1] == 400
            assert all(r.status == 500 for r in tried[:-1])
        stored = assert_consistent(tmp_path / "airtng.db")
        assert stored.people[HOST_C]["opted_out"] == 1
        assert stored.people[HOST_B]["opted_out"] == 0

        # More traffic later: the failed rows are never tried again; B's new notice is tried
        # once; C, opted out, is queued nothing.
        attempts = Counter(twilio_api.attempts_by_to)
        more = await bookings(bot, 200, 3, spread=0)
        await bot.drained(timeout=30)
        assert twilio_api.attempts_by_to[HOST_A] == attempts[HOST_A] + 1
        assert twilio_api.attempts_by_to[HOST_B] == attempts[HOST_B] + 1
        assert twilio_api.attempts_by_to[HOST_C] == attempts[HOST_C]
        after = await outbox_rows(bot)
        assert [r["status"] for r in after if r["to"] == HOST_B] == ["failed", "failed"]
        assert len([r for r in after if r["to"] == HOST_C]) == 1
        assert stored.statuses() == {ref: "pending" for ref in refs}
        assert sorted(refs + more) == list(range(1, 7))
        assert_consistent(tmp_path / "airtng.db")
