"""Several `python run.py` processes on one PostgreSQL database behind a real haproxy (round
robin), for the multi-instance tests: what an operator runs for deploys and failover.

    async with running_fleet(tmp_path, url, twilio, instances=3) as fleet:
        guest = fleet.phone("+15550200001")           # signed for the balancer's URL
        await guest.ask("LIST")                        # through haproxy, to any instance
        await fleet.post_to(fleet.servers[1], guest, guest.form("LIST"))   # to one of them
        await fleet.servers[0].kill()                  # SIGKILL; haproxy's health check notices

Every instance's public_url is the balancer's, as it is in production: Twilio signs the URL it
calls, and that is the balancer. haproxy names the instance that answered in X-Served-By, and
retries a request on another instance when its connection was refused or dropped without an
answer (L7 retries: safe here, since a MessageSid runs once).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import unused_port

from tests.e2e.harness import Carrier, Handset, ServerProcess, config_sections, write_config
from tests.phones import Answer, parse_answer
from tests.twilio_api import TwilioAPI

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def haproxy_config(port: int, servers: list[tuple[str, int]]) -> str:
    lines = [
        "global",
        "    maxconn 4096",
        "defaults",
        "    mode http",
        "    timeout connect 1s",
        "    timeout client 30s",
        "    timeout server 20s",
        "    timeout queue 10s",
        "    retries 3",
        "    option redispatch 1",
        "    option http-buffer-request",
        "    retry-on conn-failure empty-response response-timeout",
        "frontend airtng",
        f"    bind 127.0.0.1:{port}",
        "    default_backend instances",
        "backend instances",
        "    balance roundrobin",
        "    option httpchk GET /readyz",  # 503 from SIGTERM on: out of rotation at once
        "    http-response set-header X-Served-By %[srv_name]",
        "    default-server inter 200ms fall 1 rise 1",
    ]
    lines += [f"    server {name} 127.0.0.1:{p} check" for name, p in servers]
    return "\n".join(lines) + "\n"


@dataclass
class Fleet:
    url: str  # the balancer's: every instance's public URL
    servers: list[ServerProcess]
    names: list[str]
    twilio: TwilioAPI
    carrier: Carrier
    balancer: subprocess.Popen[bytes]

    def phone(self, number: str) -> Handset:
        return self.carrier.phone(number)

    async def post_to(self, server: ServerProcess, phone: Handset, form: dict[str, str]) -> Answer:
        """A webhook signed for the balancer's URL, delivered straight to one instance (as a
        balancer would), with the phone's cookies."""
        headers = phone.headers_for(self.url + phone.path, form)
        status, text, response_headers = await self.carrier.post(
            server.url + phone.path, form, headers
        )
        phone.keep_cookies(response_headers)
        answer = parse_answer(status, text, response_headers, phone.number)
        self.carrier.deliver(answer.replies)
        return answer

    async def admin(self, path: str) -> Any:
        """The admin API through the balancer: any instance answers the same."""
        headers = {"Authorization": f"Bearer {self.servers[0].admin_token}"}
        async with self.carrier.session.get(self.url + path, headers=headers) as response:
            assert response.status == 200, f"{path}: {response.status} {await response.text()}"
            return await response.json()

    async def drained(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            rows: list[dict[str, Any]] = await self.admin("/admin/api/outbox?limit=1000")
            if all(row["status"] not in ("queued", "sending") for row in rows):
                return rows
            if loop.time() >= deadline:
                raise TimeoutError(f"the outbox did not drain within {timeout}s: {rows}")
            await asyncio.sleep(0.1)

    async def wait_serving(self, timeout: float = 10.0) -> None:
        """Until haproxy sends to every instance (each has passed a health check)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen: set[str] = set()
        while set(self.names) - seen:
            if self.balancer.poll() is not None:  # (a ready instance passes /readyz)
                raise RuntimeError(f"haproxy exited with {self.balancer.returncode}")
            try:
                async with self.carrier.session.get(self.url + "/healthz") as response:
                    seen.add(response.headers.get("X-Served-By", ""))
            except aiohttp.ClientConnectionError:
                pass  # haproxy is still binding its port
            if loop.time() > deadline:
                raise TimeoutError(f"haproxy sends only to {sorted(seen)}")
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running_fleet(
    directory: Path, database_url: str, twilio: TwilioAPI, *, instances: int = 3
) -> AsyncIterator[Fleet]:
    balancer_port = unused_port()
    url = f"http://127.0.0.1:{balancer_port}"
    servers: list[ServerProcess] = []
    names = [f"i{n}" for n in range(instances)]
    for name in names:
        port = unused_port()
        folder = directory / name
        folder.mkdir()
        sections = config_sections(
            port=port,
            api_base_url=twilio.base_url,
            database=folder / "unused.db",
            database_url=database_url,
            account_sid=twilio.account_sid,
            auth_token=twilio.auth_token,
        )
        sections["server"]["public_url"] = url
        # A SIGTERM drains for a moment: long enough for haproxy's check (200 ms) to see it.
        sections["server"]["drain_seconds"] = 0.5
        servers.append(ServerProcess(write_config(folder / "config.toml", sections), port=port))
    config = directory / "haproxy.cfg"
    config.write_text(
        haproxy_config(balancer_port, [(n, s.port) for n, s in zip(names, servers, strict=True)])
    )
    balancer: subprocess.Popen[bytes] | None = None
    try:
        # Together, as a deploy starts them: the migrations and secrets are made once.
        await asyncio.gather(*(server.start() for server in servers))
        log = (directory / "haproxy.log").open("wb")
        balancer = subprocess.Popen(
            [HAPROXY, "-f", str(config), "-db"], stdout=log, stderr=subprocess.STDOUT
        )
        async with aiohttp.ClientSession() as session:
            carrier = Carrier(
                session, url, twilio, auth_token=twilio.auth_token, account_sid=twilio.account_sid
            )
            fleet = Fleet(url, servers, names, twilio, carrier, balancer)
            await fleet.wait_serving()
            yield fleet
    finally:
        if balancer is not None:
            balancer.terminate()
            await asyncio.to_thread(balancer.wait, 10)
        for server in servers:
            await server.close()
