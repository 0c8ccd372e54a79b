"""Fixtures shared by the suite: a clock tests can move, a configuration on a temporary SQLite
file, the Twilio REST stand-in, and `bot`: the real app on a real port, with phones that text it
the way Twilio does.

    async def test_x(bot):
        guest = bot.phone("+15550001111")
        assert "Homes 1-" in await guest.ask("LIST")
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, unused_port

from bot.app import create_app
from bot.config import (
    AdminConfig,
    BookingConfig,
    Config,
    OutboxConfig,
    ServerConfig,
    StorageConfig,
    TwilioConfig,
)
from bot.services import SERVICES, Services
from tests.phones import TwilioPhone
from tests.postgres import DATABASE, REQUIRED, PostgresServer
from tests.twilio_api import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    TwilioAPI,
    twilio_api_fixture,  # noqa: F401  (the `twilio_api` fixture)
)

BOT_NUMBER = "+15550009999"
ADMIN_TOKEN = "test-admin-token-0123456789"
HOSTS = ("+15550100001", "+15550100002")


# -- the store: every test of the app runs on the embedded SQLite file and on PostgreSQL ----------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that uses the app (through the `backend` fixture) runs once per backend, unless
    marked sqlite_only (it reads the SQLite file itself, or tests SQLite's own machinery) or
    postgresql_only (what only a shared store promises: several instances, its locks)."""
    if "backend" in metafunc.fixturenames:
        kinds = ["sqlite", "postgresql"]
        if metafunc.definition.get_closest_marker("sqlite_only"):
            kinds = ["sqlite"]
        if metafunc.definition.get_closest_marker("postgresql_only"):
            kinds = ["postgresql"]
        metafunc.parametrize("backend", kinds, indirect=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[tuple[PostgresServer | None, str]]:
    found = asyncio.run(PostgresServer.find())
    yield found
    if found[0] is not None:
        asyncio.run(found[0].drop_all())


async def postgres_database(found: tuple[PostgresServer | None, str]) -> str:
    """A new migrated database on the test server, or the test skipped (failed where
    PostgreSQL is required) with the reason."""
    server, reason = found
    if server is None:
        if REQUIRED:
            pytest.fail(f"AIRTNG_REQUIRE_POSTGRES is set but {reason}")
        pytest.skip(reason)
    return await server.new_database()


@pytest.fixture
async def backend(
    request: pytest.FixtureRequest, postgres_server: tuple[PostgresServer | None, str]
) -> AsyncIterator[str]:
    kind: str = request.param
    if kind == "sqlite":
        DATABASE["url"] = ""
        yield kind
        return
    url = await postgres_database(postgres_server)
    DATABASE["url"] = url
    try:
        yield kind
    finally:
        DATABASE["url"] = ""
        server = postgres_server[0]
        assert server is not None
        await server.drop(url)


class Clock:
    """The service's clock in tests: real time plus an offset tests move forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)

    def timestamp(self) -> float:
        return self().timestamp()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_config(tmp_path: Path, port: int, api_base_url: str, **changes: Any) -> Config:
    config = Config(
        server=ServerConfig(host="127.0.0.1", port=port, public_url=f"http://127.0.0.1:{port}"),
        storage=StorageConfig(path=str(tmp_path / "airtng.db"), url=DATABASE["url"]),
        twilio=TwilioConfig(
            account_sid=DEFAULT_ACCOUNT_SID,
            auth_token=DEFAULT_AUTH_TOKEN,
            phone_number=BOT_NUMBER,
            api_base_url=api_base_url,
        ),
        admin=AdminConfig(token=ADMIN_TOKEN),
        booking=BookingConfig(),
        outbox=OutboxConfig(
            base_delay_seconds=0.05, max_delay_seconds=0.5, request_timeout_seconds=2
        ),
        base_dir=tmp_path,
    )
    return replace(config, **changes)


@dataclass
class Bot:
    """The running app and what tests need to talk to it."""

    server: TestServer
    config: Config
    twilio: TwilioAPI
    clock: Clock
    session: aiohttp.ClientSession

    @property
    def services(self) -> Services:
        return self.server.app[SERVICES]

    @property
    def url(self) -> str:
        return self.config.public_url

    async def post(
        self, url: str, form: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, str, Mapping[str, str]]:
        async with self.session.post(url, data=form, headers=headers) as response:
            return response.status, await response.text(), response.headers

    def phone(self, number: str, path: str = "/sms") -> TwilioPhone:
        return TwilioPhone(
            self.post,
            number,
            self.config.twilio.phone_number,
            self.url,
            self.config.twilio.auth_token,
            self.config.twilio.account_sid,
            path=path,
            clock=self.clock.timestamp,
        )

    async def admin(self, path: str, token: str | None = ADMIN_TOKEN) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.get(self.url + path, headers=headers) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def add_home(self, host: str, title: str, **facts: Any) -> int:
        body = {
            "host_phone": host,
            "title": title,
            "place": facts.get("place", "Somewhere, CA"),
            "description": facts.get("description", f"A lovely {title.lower()}."),
            "nightly_price": facts.get("nightly_price", 100),
            "image_url": facts.get("image_url", f"https://img.example.com/{title}.jpg"),
            "host_name": facts.get("host_name"),
        }
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with self.session.post(
            self.url + "/admin/api/properties", json=body, headers=headers
        ) as response:
            assert response.status == 201, await response.text()
            return int((await response.json())["id"])

    async def drained(self, timeout: float = 5.0) -> None:
        """Wait until the outbox has nothing queued or in flight."""
        import asyncio

        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            rows = await self.admin("/admin/api/outbox?limit=1000")
            if all(r["status"] not in ("queued", "sending") for r in rows):
                return
            self.services.outbox.wake()
            await asyncio.sleep(0.02)
        raise TimeoutError("the outbox did not drain")


async def start_bot(
    tmp_path: Path, twilio: TwilioAPI, clock: Clock, **changes: Any
) -> tuple[web.Application, TestServer, Config]:
    port = unused_port()
    config = make_config(tmp_path, port, twilio.base_url, **changes)
    app = create_app(config, clock=clock, printer=lambda line: None)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    return app, server, config


@pytest.fixture
async def bot(
    tmp_path: Path, twilio_api: TwilioAPI, clock: Clock, backend: str
) -> AsyncIterator[Bot]:
    _, server, config = await start_bot(tmp_path, twilio_api, clock)
    async with aiohttp.ClientSession() as session:
        yield Bot(server, config, twilio_api, clock, session)
    await server.close()
