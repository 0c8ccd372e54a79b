"""The app in dev mode (no Twilio credentials: it makes its own, answers Messages.json itself and
mounts the phone simulator) on a real loopback port, and helpers to talk to the simulator.

    async def test_x(dev: DevBot):
        answer = await dev.send("+15550001111", "LIST")
        async with dev.events(after=0) as stream: event = await stream.next_where(...)
"""

from __future__ import annotations

import asyncio
import json
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, unused_port

from bot.app import create_app
from bot.config import Config
from bot.services import SERVICES
from bot.simulator.web import SIMULATOR, Simulator
from tests.conftest import Clock, make_config

GUEST = "+15550001111"
HOST = "+15550100001"  # the host of demo home 1, Beach House
SIMULATOR_HEADERS = {"X-Simulator": "1"}


def dev_config(tmp_path: Path, port: int) -> Config:
    config = make_config(tmp_path, port, "http://unused.invalid")
    # No credentials: dev mode, as a fresh clone runs. Its own credentials come at start-up.
    twilio = replace(config.twilio, account_sid="", auth_token="", phone_number="")
    return replace(config, twilio=twilio, dev_mode=True)


def stay(today: date) -> str:
    """Dates as a guest texts them, about a month ahead and within one month ("Jan 5-9")."""
    start = (today.replace(day=1) + timedelta(days=62)).replace(day=5)
    return f"{start:%b} {start.day}-{start.day + 4}"


def png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real PNG file, small, one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class Stream:
    """A Server-Sent Events stream being read."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.seen: list[dict[str, Any]] = []

    async def next_event(self) -> dict[str, Any]:
        event: dict[str, Any] = {}
        while True:
            raw = await self.response.content.readline()
            if not raw:
                raise EOFError("the stream ended")
            line = raw.decode().rstrip("\n")
            if not line:
                if "data" in event:
                    event["data"] = json.loads(event["data"])
                    self.seen.append(event)
                    return event
                event = {}
                continue
            name, _, value = line.partition(": ")
            if name in ("id", "event", "data"):
                event[name] = value

    async def next_where(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10
    ) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                event = await self.next_event()
                if predicate(event):
                    return event


@dataclass
class DevBot:
    server: TestServer
    config: Config
    clock: Clock
    session: aiohttp.ClientSession

    @property
    def app(self) -> web.Application:
        return self.server.app

    @property
    def url(self) -> str:
        return self.config.public_url

    @property
    def simulator(self) -> Simulator:
        return self.app[SIMULATOR]

    @property
    def bot_number(self) -> str:
        return self.app[SERVICES].config.twilio.phone_number

    async def post(
        self, path: str, data: Any, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        headers = SIMULATOR_HEADERS if headers is None else headers
        async with self.session.post(self.url + path, data=data, headers=headers) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text

    async def send(
        self, phone: str, body: str, photo: tuple[bytes, str] | None = None
    ) -> dict[str, Any]:
        data: Any = {"from": phone, "body": body}
        if photo is not None:
            form = aiohttp.FormData()
            form.add_field("from", phone)
            form.add_field("body", body)
            form.add_field("photo", photo[0], filename="photo", content_type=photo[1])
            data = form
        status, answer = await self.post("/simulator/send", data)
        assert status == 200, answer
        return dict(answer)

    async def say(self, phone: str, body: str) -> str:
        """Send; the one reply the phone got in the answer."""
        answer = await self.send(phone, body)
        replies = [e for e in answer["events"] if e["phone"] == phone and e["direction"] == "in"]
        assert len(replies) == 1, answer
        return str(replies[0]["body"])

    @asynccontextmanager
    async def events(self, **query: Any) -> AsyncIterator[Stream]:
        async with self.session.get(
            self.url + "/simulator/events",
            params={k: str(v) for k, v in query.items() if k != "last_event_id"},
            headers=(
                {"Last-Event-ID": str(query["last_event_id"])} if "last_event_id" in query else {}
            ),
        ) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            yield Stream(response)


async def start_dev(tmp_path: Path, clock: Clock) -> tuple[TestServer, Config]:
    port = unused_port()
    config = dev_config(tmp_path, port)
    app = create_app(config, clock=clock, printer=lambda line: None)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    return server, config


@pytest.fixture
async def dev(tmp_path: Path, clock: Clock) -> AsyncIterator[DevBot]:
    server, config = await start_dev(tmp_path, clock)
    async with aiohttp.ClientSession() as session:
        yield DevBot(server, config, clock, session)
    await server.close()
