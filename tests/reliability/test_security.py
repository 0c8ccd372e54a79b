"""Nobody let in (issue 4 item 5): signatures that are missing, wrong or made for another URL
are refused and change nothing; no cookie, forged, tampered, foreign or odd, opens another
person's session; the admin API refuses without its token and compares it in constant time;
what people text stays text in TwiML; dev mode will not listen beyond loopback; and no secret
is ever written to the service's output.

tests/bot/test_webhook.py, test_sessions.py and test_admin.py have the first cases one by one;
here they are pushed further (hypothesis over cookies, the real process, its logs).
"""

from __future__ import annotations

import base64
import inspect
import os
import re
import socket
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import unused_port
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

import bot.admin
import bot.probes
import bot.sessions
from bot.config import AdminConfig, ConfigError, load_config
from bot.sessions import COOKIE_NAME
from conversations import texts
from tests.bot.test_webhook import (
    GUEST,
    GUEST_B,
    HOST,
    Restarted,
    conversations_of,
    eventually,
    outbox_rows,
    request_stay,
    stay_text,
)
from tests.conftest import ADMIN_TOKEN, Bot, Clock
from tests.e2e.harness import RUN_PY, ServerProcess, Service, write_config
from tests.phones import TwilioPhone, parse_twiml
from tests.reliability import summary
from tests.reliability.conftest import add_home, assert_consistent
from tests.twilio_api import TwilioAPI

# Every test that runs the app runs on both stores (the `backend` fixture): the consistency
# checks read the SQLite file or the PostgreSQL database (tests/reliability/conftest.py).

# -- signatures ---------------------------------------------------------------------------------


def _signed(url: str, form: dict[str, str], token: str) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, form)}


# (name, how the request is made): each returns (path posted to, form sent, headers)
Forgery = Callable[[Bot, dict[str, str]], tuple[str, dict[str, str], dict[str, str]]]
FORGERIES: dict[str, Forgery] = {
    "missing": lambda bot, form: ("/sms", form, {}),
    "empty": lambda bot, form: ("/sms", form, {"X-Twilio-Signature": ""}),
    "garbage": lambda bot, form: ("/sms", form, {"X-Twilio-Signature": "\u00e9\u00e9=="}),
    "another-auth-token": lambda bot, form: (
        "/sms",
        form,
        _signed(bot.url + "/sms", form, "0" * 32),
    ),
    "signed-for-the-seed-route": lambda bot, form: (
        "/sms",
        form,
        _signed(bot.url + "/reservation/incoming", form, bot.config.twilio.auth_token),
    ),
    "replayed-to-the-status-callback": lambda bot, form: (
        "/sms/status",
        form,
        _signed(bot.url + "/sms", form, bot.config.twilio.auth_token),
    ),
    "signed-with-a-query-string": lambda bot, form: (
        "/sms",
        form,
        _signed(bot.url + "/sms?x=1", form, bot.config.twilio.auth_token),
    ),
    "posted-with-a-query-string": lambda bot, form: (
        "/sms?x=1",
        form,
        _signed(bot.url + "/sms", form, bot.config.twilio.auth_token),
    ),
    "signed-for-another-port": lambda bot, form: (
        "/sms",
        form,
        _signed(
            bot.url.rsplit(":", 1)[0] + f":{bot.server.port + 1}/sms",
            form,
            bot.config.twilio.auth_token,
        ),
    ),
    "signed-for-https": lambda bot, form: (
        "/sms",
        form,
        _signed(bot.url.replace("http:", "https:") + "/sms", form, bot.config.twilio.auth_token),
    ),
    "signed-for-another-host": lambda bot, form: (
        "/sms",
        form,
        _signed(
            bot.url.replace("127.0.0.1", "localhost") + "/sms", form, bot.config.twilio.auth_token
        ),
    ),
    "a-field-added-after-signing": lambda bot, form: (
        "/sms",
        {**form, "FromCountry": "US", "Extra": "1"},
        _signed(bot.url + "/sms", form, bot.config.twilio.auth_token),
    ),
    "the-body-changed-after-signing": lambda bot, form: (
        "/sms",
        {**form, "Body": "MY"},
        _signed(bot.url + "/sms", form, bot.config.twilio.auth_token),
    ),
    "a-field-removed-after-signing": lambda bot, form: (
        "/sms",
        {k: v for k, v in form.items() if k != "FromCity"},
        _signed(bot.url + "/sms", form, bot.config.twilio.auth_token),
    ),
}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
async def test_a_forged_or_replayed_signature_is_403_and_changes_nothing(
    bot: Bot, forge: Forgery
) -> None:
    await bot.add_home(HOST, "Beach House")
    guest = bot.phone(GUEST)
    ref = await request_stay(bot, guest)
    await eventually(
        lambda: outbox_rows(bot), lambda rows: [r["status"] for r in rows] == ["delivered"]
    )
    before = (await conversations_of(bot), await outbox_rows(bot))
    form = guest.form(f"WITHDRAW {ref}")
    path, sent, headers = forge(bot, form)
    status, text, response_headers = await bot.post(bot.url + path, sent, headers)
    assert status == 403, (status, text)
    assert "Set-Cookie" not in response_headers
    assert (await conversations_of(bot), await outbox_rows(bot)) == before
    # The MessageSid was not used up: Twilio's genuine delivery of it is answered.
    assert [r.body for r in await guest.text(f"WITHDRAW {ref}", sid=form["MessageSid"])] == [
        texts.WITHDRAWN.format(ref=ref)
    ]


async def test_signatures_are_checked_by_the_real_process(service: Service) -> None:
    guest = service.phone(GUEST)
    form = guest.form("LIST")
    for headers in (
        {},
        {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
        _signed(service.server.url + "/reservation/incoming", form, service.twilio.auth_token),
    ):
        assert (await guest.send(form, headers)).status == 403
    assert await service.admin("/admin/api/conversations") == []
    assert (await guest.send(form)).status == 200


# -- cookies ----------------------------------------------------------------------------------


@dataclass
class Pair:
    """Guest A with a pending request and a booking under way; guest B texting with cookies
    that are not theirs."""

    bot: Bot
    a_cookie: str
    b: TwilioPhone
    b_conversation: int
    a_before: Any

    async def a_now(self) -> Any:
        reservations = await self.bot.admin("/admin/api/reservations")
        return await conversations_of(self.bot, GUEST), reservations


@pytest_asyncio.fixture
async def pair(bot: Bot) -> Pair:
    await bot.add_home(HOST, "Beach House")
    a = bot.phone(GUEST)
    await request_stay(bot, a)
    assert (await a.ask("BOOK 1")).startswith("Booking Beach House")
    b = bot.phone(GUEST_B)
    assert await b.ask("hello") == texts.WELCOME
    (b_conversation,) = await conversations_of(bot, GUEST_B)
    state = Pair(bot, a.cookies[COOKIE_NAME][0], b, b_conversation["id"], None)
    state.a_before = await state.a_now()
    return state


def cookie_variants(pair: Pair, kind: str, noise: str) -> str:
    a_id, _, a_signature = pair.a_cookie.partition(".")
    b_id = str(pair.b_conversation)
    return {
        "a's": pair.a_cookie,
        "a's-signature-on-b's-id": f"{b_id}.{a_signature}",
        "b's-id-made-up": f"{b_id}.{noise}",
        "a's-id-made-up": f"{a_id}.{noise}",
        "a's-tampered": pair.a_cookie[:-1] + ("A" if pair.a_cookie[-1] != "A" else "B"),
        "a's-quoted": f'"{pair.a_cookie}"',
        "noise": noise,
        "a's-then-b's": f"{pair.a_cookie}; {COOKIE_NAME}={b_id}.{noise}",
    }[kind]


KINDS = [
    "a's",
    "a's-signature-on-b's-id",
    "b's-id-made-up",
    "a's-id-made-up",
    "a's-tampered",
    "a's-quoted",
    "noise",
    "a's-then-b's",
]
noise = st.one_of(
    st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=";,"),
        max_size=40,
    ),
    st.text(st.characters(exclude_categories=["Cc", "Cs"], exclude_characters=";,"), max_size=20),
)


async def b_texts_with(pair: Pair, cookie: str) -> None:
    b = pair.b
    form = b.form("MY")
    headers = b.headers_for(b.public_url + b.path, form)
    headers["Cookie"] = f"{COOKIE_NAME}={cookie}"
    answer = await b.send(form, headers)
    assert answer.status == 200, answer.text
    # B hears about B's trips (none), never A's; the session B is given is B's own.
    assert [(r.to, r.body) for r in answer.replies] == [(GUEST_B, texts.NO_TRIPS)]
    (set_cookie,) = answer.headers.getall("Set-Cookie")  # type: ignore[attr-defined]
    assert set_cookie.startswith(f"{COOKIE_NAME}={pair.b_conversation}."), set_cookie
    assert await pair.a_now() == pair.a_before
    assert [c["id"] for c in await conversations_of(pair.bot, GUEST_B)] == [pair.b_conversation]


@settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(kind=st.sampled_from(KINDS), noise=noise)
async def test_no_cookie_opens_another_persons_session(pair: Pair, kind: str, noise: str) -> None:
    await b_texts_with(pair, cookie_variants(pair, kind, noise))
    summary.add("hypothesis_inputs_tried")


@pytest.mark.parametrize("cookie", ["1.\u00e9", "\u00e9", "2.\u2603\u2603"])
async def test_a_cookie_with_non_ascii_characters_is_ignored(pair: Pair, cookie: str) -> None:
    await b_texts_with(pair, cookie)


async def test_a_cookie_of_a_conversation_that_ended_is_ignored(bot: Bot, clock: Clock) -> None:
    """Expired: A's cookie from a conversation idle for over 4 hours, sent by B (foreign and
    stale at once), opens neither A's old session nor A's new one."""
    await bot.add_home(HOST, "Beach House")
    a, b = bot.phone(GUEST), bot.phone(GUEST_B)
    assert (await a.ask("LIST")).startswith("Homes")
    stale = a.cookies[COOKIE_NAME][0]
    clock.advance(hours=4, minutes=5)
    assert await a.ask("hello") == texts.WELCOME  # A's new conversation
    assert (await a.ask("BOOK 1")) == texts.NO_LIST  # the old list went with the old one
    b.cookies[COOKIE_NAME] = (stale, clock.timestamp() + 3600)
    assert (await b.ask(stay_text(clock))).startswith("Homes 1-1 of 1 free ")  # B's own start
    assert len(await conversations_of(bot, GUEST_B)) == 1
    assert len(await conversations_of(bot, GUEST)) == 2


# -- the admin API ----------------------------------------------------------------------------


def _basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


def refused_credentials(token: str) -> dict[str, dict[str, str]]:
    return {
        "none": {},
        "empty-bearer": {"Authorization": "Bearer "},
        "wrong": {"Authorization": "Bearer not-the-token"},
        "prefix": {"Authorization": f"Bearer {token[:-1]}"},
        "suffix": {"Authorization": f"Bearer {token}x"},
        "basic": {"Authorization": _basic("admin", token)},
        "other-scheme": {"Authorization": f"Token {token}"},
        "cookie": {"Cookie": f"token={token}"},
        "non-ascii": {"Authorization": "Bearer t\u00f6ken"},
    }


READS = ("reservations", "conversations", "outbox", "properties")


async def assert_admin_refuses(url: str, token: str) -> None:
    async with aiohttp.ClientSession() as session:
        for name, headers in refused_credentials(token).items():
            for route in READS:
                async with session.get(
                    f"{url}/admin/api/{route}?token={token}", headers=headers
                ) as r:
                    assert r.status == 401, (name, route, r.status)
                    assert token not in await r.text()
            home = {
                "host_phone": "+15550100009",
                "title": "Sneaky",
                "place": "X",
                "description": "Y",
                "nightly_price": 1,
            }
            for route in ("properties", "demo"):
                async with session.post(
                    f"{url}/admin/api/{route}", json=home, headers=headers
                ) as r:
                    assert r.status == 401, (name, route, r.status)


async def test_the_real_process_admin_api_refuses_without_its_token(service: Service) -> None:
    await add_home(service.server, HOST, "Beach House")
    await assert_admin_refuses(service.server.url, service.server.admin_token)
    homes = await service.admin("/admin/api/properties")
    assert [h["title"] for h in homes] == ["Beach House"]


async def test_without_a_configured_token_the_admin_api_refuses_everyone(
    tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    async with Restarted(tmp_path, twilio_api, clock, admin=AdminConfig(token="")) as running:
        await assert_admin_refuses(running.url, ADMIN_TOKEN)
        async with running.session.get(
            running.url + "/admin/api/properties", headers={"Authorization": "Bearer"}
        ) as response:
            assert response.status == 401


def test_tokens_and_cookies_are_compared_in_constant_time() -> None:
    """A guard, not a proof: the comparisons that decide access go through hmac.compare_digest,
    never ==, which stops at the first differing character (Twilio's RequestValidator has its
    own constant-time compare for signatures)."""
    plain_equality = re.compile(
        r"(==|!=)\s*(token|given|cookie|issued|signature|expected)\b|"
        r"\b(token|given|cookie|issued|signature|expected)\s*(==|!=)"
    )
    # The admin API and /metrics (when it has a token) both ask bearer_matches.
    assert "bearer_matches(" in inspect.getsource(bot.admin.authorised)
    assert "bearer_matches(" in inspect.getsource(bot.probes.metrics)
    authorised = inspect.getsource(bot.admin.bearer_matches)
    assert "hmac.compare_digest(" in authorised
    assert plain_equality.search(authorised) is None, authorised
    names = inspect.getsource(bot.sessions.Sessions.names)
    assert names.count("hmac.compare_digest(") == 2
    assert plain_equality.search(names) is None, names


# -- what people text stays text ------------------------------------------------------------------

INJECTION = '</Message><Message to="+15559990000">x'


def messages(twiml: str) -> list[ET.Element]:
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    return list(root)


async def test_bodies_are_inert_in_every_twiml_that_echoes_them(bot: Bot) -> None:
    await bot.add_home(HOST, "Beach House")
    guest, host = bot.phone(GUEST), bot.phone(HOST)
    assert await guest.ask("hello") == texts.WELCOME

    # Words echoed back by a search that finds nothing.
    answer = await guest.send(guest.form(f"LIST {INJECTION}"))
    (message,) = messages(answer.text)
    assert message.attrib == {} and list(message) == []
    assert message.text is not None and message.text.startswith('No homes match "')
    assert '<message to="+1555' in message.text

    # The note and the name, echoed in the summary.
    assert (await guest.ask("LIST")).startswith("Homes")
    await guest.ask("BOOK 1")
    await guest.ask(stay_text(bot.clock))
    assert await guest.ask(f"note {INJECTION}") == texts.ASK_NAME
    name = 'Eve</Message><Message to="+1999">x'
    answer = await guest.send(guest.form(name))
    (message,) = messages(answer.text)
    assert message.attrib == {} and list(message) == []
    assert message.text is not None and name in message.text and INJECTION in message.text
    assert (await guest.ask("SEND")).startswith("Request 1 sent")

    # The host's answer carries the name to the host and a message to= the guest: only that.
    answer = await host.send(host.form("ACCEPT 1"))
    first, second = messages(answer.text)
    assert first.attrib == {} and second.attrib == {"to": GUEST}
    assert first.text is not None and first.text.startswith("You accepted request 1 (Eve</Message>")
    assert [r.to for r in parse_twiml(answer.text, HOST)] == [HOST, GUEST]
    assert "+15559990000" not in [m.get("to") for m in messages(answer.text)]

    # The REST text to the host has it as plain text, and the admin API as a JSON string.
    await bot.drained()
    (notice,) = bot.twilio.messages_to(HOST)
    assert INJECTION in notice["body"]
    async with bot.session.get(
        bot.url + "/admin/api/reservations", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as response:
        assert response.content_type == "application/json"
        (row,) = await response.json()
    assert row["message"] == f"note {INJECTION}"
    assert_consistent(bot.config.database_path)


# -- dev mode stays on loopback --------------------------------------------------------------------

NOT_LOOPBACK = ["0.0.0.0", "::", "192.0.2.10", "example.com"]


def clean_environment() -> dict[str, str]:
    secrets = (
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_PHONE_NUMBER",
        "AIRTNG_ADMIN_TOKEN",
    )
    env = {k: v for k, v in os.environ.items() if k not in secrets}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def dev_config(tmp_path: Path, host: str, port: int) -> Path:
    return write_config(
        tmp_path / "config.toml",
        {
            "server": {"host": host, "port": port},
            "storage": {"path": str(tmp_path / "airtng.db")},
        },
    )


@pytest.mark.parametrize("host", NOT_LOOPBACK)
def test_dev_mode_will_not_serve_beyond_loopback(tmp_path: Path, host: str) -> None:
    port = unused_port()
    config = dev_config(tmp_path, host, port)
    with pytest.raises(ConfigError, match="only serves on loopback"):
        load_config(config, {})
    done = subprocess.run(
        [sys.executable, str(RUN_PY), "--config", str(config)],
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2, done
    assert "dev mode (no Twilio credentials) only serves on loopback" in done.stderr
    assert host in done.stderr
    assert "Traceback" not in done.stderr
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # it never listened
    assert not (tmp_path / "airtng.db").exists()


# -- secrets stay out of the logs ---------------------------------------------------------------


def settings_of(database: Path) -> dict[str, str]:
    conn = sqlite3.connect(database)
    try:
        return dict(conn.execute("SELECT key, value FROM settings").fetchall())
    finally:
        conn.close()


def everything_printed(server: ServerProcess) -> str:
    return server.stdout_path.read_text() + server.stderr_path.read_text()


@pytest.mark.sqlite_only  # reads the secrets from the file (PostgreSQL's: tests/storage)
async def test_the_service_never_logs_a_secret(service: Service) -> None:
    """A story with everything that logs (failures, retries, refusals, a crash, a restart)."""
    server, twilio = service.server, service.twilio
    await add_home(server, HOST, "Beach House")
    await add_home(server, "+15550100002", "City Loft")
    twilio.fail_next(2, "500", to=HOST)
    twilio.fail_next(1, "21211", to="+15550100002")
    guest, other = service.phone(GUEST), service.phone(GUEST_B)
    for phone, home in ((guest, 1), (other, 2)):
        assert (await phone.ask("LIST")).startswith("Homes")
        await phone.ask(f"BOOK {home}")
        await phone.ask(stay_text(Clock()))
        await phone.ask("A note")
        await phone.ask("Ann")
        assert (await phone.ask("SEND")).startswith("Request")
    await service.phone(HOST).wait_for_rest("ACCEPT 1")
    form = guest.form("MY")
    assert (await guest.send(form, {"X-Twilio-Signature": "Zm9yZ2Vk"})).status == 403
    guest.cookies[COOKIE_NAME] = ("1.forged", 4102444800.0)
    assert (await guest.ask("MY")).startswith("Your trips:")
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            server.url + "/admin/api/outbox", headers={"Authorization": "Bearer wrong"}
        ) as response,
    ):
        assert response.status == 401
    await server.drained()
    await server.kill()
    await server.start()
    assert (await service.phone(HOST).text("ACCEPT 1"))[0].body.startswith("You accepted")
    assert await server.stop() == 0

    secrets = settings_of(service.config_path.parent / "airtng.db")
    printed = everything_printed(server)
    # What went wrong was logged...
    assert "attempt 1 failed (HTTP 500" in printed
    assert "refused it for good: 21211" in printed
    assert "ignored a session cookie" in printed
    for name, secret in (
        ("auth token", twilio.auth_token),
        ("admin token", server.admin_token),
        ("session secret", secrets["session_secret"]),
        (
            "basic auth",
            base64.b64encode(f"{twilio.account_sid}:{twilio.auth_token}".encode()).decode(),
        ),
    ):
        assert secret not in printed, f"the {name} was printed"  # ...and nothing secret was


async def test_dev_mode_prints_its_admin_token_once_and_no_other_secret(tmp_path: Path) -> None:
    port = unused_port()
    server = ServerProcess(dev_config(tmp_path, "127.0.0.1", port), port=port)
    try:
        await server.start()
        secrets = settings_of(tmp_path / "airtng.db")
        server.admin_token = secrets["dev_admin_token"]
        phone = TwilioPhone(
            _poster(),
            GUEST,
            "+15550100000",
            server.url,
            secrets["dev_auth_token"],
            secrets["dev_account_sid"],
        )
        assert (await phone.ask("LIST")).startswith("Homes")
        await phone.ask("BOOK 1")
        await phone.ask(stay_text(Clock()))
        await phone.ask("A note")
        await phone.ask("Ann")
        assert (await phone.ask("SEND")).startswith("Request 1 sent")
        await server.drained()
        assert await server.stop(timeout=30) == 0
    finally:
        await server.close()
    printed = everything_printed(server)
    assert "[text to " in printed  # the simulator printed the host's text
    assert printed.count(secrets["dev_admin_token"]) == 1
    assert secrets["dev_auth_token"] not in printed
    assert secrets["session_secret"] not in printed


def _poster() -> Callable[..., Any]:
    async def post(url: str, form: dict[str, str], headers: dict[str, str]) -> Any:
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=form, headers=headers) as response,
        ):
            return response.status, await response.text(), response.headers

    return post
