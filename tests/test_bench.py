"""The benchmark's own workload: what it sends must be what it claims to measure."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import parse_qs

import pytest

import bench.run
from bench.run import Proc, Workload, bot_command, browse_lines, replayed_share, turn_counts_in
from bench.wal_pages import main as wal_pages_main
from bench.wal_pages import wal_pages
from bot.metrics import Metrics
from bot.turns import Answer
from storage.queries import OutboxBacklog


def sids(lines: list[str]) -> list[str]:
    return [parse_qs(line.split("\t")[2])["MessageSid"][0] for line in lines]


def test_each_step_sends_new_message_sids_and_every_bot_the_same_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sid from an earlier step is Twilio retrying: the bot answers it from memory without a
    turn. Each step counting its sids from one again made every round after the first mostly
    retries, and the benchmark measured those instead of turns."""
    monkeypatch.setattr(bench.run, "BROWSE_GUESTS", 40)
    monkeypatch.setattr(bench.run, "BROWSE_GROUP", 20)
    first, second = Workload("http://127.0.0.1:1"), Workload("http://127.0.0.1:2")
    steps = []
    for step in range(3):
        first.begin(step)
        second.begin(step)
        mine = sids(browse_lines(first, step))
        assert sids(browse_lines(second, step)) == mine  # the bots serve the same requests
        assert len(set(mine)) == len(mine)
        assert all(len(sid) == 34 and sid.startswith("SM") for sid in mine)
        # Twilio's are random hex, not counted up: in order, every handled row would go at the
        # end of its index, and the benchmark would not pay what real traffic pays.
        assert all(set(sid[2:]) <= set("0123456789abcdef") for sid in mine)
        assert mine != sorted(mine)
        steps.append(set(mine))
    assert not steps[0] & steps[1] and not steps[1] & steps[2] and not steps[0] & steps[2]


def test_the_booking_mix_counts_its_own_retries() -> None:
    workload = Workload("http://127.0.0.1:1")
    workload.begin(1)
    lines = workload.waves(0, 2, date(2026, 12, 6))
    repeated = len(lines) - len(set(sids(lines)))
    assert repeated == workload.retries > 0  # the MY turns Twilio retries, and only those


def test_retries_are_read_from_the_bots_own_metrics() -> None:
    metrics = Metrics("bench")
    for replayed in (False, False, False, True):
        metrics.turn(Answer("<Response/>", None, replayed=replayed), 0.01)
    before = {"answered": 1.0, "replayed": 0.0, "failed": 0.0}
    body, _ = metrics.exposition(
        "", backlog=OutboxBacklog(0, 0, None), in_flight=0, stopping=False, now=datetime.now(UTC)
    )
    after = turn_counts_in(body.decode())
    assert after == {"answered": 3.0, "replayed": 1.0, "failed": 0.0}
    assert replayed_share(before, after) == 1 / 3


def test_a_server_started_by_wrappers_is_measured_and_stopped_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --fsync-ms (strace) or --profile (py-spy) the process the benchmark starts is a
    tool, and the server is at the end of its chain of children (two deep here): the CPU a
    turn, the memory and the stop are the server's, not the tools'."""
    # It handles SIGINT itself, as the bot does (a process started in the background by a
    # shell without job control inherits SIGINT ignored).
    server = (
        "import signal, time\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "print('up', flush=True)\n"
        "try:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    print('stopped')"
    )
    monkeypatch.setenv("BENCH_TEST_SERVER", server)
    # Two shells, each staying the parent of the next ("; true"), as strace under py-spy.
    inner = '"$0" -c "$BENCH_TEST_SERVER"; true'
    wrapper = ["sh", "-c", f"sh -c '{inner}' \"$0\"; true", sys.executable]
    log = tmp_path / "bot.log"
    proc = Proc.start("bot", wrapper, log)
    try:
        deadline = time.monotonic() + 10
        while log.read_text() != "up\n" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.pid != proc.popen.pid
        assert b"time.sleep" in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert proc.rss_mb() > 1  # a Python's, not sh's few hundred KB
    finally:
        proc.stop()
    assert proc.popen.returncode == 0
    assert log.read_text() == "up\nstopped\n"  # SIGINT reached the server


def test_fsync_ms_runs_the_bot_under_strace() -> None:
    config = Path("config.toml")
    assert bot_command(config)[0] == sys.executable
    command = bot_command(config, fsync_ms=2)
    assert command[0] == "strace"
    assert "inject=fsync,fdatasync:delay_exit=2000" in command
    assert command[-4:] == [sys.executable, "run.py", "--config", "config.toml"]


@pytest.mark.skipif(
    shutil.which("strace") is None and not os.environ.get("CI"),
    reason="strace is not installed (apt-get install strace); CI installs it",
)
def test_the_strace_injection_holds_each_sync_and_nothing_else(tmp_path: Path) -> None:
    script = (
        "import os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT)\n"
        "start = time.perf_counter()\n"
        "for _ in range(20):\n"
        "    os.getpid()\n"
        "calls = time.perf_counter() - start\n"
        "start = time.perf_counter()\n"
        "os.write(fd, b'x')\n"
        "os.fdatasync(fd)\n"
        "print(calls, time.perf_counter() - start)\n"
    )
    wrapper = bot_command(Path("x"), fsync_ms=50)[:-4]  # strace and its options, as the bot's
    out = subprocess.run(
        [*wrapper, sys.executable, "-c", script, str(tmp_path / "file")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    others, sync = (float(value) for value in out.stdout.split())
    assert sync >= 0.05
    assert others < 0.05  # other calls are not held


def test_wal_pages_counts_each_commits_pages_by_table_and_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rows appended to a table fill its last page; their random keys land all over its index."""
    path = tmp_path / "w.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("SELECT count(*) FROM dbstat")
    except sqlite3.OperationalError as error:
        conn.close()
        pytest.skip(f"this SQLite has no dbstat table, which bench.wal_pages reads: {error}")
    conn.executescript(
        "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;"
        " CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT); CREATE INDEX t_by_k ON t(k);"
    )
    rng = random.Random(1)
    conn.execute("BEGIN")
    for _ in range(5000):
        conn.execute("INSERT INTO t (k) VALUES (?)", (rng.randbytes(16).hex(),))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL starts over: earlier frames gone
    for _ in range(10):
        conn.execute("BEGIN")
        for _ in range(20):
            conn.execute("INSERT INTO t (k) VALUES (?)", (rng.randbytes(16).hex(),))
        conn.execute("COMMIT")
    committed = wal_pages(path)
    # A transaction under way whose pages spill from a small cache into the WAL: not a commit.
    size = os.path.getsize(f"{path}-wal")
    conn.execute("PRAGMA cache_size = 4")
    conn.execute("BEGIN")
    for _ in range(400):
        conn.execute("INSERT INTO t (k) VALUES (?)", (rng.randbytes(16).hex(),))
    assert os.path.getsize(f"{path}-wal") > size
    try:
        seen = wal_pages(path)
        assert seen == committed
        assert seen.commits == 10
        assert seen.frames == sum(seen.by_btree.values())
        # 20 random keys a commit into an index of ~70 pages, against a page or two at the end
        assert seen.by_btree["t_by_k"] > 8 * 10
        assert seen.by_btree["t"] < 4 * 10
        assert wal_pages_main([str(path)]) == 0
    finally:
        conn.execute("ROLLBACK")
        conn.close()
    out = capsys.readouterr().out
    assert out.startswith("10 commits, ") and "t_by_k" in out
    assert wal_pages_main([str(path)]) == 1  # closed: SQLite removed the WAL
