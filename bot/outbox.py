"""Delivering the outbox through Twilio's REST API: at most once to Twilio, retried until it lands.

    worker = OutboxWorker(store, twilio_client(config), ...)
    worker.wake()        # after a turn queued something
    await worker.run()   # forever, as a background task

Each message is claimed ('sending', with a lease) in a commit before its request goes out. A
request whose outcome was not seen (timeout, dropped connection, 5xx, or a crash mid-request)
leaves the row 'sending'; before trying again the worker asks Twilio whether the message exists
and records it instead of sending it twice. 429, 5xx and network errors are retried with
exponential backoff and full jitter (Retry-After is honoured); 4xx are permanent and recorded
with Twilio's error code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from datetime import datetime, timedelta
from functools import partial
from typing import Any, NamedTuple
from urllib.parse import urlencode

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from bot.config import Config
from bot.metrics import Metrics
from storage.base import Store
from storage.queries import OutboxItem

log = logging.getLogger(__name__)

# Twilio errors that no retry can fix, with what they mean for an operator.
PERMANENT_ERRORS = {
    21211: "invalid 'To' phone number",
    21408: "permission to send to this region is not enabled",
    21606: "the 'From' number cannot send this message",
    21610: "the recipient replied STOP (unsubscribed)",
    21612: "the 'To' number cannot be reached from the 'From' number",
    21614: "the 'To' number is not a mobile number",
}
UNSUBSCRIBED = 21610
LEASE_MARGIN_SECONDS = 5.0  # beyond a delivery's requests: recording the outcome


class Look(NamedTuple):
    """What one look at the outbox did."""

    started: int  # deliveries started
    later: float | None  # seconds until the first row not due yet is due (a retry, a lease)


_retry_after: ContextVar[float | None] = ContextVar("retry_after", default=None)


class RecordingHttpClient(AsyncTwilioHttpClient):
    """The twilio library's async client, also noting the Retry-After of the last response in
    the calling task (TwilioRestException does not carry headers).

    A form of plain text fields goes to aiohttp already encoded: the same bytes aiohttp's
    FormData would make (urlencode, doseq) in 14 us of the event loop's time instead of 45 (of
    a send's ~190)."""

    async def request(self, *args: Any, **kwargs: Any) -> Response:
        if (kwargs.get("headers") or {}).get("Content-Type") == FORM:
            kwargs["data"] = form_body(kwargs.get("data"))
        response = await super().request(*args, **kwargs)
        headers: Mapping[str, str] = response.headers or {}
        value = headers.get("Retry-After")
        try:
            _retry_after.set(float(value) if value is not None else None)
        except ValueError:
            _retry_after.set(None)
        return response


FORM = "application/x-www-form-urlencoded"


def form_body(data: object) -> object:
    """`data` url-encoded as aiohttp would post it, if it is a dict of texts (or lists of
    texts); anything else is left to aiohttp as it is."""
    if not isinstance(data, dict):
        return data
    for value in data.values():
        if value.__class__ is not str and not (
            isinstance(value, list) and all(item.__class__ is str for item in value)
        ):
            return data
    return urlencode(list(data.items()), doseq=True).encode()


def twilio_client(config: Config) -> Client:
    client = Client(
        config.twilio.account_sid,
        config.twilio.auth_token,
        http_client=RecordingHttpClient(timeout=config.outbox.request_timeout_seconds),
    )
    client.api.base_url = config.twilio.api_base_url.rstrip("/")
    return client


class OutboxWorker:
    def __init__(
        self,
        store: Store,
        client: Client,
        config: Config,
        *,
        clock: Callable[[], datetime],
        opted_out: Callable[[str], bool],
        on_unsubscribed: Callable[[str], Awaitable[None]],
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.settings = config.outbox
        self.status_callback = config.public_url + "/sms/status"
        self.clock = clock
        self.opted_out = opted_out
        self.on_unsubscribed = on_unsubscribed
        self._wake = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}  # by outbox id
        self.delivered = 0  # sent to Twilio, for the benchmark's drain rate
        # Without a wake-up (a turn here, a NOTIFY from another instance), look again this
        # often at most: a shared store's other instances queue messages too.
        self.idle_seconds = 5.0 if store.shared else 60.0
        self.metrics = metrics
        self._stopping = False
        self._looking: asyncio.Future[None] | None = None  # set while run() runs

    def wake(self) -> None:
        self._wake.set()

    @property
    def sending(self) -> int:
        """Deliveries in flight: requests to Twilio not answered yet."""
        return len(self._in_flight)

    async def run(self) -> None:
        self._looking = asyncio.get_running_loop().create_future()
        try:
            while not self._stopping:
                try:
                    look = await self._start_due()
                except Exception:
                    log.exception("outbox: could not read due messages; trying again shortly")
                    look = Look(0, None)
                    await self._wait(1.0)
                    continue
                await self._wait(self._seconds_until(look.later))
        finally:
            self._looking.set_result(None)

    async def stop(self, timeout: float) -> None:
        """Start no more deliveries, and let those in flight end as Twilio answers them: a
        message already posted is recorded as sent (or as a retry) instead of being left
        'sending'. After `timeout` seconds what is left is cancelled; its row stays 'sending'
        and the next start asks Twilio about it before sending it again."""
        self._stopping = True
        self._wake.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self._looking is not None:
            # A look that has claimed rows starts their deliveries before it returns.
            await asyncio.wait([self._looking], timeout=timeout)
        if self._in_flight:
            remaining = max(deadline - loop.time(), 0.0)
            await asyncio.wait(list(self._in_flight.values()), timeout=remaining)
        if self._in_flight:
            log.warning(
                "outbox: %d deliveries still unanswered after %.0f s; they stay 'sending' and are"
                " checked with Twilio at the next start",
                len(self._in_flight),
                timeout,
            )

    def _count(self, outcome: str, code: int | None = None) -> None:
        if self.metrics is not None:
            self.metrics.delivery(outcome, code)

    async def close(self) -> None:
        for task in list(self._in_flight.values()):
            task.cancel()
        await asyncio.gather(*self._in_flight.values(), return_exceptions=True)
        await self.client.http_client.close()

    async def _start_due(self) -> Look:
        """Claim and start what is due, as many as there are free slots: one look, which also
        tells when the next row not due yet will be. Due rows left over (more than the free
        slots) wait for a delivery to end: it wakes the worker."""
        free = self.settings.concurrency - len(self._in_flight)
        if free <= 0:
            return Look(0, None)
        # The lease: if this process dies mid-request, the row becomes due again after it. A
        # delivery makes two requests at most (asking Twilio about an earlier attempt, then the
        # create), each cut off at the request timeout: the lease outlasts both, so no other
        # worker (another instance's, on a shared store) claims a row whose create may still
        # be on its way to Twilio.
        lease = 2 * self.settings.request_timeout_seconds + LEASE_MARGIN_SECONDS
        claim = await self.store.outbox_claim(free, set(self._in_flight), lease, self.clock())
        for item in claim.items:
            task = asyncio.create_task(self._deliver(item))
            self._in_flight[item.id] = task
            task.add_done_callback(partial(self._done, item.id))
        return Look(len(claim.items), claim.later_seconds)

    def _done(self, item_id: int, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(item_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("outbox delivery crashed", exc_info=task.exception())
        self._wake.set()

    def _seconds_until(self, later: float | None) -> float:
        if later is None or len(self._in_flight) >= self.settings.concurrency:
            return self.idle_seconds
        return min(max(later, 0.01), self.idle_seconds)

    async def _wait(self, seconds: float) -> None:
        # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that arrives as
        # the event fires (CPython gh-86296), and shutdown would wait for this task forever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()

    async def _deliver(self, item: OutboxItem) -> None:
        attempts = item.attempts + 1
        if item.opted_out or self.opted_out(item.to):
            await self.store.outbox_cancelled(item.id, "recipient opted out", self.clock())
            self._count("cancelled")
            return
        if item.status == "sending":
            # The last attempt's outcome is unknown: Twilio may hold the message already.
            try:
                async with asyncio.timeout(self.settings.request_timeout_seconds):
                    sid = await self._find_sent(item)
            except (TwilioRestException, aiohttp.ClientError, TimeoutError, OSError) as error:
                await self._retry(
                    item, attempts, None, f"checking an earlier attempt: {error}", True
                )
                return
            if sid is not None:
                await self._record_sent(item, sid)
                self._count("reconciled")
                return
        _retry_after.set(None)
        try:
            # The library's own timeout setting is not applied to its aiohttp requests (twilio
            # 9.13); without this a hung connection would hold the message forever.
            async with asyncio.timeout(self.settings.request_timeout_seconds):
                message = await self.client.messages.create_async(
                    to=item.to,
                    from_=item.from_,
                    body=item.body,
                    media_url=[item.media_url] if item.media_url else [],
                    status_callback=self.status_callback,
                )
        except TwilioRestException as error:
            if error.status == 429 or error.status >= 500:
                # A 5xx may come after Twilio created the message: check before resending.
                await self._retry(item, attempts, error.code, _describe(error), error.status >= 500)
            else:
                await self._fail(item, error)
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            ambiguous = not isinstance(error, aiohttp.ClientConnectorError)
            await self._retry(item, attempts, None, f"network: {error!r}", ambiguous)
        else:
            self.delivered += 1
            await self._record_sent(item, str(message.sid))
            self._count("sent")

    async def _record_sent(self, item: OutboxItem, sid: str) -> None:
        await self.store.outbox_sent(item.id, sid, self.clock())

    async def _find_sent(self, item: OutboxItem) -> str | None:
        created = datetime.fromisoformat(item.created_at) - timedelta(minutes=2)
        candidates = await self.client.messages.list_async(to=item.to, from_=item.from_, limit=50)
        matches = [
            str(m.sid)
            for m in candidates
            if m.body == item.body and (m.date_created is None or m.date_created >= created)
        ]
        if not matches:
            return None
        # Two identical texts to one person: take one no other outbox row has claimed yet.
        claimed = await self.store.known_twilio_sids(matches)
        unclaimed = [sid for sid in matches if sid not in claimed]
        return unclaimed[-1] if unclaimed else None

    async def _retry(
        self, item: OutboxItem, attempts: int, code: int | None, error: str, ambiguous: bool
    ) -> None:
        now = self.clock()
        if attempts >= self.settings.max_attempts:
            log.warning("outbox %s: giving up after %s attempts: %s", item.id, attempts, error)
            await self.store.outbox_failed(item.id, code, f"gave up: {error}", now)
            self._count("gave_up", code)
            return
        ceiling = min(
            self.settings.max_delay_seconds, self.settings.base_delay_seconds * 2 ** (attempts - 1)
        )
        delay = random.uniform(ceiling / 2, ceiling)
        retry_after = _retry_after.get()
        if retry_after is not None:
            delay = max(delay, retry_after)
        log.info(
            "outbox %s: attempt %s failed (%s); retrying in %.1fs", item.id, attempts, error, delay
        )
        await self.store.outbox_retry(item.id, attempts, delay, code, error, ambiguous, now)
        self._count("retried", code)

    async def _fail(self, item: OutboxItem, error: TwilioRestException) -> None:
        meaning = PERMANENT_ERRORS.get(error.code or 0, error.msg)
        log.warning("outbox %s: Twilio refused it for good: %s %s", item.id, error.code, meaning)
        await self.store.outbox_failed(item.id, error.code, meaning, self.clock())
        self._count("refused", error.code)
        if error.code == UNSUBSCRIBED:
            await self.on_unsubscribed(item.to)


def _describe(error: TwilioRestException) -> str:
    return f"HTTP {error.status}" + (f" code {error.code}" if error.code else "") + f": {error.msg}"
