"""What the reliability tests share: the servers they attack, a reading of the SQLite file that
does not go through the service, the invariants every database must keep, and the run's figures.

    stored = read_database(tmp_path / "airtng.db")      # straight from the file, even after a kill
    assert consistency_problems(stored) == []

The in-process `bot` is tests/bot's (tests/conftest.py, stopped cleanly); `service` is the real
process of tests/e2e/harness.py with its own Twilio stand-in and database.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest_asyncio

from tests.bot.test_webhook import bot_that_stops_cleanly  # noqa: F401  (the `bot` fixture)
from tests.e2e.harness import ServerProcess, Service, running_service
from tests.phones import parse_twiml
from tests.postgres import DATABASE
from tests.reliability import summary

# -- the servers ----------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def service(tmp_path: Path, backend: str) -> AsyncIterator[Service]:
    """`python run.py` on a fresh database, with a Twilio stand-in in this event loop."""
    async with running_service(tmp_path) as running:
        yield running


async def add_home(server: ServerProcess, host: str, title: str, **facts: Any) -> int:
    """List a home through the running process's admin API (run.py add-home does the same,
    one Python start-up slower)."""
    body = {
        "host_phone": host,
        "title": title,
        "place": facts.get("place", "Somewhere, CA"),
        "description": facts.get("description", f"A lovely {title.lower()}."),
        "nightly_price": facts.get("nightly_price", 100),
        "image_url": facts.get(
            "image_url", f"https://img.example.com/{title.lower().replace(' ', '-')}.jpg"
        ),
        "host_name": facts.get("host_name"),
    }
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.url + "/admin/api/properties", json=body, headers=headers) as response,
    ):
        assert response.status == 201, await response.text()
        return int((await response.json())["id"])


# -- the database, read from the file -------------------------------------------------------------


@dataclass
class Stored:
    """Every row that matters, as the SQLite file has it."""

    handled: dict[str, str] = field(default_factory=dict)  # MessageSid -> TwiML
    messages: list[dict[str, Any]] = field(default_factory=list)  # by id
    conversations: dict[int, dict[str, Any]] = field(default_factory=dict)
    reservations: dict[int, dict[str, Any]] = field(default_factory=dict)
    outbox: dict[int, dict[str, Any]] = field(default_factory=dict)
    people: dict[str, dict[str, Any]] = field(default_factory=dict)  # by phone
    integrity: list[str] = field(default_factory=list)
    # PostgreSQL hands out message ids to concurrent turns interleaved: a turn's rows are the
    # ones with its moment (`at`, to the microsecond), not the next ids as on SQLite.
    turns_by_at: bool = False

    def in_turn(self, message: dict[str, Any], offset: int) -> dict[str, Any] | None:
        """The message `offset` rows after (or before, if negative) `message` in its turn."""
        if not self.turns_by_at:
            return self._by_id.get(message["id"] + offset)
        same = self._by_at[message["at"]]
        at = next(n for n, m in enumerate(same) if m["id"] == message["id"])
        return same[at + offset] if 0 <= at + offset < len(same) else None

    @functools.cached_property
    def _by_id(self) -> dict[int, dict[str, Any]]:
        return {m["id"]: m for m in self.messages}

    @functools.cached_property
    def _by_at(self) -> dict[str, list[dict[str, Any]]]:
        turns: dict[str, list[dict[str, Any]]] = {}
        for message in self.messages:  # in id order
            turns.setdefault(message["at"], []).append(message)
        return turns

    def counts(self) -> dict[str, int]:
        return {
            "handled": len(self.handled),
            "messages": len(self.messages),
            "conversations": len(self.conversations),
            "reservations": len(self.reservations),
            "outbox": len(self.outbox),
            "people": len(self.people),
        }

    def inbound(self, sid: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["direction"] == "in" and m["twilio_sid"] == sid]

    def statuses(self) -> dict[int, str]:
        return {ref: row["status"] for ref, row in self.reservations.items()}


def read_database(path: Path) -> Stored:
    """Read the service's database file directly (it may be running, or dead from a SIGKILL:
    SQLite replays the committed part of the write-ahead log, as the service will)."""
    conn = sqlite3.connect(path, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("BEGIN")  # one consistent view, even while the service writes
        stored = Stored()
        stored.handled = dict(conn.execute("SELECT sid, twiml FROM handled_messages").fetchall())
        stored.messages = [dict(r) for r in conn.execute("SELECT * FROM messages ORDER BY id")]
        stored.conversations = {
            r["id"]: dict(r) for r in conn.execute("SELECT * FROM conversations")
        }
        stored.people = {r["phone"]: dict(r) for r in conn.execute("SELECT * FROM people")}
        stored.reservations = {
            r["id"]: dict(r)
            for r in conn.execute(
                "SELECT r.*, g.phone AS guest_phone, h.phone AS host_phone"
                " FROM reservations r JOIN people g ON g.id = r.guest_id"
                " JOIN properties p ON p.id = r.property_id JOIN people h ON h.id = p.host_id"
            )
        }
        stored.outbox = {r["id"]: dict(r) for r in conn.execute("SELECT * FROM outbox")}
        stored.integrity = [
            row[0] for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"
        ] + [repr(tuple(row)) for row in conn.execute("PRAGMA foreign_key_check")]
        conn.execute("COMMIT")
        return stored
    finally:
        conn.close()


def read_store(path: Path) -> Stored:
    """The test's store read around the service: its SQLite file, or (when the test runs on the
    shared store) its PostgreSQL database, in one repeatable-read snapshot."""
    if not DATABASE["url"]:
        return read_database(path)
    with ThreadPoolExecutor(1) as pool:  # the caller's event loop may be running
        return pool.submit(asyncio.run, _read_postgres(DATABASE["url"])).result()


async def _read_postgres(url: str) -> Stored:
    conn = await asyncpg.connect(url, server_settings={"timezone": "UTC"})
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            stored = Stored(turns_by_at=True)
            stored.handled = {
                r["sid"]: r["twiml"]
                for r in await conn.fetch("SELECT sid, twiml FROM handled_messages")
            }
            stored.messages = [
                dict(r)
                for r in await conn.fetch(
                    "SELECT id, conversation_id, direction, phone, body, media::text AS media,"
                    " twilio_sid, status, outbox_id, state_before, state_after, at::text AS at"
                    " FROM messages ORDER BY id"
                )
            ]
            stored.conversations = {
                r["id"]: dict(r)
                for r in await conn.fetch("SELECT id, phone, state, version FROM conversations")
            }
            stored.people = {
                r["phone"]: dict(r)
                for r in await conn.fetch(
                    "SELECT id, phone, name, opted_out::int AS opted_out FROM people"
                )
            }
            stored.reservations = {
                r["id"]: dict(r)
                for r in await conn.fetch(
                    "SELECT r.id, r.status, r.property_id, g.phone AS guest_phone,"
                    " h.phone AS host_phone FROM reservations r JOIN people g ON g.id = r.guest_id"
                    " JOIN properties p ON p.id = r.property_id JOIN people h ON h.id = p.host_id"
                )
            }
            stored.outbox = {
                r["id"]: dict(r)
                for r in await conn.fetch(
                    "SELECT id, to_phone, body, status, reservation_id FROM outbox"
                )
            }
            return stored
    finally:
        await conn.close()


def consistency_problems(stored: Stored) -> list[str]:
    """What no crash, race or hostile input may ever leave behind: a turn half applied, a log
    that disagrees with the answer given, an effect without the turn that caused it."""
    problems = [f"integrity: {line}" for line in stored.integrity]

    # Every handled MessageSid is exactly one logged inbound message, and the other way round.
    inbound_sids = Counter(
        m["twilio_sid"] for m in stored.messages if m["direction"] == "in" and m["twilio_sid"]
    )
    problems += [f"sid {sid} logged {n} times" for sid, n in inbound_sids.items() if n != 1]
    problems += [
        f"sid {sid} answered but not logged" for sid in stored.handled.keys() - set(inbound_sids)
    ]
    problems += [
        f"sid {sid} logged but not answered" for sid in set(inbound_sids) - stored.handled.keys()
    ]

    # The replies logged right after an inbound message are the TwiML that answered it.
    for message in stored.messages:
        if message["direction"] != "in" or message["twilio_sid"] not in stored.handled:
            continue
        replies = parse_twiml(stored.handled[message["twilio_sid"]], message["phone"])
        for offset, reply in enumerate(replies, start=1):
            logged = stored.in_turn(message, offset)
            got = None
            if logged is not None:
                media = json.loads(logged["media"])
                got = (logged["direction"], logged["phone"], logged["body"].strip(), media)
            if got != ("out", reply.to, reply.body, reply.media):
                problems.append(
                    f"turn {message['twilio_sid']}: reply {offset} {reply} logged as {logged}"
                )

    # A conversation is in the state its last turn left it in, and counted every turn.
    for conversation in stored.conversations.values():
        mine = [m for m in stored.messages if m["conversation_id"] == conversation["id"]]
        turns = [m for m in mine if m["direction"] == "in"]
        if not mine:
            problems.append(f"conversation {conversation['id']} has no messages")
            continue
        started_by_notice = mine[0]["direction"] == "out"
        if conversation["version"] != len(turns) + started_by_notice:
            problems.append(
                f"conversation {conversation['id']}: version {conversation['version']}"
                f" after {len(turns)} turns"
            )
        if turns and turns[-1]["state_after"] != conversation["state"]:
            problems.append(
                f"conversation {conversation['id']} is {conversation['state']!r} but its last"
                f" turn left it {turns[-1]['state_after']!r}"
            )

    # A reservation exists only with the SEND that made it, and its host was told of it.
    for ref, reservation in stored.reservations.items():
        told = [
            m
            for m in stored.messages
            if m["direction"] == "out"
            and m["phone"] == reservation["guest_phone"]
            and m["body"].startswith(f"Request {ref} sent to the host")
        ]
        if len(told) != 1:
            problems.append(f"reservation {ref}: {len(told)} 'sent' replies logged")
        else:
            send = stored.in_turn(told[0], -1)
            if not (
                send
                and send["direction"] == "in"
                and send["phone"] == reservation["guest_phone"]
                and send["state_before"] == "confirming"
            ):
                problems.append(f"reservation {ref}: its 'sent' reply follows {send}")
        host = stored.people.get(reservation["host_phone"], {})
        notices = [
            row
            for row in stored.outbox.values()
            if row["reservation_id"] == ref and row["body"].startswith(f"New request {ref}:")
        ]
        # A host who opted out before the request was not queued anything.
        if len(notices) not in ({0, 1} if host.get("opted_out") else {1}):
            problems.append(f"reservation {ref}: {len(notices)} notices queued for the host")
        if reservation["status"] == "confirmed":
            accepted = [
                m
                for m in stored.messages
                if m["direction"] == "out"
                and m["phone"] == reservation["host_phone"]
                and m["body"].startswith(f"You accepted request {ref} ")
            ]
            if len(accepted) != 1:
                problems.append(f"reservation {ref} confirmed with {len(accepted)} acceptances")

    # Every queued notification is in the log once, and points at a reservation that exists.
    logged_outbox = Counter(m["outbox_id"] for m in stored.messages if m["outbox_id"] is not None)
    for row in stored.outbox.values():
        if logged_outbox[row["id"]] != 1:
            problems.append(f"outbox {row['id']} logged {logged_outbox[row['id']]} times")
        if row["reservation_id"] is not None and row["reservation_id"] not in stored.reservations:
            problems.append(f"outbox {row['id']} is about a reservation that does not exist")
    problems += [
        f"log points at outbox {oid}, which does not exist"
        for oid in logged_outbox
        if oid not in stored.outbox
    ]
    if not problems:
        summary.add("consistency_checks_passed")
    return problems


def assert_consistent(path: Path) -> Stored:
    stored = read_store(path)
    problems = consistency_problems(stored)
    assert problems == [], "\n".join(problems)
    return stored


# -- the figures of the run -------------------------------------------------------------------------


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int) -> None:
    if not summary.FIGURES:
        return
    terminalreporter.write_sep("-", "reliability figures")
    for line in summary.lines(exitstatus == 0):
        terminalreporter.write_line(line)
    written = summary.write_if_asked(exitstatus == 0)
    if written is not None:
        terminalreporter.write_line(f"  written to {written}")
