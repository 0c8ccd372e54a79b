"""Twilio's Messages REST API as dev mode answers it, on the bot's own server: the outbox worker
sends to it exactly as it sends to Twilio, and it prints each message instead of texting.

    POST /2010-04-01/Accounts/{AccountSid}/Messages.json   -> 201, printed, status callbacks
    GET  /2010-04-01/Accounts/{AccountSid}/Messages.json   -> the list the worker reconciles with
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)

MESSAGES_PATH = "/2010-04-01/Accounts/{account_sid}/Messages.json"


class DevTwilio:
    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        printer: Callable[[str], None] = print,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.validator = RequestValidator(auth_token)
        self.printer = printer
        self.messages: list[dict[str, Any]] = []
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        # Twilio's blocklist (the simulator's): (to, from) pairs it refuses with 21610.
        self.blocks: Callable[[str, str], bool] = lambda to, from_: False
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(MESSAGES_PATH, self.create),
            web.get(MESSAGES_PATH, self.list),
        ]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def _authorised(self, request: web.Request) -> bool:
        expected = (
            "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        )
        given = request.headers.get("Authorization", "")
        return request.match_info["account_sid"] == self.account_sid and hmac.compare_digest(
            given.encode(), expected.encode()
        )

    async def create(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, 20003, "Authenticate")
        form = await request.post()
        to, from_ = form.get("To"), form.get("From")
        body = str(form.get("Body") or "")
        media = [str(url) for url in form.getall("MediaUrl", [])]
        if not isinstance(to, str) or not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not isinstance(from_, str) or not from_:
            return _error(400, 21603, "A 'From' phone number is required.")
        if not body and not media:
            return _error(400, 21602, "Message body is required.")
        if self.blocks(to, from_):
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        now = email.utils.format_datetime(datetime.now(UTC))
        sid = "SM" + secrets.token_hex(16)
        message = {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": str(body),
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_,
            "to": to,
            "messaging_service_sid": None,
            "num_media": str(len(media)),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "status": "queued",
            "media_urls": media,
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        self.messages.append(message)
        self.printer(f"[text to {to}] {body}" + (f" [photo {media[0]}]" if media else ""))
        for listener in self.listeners:
            listener(message)
        callback = form.get("StatusCallback")
        if isinstance(callback, str) and callback:
            task = asyncio.create_task(self._report(callback, message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        public = {k: v for k, v in message.items() if k != "media_urls"}
        return web.json_response(public, status=201)

    async def list(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, 20003, "Authenticate")
        to, from_ = request.query.get("To"), request.query.get("From")
        size = min(int(request.query.get("PageSize", "50") or 50), 1000)
        found = [
            {k: v for k, v in m.items() if k != "media_urls"}
            for m in reversed(self.messages)
            if (to is None or m["to"] == to) and (from_ is None or m["from"] == from_)
        ][:size]
        uri = request.path_qs
        return web.json_response(
            {
                "messages": found,
                "end": max(len(found) - 1, 0),
                "first_page_uri": uri,
                "next_page_uri": None,
                "page": 0,
                "page_size": size,
                "previous_page_uri": None,
                "start": 0,
                "uri": uri,
            }
        )

    async def _report(self, url: str, message: dict[str, Any]) -> None:
        """Twilio's status callbacks: sent, then delivered, each signed like any webhook."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        for status in ("sent", "delivered"):
            await asyncio.sleep(0.05)
            message["status"] = status
            params = {
                "MessageSid": message["sid"],
                "SmsSid": message["sid"],
                "AccountSid": self.account_sid,
                "From": message["from"],
                "To": message["to"],
                "MessageStatus": status,
                "SmsStatus": status,
                "ApiVersion": "2010-04-01",
            }
            signature = self.validator.compute_signature(url, params)
            try:
                async with self._session.post(
                    url, data=params, headers={"X-Twilio-Signature": signature}
                ) as response:
                    await response.read()
            except aiohttp.ClientError as error:
                log.info("status callback to %s failed: %s", url, error)
                return


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
    )
