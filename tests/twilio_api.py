"""A Twilio-compatible REST API (2010-04-01 Messages) on loopback, for tests and the benchmark.

    server = TwilioAPI(); client.api.base_url = await server.start()
    await server.wait_for_count(1); assert server.created[0]["to"] == "+15551230001"

It owns what the service sees when it talks to "Twilio": message creation with Twilio's
authentication, validation errors and resource shape; the list and fetch endpoints the service
uses to reconcile sends whose outcome it did not see; signed status callbacks; fault injection
for outage tests (``fail_next`` / ``fail_for``); and recording of everything for assertions.

Fixture: ``twilio_api_fixture`` below is a pytest fixture registered under the name
``twilio_api``; ``tests/conftest.py`` (owned by the lead) exposes it by importing it
(``from tests.twilio_api import twilio_api_fixture  # noqa: F401``). It yields a started
``TwilioAPI`` with ``DEFAULT_ACCOUNT_SID`` / ``DEFAULT_AUTH_TOKEN``.

Standalone (benchmark): ``python -m tests.twilio_api --port 4010 --account-sid AC... \\
--auth-token ...`` prints its base URL on the first line, serves until SIGINT/SIGTERM, then
prints one JSON line with the number of messages created and the per-second counts.
``GET /_twilio_api/stats`` returns the same numbers while it runs, and
``POST /_twilio_api/faults`` (JSON ``{"kind": "503", "n": 5}`` or ``{"kind": "503",
"seconds": 10}``) injects faults into a running process.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import json
import re
import signal
import sys
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, TypeVar, get_args
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import hdrs, web
from multidict import MultiMapping
from twilio.request_validator import RequestValidator

__all__ = [
    "API_VERSION",
    "DEFAULT_ACCOUNT_SID",
    "DEFAULT_AUTH_TOKEN",
    "FAULT_KINDS",
    "CallbackRecord",
    "Fault",
    "FaultKind",
    "RecordedRequest",
    "TwilioAPI",
    "basic_auth_header",
    "twilio_api_fixture",
]

API_VERSION = "2010-04-01"
DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEFAULT_AUTH_TOKEN = "5ca1ab1e" * 4

FaultKind = Literal[
    "500",
    "503",
    "429",
    "timeout",
    "slow",
    "close",
    "created_then_close",
    "21610",
    "21211",
    "undelivered",
    "failed",
]
FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_MESSAGES_PATH = f"/{API_VERSION}/Accounts/{{account_sid}}/Messages.json"
_MESSAGE_PATH = f"/{API_VERSION}/Accounts/{{account_sid}}/Messages/{{sid}}.json"
_MAX_BODY_CHARS = 1600
_DEFAULT_PAGE_SIZE = 50
_MAX_PAGE_SIZE = 1000

# Delivery error codes Twilio reports in status callbacks; used when a fault names no code.
_DELIVERY_ERRORS = {
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    30008: "Unknown error",
}

_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# These take an escape septet each, so they count double towards the 160/153 limits.
_GSM7_EXTENDED = set("^{}\\[~]|€\f")

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_T = TypeVar("_T")


@dataclass(slots=True)
class RecordedRequest:
    """One request the server received, as the tests need to see it."""

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    # None while the handler runs, and for ever when the connection was dropped on purpose.
    status: int | None = None
    dropped: bool = False
    fault: str | None = None
    received_at: float = 0.0


@dataclass(slots=True)
class CallbackRecord:
    """One status callback the server attempted; ``error`` is set when it could not deliver."""

    url: str
    params: dict[str, str]
    signature: str
    status: int | None = None
    error: str | None = None


@dataclass(slots=True)
class Fault:
    """A pending fault; ``remaining`` counts down for fail_next, ``until`` bounds fail_for."""

    kind: FaultKind
    remaining: int | None = None
    until: float | None = None
    to: str | None = None
    retry_after: int = 1
    hang: float | None = None
    create: bool = False
    error_code: int | None = None


@dataclass(slots=True)
class _Stored:
    resource: dict[str, Any]
    form: dict[str, list[str]]
    sent_at: datetime
    outcome: Fault | None = None


def _first(values: Mapping[str, list[str]], key: str) -> str | None:
    found = values.get(key)
    return found[0] if found else None


def _as_lists(multi: MultiMapping[Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in multi.items():
        out.setdefault(key, []).append(str(value))
    return out


def basic_auth_header(login: str, password: str) -> str:
    """An Authorization header value (aiohttp 3.14 deprecates BasicAuth for this)."""
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode("ascii")


def _decode_basic_auth(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin1")
    login, sep, password = text.partition(":")
    return (login, password) if sep else None


def _error(status: int, code: int, message: str, **extra: Any) -> web.Response:
    payload = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return web.json_response(payload, status=status, **extra)


def _segments(body: str) -> int:
    if not body:
        # Media-only messages are billed as one MMS segment.
        return 1
    septets = 0
    for char in body:
        if char in _GSM7_BASIC:
            septets += 1
        elif char in _GSM7_EXTENDED:
            septets += 2
        else:
            units = len(body.encode("utf-16-le")) // 2
            return 1 if units <= 70 else -(-units // 67)
    return 1 if septets <= 160 else -(-septets // 153)


def _parse_date_filter(value: str) -> tuple[date | None, datetime | None]:
    """A DateSent filter value as either a whole UTC day or an instant.

    The twilio library serialises a ``date`` as ``YYYY-MM-DDT00:00:00Z``, so midnight is read
    as "that day" (what Twilio documents: date granularity); any other time is an instant.
    """
    if len(value) == 10:
        return date.fromisoformat(value), None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0):
        return moment.date(), None
    return None, moment


class TwilioAPI:
    """Twilio's Messages API for one account, served by aiohttp on loopback.

    State the tests read: ``created`` (message resources in creation order, kept current as
    statuses advance), ``requests`` (every request), ``callbacks`` (every status callback
    attempt), ``counts_by_to`` (messages created per To) and ``attempts_by_to`` (authenticated
    create attempts per To, faults included).

    Faults are taken only by POST Messages.json requests that pass authentication, so a
    bad-credentials test never uses one up; the oldest matching pending fault wins.
    """

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        callbacks: bool = True,
        callback_delay: float = 0.0,
        callback_timeout: float = 5.0,
        hang_seconds: float = 30.0,
        opted_out: set[str] | None = None,
        owned_numbers: set[str] | None = None,
        record_requests: bool = True,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.callbacks_enabled = callbacks
        self.callback_delay = callback_delay
        self.callback_timeout = callback_timeout
        # Default hang for "timeout" faults: far beyond any sane client timeout.
        self.hang_seconds = hang_seconds
        self.opted_out: set[str] = set(opted_out or ())
        # When set, From must be one of these (Twilio error 21606), to catch config mismatches.
        self.owned_numbers = owned_numbers
        self.record_requests = record_requests
        # Replaceable so tests can move fail_for windows without sleeping.
        self.clock: Callable[[], float] = time.monotonic

        self.created: list[dict[str, Any]] = []
        self.requests: list[RecordedRequest] = []
        self.callbacks: list[CallbackRecord] = []
        self.counts_by_to: Counter[str] = Counter()
        self.attempts_by_to: Counter[str] = Counter()
        self.per_second: Counter[int] = Counter()

        self._stored: dict[str, _Stored] = {}
        self._by_to: dict[str, list[dict[str, Any]]] = {}
        self._faults: deque[Fault] = deque()
        self._validator = RequestValidator(auth_token)
        self._expected_auth = basic_auth_header(account_sid, auth_token)
        self._changed = asyncio.Event()
        self._waiters = 0
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._date_cache: tuple[int, str] = (-1, "")
        self._first_created: float | None = None
        self._last_created: float | None = None
        self.base_url = ""

        self.app = web.Application()
        self.app.on_startup.append(self._on_startup)
        self.app.on_shutdown.append(self._on_shutdown)
        self.app.on_cleanup.append(self._on_cleanup)
        self.app.router.add_post(_MESSAGES_PATH, self._recorded(self._handle_create))
        self.app.router.add_get(_MESSAGES_PATH, self._recorded(self._handle_list))
        self.app.router.add_get(_MESSAGE_PATH, self._recorded(self._handle_fetch))
        self.app.router.add_get("/_twilio_api/stats", self._handle_stats)
        self.app.router.add_post("/_twilio_api/faults", self._handle_faults)
        self.app.router.add_route("*", "/{tail:.*}", self._recorded(self._handle_not_found))

    # ----------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 picks a free port); returns the base URL for the client."""
        # A short shutdown timeout: hanging "timeout" faults are released by on_shutdown, and
        # nothing else here should take long.
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        """Stop serving; hanging requests and pending callbacks are cancelled, not awaited."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1]) if self.base_url else 0

    async def _on_startup(self, app: web.Application) -> None:
        self._stopping = asyncio.Event()

    async def _on_shutdown(self, app: web.Application) -> None:
        self._stopping.set()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _on_cleanup(self, app: web.Application) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    # ----------------------------------------------------------------- faults

    def fail_next(
        self,
        n: int = 1,
        kind: FaultKind = "500",
        *,
        to: str | None = None,
        retry_after: int = 1,
        hang: float | None = None,
        create: bool = False,
        error_code: int | None = None,
    ) -> Fault:
        """Make the next n create requests (to ``to`` only, if given) fail with ``kind``.

        ``retry_after`` is the 429 Retry-After; ``hang`` the "timeout" stall (default
        ``hang_seconds``), or how long a "slow" create takes before it succeeds; ``create=True`` makes a "timeout" create the message before
        stalling; ``error_code`` is the delivery error for "undelivered"/"failed".
        """
        fault = self._fault(kind, to, retry_after, hang, create, error_code)
        fault.remaining = n
        self._faults.append(fault)
        return fault

    def fail_for(
        self,
        seconds: float,
        kind: FaultKind = "503",
        *,
        to: str | None = None,
        retry_after: int = 1,
        hang: float | None = None,
        create: bool = False,
        error_code: int | None = None,
    ) -> Fault:
        """Make every create request in the next ``seconds`` (by ``clock``) fail with ``kind``."""
        fault = self._fault(kind, to, retry_after, hang, create, error_code)
        fault.until = self.clock() + seconds
        self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self._faults.clear()

    def _fault(
        self,
        kind: FaultKind,
        to: str | None,
        retry_after: int,
        hang: float | None,
        create: bool,
        error_code: int | None,
    ) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        return Fault(kind, None, None, to, retry_after, hang, create, error_code)

    def _take_fault(self, to: str | None) -> Fault | None:
        if not self._faults:
            return None
        now = self.clock()
        for fault in list(self._faults):
            if fault.until is not None and fault.until <= now:
                self._faults.remove(fault)
                continue
            if fault.to is not None and fault.to != to:
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
            return fault
        return None

    # ----------------------------------------------------------------- queries for tests

    def messages_to(self, phone: str) -> list[dict[str, Any]]:
        """Messages created to ``phone``, oldest first."""
        return list(self._by_to.get(phone, ()))

    def message(self, sid: str) -> dict[str, Any]:
        return self._stored[sid].resource

    def form_of(self, sid: str) -> dict[str, list[str]]:
        """The form the message was created from (MediaUrl etc. are not in the resource)."""
        return self._stored[sid].form

    def create_requests(self) -> list[RecordedRequest]:
        """Recorded POST Messages.json requests, rejected and faulted ones included."""
        return [
            r for r in self.requests if r.method == "POST" and r.path.endswith("/Messages.json")
        ]

    def callbacks_for(self, sid: str) -> list[CallbackRecord]:
        return [c for c in self.callbacks if c.params.get("MessageSid") == sid]

    def reset(self) -> None:
        """Forget recordings and faults (not the opted-out set)."""
        self.created.clear()
        self.requests.clear()
        self.callbacks.clear()
        self.counts_by_to.clear()
        self.attempts_by_to.clear()
        self.per_second.clear()
        self._stored.clear()
        self._by_to.clear()
        self._faults.clear()
        self._first_created = self._last_created = None

    async def wait_for(
        self, predicate: Callable[[], _T], timeout: float = 5.0, what: str = "condition"
    ) -> _T:
        """Wait until ``predicate()`` is truthy; returns its value, raises TimeoutError.

        It is re-checked whenever the server handles a request, advances a status or finishes
        a callback, so it may look at anything those change (including a callback receiver).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._waiters += 1
        try:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(f"twilio_api: {what} not met within {timeout}s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)
        finally:
            self._waiters -= 1

    async def wait_for_count(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until at least n messages were created; returns them."""
        await self.wait_for(lambda: len(self.created) >= n, timeout, f"{n} messages created")
        return list(self.created)

    def stats(self) -> dict[str, Any]:
        span = (
            self._last_created - self._first_created
            if self._first_created is not None and self._last_created is not None
            else 0.0
        )
        return {
            "created": len(self.created),
            "requests": len(self.requests),
            "elapsed_seconds": round(span, 3),
            "rate_per_second": round(len(self.created) / span, 1) if span > 0 else None,
            "per_second": {str(k): v for k, v in sorted(self.per_second.items())},
        }

    def _notify(self) -> None:
        # Swapping the event wakes every current waiter exactly once; skipped when nobody
        # waits so the benchmark path stays cheap.
        if self._waiters:
            event, self._changed = self._changed, asyncio.Event()
            event.set()

    # ----------------------------------------------------------------- handlers

    def _recorded(
        self, handler: Callable[[web.Request, RecordedRequest], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            form: dict[str, list[str]] = {}
            if request.method == "POST" and request.content_type in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ):
                form = _as_lists(await request.post())
            record = RecordedRequest(
                method=request.method,
                path=request.path,
                headers=dict(request.headers),
                query=_as_lists(request.query),
                form=form,
                received_at=time.time(),
            )
            if self.record_requests:
                self.requests.append(record)
            try:
                response = await handler(request, record)
            finally:
                self._notify()
            if not record.dropped:
                record.status = response.status
            return response

        return wrapper

    def _authenticate(self, request: web.Request) -> web.Response | None:
        header = request.headers.get(hdrs.AUTHORIZATION, "")
        # Fast path for the benchmark: the client always encodes the same credentials.
        ok = header == self._expected_auth or (
            bool(header) and _decode_basic_auth(header) == (self.account_sid, self.auth_token)
        )
        # Credentials for one account cannot act on another account's path.
        if ok and request.match_info.get("account_sid") == self.account_sid:
            return None
        return _error(
            401,
            20003,
            "Authenticate",
            headers={"WWW-Authenticate": 'Basic realm="Twilio API"'},
        )

    async def _handle_create(
        self, request: web.Request, record: RecordedRequest
    ) -> web.StreamResponse:
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        form = record.form
        to = _first(form, "To")
        if to is not None:
            self.attempts_by_to[to] += 1
            self._notify()  # waiters may watch for a request in flight (a slow or hung create)
        fault = self._take_fault(to)
        if fault is None:
            return self._create_response(form, None)
        record.fault = fault.kind
        kind = fault.kind
        if kind == "500":
            return _error(500, 20500, "An internal server error has occurred")
        if kind == "503":
            return _error(503, 20503, "Service unavailable")
        if kind == "429":
            return _error(
                429,
                20429,
                "Too Many Requests",
                headers={"Retry-After": str(fault.retry_after)},
            )
        if kind == "21211":
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if kind == "21610":
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        if kind == "close":
            return self._drop(request, record)
        if kind == "timeout":
            if fault.create and self._reject_invalid(form) is None:
                self._create(form, None)
            hang = self.hang_seconds if fault.hang is None else fault.hang
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), hang)
            return self._drop(request, record)
        if kind == "slow":  # a create in flight for a while, then accepted as usual
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), fault.hang or self.hang_seconds)
            return self._create_response(form, None)
        if kind == "created_then_close":
            rejected = self._reject_invalid(form)
            if rejected is not None:
                return rejected
            self._create(form, None)
            return self._drop(request, record)
        # "undelivered" / "failed": accepted now, reported as a delivery failure later.
        return self._create_response(form, fault)

    def _drop(self, request: web.Request, record: RecordedRequest) -> web.Response:
        record.dropped = True
        if request.transport is not None:
            # close() (FIN, not RST) makes the aiohttp client raise ServerDisconnectedError;
            # aiohttp then fails to write the response below and discards it quietly.
            request.transport.close()
        return web.Response(status=499)

    def _reject_invalid(self, form: dict[str, list[str]]) -> web.Response | None:
        """Twilio's validation, in the order Twilio applies it."""
        to = _first(form, "To")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        sender = _first(form, "From")
        if not sender and not _first(form, "MessagingServiceSid"):
            return _error(400, 21603, "A 'From' phone number is required.")
        body = _first(form, "Body") or ""
        if not body and not form.get("MediaUrl"):
            return _error(400, 21602, "Message body is required.")
        if len(body) > _MAX_BODY_CHARS:
            return _error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if not _E164.match(to):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if sender and self.owned_numbers is not None and sender not in self.owned_numbers:
            return _error(
                400,
                21606,
                f"The From phone number {sender} is not a valid, SMS-capable inbound phone "
                "number or short code for your account.",
            )
        if to in self.opted_out:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        return None

    def _create_response(self, form: dict[str, list[str]], outcome: Fault | None) -> web.Response:
        rejected = self._reject_invalid(form)
        if rejected is not None:
            return rejected
        # json_response serialises now, so later status changes do not leak into the 201.
        return web.json_response(self._create(form, outcome), status=201)

    def _rfc2822(self, now: float) -> str:
        second = int(now)
        cached_second, text = self._date_cache
        if cached_second != second:
            t = time.gmtime(second)
            text = (
                f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
                f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
            )
            self._date_cache = (second, text)
        return text

    def _create(self, form: dict[str, list[str]], outcome: Fault | None) -> dict[str, Any]:
        now = time.time()
        sid = "SM" + uuid.uuid4().hex
        stamp = self._rfc2822(now)
        to = form["To"][0]
        body = _first(form, "Body") or ""
        media = form.get("MediaUrl", [])
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        resource: dict[str, Any] = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": stamp,
            "date_sent": stamp,
            "date_updated": stamp,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": _first(form, "From"),
            "messaging_service_sid": _first(form, "MessagingServiceSid"),
            "num_media": str(len(media)),
            "num_segments": str(_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{base}/Media.json"},
            "to": to,
            "uri": f"{base}.json",
        }
        self.created.append(resource)
        self._stored[sid] = _Stored(resource, form, datetime.fromtimestamp(now, UTC), outcome)
        self._by_to.setdefault(to, []).append(resource)
        self.counts_by_to[to] += 1
        self.per_second[int(now)] += 1
        if self._first_created is None:
            self._first_created = now
        self._last_created = now
        if self.callbacks_enabled:
            self._spawn(self._deliver(sid, _first(form, "StatusCallback"), outcome))
        return resource

    async def _handle_fetch(
        self, request: web.Request, record: RecordedRequest
    ) -> web.StreamResponse:
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        stored = self._stored.get(request.match_info["sid"])
        if stored is None:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        return web.json_response(stored.resource)

    async def _handle_list(
        self, request: web.Request, record: RecordedRequest
    ) -> web.StreamResponse:
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        query = request.query
        try:
            page_size = int(query.get("PageSize", _DEFAULT_PAGE_SIZE))
            page = int(query.get("Page", 0))
            if not 1 <= page_size <= _MAX_PAGE_SIZE or page < 0:
                raise ValueError
        except ValueError:
            return _error(400, 20001, "Invalid paging parameters")
        try:
            matches = self._filter(query)
        except ValueError as exc:
            return _error(400, 20001, f"Invalid DateSent filter: {exc}")
        start = page * page_size
        items = matches[start : start + page_size]
        keep = [(k, v) for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")]

        def page_uri(number: int) -> str:
            params = [*keep, ("PageSize", str(page_size)), ("Page", str(number))]
            if number > 0:
                # Twilio pages with an opaque token; an offset is enough for a stand-in.
                params.append(("PageToken", f"PA{number * page_size}"))
            return f"{request.path}?{urlencode(params)}"

        has_next = start + page_size < len(matches)
        return web.json_response(
            {
                "end": start + max(len(items) - 1, 0),
                "first_page_uri": page_uri(0),
                "messages": items,
                "next_page_uri": page_uri(page + 1) if has_next else None,
                "page": page,
                "page_size": page_size,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
                "start": start,
                "uri": page_uri(page),
            }
        )

    def _filter(self, query: MultiMapping[str]) -> list[dict[str, Any]]:
        to = query.get("To")
        sender = query.get("From")
        bounds: list[tuple[str, date | None, datetime | None]] = []
        # The library sends "DateSent>" / "DateSent<" (the "=" of ">=" becomes the key/value
        # separator); a percent-encoded ">=" arrives whole. Both are inclusive, as at Twilio.
        for key, op in (
            ("DateSent", "=="),
            ("DateSent>", ">="),
            ("DateSent>=", ">="),
            ("DateSent<", "<="),
            ("DateSent<=", "<="),
        ):
            value = query.get(key)
            if value:
                day, moment = _parse_date_filter(value)
                bounds.append((op, day, moment))
        candidates = self._by_to.get(to, []) if to is not None else self.created
        out: list[dict[str, Any]] = []
        for resource in reversed(candidates):  # newest first, as Twilio lists
            if sender is not None and resource["from"] != sender:
                continue
            sent_at = self._stored[resource["sid"]].sent_at
            if all(_date_ok(sent_at, op, day, moment) for op, day, moment in bounds):
                out.append(resource)
        return out

    async def _handle_not_found(
        self, request: web.Request, record: RecordedRequest
    ) -> web.StreamResponse:
        return _error(404, 20404, f"The requested resource {request.path} was not found")

    async def _handle_stats(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.stats())

    async def _handle_faults(self, request: web.Request) -> web.StreamResponse:
        try:
            spec = await request.json()
            opts = {
                "to": spec.get("to"),
                "retry_after": int(spec.get("retry_after", 1)),
                "hang": spec.get("hang"),
                "create": bool(spec.get("create", False)),
                "error_code": spec.get("error_code"),
            }
            if "seconds" in spec:
                self.fail_for(float(spec["seconds"]), spec["kind"], **opts)
            else:
                self.fail_next(int(spec.get("n", 1)), spec["kind"], **opts)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"pending": len(self._faults)})

    # ----------------------------------------------------------------- delivery and callbacks

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, sid: str, callback_url: str | None, outcome: Fault | None) -> None:
        steps: list[tuple[str, int | None]]
        if outcome is not None and outcome.kind == "failed":
            steps = [("failed", outcome.error_code or 30008)]
        elif outcome is not None and outcome.kind == "undelivered":
            steps = [("sent", None), ("undelivered", outcome.error_code or 30003)]
        else:
            steps = [("sent", None), ("delivered", None)]
        resource = self._stored[sid].resource
        for status, code in steps:
            if self.callback_delay:
                await asyncio.sleep(self.callback_delay)
            resource["status"] = status
            resource["date_updated"] = self._rfc2822(time.time())
            if code is not None:
                resource["error_code"] = code
                resource["error_message"] = _DELIVERY_ERRORS.get(code)
            self._notify()
            if callback_url:
                await self._post_callback(callback_url, resource, status, code)

    async def _post_callback(
        self, url: str, resource: Mapping[str, Any], status: str, code: int | None
    ) -> None:
        params = {
            "MessageSid": resource["sid"],
            "SmsSid": resource["sid"],
            "SmsStatus": status,
            "MessageStatus": status,
            "AccountSid": self.account_sid,
            "From": resource["from"] or "",
            "To": resource["to"],
            "ApiVersion": API_VERSION,
        }
        if code is not None:
            params["ErrorCode"] = str(code)
        signature = self._validator.compute_signature(url, params)
        record = CallbackRecord(url=url, params=params, signature=signature)
        self.callbacks.append(record)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {
            "X-Twilio-Signature": signature,
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        }
        try:
            async with self._session.post(
                url,
                data=params,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.callback_timeout),
            ) as response:
                await response.read()
                record.status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # Twilio does not retry status callbacks; the failure is only observable here.
            record.error = f"{type(exc).__name__}: {exc}"
        finally:
            self._notify()


def _date_ok(sent_at: datetime, op: str, day: date | None, moment: datetime | None) -> bool:
    if day is not None:
        sent_day = sent_at.date()
        if op == "==":
            return sent_day == day
        return sent_day >= day if op == ">=" else sent_day <= day
    assert moment is not None
    if op == "==":
        return moment <= sent_at < moment + timedelta(seconds=1)
    return sent_at >= moment if op == ">=" else sent_at <= moment


@pytest.fixture(name="twilio_api")
async def twilio_api_fixture() -> AsyncIterator[TwilioAPI]:
    """A started TwilioAPI with the default account; stopped after the test."""
    server = TwilioAPI()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _serve(args: argparse.Namespace) -> None:
    server = TwilioAPI(
        args.account_sid,
        args.auth_token,
        callbacks=not args.no_callbacks,
        opted_out=set(args.opt_out),
        record_requests=args.record_requests,
    )
    print(await server.start(args.host, args.port), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
        print(json.dumps({"event": "summary", **server.stats()}), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4010)
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
    parser.add_argument("--no-callbacks", action="store_true", help="send no status callbacks")
    parser.add_argument("--opt-out", action="append", default=[], help="number answering 21610")
    parser.add_argument(
        "--record-requests", action="store_true", help="keep every request (memory grows)"
    )
    args = parser.parse_args(argv)
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
