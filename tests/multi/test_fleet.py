"""Three instances on one PostgreSQL database behind haproxy behave as one service (issue 15):
driven as Twilio drives them, with signatures for the balancer's URL and Twilio's retries of a
MessageSid that got no answer.

Every test ends with the whole story checked through the admin API: each phone's texts logged
once each, in the order sent; each request's host texted once at the Twilio stand-in.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta

import aiohttp
import pytest
import pytest_asyncio

from tests.conftest import postgres_database
from tests.e2e.harness import Handset
from tests.multi.fleet import Fleet, running_fleet
from tests.postgres import REQUIRED, PostgresServer
from tests.twilio_api import TwilioAPI

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOSTS = ("+15550110000", "+15550110001", "+15550110002")
GUESTS = itertools.count(1)  # every test's guests are new people


@dataclass
class Turn:
    phone: str
    body: str
    sid: str
    status: int | None  # the last answer's status (None: no answer at all)
    attempts: int
    served_by: str
    text: str


@dataclass
class Story:
    fleet: Fleet
    turns: list[Turn] = field(default_factory=list)

    def guest(self) -> Handset:
        return self.fleet.phone(f"+1555021{next(GUESTS):04d}")

    async def text(self, phone: Handset, body: str, *, retry: bool = True) -> Turn:
        """One text as Twilio sends it: the same MessageSid again until it gets a 200."""
        form = phone.form(body)
        attempts, status, served, text = 0, None, "", ""
        while attempts < 40:
            attempts += 1
            try:
                answer = await phone.send(form)
                status, served, text = (
                    answer.status,
                    answer.headers.get("X-Served-By", ""),
                    answer.text,
                )
            except (aiohttp.ClientError, TimeoutError):
                status = None
            if status == 200 or not retry:
                break
            await asyncio.sleep(0.25)
        turn = Turn(phone.number, body, form["MessageSid"], status, attempts, served, text)
        self.turns.append(turn)
        return turn

    async def book(self, phone: Handset, home: int, week: int, *, retry: bool = True) -> None:
        check_in = date.today() + timedelta(days=30 + 7 * week)
        for body in (
            "LIST",
            f"BOOK {home}",
            f"{check_in.isoformat()} to {(check_in + timedelta(days=3)).isoformat()}",
            "Two of us, quiet.",
            f"Guest {phone.number[-4:]}",
            "SEND",
            "MY",
        ):
            await self.text(phone, body, retry=retry)

    async def check(self) -> None:
        """Nothing lost, nothing doubled, nothing out of order; each host text sent once."""
        answered: dict[str, list[str]] = {}
        for turn in self.turns:
            if turn.status == 200:
                answered.setdefault(turn.phone, []).append(turn.body)
        conversations = await self.fleet.admin("/admin/api/conversations?limit=1000")
        logged: dict[str, list[str]] = {}
        for conversation in sorted(conversations, key=lambda c: c["id"]):
            for message in conversation["messages"]:
                if message["direction"] == "in":
                    logged.setdefault(conversation["phone"], []).append(message["body"])
        for phone, bodies in answered.items():
            assert logged.get(phone) == bodies, phone
        await self.fleet.drained()
        reservations = await self.fleet.admin("/admin/api/reservations?limit=1000")
        sent = Counter(
            m["body"].split(":")[0]
            for host in HOSTS
            for m in self.fleet.twilio.messages_to(host)
            if m["body"].startswith("New request ")
        )
        for reservation in reservations:
            assert sent[f"New request {reservation['id']}"] == 1, reservation
        assert all(count == 1 for count in sent.values()), sent


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fleet(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: tuple[PostgresServer | None, str],
) -> AsyncIterator[Fleet]:
    if shutil.which("haproxy") is None:
        reason = "haproxy is not installed (apt-get install haproxy)"
        if REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)
    url = await postgres_database(postgres_server)
    twilio = TwilioAPI()
    await twilio.start()
    try:
        async with running_fleet(tmp_path_factory.mktemp("fleet"), url, twilio) as running:
            for n, host in enumerate(HOSTS):
                body = {
                    "host_phone": host,
                    "host_name": f"Host {n}",
                    "title": f"Home {n}",
                    "place": "Somewhere, CA",
                    "description": "A home for the fleet's guests.",
                    "nightly_price": 100 + n,
                    "image_url": f"https://img.example.com/{n}.jpg",
                }
                headers = {"Authorization": f"Bearer {running.servers[0].admin_token}"}
                async with running.carrier.session.post(
                    running.url + "/admin/api/properties", json=body, headers=headers
                ) as response:
                    assert response.status == 201, await response.text()
            yield running
    finally:
        await twilio.stop()
        assert postgres_server[0] is not None
        await postgres_server[0].drop(url)


@pytest.fixture
def story(fleet: Fleet) -> Story:
    return Story(fleet)


async def test_a_booking_whose_turns_alternate_between_instances(story: Story) -> None:
    guest = story.guest()
    await story.book(guest, home=1, week=0, retry=False)
    assert [t.status for t in story.turns] == [200] * 7
    served = [t.served_by for t in story.turns]
    assert len(set(served)) == 3, served  # round robin: every instance had a part
    assert sum(a != b for a, b in itertools.pairwise(served)) >= 4, served
    assert "Request " in story.turns[5].text and "sent to the host" in story.turns[5].text
    await story.check()


async def test_one_message_sid_sent_to_every_instance_at_once_runs_once(story: Story) -> None:
    fleet = story.fleet
    guest = story.guest()
    await story.text(guest, "LIST")
    form = guest.form("1")
    answers = await asyncio.gather(*(fleet.post_to(s, guest, form) for s in fleet.servers * 3))
    assert {a.status for a in answers} == {200}
    assert len({a.text for a in answers}) == 1 and "Home 0" in answers[0].text
    story.turns.append(Turn(guest.number, "1", form["MessageSid"], 200, 1, "", answers[0].text))
    await story.check()  # "1" logged once


async def test_two_accepts_of_overlapping_requests_at_two_instances_at_once(story: Story) -> None:
    fleet = story.fleet
    first, second = story.guest(), story.guest()
    await asyncio.gather(story.book(first, 3, week=2), story.book(second, 3, week=2))
    reservations = await fleet.admin("/admin/api/reservations?limit=1000")
    refs = sorted(
        r["id"] for r in reservations if r["guest_phone"] in (first.number, second.number)
    )
    assert len(refs) == 2
    host = fleet.phone(HOSTS[2])
    answers = await asyncio.gather(
        fleet.post_to(fleet.servers[0], host, host.form(f"ACCEPT {refs[0]}")),
        fleet.post_to(fleet.servers[1], host, host.form(f"ACCEPT {refs[1]}")),
    )
    assert [a.status for a in answers] == [200, 200]
    statuses = {
        r["id"]: r["status"]
        for r in await fleet.admin("/admin/api/reservations?limit=1000")
        if r["id"] in refs
    }
    assert sorted(statuses.values()) == ["confirmed", "rejected"], statuses
    accepted = [a for a in answers if "You accepted request" in a.text]
    assert len(accepted) == 1  # the other was told its request is no longer pending
    await story.check()


async def test_a_burst_with_every_worker_sends_each_host_text_once(story: Story) -> None:
    guests = [story.guest() for _ in range(24)]
    await asyncio.gather(
        *(story.book(g, home=1 + n % 3, week=10 + n) for n, g in enumerate(guests))
    )
    assert all(t.status == 200 for t in story.turns)
    await story.check()
    # Each text's status callback went through the balancer to whichever instance: all kept.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while True:
        rows = await story.fleet.admin("/admin/api/outbox?limit=1000")
        if rows and all(row["status"] == "delivered" for row in rows):
            break
        assert loop.time() < deadline, [row["status"] for row in rows]
        await asyncio.sleep(0.1)
    # Every instance's worker took a share of the sending (claims with SKIP LOCKED).
    sent = {}
    for name, server in zip(story.fleet.names, story.fleet.servers, strict=True):
        async with story.fleet.carrier.session.get(server.url + "/metrics") as response:
            metrics = await response.text()
        sent[name] = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("airtng_outbox_deliveries_total{") and 'outcome="sent"' in line
        )
    assert all(sent.values()) and sum(sent.values()) == len(rows), sent


async def test_a_killed_instance_leaves_nothing_lost_or_sent_twice(story: Story) -> None:
    fleet = story.fleet
    guests = [story.guest() for _ in range(18)]
    load = asyncio.gather(
        *(story.book(g, home=1 + n % 3, week=40 + n) for n, g in enumerate(guests))
    )
    victim = fleet.servers[1]
    try:
        while len(story.turns) < 40:  # mid-load
            await asyncio.sleep(0.005)
        assert await victim.kill() == -9
        at_kill = len(story.turns)
        await load
    finally:
        if not victim.running:
            await victim.start()
            await fleet.wait_serving()
    assert any(t.served_by == fleet.names[1] for t in story.turns[:at_kill])
    assert len(story.turns) - at_kill >= 30  # the others kept answering
    assert all(t.status == 200 for t in story.turns)  # every text got its answer in the end
    await story.check()


async def test_a_rolling_restart_fails_no_turn(story: Story) -> None:
    fleet = story.fleet
    done = asyncio.Event()

    async def guest_after_guest(n: int) -> None:
        week = 100 + 20 * n
        while not done.is_set():
            await story.book(story.guest(), home=1 + n % 3, week=week, retry=False)
            week += 1

    load = [asyncio.create_task(guest_after_guest(n)) for n in range(6)]
    try:
        for server in fleet.servers:
            await asyncio.sleep(0.3)
            assert await server.stop() == 0  # SIGTERM, as a deploy sends
            await server.start()
            await fleet.wait_serving()
    finally:
        done.set()
        await asyncio.gather(*load)
    failed = [t for t in story.turns if t.status != 200]
    assert failed == [], failed
    assert len(story.turns) >= 40
    await story.check()
