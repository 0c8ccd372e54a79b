"""A graceful stop of the real process (issue 15 item 4, bot/serving.py): SIGTERM under a load
of signed webhooks. /readyz says 503 at once; what still comes during the drain is served;
after it, connections are refused; every webhook answered 200 is in the log, none is cut off
after its turn ran, and a send already posted to Twilio is finished and recorded, not left
'sending'. Then the next process starts on the file and carries on.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.harness import Handset, running_service
from tests.reliability import summary
from tests.reliability.conftest import add_home, assert_consistent, read_database

HOST = "+15550400001"
GUESTS = tuple(f"+155504100{n:02d}" for n in range(8))
TEXTS = ("LIST", "1", "MY", "hello", "HELP")


@dataclass
class Outcomes:
    """What each webhook of the load got, by MessageSid."""

    answered: dict[str, bool] = field(default_factory=dict)  # sid -> its answer closed the conn
    answered_after_sigterm: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)  # the connection was refused: nothing sent
    # No answer on a connection that had opened: (the phone, the form, the error)
    dropped: dict[str, tuple[Handset, dict[str, str], str]] = field(default_factory=dict)
    bad: list[str] = field(default_factory=list)  # an answer that was not 200


async def keep_texting(
    phone: Handset, session: aiohttp.ClientSession, url: str, out: Outcomes, stopped: asyncio.Event
) -> None:
    """One phone texting as fast as it is answered, until its connection is refused."""
    n = 0
    while True:
        form = phone.form(TEXTS[n % len(TEXTS)])
        n += 1
        sid = form["MessageSid"]
        after_sigterm = stopped.is_set()
        try:
            async with session.post(
                url, data=form, headers=phone.headers_for(url, form)
            ) as response:
                text = await response.text()
                if response.status != 200:
                    out.bad.append(f"{sid}: {response.status} {text[:100]}")
                    continue
                phone.keep_cookies(response.headers)
                out.answered[sid] = response.headers.get("Connection") == "close"
                if after_sigterm:
                    out.answered_after_sigterm.add(sid)
        except aiohttp.ClientConnectorError:
            out.refused.add(sid)
            return
        except (aiohttp.ClientError, ConnectionError) as error:
            # A connection the kernel had accepted as listening stopped, reset before it was
            # read (behind a balancer that checks /readyz, nothing connects this late).
            out.dropped[sid] = (phone, form, repr(error))


async def test_sigterm_under_load_answers_or_cleanly_refuses_every_webhook(
    tmp_path: Path,
) -> None:
    async with running_service(tmp_path, {"server": {"drain_seconds": 1.0}}) as service:
        await add_home(service.server, HOST, "Beach House")
        url = service.server.url + "/sms"
        out = Outcomes()
        stopped = asyncio.Event()
        # Each phone on its own keep-alive connection, as a sender that reuses one would.
        sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) for _ in GUESTS]
        try:
            load = [
                asyncio.create_task(keep_texting(service.phone(g), s, url, out, stopped))
                for g, s in zip(GUESTS, sessions, strict=True)
            ]
            while len(out.answered) < 200:
                await asyncio.sleep(0.01)
            process = service.server.process
            assert process is not None
            process.send_signal(signal.SIGTERM)
            stopped.set()
            # A balancer's next check, on a connection of its own: out at once.
            async with (
                aiohttp.ClientSession() as probe,
                probe.get(service.server.url + "/readyz") as response,
            ):
                assert (response.status, await response.json()) == (
                    503,
                    {"ready": False, "reason": "shutting down"},
                )
            async with asyncio.timeout(30):
                await asyncio.gather(*load)
            assert await asyncio.to_thread(process.wait, 30) == 0
        finally:
            for session in sessions:
                await session.close()

        assert out.bad == []
        assert out.answered_after_sigterm, "nothing was served during the drain"
        # Served during the drain, each answer closing its connection: the sender comes back on
        # a new one (through a balancer, to another instance).
        assert any(out.answered[sid] for sid in out.answered_after_sigterm)
        assert len(out.refused) == len(GUESTS)  # every phone ended on a refused connection
        stored = assert_consistent(tmp_path / "airtng.db")
        missing = sorted(out.answered.keys() - stored.handled.keys())
        assert missing == [], f"answered 200 but not in the log: {missing}"
        # Refused or dropped before an answer: none of those turns ran, so a retry (Twilio's,
        # or a balancer's on another instance) runs it once.
        not_answered = out.refused | out.dropped.keys()
        assert sorted(not_answered & stored.handled.keys()) == []
        assert Counter(m["direction"] for m in stored.messages)["in"] == len(out.answered)

        await service.server.start()
        for phone, form, _ in out.dropped.values():  # Twilio retries them: each runs once
            assert (await phone.send(form)).status == 200
        stored = assert_consistent(tmp_path / "airtng.db")
        assert out.dropped.keys() <= stored.handled.keys()
        summary.add("graceful_stops_under_load")
        summary.add("turns_answered_while_draining", len(out.answered_after_sigterm))
        summary.add("webhooks_refused_after_the_drain", len(not_answered))


async def test_a_send_posted_to_twilio_as_sigterm_comes_is_finished_and_recorded(
    tmp_path: Path,
) -> None:
    async with running_service(tmp_path) as service:
        await add_home(service.server, HOST, "Beach House")
        guest = service.phone(GUESTS[0])
        for body in ("LIST", "BOOK 1", "2030-01-05 to 2030-01-09", "Quiet, two of us", "Ann"):
            await guest.text(body)
        # Twilio takes its time over the host's notification: the request is in flight when
        # the service is told to stop.
        service.twilio.fail_next(1, "slow", to=HOST, hang=1.0)
        assert (await guest.ask("SEND")).startswith("Request ")
        await service.twilio.wait_for(lambda: service.twilio.attempts_by_to[HOST] == 1)
        assert service.twilio.messages_to(HOST) == []
        assert await service.server.stop() == 0
        (message,) = service.twilio.messages_to(HOST)
        (row,) = [r for r in read_database(tmp_path / "airtng.db").outbox.values()]
        assert (row["to_phone"], row["twilio_sid"]) == (HOST, message["sid"])
        assert row["status"] in ("sent", "delivered")  # (its callback came before the close)
        # The next process has nothing to reconcile and sends nothing again.
        await service.server.start()
        await service.server.drained()
        assert len(service.twilio.messages_to(HOST)) == 1


async def test_a_second_sigterm_cuts_the_drain_short(tmp_path: Path) -> None:
    async with running_service(tmp_path, {"server": {"drain_seconds": 60.0}}) as service:
        process = service.server.process
        assert process is not None
        process.send_signal(signal.SIGTERM)
        guest = service.phone(GUESTS[0])
        # Still serving, well after the first signal: the drain is on.
        for _ in range(5):
            assert (await guest.text("hello"))[0].body
            await asyncio.sleep(0.1)
        assert service.server.running
        assert await service.server.stop() == 0  # the second SIGTERM; stop() waits 10 s at most


@pytest.mark.parametrize(
    ("sig", "overrides"),
    [
        (signal.SIGINT, {}),  # Ctrl-C at a terminal
        (signal.SIGTERM, {"twilio": {"account_sid": "", "auth_token": ""}}),  # dev mode
    ],
    ids=["sigint", "dev-mode"],
)
async def test_no_drain_where_there_is_no_balancer(
    tmp_path: Path, sig: signal.Signals, overrides: dict[str, dict[str, str]]
) -> None:
    drain = {"server": {"drain_seconds": 60.0}}
    async with running_service(tmp_path, {**drain, **overrides}) as service:
        assert await service.server._signal(sig, timeout=10) == 0
