"""`python run.py <command>` as an operator types it: `--config` before or after the command,
one-line failures, quiet ends in a pipe, and `add-home` run twice or with a host's price words.
Real processes on a real database, with and without the service running."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

import run
from storage.bulk import SeedSpec, seed_history
from storage.db import Database
from tests.e2e.harness import REPO_ROOT, RUN_PY, Service, _environment, running_service

HOST = "+14155550100"
# Every subcommand with the arguments it requires, so only --config can make it fail.
COMMANDS = [
    ["serve"],
    ["demo"],
    [
        "add-home",
        "--host",
        HOST,
        "--title",
        "T",
        "--place",
        "P",
        "--description",
        "D",
        "--price",
        "1",
    ],
    ["send", "--from", "+15550001111", "LIST"],
    ["chat", "--from", "+15550001111"],
    ["logs"],
    ["reservations"],
    ["retention", "--days", "90"],
]


def cli(config: Path, *args: str, after: bool = True, stdin: str = "") -> tuple[int, str, str]:
    """`python run.py <args> --config <file>` (or with --config first), run to completion."""
    place = [*args, "--config", str(config)] if after else ["--config", str(config), *args]
    done = subprocess.run(
        [sys.executable, str(RUN_PY), *place],
        cwd=REPO_ROOT,
        env=_environment(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def offline_config(directory: Path) -> Path:
    # Dev mode (no credentials) on a port nobody serves: the commands work on the file alone.
    path = directory / "offline.toml"
    path.write_text(
        f'[server]\nport = 9\n[storage]\npath = "{directory / "airtng.db"}"\n', encoding="utf-8"
    )
    return path


@pytest.mark.parametrize("args", COMMANDS, ids=[c[0] for c in COMMANDS])
@pytest.mark.parametrize("after", [True, False], ids=["after", "before"])
def test_config_is_taken_before_or_after_every_command(
    args: list[str], after: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "prod.toml"
    argv = [*args, "--config", str(missing)] if after else ["--config", str(missing), *args]
    assert run.main(argv) == 2  # it read --config, found no file, and did nothing else
    assert capsys.readouterr().err == f"run.py: {missing}: no such configuration file\n"


def test_config_after_the_command_is_the_one_used(tmp_path: Path) -> None:
    config = offline_config(tmp_path)
    code, out, err = cli(config, "demo")
    assert code == 0, err
    assert out.startswith("Listed 6 demo home(s); 6 homes in all.")
    assert (tmp_path / "airtng.db").is_file()
    code, out, err = cli(config, "reservations", "--status", "pending")
    assert (code, out) == (0, "no pending reservations\n"), err
    code, out, err = cli(config, "reservations")
    assert (code, out) == (0, "no reservations\n"), err


def test_send_without_a_server_says_so_in_one_line(tmp_path: Path) -> None:
    code, out, err = cli(offline_config(tmp_path), "send", "--from", "+15550001111", "LIST")
    assert code == 1 and out == ""
    assert err == "run.py send: no server at http://127.0.0.1:9; start it: python run.py\n"


def test_chat_without_a_server_says_so_in_one_line(tmp_path: Path) -> None:
    code, out, err = cli(offline_config(tmp_path), "chat", "--from", "+15550001111")
    assert code == 1 and out == ""
    assert err == "run.py chat: no server at http://127.0.0.1:9; start it: python run.py\n"


async def test_logs_and_reservations_end_quietly_in_a_pipe(tmp_path: Path) -> None:
    config = offline_config(tmp_path)
    assert cli(config, "demo")[0] == 0
    # Far more than a pipe holds (64 KB), so the writer is still writing when head has gone.
    db = await Database.open(tmp_path / "airtng.db")
    try:
        spec = SeedSpec(people=50, conversations=100, messages=3000, reservations=3000)
        await db.transact(seed_history, spec, datetime.now(UTC))
    finally:
        await db.close()
    for command in ("logs", "reservations"):
        done = subprocess.run(
            f"{sys.executable} {RUN_PY} {command} --config {config} | head -n 2",
            shell=True,
            cwd=REPO_ROOT,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert len(done.stdout.splitlines()) == 2, done.stdout
        assert done.stderr == "", done.stderr  # no BrokenPipeError, no traceback


# -- add-home -------------------------------------------------------------------------------------

BEACH = ["--host", HOST, "--host-name", "Maria", "--title", "Beach House", "--place", "Malibu, CA"]
BEACH += ["--description", "On the sand, sleeps 4", "--image-url", "https://x.example/b.jpg"]


def test_add_home_offline_lists_once_and_reads_prices_as_hosts_write_them(tmp_path: Path) -> None:
    config = offline_config(tmp_path)
    code, out, err = cli(config, "add-home", *BEACH, "--price", "120/night")
    assert code == 0, err
    assert out == (
        'Listed home 1: "Beach House" in Malibu, CA, $120 a night, host Maria (+14155550100).\n'
    )
    code, out, err = cli(config, "add-home", *BEACH, "--price", "$250")
    assert code == 0, err
    assert out == (
        'Home 1 exists already: "Beach House" of host Maria (+14155550100). Nothing changed.\n'
    )
    code, out, err = cli(config, "add-home", *BEACH[:5], "Lake Cabin", *BEACH[6:], "--price", "$95")
    assert code == 0, err
    assert out.startswith('Listed home 2: "Lake Cabin" in Malibu, CA, $95 a night, host Maria')
    code, out, err = cli(config, "add-home", *BEACH[:5], "Cheap", *BEACH[6:], "--price", "12.50")
    assert code == 2 and out == ""
    assert (
        err
        == "run.py add-home: --price '12.50': the price must be whole dollars, no cents, like 120\n"
    )
    code, out, err = cli(config, "add-home", *BEACH[:5], "Free", *BEACH[6:], "--price", "cheap")
    assert code == 2 and "I could not read a price there" in err


async def test_add_home_with_the_service_running_lists_once(service: Service) -> None:
    server = service.server
    code, out, err = await asyncio.to_thread(
        cli, server.config_path, "add-home", *BEACH, "--price", "$120"
    )
    assert code == 0, err
    assert out == (
        'Listed home 1: "Beach House" in Malibu, CA, $120 a night, host Maria (+14155550100).\n'
    )
    code, out, err = await asyncio.to_thread(
        cli, server.config_path, "add-home", *BEACH, "--price", "120 a night", after=False
    )
    assert code == 0, err
    assert out.startswith('Home 1 exists already: "Beach House"')
    homes = await service.admin("/admin/api/properties")
    assert [(h["id"], h["nightly_price"]) for h in homes] == [(1, 120)]
    # Live at once, and a description without a full stop does not run into the next sentence.
    guest = service.phone("+15550200001")
    await guest.ask("LIST")
    details = await guest.ask("1")
    assert "On the sand, sleeps 4. Send BOOK" in details, details


async def test_send_in_dev_mode_goes_through_the_simulator(tmp_path: Path) -> None:
    # Dev mode: no Twilio credentials, so `send` texts through the simulator and the page sees it.
    overrides = {"twilio": {"account_sid": "", "auth_token": ""}}
    async with running_service(tmp_path, overrides) as service:
        config = service.config_path
        code, out, err = await asyncio.to_thread(
            cli, config, "send", "--from", "+15550001111", "LIST"
        )
        assert code == 0, err
        assert out.startswith("[to +15550001111] Homes 1-5 of 6:"), out
        async with (
            aiohttp.ClientSession() as session,
            session.get(service.server.url + "/simulator") as response,
        ):
            page = await response.text()
        assert ">LIST<" in page and "Homes 1-5 of 6:" in page  # the page shows both bubbles
        # STOP is answered by the carrier itself (Twilio), not by the bot.
        code, out, err = await asyncio.to_thread(
            cli, config, "send", "--from", "+15550001111", "STOP"
        )
        assert code == 0, err
        assert out == (
            "[to +15550001111, from Twilio itself] You have successfully been unsubscribed."
            " You will not receive any more messages from this number. Reply START to"
            " resubscribe.\n"
        )
