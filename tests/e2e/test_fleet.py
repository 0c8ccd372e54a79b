"""The embedded file has one owner (issue 15 item 2), with real `python run.py` processes: a
second server on the same SQLite file exits at once with one line naming the first; the
operator commands work beside the running one (writes through its admin API, reads from the
file); one operator command that writes refuses another; the next server starts once the first
has stopped. The lock itself: tests/storage/test_lock.py.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import unused_port

from conversations import texts
from storage.lock import FileLock, Holder, lock_path
from tests.e2e.harness import (
    REPO_ROOT,
    RUN_PY,
    ServerProcess,
    Service,
    _environment,
    config_sections,
    running_service,
    write_config,
)

HOST = "+15550500001"
GUEST = "+15550510001"


async def run_py(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(RUN_PY), "--config", str(config), *args],
        cwd=REPO_ROOT,
        env=_environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def second_config(service: Service, tmp_path: Path) -> tuple[Path, int]:
    """The same database, another port: what a deploy that starts the new version before
    stopping the old one runs."""
    port = unused_port()
    sections = config_sections(
        port=port,
        api_base_url=service.twilio.base_url,
        database=tmp_path / "airtng.db",
        account_sid=service.twilio.account_sid,
        auth_token=service.twilio.auth_token,
    )
    return write_config(tmp_path / "second.toml", sections), port


@pytest.mark.sqlite_only  # the embedded file's lock (a shared store takes any number)
async def test_a_second_server_on_the_same_file_is_refused_at_once(
    service: Service, tmp_path: Path
) -> None:
    first = service.server
    assert first.process is not None
    guest = service.phone(GUEST)
    assert "Welcome" in await guest.ask("hello")
    config, port = second_config(service, tmp_path)

    refused = await run_py(config)
    assert refused.returncode == 1
    assert refused.stdout == ""
    (line,) = refused.stderr.splitlines()
    assert line.startswith(
        f"run.py: {tmp_path / 'airtng.db'} is in use by another process: pid {first.process.pid} ("
    )
    assert f"--config {service.config_path}), serving {first.url} since " in line
    assert line.endswith(" UTC")

    # The first keeps serving, its conversation and its database untouched.
    assert first.running
    assert await guest.ask("HELP") == texts.HELP_GUEST
    assert await first.admin("/admin/api/outbox") == []

    # Once the first has stopped, the second starts on the file and carries the conversation.
    assert await first.stop() == 0
    second = ServerProcess(config, port=port, log_dir=tmp_path / "second")
    second.log_dir.mkdir()
    try:
        await second.start()
        (conversation,) = await second.admin(f"/admin/api/conversations?phone={GUEST}")
        assert [m["body"] for m in conversation["messages"] if m["direction"] == "in"] == [
            "hello",
            "HELP",
        ]
        holder = json.loads(lock_path(tmp_path / "airtng.db").read_text())
        assert second.process is not None and holder["pid"] == second.process.pid
    finally:
        await second.close()


async def test_operator_commands_work_beside_the_running_service(service: Service) -> None:
    server = service.server
    # Writes go through the running service (it holds homes and ids in memory).
    home = await server.add_home(
        HOST, "Beach House", place="Malibu, CA", description="On the sand.", price=250
    )
    assert "Welcome" in await service.phone(GUEST).ask("hello")
    demo = await server.cli("demo")
    assert demo.returncode == 0, demo.stderr
    assert demo.stdout.startswith("Listed 6 demo home(s)")
    homes = await server.admin("/admin/api/properties")
    assert len(homes) == 7 and homes[0]["id"] == home
    retention = await server.cli("retention", "--days", "0")
    assert retention.returncode == 0, retention.stderr
    assert retention.stdout.startswith("Removed 2 message bodies and 0 outbox texts older than")
    (conversation,) = await server.admin(f"/admin/api/conversations?phone={GUEST}")
    assert {m["body"] for m in conversation["messages"]} == {""}
    # Reads read the file beside it.
    logs = await server.cli("logs", "--phone", GUEST, "--format", "jsonl")
    assert logs.returncode == 0, logs.stderr
    assert [json.loads(line)["direction"] for line in logs.stdout.splitlines()] == ["in", "out"]
    listed = await server.cli("reservations")
    assert (listed.returncode, listed.stdout) == (0, "no reservations\n")
    # The service, after all that, still takes turns (ids it made and the commands' agree).
    assert (await service.phone("+15550510002").ask("LIST")).startswith("Homes 1-5 of 7")


@pytest.mark.sqlite_only  # the embedded file's lock (a shared store takes any number)
async def test_an_operator_command_that_writes_refuses_to_write_beside_another(
    tmp_path: Path,
) -> None:
    async with running_service(tmp_path, start=False) as service:
        config = service.config_path
        assert (await run_py(config, "demo")).returncode == 0  # no one holds the file: offline
        # Another operator command holding the file (as `run.py demo` does while it writes).
        with FileLock.acquire(tmp_path / "airtng.db", Holder.me()):
            for command in (["demo"], ["retention", "--days", "30"], []):
                done = await run_py(config, *command)
                assert done.returncode == 1, (command, done.stdout, done.stderr)
                (line,) = done.stderr.splitlines()
                assert " is in use by another process: pid " in line, line
                assert f"({Holder.me().command}) since " in line
            # Reading beside it is fine.
            logs = await run_py(config, "reservations")
            assert (logs.returncode, logs.stderr) == (0, "")
        homes = await run_py(config, "demo")
        assert (homes.returncode, homes.stdout) == (0, "Listed 0 demo home(s); 6 homes in all.\n")
        await service.server.start()
        assert (await service.phone(GUEST).ask("LIST")).startswith("Homes 1-5 of 6")
