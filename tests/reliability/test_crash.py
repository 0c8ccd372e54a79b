"""The real process under load (issue 4 items 1 and 3): `python run.py` killed with SIGKILL while
guests book and hosts accept, restarted on the same database, has lost no turn it answered,
half-applied none, answers Twilio's retries of the turns it never answered consistently, and
delivers every notification queued before the kill exactly once. Requests racing through the
same process (one MessageSid twenty times, two hosts answering at once, a guest's five messages
at once) have exactly one outcome each.

The database is read straight from its file (tests/reliability/conftest.py), also between the
kill and the restart, when nothing but the file is left.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import aiohttp
import pytest

from conversations import texts
from tests.e2e.harness import Handset, Service
from tests.phones import Reply
from tests.reliability import summary
from tests.reliability.conftest import add_home, assert_consistent

# Every test here runs on both stores (the whole store read around the service after each, by
# tests/reliability/conftest.py), but the one that reads the SQLite file's own rows mid-kill.

HOSTS = tuple(f"+1555030000{k}" for k in range(1, 6))
TITLES = ("Beach House", "Mountain Cabin", "City Loft", "Garden Cottage", "Desert Dome")
NOTE = "Two of us, quiet, here for a wedding."
MAX_TRIES = 20  # deliveries of one turn before the test gives up on the service


def guest_number(n: int) -> str:
    return f"+1555031{n:04d}"


def stay(n: int) -> str:
    """Guest n's dates: five guests per home, each in a slot of its own (no overlaps)."""
    check_in = datetime.now(UTC).date() + timedelta(days=20 + 5 * (n // len(HOSTS)))
    return f"{check_in.isoformat()} to {(check_in + timedelta(days=4)).isoformat()}"


def only(replies: list[Reply], to: str) -> str:
    mine = [r.body for r in replies if r.to == to]
    assert len(mine) == 1, f"expected one message to {to}, got {replies}"
    return mine[0]


async def list_homes(service: Service) -> None:
    for host, title in zip(HOSTS, TITLES, strict=True):
        await add_home(service.server, host, title)


# -- a driver that keeps texting through kills ------------------------------------------------------


@dataclass
class Turn:
    """One inbound SMS: delivered again with the same MessageSid until it is answered, as
    Twilio retries a webhook that got no answer."""

    phone: str
    body: str
    form: dict[str, str]
    answers: list[str] = field(default_factory=list)  # the TwiML of every 200 it got
    # The TwiML the database held for it when a kill cut it off unanswered (None: not committed)
    twiml_at_kill: str | None = None

    @property
    def sid(self) -> str:
        return self.form["MessageSid"]


@dataclass
class Kill:
    answered_before: int
    in_flight: int
    committed: int
    queued: dict[int, tuple[str, str]]  # outbox id -> (to, body) queued or sending at the kill


class Driver:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.database = service.config_path.parent / "airtng.db"
        self.up = asyncio.Event()
        self.up.set()
        self.turns: list[Turn] = []
        self.in_flight: dict[str, Turn] = {}
        self.answered = 0
        self.changed = asyncio.Event()  # set whenever a turn is sent or answered
        self.kills: list[Kill] = []

    async def text(self, phone: Handset, body: str) -> list[Reply]:
        turn = Turn(phone.number, body, phone.form(body))
        self.turns.append(turn)
        for _ in range(MAX_TRIES):
            await self.up.wait()
            self.in_flight[turn.sid] = turn
            self.changed.set()
            try:
                answer = await phone.send(turn.form)
            except (aiohttp.ClientError, TimeoutError):
                continue  # the server died under it (or a pooled connection had): deliver again
            finally:
                self.in_flight.pop(turn.sid, None)
            assert answer.status == 200, (
                f"{body!r} from {phone.number}: {answer.status} {answer.text}"
            )
            turn.answers.append(answer.text)
            self.answered += 1
            self.changed.set()
            return answer.replies
        raise AssertionError(f"{body!r} from {phone.number}: no answer in {MAX_TRIES} deliveries")

    async def kill_after(self, answered: int) -> Kill:
        """SIGKILL the server once `answered` turns were answered, with others in flight;
        check the file it leaves; start it again on it."""
        while not (self.answered >= answered and self.in_flight):
            self.changed.clear()
            await self.changed.wait()
        # From here to the signal nothing awaits: what is in flight now is cut off by the kill.
        self.up.clear()
        in_flight = list(self.in_flight.values())
        done = {turn.sid for turn in self.turns if turn.answers}
        assert await self.service.server.kill() == -signal.SIGKILL

        stored = assert_consistent(self.database)
        lost = sorted(done - stored.handled.keys())
        assert lost == [], f"answered 200 but not in the database after the kill: {lost}"
        unanswered = [turn for turn in in_flight if not turn.answers]
        for turn in unanswered:
            turn.twiml_at_kill = stored.handled.get(turn.sid)
        kill = Kill(
            answered_before=len(done),
            in_flight=len(unanswered),
            committed=sum(turn.sid in stored.handled for turn in unanswered),
            queued={
                row["id"]: (row["to_phone"], row["body"])
                for row in stored.outbox.values()
                if row["status"] in ("queued", "sending")
            },
        )
        self.kills.append(kill)
        await self.service.server.start()
        self.up.set()
        return kill


async def guest_books_and_host_accepts(driver: Driver, n: int) -> int:
    """Guest n: LIST, BOOK, dates, note, name, SEND; then the host accepts. Returns the ref."""
    guest = driver.service.phone(guest_number(n))
    host = driver.service.phone(HOSTS[n % len(HOSTS)])
    title = TITLES[n % len(HOSTS)]
    assert only(await driver.text(guest, "LIST"), guest.number).startswith("Homes 1-5 of 5:")
    booking = only(await driver.text(guest, f"BOOK {n % len(HOSTS) + 1}"), guest.number)
    assert booking.startswith(f"Booking {title}."), booking
    assert "Now a short note" in only(await driver.text(guest, stay(n)), guest.number)
    assert only(await driver.text(guest, NOTE), guest.number) == texts.ASK_NAME
    shown = only(await driver.text(guest, f"Guest {n}"), guest.number)
    assert shown.endswith("Send SEND to ask the host, or MENU to drop it."), shown
    sent = only(await driver.text(guest, "SEND"), guest.number)
    found = re.fullmatch(rf"Request (\d+) sent to the host of {title}\. .*", sent)
    assert found, sent
    ref = int(found.group(1))
    replies = await driver.text(host, f"ACCEPT {ref}")
    assert [r.to for r in replies] == [host.number, guest.number], replies
    assert replies[0].body.startswith(f"You accepted request {ref} "), replies
    assert replies[1].body.startswith("Good news!"), replies
    return ref


async def crash_under_load(service: Service, guests: int, kills: int) -> None:
    """`guests` guests book at once and their hosts accept; the server is killed `kills`
    times along the way; then everything is checked."""
    await list_homes(service)
    driver = Driver(service)
    turns_expected = guests * 7
    marks = [turns_expected * (k + 1) // (kills + 2) for k in range(kills)]

    async def killer() -> None:
        for mark in marks:
            await driver.kill_after(mark)

    async with asyncio.timeout(60 + 30 * kills + guests):
        results = await asyncio.gather(
            killer(), *(guest_books_and_host_accepts(driver, n) for n in range(guests))
        )
    refs: dict[str, int] = {guest_number(n): ref for n, ref in enumerate(results[1:])}
    assert len(driver.kills) == kills

    # Turns that were in flight at a kill were answered, consistently, when Twilio retried.
    for turn in driver.turns:
        assert len(turn.answers) == 1, turn
    rows = await service.server.drained(timeout=30)
    stored = assert_consistent(driver.database)
    for turn in driver.turns:
        assert stored.handled.get(turn.sid) == turn.answers[0], turn
        assert turn.twiml_at_kill in (None, turn.answers[0]), turn  # committed: replayed as is
        assert len(stored.inbound(turn.sid)) == 1, turn  # not committed: run once, on retry

    # Every guest has the one reservation they were told of, confirmed, at the right home.
    assert sorted(refs.values()) == list(range(1, guests + 1))
    for n in range(guests):
        reservation = stored.reservations[refs[guest_number(n)]]
        assert reservation["guest_phone"] == guest_number(n)
        assert reservation["host_phone"] == HOSTS[n % len(HOSTS)]
        assert reservation["status"] == "confirmed"

    # The log the operator sees has every turn once: a guest's in order, a host's in any.
    for phone in {turn.phone for turn in driver.turns}:
        conversations = await service.admin(
            f"/admin/api/conversations?phone={quote(phone)}&limit=1000"
        )
        logged = [m["body"] for c in conversations for m in c["messages"] if m["direction"] == "in"]
        sent = [turn.body for turn in driver.turns if turn.phone == phone]
        if phone in HOSTS:
            assert sorted(logged) == sorted(sent), phone
        else:
            assert logged == sent, phone

    # Every notification, those queued before each kill included, reached Twilio exactly once.
    created = Counter((m["to"], m["body"]) for m in service.twilio.created)
    assert [key for key, n in created.items() if n > 1] == []
    assert set(created) == {(row["to"], row["body"]) for row in rows}
    assert {row["status"] for row in rows} <= {"sent", "delivered"}
    for kill in driver.kills:
        for key in kill.queued.values():
            assert created[key] == 1, key
    for host in HOSTS:
        assert len(service.twilio.messages_to(host)) == guests // len(HOSTS) + (
            HOSTS.index(host) < guests % len(HOSTS)
        )
    # ... and each guest heard the host's answer exactly once.
    for n in range(guests):
        told = [r.body for r in service.phone(guest_number(n)).twiml if r.body.startswith("Good")]
        assert len(told) == 1, (n, told)

    # Twilio retrying every turn once more now changes nothing and gets the same answers.
    before = stored.counts()
    again = await asyncio.gather(
        *(service.phone(turn.phone).send(turn.form) for turn in driver.turns)
    )
    assert [(a.status, a.text) for a in again] == [(200, t.answers[0]) for t in driver.turns]
    await service.server.drained(timeout=30)
    assert assert_consistent(driver.database).counts() == before
    assert len(service.twilio.created) == sum(created.values())
    assert "Traceback" not in service.server.stderr, service.server.stderr

    summary.add("turns_driven", driver.answered + len(again))
    summary.add("kills_survived", kills)
    summary.add("turns_in_flight_at_kills", sum(k.in_flight for k in driver.kills))
    summary.add("in_flight_turns_found_committed", sum(k.committed for k in driver.kills))
    summary.add(
        "in_flight_turns_run_after_restart", sum(k.in_flight - k.committed for k in driver.kills)
    )
    summary.add("notifications_checked_exactly_once", sum(created.values()))


async def test_a_server_killed_mid_load_loses_nothing(service: Service) -> None:
    await crash_under_load(service, guests=30, kills=1)


@pytest.mark.slow
async def test_a_server_killed_again_and_again_loses_nothing(service: Service) -> None:
    await crash_under_load(service, guests=100, kills=8)


async def post_and_hang_up(
    service: Service, phone: Handset, form: dict[str, str]
) -> asyncio.StreamWriter:
    """Deliver a signed webhook and never read the answer: Twilio's side of a connection the
    server's death will cut before its answer is read."""
    body = urlencode(form).encode()
    url = service.server.url + phone.path
    headers = phone.headers_for(url, form)
    head = [
        f"POST {phone.path} HTTP/1.1",
        f"Host: 127.0.0.1:{service.server.port}",
        "Content-Type: application/x-www-form-urlencoded",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
        "",
        "",
    ]
    _, writer = await asyncio.open_connection("127.0.0.1", service.server.port)
    writer.write("\r\n".join(head).encode() + body)
    await writer.drain()
    return writer


def handled_in_file(database: Path, sids: list[str]) -> dict[str, str]:
    conn = sqlite3.connect(database, timeout=10)
    try:
        marks = ",".join("?" * len(sids))
        rows = conn.execute(f"SELECT sid, twiml FROM handled_messages WHERE sid IN ({marks})", sids)
        return dict(rows.fetchall())
    finally:
        conn.close()


@pytest.mark.sqlite_only  # reads the handled rows from the file right after the kill
async def test_turns_committed_whose_answers_died_with_the_server_are_replayed(
    service: Service,
) -> None:
    """The kill lands after the commit and before Twilio reads the answer; Twilio delivers the
    message again to the restarted server: the same answer, and nothing happens twice."""
    await list_homes(service)
    database = service.config_path.parent / "airtng.db"
    guests = [service.phone(guest_number(n)) for n in range(len(HOSTS))]
    for n, guest in enumerate(guests):
        await walk_to_summary(guest, n + 1, n, name=f"Guest {n}")
    forms = [guest.form("SEND") for guest in guests]
    sids = [form["MessageSid"] for form in forms]
    connections = [
        await post_and_hang_up(service, guest, form)
        for guest, form in zip(guests, forms, strict=True)
    ]

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while len(stored := await asyncio.to_thread(handled_in_file, database, sids)) < len(sids):
        assert loop.time() < deadline, f"only {len(stored)} of {len(sids)} SENDs were committed"
        await asyncio.sleep(0.02)
    assert await service.server.kill() == -signal.SIGKILL
    for writer in connections:
        writer.close()
    await service.server.start()

    retried = await asyncio.gather(
        *(guest.send(form) for guest, form in zip(guests, forms, strict=True))
    )
    assert [(a.status, a.text) for a in retried] == [(200, stored[sid]) for sid in sids]
    for n, answer in enumerate(retried):
        assert only(answer.replies, guests[n].number).startswith("Request ")
    await service.server.drained(timeout=30)
    after = assert_consistent(database)
    assert sorted(r["guest_phone"] for r in after.reservations.values()) == sorted(
        g.number for g in guests
    )
    for sid in sids:
        assert len(after.inbound(sid)) == 1
    for host in HOSTS:
        assert len(service.twilio.messages_to(host)) == 1, host
    summary.add("kills_survived")
    summary.add("turns_in_flight_at_kills", len(sids))
    summary.add("in_flight_turns_found_committed", len(sids))
    summary.add("notifications_checked_exactly_once", len(HOSTS))


# -- races through the real process -----------------------------------------------------------------


async def walk_to_summary(guest: Handset, home: int, n: int, name: str = "Ann") -> None:
    assert (await guest.ask("LIST")).startswith("Homes 1-")
    assert (await guest.ask(f"BOOK {home}")).startswith("Booking ")
    assert "Now a short note" in await guest.ask(stay(n))
    answer = await guest.ask(NOTE)
    if answer == texts.ASK_NAME:
        answer = await guest.ask(name)
    assert answer.endswith("Send SEND to ask the host, or MENU to drop it."), answer


async def test_one_message_sid_twenty_times_at_once_has_one_effect(service: Service) -> None:
    await list_homes(service)
    guest, host = service.phone(guest_number(1)), service.phone(HOSTS[0])
    await walk_to_summary(guest, 1, 0)
    send = guest.form("SEND")
    answers = await asyncio.gather(*(guest.send(send) for _ in range(20)))
    assert {a.status for a in answers} == {200}
    assert len({a.text for a in answers}) == 1
    assert only(answers[0].replies, guest.number).startswith("Request 1 sent")
    await host.wait_for_rest("ACCEPT 1")

    accept = host.form("ACCEPT 1")
    answers = await asyncio.gather(*(host.send(accept) for _ in range(20)))
    assert {a.status for a in answers} == {200}
    assert len({a.text for a in answers}) == 1
    assert [r.to for r in answers[0].replies] == [host.number, guest.number]

    await service.server.drained()
    stored = assert_consistent(service.config_path.parent / "airtng.db")
    assert stored.statuses() == {1: "confirmed"}
    assert len(stored.inbound(send["MessageSid"])) == len(stored.inbound(accept["MessageSid"])) == 1
    assert len(service.twilio.messages_to(host.number)) == 1
    assert service.twilio.messages_to(guest.number) == []
    summary.add("racing_requests", 40)


@pytest.mark.parametrize("second", ["ACCEPT", "REJECT"])
async def test_two_hosts_answer_at_once_as_their_guest_texts(service: Service, second: str) -> None:
    await list_homes(service)
    guest = service.phone(guest_number(1))
    host_a, host_b = service.phone(HOSTS[0]), service.phone(HOSTS[1])
    await walk_to_summary(guest, 1, 0)
    assert (await guest.ask("SEND")).startswith("Request 1 sent")
    await walk_to_summary(guest, 2, 1)
    assert (await guest.ask("SEND")).startswith("Request 2 sent")
    await host_a.wait_for_rest("ACCEPT 1")
    await host_b.wait_for_rest("ACCEPT 2")

    a, b, mine = await asyncio.gather(
        host_a.text("ACCEPT 1"), host_b.text(f"{second} 2"), guest.text("MY")
    )
    assert [r.to for r in a] == [host_a.number, guest.number]
    assert [r.to for r in b] == [host_b.number, guest.number]
    assert a[0].body.startswith("You accepted request 1 ")
    verb = "accepted" if second == "ACCEPT" else "rejected"
    assert b[0].body.startswith(f"You {verb} request 2 ")
    assert only(mine, guest.number).startswith("Your trips:")
    decisions = [r.body for r in guest.twiml if r.body.startswith(("Good news!", "Sorry,"))]
    good = [d for d in decisions if d.startswith("Good news!")]
    assert (len(good), len(decisions)) == ((2, 2) if second == "ACCEPT" else (1, 2)), decisions

    await service.server.drained()
    stored = assert_consistent(service.config_path.parent / "airtng.db")
    assert stored.statuses() == {
        1: "confirmed",
        2: "confirmed" if second == "ACCEPT" else "rejected",
    }
    assert len(service.twilio.messages_to(host_a.number)) == 1
    assert len(service.twilio.messages_to(host_b.number)) == 1
    assert service.twilio.messages_to(guest.number) == []
    summary.add("racing_requests", 3)


def without_refs(text: str) -> str:
    return re.sub(r"\b(Request|request) \d+", r"\1 #", text)


async def five_at_once(service: Service, guest: Handset, twin: Handset, n: int) -> None:
    """The guest sends the five booking steps at once; answered one at a time in some order,
    they leave what the same messages sent one by one in that order leave."""
    assert (await guest.ask("LIST")).startswith("Homes 1-")
    bodies = ["BOOK 1", stay(n), NOTE, f"Guest {n}", "SEND"]
    answers = await asyncio.gather(*(guest.text(body) for body in bodies))
    answer_of = {body: only(a, guest.number) for body, a in zip(bodies, answers, strict=True)}

    conversations = await service.admin(f"/admin/api/conversations?phone={quote(guest.number)}")
    (conversation,) = conversations
    log = conversation["messages"]
    assert [m["direction"] for m in log] == ["in", "out"] * 6
    order = [m["body"] for m in log[2::2]]
    assert sorted(order) == sorted(bodies)
    for inbound, outbound in zip(log[2::2], log[3::2], strict=True):
        assert outbound["body"] == answer_of[inbound["body"]]

    assert (await twin.ask("LIST")).startswith("Homes 1-")
    one_by_one = [without_refs(await twin.ask(body)) for body in order]
    assert one_by_one == [without_refs(answer_of[body]) for body in order]
    (twin_conversation,) = await service.admin(
        f"/admin/api/conversations?phone={quote(twin.number)}"
    )
    assert twin_conversation["state"] == conversation["state"]


async def test_a_guests_five_messages_at_once_are_answered_one_at_a_time(
    service: Service,
) -> None:
    await list_homes(service)
    await five_at_once(service, service.phone(guest_number(1)), service.phone(guest_number(2)), 0)
    await service.server.drained()
    stored = assert_consistent(service.config_path.parent / "airtng.db")
    by_guest = Counter(r["guest_phone"] for r in stored.reservations.values())
    assert by_guest[guest_number(1)] == by_guest[guest_number(2)] <= 1
    assert len(service.twilio.messages_to(HOSTS[0])) == len(stored.reservations)
    summary.add("racing_requests", 5)


@pytest.mark.slow
async def test_many_guests_each_sending_five_at_once(service: Service) -> None:
    await list_homes(service)
    pairs = [
        (service.phone(guest_number(n)), service.phone(guest_number(100 + n))) for n in range(20)
    ]
    await asyncio.gather(
        *(five_at_once(service, guest, twin, 5 * n) for n, (guest, twin) in enumerate(pairs))
    )
    await service.server.drained()
    stored = assert_consistent(service.config_path.parent / "airtng.db")
    assert len(service.twilio.created) == len(stored.reservations) == len(stored.outbox)
    summary.add("racing_requests", 100)
