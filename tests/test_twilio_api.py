"""Tests that the Twilio stand-in answers the official twilio library the way Twilio does.

.venv/bin/pytest tests/test_twilio_api.py -q
(uses the ``twilio_api`` fixture from tests/twilio_api.py and a real twilio Client)
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.openapi_contract import validate_create_message, validate_message_resource
from tests.twilio_api import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    TwilioAPI,
    basic_auth_header,
    twilio_api_fixture,  # noqa: F401  (registered as the "twilio_api" fixture)
)

SERVICE = "+15550001111"
GUEST = "+15551230001"
HOST = "+15551230002"
SID_PATTERN = r"^SM[0-9a-f]{32}$"
AUTH = {"Authorization": basic_auth_header(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)}

# The twilio library itself still uses aiohttp.BasicAuth / auth=, deprecated in aiohttp 3.14.
pytestmark = [
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]


def make_client(base_url: str, token: str = DEFAULT_AUTH_TOKEN) -> Client:
    client = Client(DEFAULT_ACCOUNT_SID, token, http_client=AsyncTwilioHttpClient())
    client.api.base_url = base_url
    return client


async def close_client(client: Client) -> None:
    # AsyncTwilioHttpClient keeps an aiohttp session open until told otherwise.
    http_client = client.http_client
    assert isinstance(http_client, AsyncTwilioHttpClient)
    await http_client.close()


@pytest.fixture
async def client(twilio_api: TwilioAPI) -> AsyncIterator[Client]:
    twilio = make_client(twilio_api.base_url)
    try:
        yield twilio
    finally:
        await close_client(twilio)


class Receiver:
    """A status-callback endpoint that keeps what Twilio posted."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], str]] = []
        self.app = web.Application()
        self.app.router.add_post("/status", self.handle)
        self.runner = web.AppRunner(self.app, access_log=None)
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.posts.append((str(request.url), form, request.headers.get("X-Twilio-Signature", "")))
        return web.Response(status=204)

    async def start(self) -> str:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/status"
        return self.url


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    await rec.start()
    try:
        yield rec
    finally:
        await rec.runner.cleanup()


async def raw_post(
    base_url: str, form: dict[str, str], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    url = f"{base_url}/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=form, headers=headers or AUTH) as response,
    ):
        return response.status, await response.json(), dict(response.headers)


async def raw_get(base_url: str, path: str, params: dict[str, str]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(base_url + path, params=params, headers=AUTH) as response,
    ):
        return response.status, await response.json()


# --------------------------------------------------------------------------- create


async def test_create_through_library_is_twilio_shaped(
    twilio_api: TwilioAPI, client: Client, receiver: Receiver
) -> None:
    message = await client.messages.create_async(
        to=GUEST,
        from_=SERVICE,
        body="Your booking is confirmed 🏠",
        status_callback=receiver.url,
        media_url=["https://example.com/house.jpg"],
    )

    assert message.sid is not None
    assert re.match(SID_PATTERN, message.sid)
    assert message.status == "queued"
    assert (message.to, message.from_, message.body) == (
        GUEST,
        SERVICE,
        "Your booking is confirmed 🏠",
    )
    assert message.num_media == "1"
    assert message.num_segments == "1"
    assert message.direction == "outbound-api"
    assert isinstance(message.date_created, datetime)
    assert message.date_created.tzinfo is not None

    assert [m["sid"] for m in twilio_api.created] == [message.sid]
    assert twilio_api.messages_to(GUEST)[0]["sid"] == message.sid
    assert twilio_api.counts_by_to[GUEST] == 1
    assert twilio_api.form_of(message.sid)["MediaUrl"] == ["https://example.com/house.jpg"]

    (request,) = twilio_api.create_requests()
    assert request.status == 201
    assert validate_create_message(request.form, DEFAULT_ACCOUNT_SID) == []

    fetched = await client.messages(message.sid).fetch_async()
    assert fetched.sid == message.sid
    status, resource = await raw_get(
        twilio_api.base_url,
        f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages/{message.sid}.json",
        {},
    )
    assert status == 200
    assert validate_message_resource(resource) == []


async def test_created_resource_passes_the_spec_schema(twilio_api: TwilioAPI) -> None:
    status, body, _ = await raw_post(
        twilio_api.base_url, {"To": GUEST, "From": SERVICE, "Body": "x"}
    )
    assert status == 201
    assert validate_message_resource(body) == []
    assert body["uri"] == f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages/{body['sid']}.json"
    assert body["error_code"] is None and body["price_unit"] == "USD"


async def test_bad_credentials_are_401(twilio_api: TwilioAPI) -> None:
    bad = make_client(twilio_api.base_url, token="not-the-token")
    try:
        with pytest.raises(TwilioRestException) as caught:
            await bad.messages.create_async(to=GUEST, from_=SERVICE, body="hi")
    finally:
        await close_client(bad)
    assert caught.value.status == 401
    assert caught.value.code == 20003

    status, body, headers = await raw_post(
        twilio_api.base_url,
        {"To": GUEST, "From": SERVICE, "Body": "hi"},
        headers={"Authorization": basic_auth_header(DEFAULT_ACCOUNT_SID, "wrong")},
    )
    assert (status, body) == (
        401,
        {
            "code": 20003,
            "message": "Authenticate",
            "more_info": "https://www.twilio.com/docs/errors/20003",
            "status": 401,
        },
    )
    assert headers["WWW-Authenticate"].startswith("Basic")
    assert twilio_api.created == []


async def test_credentials_cannot_act_on_another_account(twilio_api: TwilioAPI) -> None:
    other = "AC" + "f" * 32
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{twilio_api.base_url}/2010-04-01/Accounts/{other}/Messages.json",
            data={"To": GUEST, "From": SERVICE, "Body": "hi"},
            headers=AUTH,
        ) as response,
    ):
        assert (response.status, (await response.json())["code"]) == (401, 20003)


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"From": SERVICE, "Body": "hi"}, 21604),
        ({"To": GUEST, "Body": "hi"}, 21603),
        ({"To": GUEST, "From": SERVICE}, 21602),
        ({"To": "555-1234", "From": SERVICE, "Body": "hi"}, 21211),
        ({"To": GUEST, "From": SERVICE, "Body": "x" * 1601}, 21617),
    ],
)
async def test_invalid_requests_get_twilio_error_codes(
    twilio_api: TwilioAPI, form: dict[str, str], code: int
) -> None:
    status, body, _ = await raw_post(twilio_api.base_url, form)
    assert (status, body["code"], body["status"]) == (400, code, 400)
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert twilio_api.created == []


async def test_media_only_message_is_accepted(twilio_api: TwilioAPI) -> None:
    status, body, _ = await raw_post(
        twilio_api.base_url, {"To": GUEST, "From": SERVICE, "MediaUrl": "https://example.com/a.png"}
    )
    assert status == 201
    assert (body["body"], body["num_media"]) == ("", "1")


async def test_opted_out_recipient_is_21610(twilio_api: TwilioAPI, client: Client) -> None:
    twilio_api.opted_out.add(GUEST)
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(to=GUEST, from_=SERVICE, body="hi")
    assert (caught.value.status, caught.value.code) == (400, 21610)
    assert twilio_api.created == []
    assert twilio_api.attempts_by_to[GUEST] == 1


async def test_invalid_to_through_library_is_21211(client: Client) -> None:
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(to="12345", from_=SERVICE, body="hi")
    assert (caught.value.status, caught.value.code) == (400, 21211)


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize(("kind", "code"), [("21211", 21211), ("21610", 21610)])
async def test_rejection_faults_surface_as_rest_exceptions(
    twilio_api: TwilioAPI, client: Client, kind: Any, code: int
) -> None:
    twilio_api.fail_next(1, kind)
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(to=GUEST, from_=SERVICE, body="hi")
    assert (caught.value.status, caught.value.code) == (400, code)
    # A fail_next fault is used up: the retry goes through.
    await client.messages.create_async(to=GUEST, from_=SERVICE, body="hi")
    assert len(twilio_api.created) == 1


@pytest.mark.parametrize(("kind", "status", "code"), [("500", 500, 20500), ("503", 503, 20503)])
async def test_server_error_faults(
    twilio_api: TwilioAPI, client: Client, kind: Any, status: int, code: int
) -> None:
    twilio_api.fail_next(2, kind)
    for _ in range(2):
        with pytest.raises(TwilioRestException) as caught:
            await client.messages.create_async(to=GUEST, from_=SERVICE, body="hi")
        assert (caught.value.status, caught.value.code) == (status, code)
    await client.messages.create_async(to=GUEST, from_=SERVICE, body="hi")
    assert [r.status for r in twilio_api.create_requests()] == [status, status, 201]
    assert [r.fault for r in twilio_api.create_requests()] == [kind, kind, None]
    assert len(twilio_api.created) == 1


async def test_a_slow_create_is_in_flight_for_a_while_then_accepted(
    twilio_api: TwilioAPI, client: Client
) -> None:
    twilio_api.fail_next(1, "slow", hang=0.5)
    create = asyncio.create_task(client.messages.create_async(to=GUEST, from_=SERVICE, body="hi"))
    await twilio_api.wait_for(lambda: twilio_api.attempts_by_to[GUEST] == 1)
    assert twilio_api.created == [] and not create.done()
    message = await create
    assert [m["sid"] for m in twilio_api.created] == [message.sid]
    assert [r.status for r in twilio_api.create_requests()] == [201]


async def test_429_carries_retry_after(twilio_api: TwilioAPI, client: Client) -> None:
    twilio_api.fail_next(1, "429", retry_after=7)
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(to=GUEST, from_=SERVICE, body="hi")
    assert (caught.value.status, caught.value.code) == (429, 20429)

    twilio_api.fail_next(1, "429", retry_after=3)
    status, body, headers = await raw_post(
        twilio_api.base_url, {"To": GUEST, "From": SERVICE, "Body": "x"}
    )
    assert (status, body["code"], headers["Retry-After"]) == (429, 20429, "3")


async def test_fault_can_target_one_recipient(twilio_api: TwilioAPI, client: Client) -> None:
    twilio_api.fail_next(1, "500", to=HOST)
    await client.messages.create_async(to=GUEST, from_=SERVICE, body="to guest")
    with pytest.raises(TwilioRestException):
        await client.messages.create_async(to=HOST, from_=SERVICE, body="to host")
    assert [m["to"] for m in twilio_api.created] == [GUEST]


async def test_fail_for_is_a_time_window(twilio_api: TwilioAPI, client: Client) -> None:
    now = [1000.0]
    twilio_api.clock = lambda: now[0]
    twilio_api.fail_for(30, "503")
    for _ in range(3):
        with pytest.raises(TwilioRestException) as caught:
            await client.messages.create_async(to=GUEST, from_=SERVICE, body="hi")
        assert caught.value.status == 503
    now[0] += 31
    await client.messages.create_async(to=GUEST, from_=SERVICE, body="hi")
    assert len(twilio_api.created) == 1


async def test_unknown_fault_kind_is_refused(twilio_api: TwilioAPI) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        twilio_api.fail_next(1, "502")  # type: ignore[arg-type]


async def test_close_fault_is_a_client_error_and_sends_nothing(
    twilio_api: TwilioAPI, client: Client
) -> None:
    twilio_api.fail_next(1, "close")
    with pytest.raises(aiohttp.ClientError) as caught:
        await client.messages.create_async(to=GUEST, from_=SERVICE, body="hi")
    assert isinstance(caught.value, aiohttp.ServerDisconnectedError)
    assert twilio_api.created == []
    (request,) = twilio_api.create_requests()
    assert request.dropped and request.status is None
    # The same client recovers on its next request.
    await client.messages.create_async(to=GUEST, from_=SERVICE, body="hi")
    assert len(twilio_api.created) == 1


async def test_created_then_close_is_found_by_reconciliation(
    twilio_api: TwilioAPI, client: Client
) -> None:
    twilio_api.fail_next(1, "created_then_close")
    with pytest.raises(aiohttp.ClientError):
        await client.messages.create_async(to=GUEST, from_=SERVICE, body="Booking #42 confirmed")
    (created,) = twilio_api.created

    today = datetime.now(UTC).date()
    found = await client.messages.list_async(to=GUEST, from_=SERVICE, date_sent=today, limit=20)
    assert [(m.sid, m.body) for m in found] == [(created["sid"], "Booking #42 confirmed")]
    found = await client.messages.list_async(
        to=GUEST, date_sent_after=today - timedelta(days=1), date_sent_before=today
    )
    assert [m.sid for m in found] == [created["sid"]]
    assert (
        await client.messages.list_async(to=GUEST, date_sent_after=today + timedelta(days=1)) == []
    )


async def test_timeout_fault_trips_a_client_timeout(twilio_api: TwilioAPI, client: Client) -> None:
    twilio_api.fail_next(1, "timeout", hang=10)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await client.messages.create_async(to=GUEST, from_=SERVICE, body="hi")
    assert time.monotonic() - started < 2
    assert twilio_api.created == []
    # The hanging handler must not hold up shutdown.
    started = time.monotonic()
    await twilio_api.stop()
    assert time.monotonic() - started < 2


async def test_timeout_fault_can_create_before_hanging(
    twilio_api: TwilioAPI, client: Client
) -> None:
    twilio_api.fail_next(1, "timeout", hang=10, create=True)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await client.messages.create_async(to=GUEST, from_=SERVICE, body="hi")
    assert [m["to"] for m in twilio_api.created] == [GUEST]


async def test_async_twilio_http_client_ignores_its_own_timeout(twilio_api: TwilioAPI) -> None:
    # twilio 9.x passes the per-request timeout (None) to aiohttp, which means "no timeout",
    # so AsyncTwilioHttpClient(timeout=...) alone never times out: callers need
    # asyncio.timeout(). This pins that so a library change is noticed.
    twilio_api.fail_next(1, "timeout", hang=0.6)
    lax = Client(
        DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, http_client=AsyncTwilioHttpClient(timeout=0.1)
    )
    lax.api.base_url = twilio_api.base_url
    started = time.monotonic()
    try:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await lax.messages.create_async(to=GUEST, from_=SERVICE, body="hi")
    finally:
        await close_client(lax)
    assert time.monotonic() - started >= 0.5


async def test_restart_on_the_same_port_keeps_state(twilio_api: TwilioAPI, client: Client) -> None:
    # Outage tests stop "Twilio" (connection refused) and bring it back where the client points.
    await client.messages.create_async(to=GUEST, from_=SERVICE, body="before")
    port = twilio_api.port
    await twilio_api.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        await client.messages.create_async(to=GUEST, from_=SERVICE, body="during")
    assert await twilio_api.start(port=port) == client.api.base_url
    await client.messages.create_async(to=GUEST, from_=SERVICE, body="after")
    assert [m["body"] for m in twilio_api.messages_to(GUEST)] == ["before", "after"]


# --------------------------------------------------------------------------- callbacks


async def test_status_callbacks_are_signed_and_ordered(
    twilio_api: TwilioAPI, client: Client, receiver: Receiver
) -> None:
    message = await client.messages.create_async(
        to=GUEST, from_=SERVICE, body="hi", status_callback=receiver.url
    )
    await twilio_api.wait_for(lambda: len(receiver.posts) == 2, what="two callbacks")

    validator = RequestValidator(DEFAULT_AUTH_TOKEN)
    statuses = []
    for url, form, signature in receiver.posts:
        assert validator.validate(url, form, signature), form
        assert form["MessageSid"] == form["SmsSid"] == message.sid
        assert (form["AccountSid"], form["From"], form["To"]) == (
            DEFAULT_ACCOUNT_SID,
            SERVICE,
            GUEST,
        )
        assert form["ApiVersion"] == "2010-04-01"
        assert "ErrorCode" not in form
        statuses.append(form["MessageStatus"])
    assert statuses == ["sent", "delivered"]
    assert [c.status for c in twilio_api.callbacks_for(message.sid)] == [204, 204]

    fetched = await client.messages(message.sid).fetch_async()
    assert fetched.status == "delivered"


@pytest.mark.parametrize(
    ("kind", "code", "statuses"),
    [("undelivered", 30003, ["sent", "undelivered"]), ("failed", 30008, ["failed"])],
)
async def test_delivery_failure_faults_report_error_codes(
    twilio_api: TwilioAPI,
    client: Client,
    receiver: Receiver,
    kind: Any,
    code: int,
    statuses: list[str],
) -> None:
    twilio_api.fail_next(1, kind)
    message = await client.messages.create_async(
        to=GUEST, from_=SERVICE, body="hi", status_callback=receiver.url
    )
    assert message.status == "queued"
    await twilio_api.wait_for(lambda: len(receiver.posts) == len(statuses))
    assert [form["MessageStatus"] for _, form, _ in receiver.posts] == statuses
    assert receiver.posts[-1][1]["ErrorCode"] == str(code)
    resource = twilio_api.message(message.sid)
    assert (resource["status"], resource["error_code"]) == (statuses[-1], code)
    assert validate_message_resource(resource) == []


async def test_callback_failures_are_recorded_not_raised(
    twilio_api: TwilioAPI, client: Client
) -> None:
    # A port nobody listens on: bind, note the port, close.
    probe = web.AppRunner(web.Application())
    await probe.setup()
    site = web.TCPSite(probe, "127.0.0.1", 0)
    await site.start()
    dead_port = probe.addresses[0][1]
    await probe.cleanup()

    message = await client.messages.create_async(
        to=GUEST, from_=SERVICE, body="hi", status_callback=f"http://127.0.0.1:{dead_port}/status"
    )
    records = await twilio_api.wait_for(
        lambda: [c for c in twilio_api.callbacks_for(message.sid) if c.error],
        what="failed callback",
    )
    assert records[0].status is None
    await twilio_api.wait_for(lambda: twilio_api.message(message.sid)["status"] == "delivered")
    await client.messages.create_async(to=GUEST, from_=SERVICE, body="still serving")


async def test_callbacks_can_be_switched_off(receiver: Receiver) -> None:
    server = TwilioAPI(callbacks=False)
    await server.start()
    twilio = make_client(server.base_url)
    try:
        message = await twilio.messages.create_async(
            to=GUEST, from_=SERVICE, body="hi", status_callback=receiver.url
        )
        assert server.message(message.sid)["status"] == "queued"
        assert server.callbacks == []
    finally:
        await close_client(twilio)
        await server.stop()


# --------------------------------------------------------------------------- list and fetch


async def test_list_filters_and_order(twilio_api: TwilioAPI, client: Client) -> None:
    other_sender = "+15550002222"
    sids = []
    for to, sender, body in [
        (GUEST, SERVICE, "one"),
        (HOST, SERVICE, "two"),
        (GUEST, other_sender, "three"),
        (GUEST, SERVICE, "four"),
    ]:
        sids.append((await client.messages.create_async(to=to, from_=sender, body=body)).sid)

    everything = await client.messages.list_async()
    assert [m.sid for m in everything] == list(reversed(sids))
    assert [m.body for m in await client.messages.list_async(to=GUEST)] == ["four", "three", "one"]
    assert [m.body for m in await client.messages.list_async(from_=SERVICE)] == [
        "four",
        "two",
        "one",
    ]
    to_guest_from_service = await client.messages.list_async(to=GUEST, from_=SERVICE)
    assert [m.body for m in to_guest_from_service] == ["four", "one"]
    assert await client.messages.list_async(to="+15559999999") == []

    # Paging: the library follows next_page_uri.
    paged = await client.messages.list_async(page_size=1, limit=3)
    assert [m.body for m in paged] == ["four", "three", "two"]

    path = f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
    status, page = await raw_get(twilio_api.base_url, path, {"To": GUEST, "PageSize": "2"})
    assert status == 200
    assert set(page) == {
        "messages",
        "end",
        "first_page_uri",
        "next_page_uri",
        "page",
        "page_size",
        "previous_page_uri",
        "start",
        "uri",
    }
    assert (page["page"], page["page_size"], page["start"], page["end"]) == (0, 2, 0, 1)
    assert page["previous_page_uri"] is None and page["next_page_uri"] is not None
    assert page["uri"].startswith(path)
    for resource in page["messages"]:
        assert validate_message_resource(resource) == []

    today = datetime.now(UTC).date().isoformat()
    for params, expected in [
        ({"DateSent": today}, 4),
        ({"DateSent>": today}, 4),
        ({"DateSent<": today}, 4),
        ({"DateSent>=": today}, 4),
        ({"DateSent<": (date.fromisoformat(today) - timedelta(days=1)).isoformat()}, 0),
        ({"DateSent>": (date.fromisoformat(today) + timedelta(days=1)).isoformat()}, 0),
    ]:
        status, page = await raw_get(twilio_api.base_url, path, params)
        assert (status, len(page["messages"])) == (200, expected), params

    status, page = await raw_get(twilio_api.base_url, path, {"DateSent": "yesterday"})
    assert (status, page["code"]) == (400, 20001)


async def test_fetch_unknown_message_is_404(twilio_api: TwilioAPI, client: Client) -> None:
    with pytest.raises(TwilioRestException) as caught:
        await client.messages("SM" + "0" * 32).fetch_async()
    assert (caught.value.status, caught.value.code) == (404, 20404)


# --------------------------------------------------------------------------- helpers


async def test_wait_for_count_and_timeout(twilio_api: TwilioAPI, client: Client) -> None:
    async def send_two() -> None:
        for body in ("a", "b"):
            await client.messages.create_async(to=GUEST, from_=SERVICE, body=body)

    task = asyncio.create_task(send_two())
    created = await twilio_api.wait_for_count(2, timeout=5)
    await task
    assert [m["body"] for m in created] == ["a", "b"]
    with pytest.raises(TimeoutError, match="3 messages created"):
        await twilio_api.wait_for_count(3, timeout=0.05)


async def test_throughput_is_thousands_per_second(twilio_api: TwilioAPI) -> None:
    twilio_api.callbacks_enabled = False
    url = f"{twilio_api.base_url}/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
    total, workers = 2000, 32
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=workers)) as session:

        async def worker(offset: int) -> None:
            for i in range(offset, total, workers):
                form = {"To": f"+1555{i:07d}", "From": SERVICE, "Body": f"m{i}"}
                async with session.post(url, data=form, headers=AUTH) as response:
                    assert response.status == 201
                    await response.read()

        started = time.monotonic()
        await asyncio.gather(*(worker(w) for w in range(workers)))
        elapsed = time.monotonic() - started
    assert len(twilio_api.created) == total
    # Client and server share one core here, so this is a floor well under the real rate.
    assert total / elapsed > 500, f"{total / elapsed:.0f}/s"


# --------------------------------------------------------------------------- contract checks


def test_contract_flags_what_twilio_would_reject() -> None:
    problems = validate_create_message(
        {
            "To": ["+15551230001"],
            "Body": ["hi"],
            "StatusCallback": ["not a url"],
            "MediaUrl": ["https://example.com/a.png", "ftp_nonsense"],
            "ContentRetention": ["forever"],
            "Attempt": ["twice"],
            "Colour": ["blue"],
        },
        "AC123",
    )
    text = "\n".join(problems)
    for fragment in (
        "AccountSid",
        "StatusCallback",
        "MediaUrl/1",
        "ContentRetention",
        "Attempt",
        "Colour: not a field",
        "From: required",
    ):
        assert fragment in text, (fragment, problems)
    assert validate_create_message({"To": [GUEST], "From": [SERVICE]}, DEFAULT_ACCOUNT_SID) == [
        "Body: Body or MediaUrl is required"
    ]
    assert any(
        "To" in p for p in validate_create_message({"To": [GUEST, HOST]}, DEFAULT_ACCOUNT_SID)
    )


def test_contract_flags_a_malformed_resource() -> None:
    problems = validate_message_resource({"sid": "XX1", "status": "lost", "error_code": "30003"})
    text = "\n".join(problems)
    assert "sid" in text and "status" in text and "error_code" in text and "body: missing" in text


# --------------------------------------------------------------------------- standalone


async def test_standalone_process_counts_and_reports() -> None:
    repo = Path(__file__).resolve().parents[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.twilio_api",
        "--port",
        "0",
        "--no-callbacks",
        cwd=repo,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        base_url = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
        assert base_url.startswith("http://127.0.0.1:")
        for _ in range(3):
            status, _, _ = await raw_post(base_url, {"To": GUEST, "From": SERVICE, "Body": "hi"})
            assert status == 201
        status, stats = await raw_get(base_url, "/_twilio_api/stats", {})
        assert (status, stats["created"]) == (200, 3)
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{base_url}/_twilio_api/faults", json={"kind": "503", "n": 1}) as resp,
        ):
            assert resp.status == 200
        status, body, _ = await raw_post(base_url, {"To": GUEST, "From": SERVICE, "Body": "hi"})
        assert (status, body["code"]) == (503, 20503)
        process.send_signal(signal.SIGINT)
        out, _ = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0
    summary = out.decode().strip().splitlines()[-1]
    assert '"event": "summary"' in summary and '"created": 3' in summary
