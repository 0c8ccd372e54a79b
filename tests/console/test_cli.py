"""`python run.py logs | reservations | retention`: the operator's questions from a terminal,
run as a separate process against the database of a running service: the reads read the file
beside it (WAL lets both), retention goes through its admin API (bot/offline.py)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from pathlib import Path

from tests.bot.test_webhook import GUEST, GUEST_B, HOST, request_stay
from tests.conftest import ADMIN_TOKEN, Bot
from tests.postgres import DATABASE

RUN = Path(__file__).resolve().parents[2] / "run.py"


async def run(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    config = tmp_path / "cli.toml"
    # The operator's config names the same store and the service's admin token (the test's
    # store: its SQLite file, or its PostgreSQL database).
    url = DATABASE["url"]
    config.write_text(
        f'[storage]\npath = "airtng.db"\nurl = "{url}"\n[admin]\ntoken = "{ADMIN_TOKEN}"\n',
        encoding="utf-8",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(RUN),
        "--config",
        str(config),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def a_history(bot: Bot) -> int:
    await bot.add_home(HOST, "Beach House", host_name="Hana")
    ref = await request_stay(bot, bot.phone(GUEST))
    await bot.phone(GUEST_B).ask("LIST")
    await bot.drained()
    return ref


async def test_logs_prints_a_phones_transcript_in_every_format(bot: Bot, tmp_path: Path) -> None:
    await a_history(bot)
    code, out, err = await run(tmp_path, "logs", "--phone", "(555) 000-2222")
    assert code == 0, err
    lines = [line for line in out.splitlines() if not line.startswith("    ")]
    assert len(lines) == 2
    assert "\n    1 Beach House, Somewhere, CA $100" in out
    assert f"{GUEST_B} -> bot received" in lines[0] and lines[0].endswith(": LIST")
    assert f"{GUEST_B} <- bot replied" in lines[1] and "Homes 1-" in lines[1]

    code, out, err = await run(tmp_path, "logs", "--phone", GUEST, "--format", "jsonl")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["body"] for r in rows if r["direction"] == "in"][:2] == ["LIST", "BOOK 1"]
    assert {r["phone"] for r in rows} == {GUEST}
    assert rows[0]["state_before"] and rows[0]["state_after"]

    code, out, err = await run(tmp_path, "logs", "--format", "csv", "--since", "2000-01-01")
    assert code == 0, err
    table = list(csv.DictReader(io.StringIO(out)))
    assert {r["phone"] for r in table} == {GUEST, GUEST_B, HOST}
    assert [int(r["id"]) for r in table] == sorted(int(r["id"]) for r in table)

    code, out, err = await run(tmp_path, "logs", "--since", "2999-01-01")
    assert (code, out) == (0, "")
    code, out, err = await run(tmp_path, "logs", "--phone", "12")
    assert code == 2 and "not a possible phone number" in err


async def test_reservations_are_listed_by_status(bot: Bot, tmp_path: Path) -> None:
    ref = await a_history(bot)
    code, out, err = await run(tmp_path, "reservations", "--status", "pending")
    assert code == 0, err
    (line,) = out.splitlines()
    assert line.startswith(f"{ref}\tpending\tBeach House\t")
    # Names where the people gave them (the guest named herself while booking).
    assert f"guest Ann {GUEST}" in line and f"host Hana {HOST}" in line
    code, out, err = await run(tmp_path, "reservations", "--status", "confirmed")
    assert (code, out) == (0, "no confirmed reservations\n")


async def test_retention_empties_old_bodies_and_keeps_counts_and_bookings(
    bot: Bot, tmp_path: Path
) -> None:
    ref = await a_history(bot)
    before = await bot.admin("/admin/api/conversations?limit=1000")
    count = sum(len(c["messages"]) for c in before)
    code, out, err = await run(tmp_path, "retention", "--days", "30")
    assert code == 0, err
    assert out.startswith("Removed 0 message bodies and 0 outbox texts older than ")
    # The service's clock is real time here: everything logged is older than -1 days.
    code, out, err = await run(tmp_path, "retention", "--days", "-1")
    assert code == 2
    code, out, err = await run(tmp_path, "retention", "--days", "0")
    assert code == 0, err
    assert out.startswith(f"Removed {count} message bodies and 1 outbox texts older than ")
    after = await bot.admin("/admin/api/conversations?limit=1000")
    assert sum(len(c["messages"]) for c in after) == count
    assert {m["body"] for c in after for m in c["messages"]} == {""}
    (kept,) = await bot.admin("/admin/api/reservations")
    assert (kept["id"], kept["status"]) == (ref, "pending")
    assert kept["message"] == "Two of us, quiet, here for a wedding."
