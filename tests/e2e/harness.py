"""The service as a real process and Twilio's side of it, for end-to-end, crash and benchmark tests.

    async with running_service(tmp_path) as service:      # TwilioAPI + `python run.py` + phones
        guest = service.phone("+15550200001")
        assert "Homes 1-" in await guest.ask("LIST")
        await service.server.kill()                       # SIGKILL, for crash tests
        await service.server.start()                      # same config, same database

It owns three things: the configuration file (`write_config`), the server subprocess
(`ServerProcess`: start and wait for /healthz, stop with SIGTERM, kill with SIGKILL, run the
operator commands of run.py against the same config, read the admin API, with stdout and stderr
kept in files so a crashed or killed process still tells what happened), and the carrier
(`Carrier`: the phones, each a `tests.phones.TwilioPhone` with its own cookie jar, and the
delivery of every TwiML `<Message>` to the phone its `to=` names, next to the REST messages
the TwilioAPI stand-in recorded).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import unused_port

from tests.phones import Answer, Reply, TwilioPhone
from tests.postgres import DATABASE
from tests.twilio_api import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioAPI

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_PY = REPO_ROOT / "run.py"

BOT_NUMBER = "+15550009999"
ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef"

# The service reads these from the environment over the file: a developer's real credentials
# must not leak into a test's server.
_SECRET_VARIABLES = (
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_PHONE_NUMBER",
    "AIRTNG_ADMIN_TOKEN",
    "AIRTNG_DATABASE_URL",
)

TomlValue = str | int | float | bool


class ServerFailed(AssertionError):
    """The server process did not start, or did not stop as it should; says what it printed."""


def toml_value(value: TomlValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    # A JSON string is a valid TOML basic string (same escapes).
    return json.dumps(value)


def config_sections(
    *,
    port: int,
    api_base_url: str,
    database: Path,
    database_url: str = "",
    account_sid: str = DEFAULT_ACCOUNT_SID,
    auth_token: str = DEFAULT_AUTH_TOKEN,
    bot_number: str = BOT_NUMBER,
    admin_token: str = ADMIN_TOKEN,
) -> dict[str, dict[str, TomlValue]]:
    """The configuration of a test's server: loopback, its own database, Twilio at the stand-in,
    and retries fast enough that an outage test takes seconds, not minutes."""
    return {
        "server": {
            "host": "127.0.0.1",
            "port": port,
            "public_url": f"http://127.0.0.1:{port}",
            # No balancer to drain from: SIGTERM stops at once (tests/e2e/test_fleet.py
            # sets a drain where it tests one).
            "drain_seconds": 0.0,
        },
        "storage": {"path": str(database), "url": database_url, "durability": "normal"},
        "twilio": {
            "account_sid": account_sid,
            "auth_token": auth_token,
            "phone_number": bot_number,
            "api_base_url": api_base_url,
        },
        "admin": {"token": admin_token},
        "booking": {"max_nights": 30, "request_ttl_hours": 24, "timezone": "UTC"},
        "session": {"idle_hours": 4},
        "outbox": {
            "concurrency": 16,
            "max_attempts": 8,
            "base_delay_seconds": 0.05,
            "max_delay_seconds": 0.5,
            "request_timeout_seconds": 2.0,
        },
    }


def write_config(
    path: Path,
    sections: Mapping[str, Mapping[str, TomlValue]],
    overrides: Mapping[str, Mapping[str, TomlValue]] | None = None,
) -> Path:
    """Write `sections` (with `overrides` merged key by key) as a TOML file; returns `path`."""
    merged = {name: dict(values) for name, values in sections.items()}
    for name, values in (overrides or {}).items():
        merged.setdefault(name, {}).update(values)
    lines: list[str] = []
    for name, values in merged.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SECRET_VARIABLES}
    env["PYTHONUNBUFFERED"] = "1"  # what a killed process printed is in its files
    return env


class ServerProcess:
    """`python run.py --config <file>` as a child process, on a port of its own.

    start() may be called again after stop() or kill(): the same config and database, so
    restarts and crash recovery can be tested. Output of every run is appended to the
    `stdout.log` and `stderr.log` files in `log_dir`; `stdout`/`stderr` read the current run's.
    """

    def __init__(
        self,
        config_path: Path,
        *,
        port: int,
        admin_token: str = ADMIN_TOKEN,
        log_dir: Path | None = None,
    ) -> None:
        self.config_path = config_path
        self.port = port
        self.admin_token = admin_token
        self.log_dir = log_dir or config_path.parent
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self._offsets = (0, 0)

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / "stdout.log"

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / "stderr.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    async def start(self, timeout: float = 20.0) -> None:
        """Start the server and wait until GET /healthz answers 200."""
        if self.running:
            raise RuntimeError("the server is already running")
        self._offsets = (self._size(self.stdout_path), self._size(self.stderr_path))
        with (
            self.stdout_path.open("ab") as stdout,
            self.stderr_path.open("ab") as stderr,
        ):
            self.process = subprocess.Popen(
                [sys.executable, str(RUN_PY), "--config", str(self.config_path)],
                cwd=REPO_ROOT,
                env=_environment(),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )
        self.runs += 1
        await self._wait_healthy(timeout)

    async def _wait_healthy(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last_error = "no answer yet"
        async with aiohttp.ClientSession() as session:
            while loop.time() < deadline:
                if not self.running:
                    raise ServerFailed(
                        f"the server exited with {self.returncode} before serving\n{self.output()}"
                    )
                try:
                    async with session.get(
                        self.url + "/healthz", timeout=aiohttp.ClientTimeout(total=2)
                    ) as response:
                        if response.status == 200:
                            return
                        last_error = f"HTTP {response.status}"
                except (aiohttp.ClientError, TimeoutError) as error:
                    last_error = repr(error)
                await asyncio.sleep(0.05)
        await self.kill()
        raise ServerFailed(
            f"GET /healthz was not 200 within {timeout}s ({last_error})\n{self.output()}"
        )

    async def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM (what a service manager sends) and wait; returns the exit code."""
        return await self._signal(signal.SIGTERM, timeout)

    async def kill(self, timeout: float = 10.0) -> int:
        """SIGKILL: the process dies at once, mid-write if it was writing. Returns -9."""
        return await self._signal(signal.SIGKILL, timeout)

    async def _signal(self, sig: signal.Signals, timeout: float) -> int:
        process = self.process
        if process is None:
            raise RuntimeError("the server was never started")
        if process.poll() is None:
            process.send_signal(sig)
        try:
            return await asyncio.to_thread(process.wait, timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
            raise ServerFailed(
                f"the server did not exit within {timeout}s of {sig.name}\n{self.output()}"
            ) from None

    async def close(self) -> None:
        """Make sure nothing is left running (fixture teardown): SIGTERM, then SIGKILL."""
        if not self.running:
            return
        with contextlib.suppress(ServerFailed):
            await self.stop(timeout=5.0)
        if self.running:
            await self.kill()

    # -- output -----------------------------------------------------------------------------

    @staticmethod
    def _size(path: Path) -> int:
        return path.stat().st_size if path.exists() else 0

    @staticmethod
    def _read(path: Path, offset: int) -> str:
        if not path.exists():
            return ""
        with path.open("rb") as file:
            file.seek(offset)
            return file.read().decode("utf-8", "replace")

    @property
    def stdout(self) -> str:
        """What the current (or last) run printed on stdout."""
        return self._read(self.stdout_path, self._offsets[0])

    @property
    def stderr(self) -> str:
        """What the current (or last) run printed on stderr (its log)."""
        return self._read(self.stderr_path, self._offsets[1])

    def output(self) -> str:
        return f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"

    # -- operator commands and the admin API --------------------------------------------------

    async def cli(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run `python run.py --config <file> <args>` to completion (in a thread, so the
        event loop, and any TwilioAPI in it, keeps serving meanwhile)."""
        return await asyncio.to_thread(
            subprocess.run,
            [sys.executable, str(RUN_PY), "--config", str(self.config_path), *args],
            cwd=REPO_ROOT,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    async def add_home(
        self,
        host: str,
        title: str,
        *,
        place: str,
        description: str,
        price: int,
        image_url: str | None = None,
        host_name: str | None = None,
    ) -> int:
        """`run.py add-home ...`; asserts it succeeded and said which home it listed."""
        args = ["add-home", "--host", host, "--title", title, "--place", place]
        args += ["--description", description, "--price", str(price)]
        if image_url:
            args += ["--image-url", image_url]
        if host_name:
            args += ["--host-name", host_name]
        done = await self.cli(*args)
        assert done.returncode == 0, f"add-home failed ({done.returncode}): {done.stderr}"
        said = re.fullmatch(r'Listed home (\d+): "(.+)" in (.+), host (.+)\.\n', done.stdout)
        assert said, f"add-home did not say what it listed: {done.stdout!r}"
        assert said[2] == title and said[3].startswith(f"{place}, ${price} a night")
        assert host in said[4] and (host_name is None or said[4].startswith(host_name))
        return int(said[1])

    async def admin(self, path: str, *, token: str | None = None) -> Any:
        """GET an admin API path (e.g. "/admin/api/reservations"); asserts 200, returns JSON."""
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.url + path, headers=headers) as response,
        ):
            assert response.status == 200, f"{path}: {response.status} {await response.text()}"
            return await response.json()

    async def drained(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until the outbox has nothing queued or in flight; returns its rows."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            rows: list[dict[str, Any]] = await self.admin("/admin/api/outbox?limit=1000")
            if all(row["status"] not in ("queued", "sending") for row in rows):
                return rows
            if loop.time() >= deadline:
                raise TimeoutError(f"the outbox did not drain within {timeout}s: {rows}")
            await asyncio.sleep(0.05)


@dataclass(frozen=True)
class Received:
    """A message a phone got: by TwiML (the answer to someone's text) or by REST."""

    channel: str  # "twiml" | "rest"
    body: str
    media: tuple[str, ...] = ()
    at: float = 0.0


@dataclass
class Handset(TwilioPhone):
    """A TwilioPhone on a carrier: every TwiML message in the answers it gets is delivered to
    the phone its to= names (this one by default), as Twilio does."""

    carrier: Carrier | None = None

    async def send(self, form: dict[str, str], headers: dict[str, str] | None = None) -> Answer:
        # A replayed webhook's answer is delivered again: Twilio would, had it got both.
        answer = await super().send(form, headers)
        if self.carrier is not None:
            self.carrier.deliver(answer.replies)
        return answer

    @property
    def twiml(self) -> list[Reply]:
        """TwiML messages delivered to this phone, from its own answers and others'."""
        assert self.carrier is not None
        return [reply for reply, _ in self.carrier.delivered.get(self.number, [])]

    @property
    def rest(self) -> list[dict[str, Any]]:
        """Messages the service created for this phone through the REST API, oldest first."""
        assert self.carrier is not None
        return self.carrier.twilio.messages_to(self.number)

    @property
    def inbox(self) -> list[Received]:
        """Everything this phone received, both channels, in order of arrival."""
        assert self.carrier is not None
        got = [
            Received("twiml", reply.body, tuple(reply.media), at)
            for reply, at in self.carrier.delivered.get(self.number, [])
        ]
        for message in self.rest:
            sid = message["sid"]
            media = tuple(self.carrier.twilio.form_of(sid).get("MediaUrl", []))
            got.append(Received("rest", message["body"], media, self.carrier.created_at(sid)))
        return sorted(got, key=lambda received: received.at)

    async def wait_for_rest(self, contains: str, timeout: float = 10.0) -> dict[str, Any]:
        """The first REST message to this phone whose body contains `contains`, waiting for it."""
        assert self.carrier is not None

        def found() -> dict[str, Any] | None:
            return next((m for m in self.rest if contains in m["body"]), None)

        message = await self.carrier.twilio.wait_for(
            found, timeout, f"a REST message to {self.number} containing {contains!r}"
        )
        assert message is not None
        return message


@dataclass
class Carrier:
    """Twilio's side of the service: phones that text the bot (signed webhooks, a cookie jar per
    From/To pair) and the inbox of every number."""

    session: aiohttp.ClientSession
    public_url: str
    twilio: TwilioAPI
    bot_number: str = BOT_NUMBER
    auth_token: str = DEFAULT_AUTH_TOKEN
    account_sid: str = DEFAULT_ACCOUNT_SID
    delivered: dict[str, list[tuple[Reply, float]]] = field(default_factory=dict)
    phones: dict[str, Handset] = field(default_factory=dict)
    _created_at: dict[str, float] = field(default_factory=dict)

    async def post(
        self, url: str, form: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, str, Mapping[str, str]]:
        async with self.session.post(url, data=form, headers=headers) as response:
            return response.status, await response.text(), response.headers

    def phone(self, number: str, path: str = "/sms") -> Handset:
        """The phone with this number (one per number, so its cookie jar persists)."""
        if number not in self.phones:
            self.phones[number] = Handset(
                self.post,
                number,
                self.bot_number,
                self.public_url,
                self.auth_token,
                self.account_sid,
                path=path,
                carrier=self,
            )
        return self.phones[number]

    def deliver(self, replies: list[Reply]) -> None:
        now = time.time()
        for reply in replies:
            self.delivered.setdefault(reply.to, []).append((reply, now))

    def created_at(self, sid: str) -> float:
        """When the stand-in received the create request of message `sid` (epoch seconds)."""
        if sid not in self._created_at:
            # The stand-in stores the very form object of the request that created it.
            form = self.twilio.form_of(sid)
            requests = self.twilio.create_requests()
            request = next((r for r in requests if r.form is form), None)
            self._created_at[sid] = request.received_at if request else time.time()
        return self._created_at[sid]


@dataclass
class Service:
    """What a test drives: the server process, the Twilio stand-in and the carrier."""

    server: ServerProcess
    twilio: TwilioAPI
    carrier: Carrier
    config_path: Path

    def phone(self, number: str) -> Handset:
        return self.carrier.phone(number)

    async def admin(self, path: str) -> Any:
        return await self.server.admin(path)


@contextlib.asynccontextmanager
async def running_service(
    directory: Path,
    overrides: Mapping[str, Mapping[str, TomlValue]] | None = None,
    *,
    twilio: TwilioAPI | None = None,
    start: bool = True,
    database_url: str | None = None,
) -> AsyncIterator[Service]:
    """A TwilioAPI stand-in in this event loop (unless one is given), a config file in
    `directory` pointing the service at it, and the server started from it (unless
    start=False). Everything is stopped on exit, the server with SIGTERM, then SIGKILL.
    The store is the test's (tests.postgres.DATABASE) unless `database_url` says."""
    own_twilio = twilio is None
    api = twilio or TwilioAPI()
    if own_twilio:
        await api.start()
    port = unused_port()
    config_path = write_config(
        directory / "config.toml",
        config_sections(
            port=port,
            api_base_url=api.base_url,
            database=directory / "airtng.db",
            database_url=DATABASE["url"] if database_url is None else database_url,
            account_sid=api.account_sid,
            auth_token=api.auth_token,
        ),
        overrides,
    )
    server = ServerProcess(config_path, port=port, log_dir=directory)
    try:
        async with aiohttp.ClientSession() as session:
            carrier = Carrier(
                session,
                server.url,
                api,
                auth_token=api.auth_token,
                account_sid=api.account_sid,
            )
            if start:
                await server.start()
            yield Service(server, api, carrier, config_path)
    finally:
        await server.close()
        if own_twilio:
            await api.stop()
