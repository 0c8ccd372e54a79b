"""The benchmark: whole conversations through the real server, against the baseline and the
protocol floor measured in the same run.

    python -m bench.run                       # ~3 minutes; prints a table and one JSON line
    python -m bench.run --big --durability full --rounds 2
    python -m bench.run --database postgresql://postgres@127.0.0.1:5432/postgres
    python -m bench.run --mix browse --durability both   # issue 16's load, both modes side by side
    python -m bench.run --mix browse --durability same   # two identical bots: its noise
    python -m bench.run --mix browse --durability both --bots-only --rounds 9   # the bots alone
    python -m bench.run --mix browse --durability both --fsync-ms 2   # on a disk that syncs

It starts the local Twilio REST stand-in (tests/twilio_api.py) and `python run.py` on a fresh
database, warms up every phone's session cookie, then replays pre-signed webhooks with wrk, one
request file per bot round. Each bot first serves a warm-up run that counts nowhere (`--warm-up`),
so the rounds find its WAL grown and its caches filled. Every request is a new turn: each
step's MessageSids are its own, and a bot run that answered more requests as Twilio's retries
than its file holds is flagged NOT VALID (from the bot's /metrics). Two mixes:

- `booking` (the default): 500 hosts' homes; guests listing, viewing, booking with dates,
  messages and names, MY, unknown text, a replayed MessageSid; hosts asking REQUESTS and
  accepting or rejecting. 20 waves of 500 guests a round (10 were replayed from their start by
  a bot serving 9,000 turns a second, which the summary flags NOT VALID).
- `browse`: 12 homes and 6,000 new guests a round, mostly browsing: hi, LIST, MORE, a number,
  MENU, HELP, MY (120k turns a round, more than a bot answers in a run: a file replayed from its
  start would repeat MessageSids, which the bot answers from its memory, and flatter it).

`--durability both` serves the same requests from two bots, one per mode, each on its own
database, measured one after the other in every round. `--durability same` does the same with
two bots in "normal" (an A/A run): whatever differs between them is the benchmark's own noise.
Both print the second bot's p99 less the first's, round by round. Each round also runs the same
wrk over the same requests against a bare aiohttp app (the baseline) and the protocol floor
(signature + MessagingResponse + cookie), interleaved. Each run reports p50, p99 and the slowest
request. Finally it measures, for the first bot, the host-accept path and the outbox drain rate
(with the booking mix), and the server's resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
ADMIN_TOKEN = "bench-admin-token"
BOT_NUMBER = "+15550009999"
# --durability both and same: two bots, measured one after the other in every round.
MODES = {"both": ["normal", "full"], "same": ["normal", "normal"]}
BOT_KEYS = {"bot-again": "normal-again"}  # the A/A run's second bot, in the summary's "bots"
HOMES = 500
CONNECTIONS = 64


def rounded(value: float, digits: int | None = None) -> float | None:
    """`value` rounded, or None for what was not measured (NaN: --bots-only has no baseline)."""
    if value != value:
        return None
    return round(value, digits) if digits is not None else round(value)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]

    @classmethod
    def start(cls, name: str, args: list[str], log: Path) -> Proc:
        out = log.open("wb")
        popen = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        return cls(name, popen)

    @property
    def pid(self) -> int:
        """The server's own process: the one started or, when a tool runs it as its child
        (strace for --fsync-ms, py-spy for --profile), the end of that chain of children (the
        servers start no processes): its CPU, its memory and its stop, not the tool's."""
        pid = self.popen.pid
        while True:
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:  # gone
                return pid
            if not children:
                return pid
            pid = int(children[0])

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU time (user + system) of the main thread (the event loop) and of all the others
        (the database's), from /proc; (0, 0) where there is none."""
        loop = others = 0.0
        tick = os.sysconf("SC_CLK_TCK")
        pid = self.pid
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # a thread that ended meanwhile
                continue
            seconds = (int(fields[11]) + int(fields[12])) / tick
            if task.name == str(pid):
                loop += seconds
            else:
                others += seconds
        return loop, others

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # (the wrapper ends with its child)
                os.kill(self.pid, signal.SIGINT)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


async def start_twilio_api(port: int, folder: Path) -> Proc:
    """The Twilio REST stand-in (tests/twilio_api.py) on loopback, answering once it is up."""
    api = Proc.start(
        "twilio",
        [
            sys.executable,
            "-m",
            "tests.twilio_api",
            "--port",
            str(port),
            "--account-sid",
            ACCOUNT_SID,
            "--auth-token",
            AUTH_TOKEN,
            "--no-callbacks",
        ],
        folder / "twilio.log",
    )
    await wait_http(f"http://127.0.0.1:{port}/_twilio_api/stats")
    return api


async def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} did not answer")


# -- the workload -----------------------------------------------------------------------------


def guest_phone(wave: int, i: int) -> str:
    return f"+1555{wave:03d}{i:04d}"


def host_phone(k: int) -> str:
    return f"+1556000{k:04d}"


def stay(wave: int, today: date) -> str:
    check_in = today + timedelta(days=7 * (wave + 1))
    check_out = check_in + timedelta(days=3)
    return f"{check_in:%b} {check_in.day} for 3 nights" if check_out else ""


class Workload:
    """Pre-signed requests, in an order that keeps each conversation's turns in sequence."""

    def __init__(self, public_url: str) -> None:
        self.url = public_url + "/sms"
        self.validator = RequestValidator(AUTH_TOKEN)
        self.cookies: dict[str, str] = {}
        self.step = 0
        self.counter = 0
        self.retries = 0  # requests made as Twilio's retries of an earlier one (same sid)

    def begin(self, step: int) -> None:
        """A step's requests: every bot gets the same MessageSids, and no step repeats an
        earlier step's (a bot answers a sid it has seen as Twilio's retry, from memory,
        without running a turn)."""
        self.step, self.counter, self.retries = step, 0, 0

    def form(self, phone: str, body: str) -> dict[str, str]:
        self.counter += 1
        # Twilio's MessageSids are SM and 32 hex digits at random, not in any order: so are
        # these (the same for every bot), so the handled sids' index is written as it would be.
        key = f"{self.step}:{self.counter}".encode()
        sid = "SM" + hashlib.blake2b(key, digest_size=16).hexdigest()
        return {
            "ToCountry": "US",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "SmsSid": sid,
            "SmsStatus": "received",
            "FromCity": "SAN FRANCISCO",
            "Body": body,
            "FromCountry": "US",
            "To": BOT_NUMBER,
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": phone,
            "ApiVersion": "2010-04-01",
        }

    def line(self, phone: str, form: dict[str, str]) -> str:
        signature = self.validator.compute_signature(self.url, form)
        return f"{signature}\t{self.cookies.get(phone, '')}\t{urlencode(form)}"

    async def warm_up(self, phones: list[str]) -> None:
        """Each phone's first text, sent once, so wrk can carry the cookie Twilio would."""
        semaphore = asyncio.Semaphore(CONNECTIONS)
        async with aiohttp.ClientSession() as session:

            async def one(phone: str) -> None:
                form = self.form(phone, "hi")
                headers = {"X-Twilio-Signature": self.validator.compute_signature(self.url, form)}
                async with semaphore, session.post(self.url, data=form, headers=headers) as r:
                    assert r.status == 200, await r.text()
                    morsel = r.cookies.get("airtng_session")
                    if morsel is not None:
                        self.cookies[phone] = f"airtng_session={morsel.value}"

            await asyncio.gather(*(one(p) for p in phones))

    def waves(self, first_wave: int, count: int, today: date) -> list[str]:
        lines: list[str] = []
        for wave in range(first_wave, first_wave + count):
            scripts: dict[str, list[str]] = {}
            for i in range(HOMES):
                scripts[guest_phone(wave, i)] = [
                    f"LIST h{i:04d}x",
                    "1",
                    "BOOK",
                    stay(wave, today),
                    f"Hello, we are two adults from wave {wave}, quiet and tidy.",
                    f"Guest {wave}-{i}",
                    "SEND",
                    "MY",
                    "what is this?",
                    "MORE",
                    "REPLAY",
                    "MENU",
                ]
            replay: dict[str, str] = {}
            for step in range(12):
                for phone, script in scripts.items():
                    body = script[step]
                    if body == "REPLAY":
                        lines.append(replay[phone])  # Twilio retrying the MY turn
                        self.retries += 1
                        continue
                    line = self.line(phone, self.form(phone, body))
                    if body == "MY":
                        replay[phone] = line
                    lines.append(line)
            for body_of in (lambda k: "REQUESTS", lambda k: "ACCEPT" if k % 2 == 0 else "REJECT"):
                for k in range(HOMES):
                    phone = host_phone(k)
                    lines.append(self.line(phone, self.form(phone, body_of(k))))
        return lines


BROWSE_HOMES = 12
BROWSE_GUESTS = 6000  # a round: 20 turns each after the warm-up's "hi", 120k in all
# Each guest's texts in order (issue 16's mix): browsing, with help, menus and their trips.
BROWSE_SCRIPT = (
    "hi", "LIST", "MORE", "2", "MENU", "HELP", "LIST", "3", "MY", "MENU",
    "LIST", "1", "MORE", "HELP", "7", "MENU", "MY", "LIST", "4", "MENU",
)  # fmt: skip


def browse_phone(round_: int, i: int) -> str:
    return f"+1558{round_:03d}{i:04d}"


BROWSE_GROUP = 600  # guests whose scripts run side by side, ten times the connections


def browse_lines(workload: Workload, round_: int) -> list[str]:
    """One round's browse turns: a group of guests at a time goes through the whole script, a
    step for every guest of the group at a time. A guest's next turn is a group's length later
    in the file, so it never has two turns in flight; and any stretch of the file a run gets
    through holds the whole mix, not only its first steps."""
    lines = []
    for first in range(0, BROWSE_GUESTS, BROWSE_GROUP):
        group = [browse_phone(round_, i) for i in range(first, first + BROWSE_GROUP)]
        for body in BROWSE_SCRIPT:
            lines += [workload.line(phone, workload.form(phone, body)) for phone in group]
    return lines


# -- wrk --------------------------------------------------------------------------------------


@dataclass
class Result:
    target: str
    rate: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    errors: int
    wrapped: bool
    round: int = 0  # which interleaved round (bench), counted from 0
    # When wrk ran, on the clock every process shares (time.perf_counter: CLOCK_MONOTONIC):
    # a traced bot's timeline is read over these windows only (bench/trace.py).
    window: tuple[float, float] = (0.0, 0.0)
    # The bot's CPU a turn during the run, microseconds: its event loop's thread, the others'.
    loop_cpu_us: float = float("nan")
    threads_cpu_us: float = float("nan")
    # The share of the run's requests the bot answered as Twilio's retries (from /metrics).
    replayed: float = float("nan")


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s)", text)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def run_wrk(target: str, url: str, request_file: Path, duration: int) -> Result:
    args = [
        "wrk",
        "-t1",
        f"-c{CONNECTIONS}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(ROOT / "bench" / "wrk.lua"),
        url,
        "--",
        str(request_file),
        "1",
    ]
    started = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    window = (started, time.perf_counter())
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    # "Latency   avg   stdev   max   +/- stdev": the slowest request is the third figure.
    slowest = _ms(re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors_match = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(errors_match.group(1)) if errors_match else 0
    wrapped = "WRAPPED 0" not in out
    return Result(target, rate, p50, p99, slowest, total, errors, wrapped, window=window)


# -- the run ----------------------------------------------------------------------------------


def write_config(
    folder: Path, port: int, api_port: int, durability: str, database_url: str = ""
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
public_url = "http://127.0.0.1:{port}"
[storage]
path = "{folder / "bench.db"}"
url = "{database_url}"
durability = "{durability}"
[twilio]
account_sid = "{ACCOUNT_SID}"
auth_token = "{AUTH_TOKEN}"
phone_number = "{BOT_NUMBER}"
api_base_url = "http://127.0.0.1:{api_port}"
[admin]
token = "{ADMIN_TOKEN}"
[outbox]
concurrency = 8
"""
    )
    return path


async def prepare_database(
    config_path: Path, big: bool, outbox: int, pending_per_home: int = 0, homes: int = HOMES
) -> list[tuple[int, int]]:
    from bot.config import load_config
    from bot.turns import load_world
    from conversations.model import Property
    from storage.bulk import SeedSpec, seed_history, seed_outbox, seed_pending
    from storage.db import Database

    config = load_config(config_path)
    db = await Database.open(config.database_path, config.storage.durability)
    now = datetime.now(UTC)
    world = await load_world(db, timedelta(hours=4), now)
    if not world.properties:
        writes = []
        for k in range(homes):
            home = Property(
                0,
                host_phone(k),
                f"Home h{k:04d}x",
                "Benchville, CA",
                "A tidy home with a garden, two bedrooms and a fast wifi connection.",
                100 + k % 200,
                f"{config.public_url}/static/homes/farmhouse.png",
            )
            _, out = world.add_home(host_phone(k), f"Host {k}", home, now)
            writes.extend(out)
        await db.write(writes)
    if big:
        await db.transact(seed_history, SeedSpec(bot_phone=BOT_NUMBER), now)
    if outbox:
        await db.transact(seed_outbox, outbox, "+1559", BOT_NUMBER, now)
    pending: list[tuple[int, int]] = []
    if pending_per_home:
        start = date.today() + timedelta(days=200)
        pending = await db.transact(seed_pending, pending_per_home, start, now)
    await db.close()
    return pending


async def api_count(api_url: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(api_url + "/_twilio_api/stats") as response,
    ):
        stats = await response.json()
        return int(stats["created"])


async def measure_drain(api_url: str, before: int, expected: int, timeout: float = 120) -> float:
    """Messages per second reaching the REST stand-in, from the first delivery to the last."""
    deadline = time.monotonic() + timeout
    count = await api_count(api_url)
    while count == before and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        count = await api_count(api_url)
    first_count, first_time = count, time.monotonic()
    while count - before < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        count = await api_count(api_url)
    elapsed = time.monotonic() - first_time
    return (count - first_count) / elapsed if elapsed > 0 else 0.0


@dataclass
class BotTarget:
    """One bot under test: its mode, its own database and port, its phones' cookies."""

    name: str  # "bot", "bot-full" beside it with --durability both, "pg", "pg-2x" (--database)
    durability: str
    config: Path
    url: str
    workload: Workload
    proc: Proc | None = None
    # Another instance on the same database, driven by its own wrk at the same time
    # (pg-2x): its result is both instances' together.
    partner: BotTarget | None = None
    first_wave: int = 0  # its guests' numbers, apart from the partner's


_TURNS = re.compile(r'^airtng_turns_total\{[^}]*outcome="(\w+)"[^}]*\} (\S+)$', re.M)
# A run gets through the start of its file only: its share of retries may differ a little from
# the whole file's.
RETRY_SLACK = 0.01


async def turn_counts(target: BotTarget) -> dict[str, float]:
    """The target's turns so far by outcome (answered, replayed, failed), all its instances
    together, from their /metrics."""
    counts: dict[str, float] = {}
    async with aiohttp.ClientSession() as session:
        for instance in instances(target):
            async with session.get(instance.url + "/metrics") as response:
                for outcome, value in turn_counts_in(await response.text()).items():
                    counts[outcome] = counts.get(outcome, 0.0) + value
    return counts


def turn_counts_in(scrape: str) -> dict[str, float]:
    """A /metrics scrape's turns by outcome."""
    return {outcome: float(value) for outcome, value in _TURNS.findall(scrape)}


def replayed_share(before: dict[str, float], after: dict[str, float]) -> float:
    """The share of the turns between two counts answered as retries."""
    turns = {outcome: after.get(outcome, 0.0) - before.get(outcome, 0.0) for outcome in after}
    total = sum(turns.values())
    return turns.get("replayed", 0.0) / total if total else float("nan")


def combined(name: str, results: list[Result]) -> Result:
    """Several wrk runs at once as one: the rates added, the worst of the latencies."""
    return Result(
        name,
        sum(r.rate for r in results),
        max(r.p50_ms for r in results),
        max(r.p99_ms for r in results),
        max(r.max_ms for r in results),
        sum(r.requests for r in results),
        sum(r.errors for r in results),
        any(r.wrapped for r in results),
        window=(min(r.window[0] for r in results), max(r.window[1] for r in results)),
    )


async def postgres_targets(
    args: argparse.Namespace, folder: Path, api_port: int, homes: int
) -> list[BotTarget]:
    """With --database: one instance on a database of its own ("pg"), and two instances on
    another, each with its own wrk ("pg-2x")."""
    from bench.postgres import create_database, seed_homes

    targets: list[BotTarget] = []
    for name, instances in (("pg", 1), ("pg-2x", 2)):
        url = await create_database(args.database, f"airtng_bench_{name.replace('-', '_')}")
        previous: BotTarget | None = None
        for n in range(instances):
            port = free_port()
            bot_url = f"http://127.0.0.1:{port}"
            config = write_config(folder / f"{name}-{n}", port, api_port, "normal", url)
            if n == 0:
                await seed_homes(url, homes, bot_url, host_phone)
            target = BotTarget(name, "normal", config, bot_url, Workload(bot_url))
            target.first_wave = 500 * n
            if previous is None:
                targets.append(target)
            else:
                previous.partner = target
            previous = target
    return targets


def instances(target: BotTarget) -> list[BotTarget]:
    return [target] + ([target.partner] if target.partner else [])


def bot_command(
    config: Path, profile: Path | None = None, trace: Path | None = None, fsync_ms: float = 0
) -> list[str]:
    command = [sys.executable, "run.py", "--config", str(config)]
    if trace is not None:  # the timeline of every turn, commit, checkpoint and collection
        command[1:2] = ["-m", "bench.trace", "serve", str(trace), "--"]
    if fsync_ms:
        # Every fsync and fdatasync of the server's, SQLite's and its own, held fsync_ms
        # longer on its way back (strace's fault injection; --seccomp-bpf stops the server at
        # those calls only, so the rest runs at full speed): a disk that really writes what
        # it syncs, where this machine's has a write cache and syncs in ~0.15 ms.
        delay = f"delay_exit={round(fsync_ms * 1000)}"
        command = [
            "strace", "-f", "-qq", "--seccomp-bpf", "-o", "/dev/null",
            "-e", "trace=fsync,fdatasync", "-e", f"inject=fsync,fdatasync:{delay}",
            *command,
        ]  # fmt: skip
    if profile is None:
        return command
    # py-spy samples the server while it serves; collapsed stacks land beside the logs.
    py_spy = str(Path(sys.executable).parent / "py-spy")
    # --gil: only the thread holding the GIL, where the one core goes.
    return [py_spy, "record", "--format", "raw", "--gil", "-o", str(profile), "--", *command]


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="airtng-bench-"))
    procs: list[Proc] = []
    traces: dict[str, Path] = {}  # with --trace: each bot instance's timeline, once it stopped
    try:
        api_port, bare_port, floor_port = (free_port() for _ in range(3))
        api_url = f"http://127.0.0.1:{api_port}"
        procs.append(await start_twilio_api(api_port, folder))
        modes = MODES.get(args.durability, [args.durability])
        homes = BROWSE_HOMES if args.mix == "browse" else HOMES
        bots: list[BotTarget] = []
        for mode in modes:
            port = free_port()
            name = (
                "bot" if not bots else "bot-again" if mode == bots[0].durability else f"bot-{mode}"
            )
            config = write_config(folder / name, port, api_port, mode)
            url = f"http://127.0.0.1:{port}"
            await prepare_database(config, args.big, 0, homes=homes)
            bots.append(BotTarget(name, mode, config, url, Workload(url)))
        if args.database:
            bots += await postgres_targets(args, folder, api_port, homes)
        for target in bots:
            for n, instance in enumerate(instances(target)):
                profile = folder / f"profile-{target.name}-{n}.txt" if args.profile else None
                trace = folder / f"trace-{target.name}-{n}.json" if args.trace else None
                if trace:
                    traces[f"{target.name}-{n}"] = trace
                instance.proc = Proc.start(
                    target.name,
                    bot_command(instance.config, profile, trace, args.fsync_ms),
                    folder / f"{target.name}-{n}.log",
                )
                procs.append(instance.proc)
        first = bots[0]
        procs.append(
            Proc.start(
                "bare",
                [sys.executable, "-m", "bench.baseline", "bare", "--port", str(bare_port)],
                folder / "bare.log",
            )
        )
        procs.append(
            Proc.start(
                "floor",
                [
                    sys.executable,
                    "-m",
                    "bench.baseline",
                    "floor",
                    "--port",
                    str(floor_port),
                    "--public-url",
                    first.url,
                    "--auth-token",
                    AUTH_TOKEN,
                ],
                folder / "floor.log",
            )
        )
        for url in (
            *(i.url + "/healthz" for target in bots for i in instances(target)),
            f"http://127.0.0.1:{bare_port}/",
            f"http://127.0.0.1:{floor_port}/",
        ):
            await wait_http(url)

        today = date.today()
        results: list[Result] = []
        wrapped: list[str] = []  # bot runs that came back to the start of their file
        # bot runs that answered more requests as retries than their file holds
        replaying: list[str] = []
        retry_share: dict[str, float] = {}  # by bot URL: the step file's share of retries
        for step in range(args.warm_up + args.rounds):
            # Each step has guests and MessageSids of its own (its number picks them); the
            # warm-up steps come first and count nowhere.
            round_ = step - args.warm_up
            warming = round_ < 0
            files: dict[str, Path] = {}
            for target in (i for t in bots for i in instances(t)):
                if args.mix == "browse":
                    phones = [browse_phone(step, i) for i in range(BROWSE_GUESTS)]
                else:
                    first_wave = target.first_wave + step * args.waves
                    waves = range(first_wave, first_wave + args.waves)
                    phones = [guest_phone(w, i) for w in waves for i in range(HOMES)]
                    if step == 0:
                        phones += [host_phone(k) for k in range(HOMES)]
                # Each bot signs its own cookies, and the signature covers its own URL.
                target.workload.begin(step)
                await target.workload.warm_up(phones)
                lines = (
                    browse_lines(target.workload, step)
                    if args.mix == "browse"
                    else target.workload.waves(first_wave, args.waves, today)
                )
                files[target.url] = folder / f"step{step}-{target.url.rsplit(':', 1)[1]}.txt"
                files[target.url].write_text("\n".join(lines) + "\n")
                retry_share[target.url] = target.workload.retries / len(lines)
            # The bots take turns going first (round 1: normal then full, round 2: full then
            # normal...), so that neither always runs right after the baseline's burst (a
            # 4-round check saw no order effect; comparing the modes should not rest on that).
            shift = step % len(bots)
            runs = [
                ("baseline", f"http://127.0.0.1:{bare_port}", files[first.url], None),
                *(
                    (target.name, target.url, files[target.url], target)
                    for target in bots[shift:] + bots[:shift]
                ),
                ("floor", f"http://127.0.0.1:{floor_port}", files[first.url], None),
            ]
            if warming or args.bots_only:
                runs = [run for run in runs if run[3] is not None]
            for name, url, request_file, bot in runs:
                counted = await turn_counts(bot) if bot is not None else None
                if bot is not None and bot.partner is not None:
                    # Each instance its own wrk, at the same time.
                    both = await asyncio.gather(
                        *(
                            asyncio.to_thread(run_wrk, name, i.url, files[i.url], args.duration)
                            for i in instances(bot)
                        )
                    )
                    result = replace(combined(name, list(both)), round=round_)
                else:
                    process = bot.proc if bot is not None else None
                    before = process.cpu_seconds() if process else (0.0, 0.0)
                    result = replace(run_wrk(name, url, request_file, args.duration), round=round_)
                    if process and result.requests:
                        loop, others = (
                            b - a for a, b in zip(before, process.cpu_seconds(), strict=True)
                        )
                        result.loop_cpu_us = loop / result.requests * 1e6
                        result.threads_cpu_us = others / result.requests * 1e6
                if counted is not None:
                    result.replayed = replayed_share(counted, await turn_counts(bot))
                if warming:
                    print(
                        f"warm-up  {name:8} {result.rate:9.0f} req/s  p99 {result.p99_ms:6.2f} ms"
                        "  (not counted)",
                        flush=True,
                    )
                    continue
                if bot is not None and result.wrapped:
                    # Replayed MessageSids are answered from memory: the figures flatter it.
                    print(f"warning: {name} answered every request in the file; raise --waves")
                    wrapped.append(f"round {round_ + 1} {name}")
                if bot is not None and result.replayed > retry_share[url] + RETRY_SLACK:
                    print(
                        f"warning: {name} answered {result.replayed:.1%} of its requests as"
                        f" retries, its file holds {retry_share[url]:.1%}: they were not turns"
                    )
                    replaying.append(f"round {round_ + 1} {name}")
                results.append(result)
                print(
                    f"round {round_ + 1} {name:8} {result.rate:9.0f} req/s"
                    f"  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
                    f"  max {result.max_ms:7.2f} ms"
                    f"  ({result.requests} requests, {result.errors} non-2xx"
                    + (
                        f", {result.replayed:.1%} retries"
                        if result.replayed == result.replayed  # (not NaN)
                        else ""
                    )
                    + ")"
                    + (
                        f"  CPU a turn: loop {result.loop_cpu_us:.0f} us,"
                        f" other threads {result.threads_cpu_us:.0f} us"
                        if result.loop_cpu_us == result.loop_cpu_us  # (not NaN)
                        else ""
                    ),
                    flush=True,
                )

        assert first.proc is not None
        rss = first.proc.rss_mb()
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                first.url + "/admin/api/reservations?limit=1000",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            ) as r,
        ):
            reservations = await r.json()

        async def restart_bot(log: str, **seed: Any) -> list[tuple[int, int]]:
            """Stop the first bot, seed its database while nobody holds it in memory, start
            it again."""
            assert first.proc is not None
            first.proc.stop()
            procs.remove(first.proc)
            seeded = await prepare_database(first.config, False, **seed)
            first.proc = Proc.start(
                "bot", bot_command(first.config, fsync_ms=args.fsync_ms), folder / log
            )
            procs.append(first.proc)
            await wait_http(first.url + "/healthz")
            return seeded

        for target in bots[1:]:  # the rest of the run measures the first bot alone
            for instance in instances(target):
                assert instance.proc is not None
                instance.proc.stop()
                procs.remove(instance.proc)
        accept: Result | None = None
        drain_rate: float | None = None
        if args.mix == "booking":  # the browse mix's 12 homes would give each host thousands
            # The host-accept path alone: hosts accepting seeded pending requests by reference.
            pending = await restart_bot(
                "bot-accept.log", outbox=0, pending_per_home=args.accepts // homes, homes=homes
            )
            accept_file = folder / "accept.txt"
            workload = first.workload
            accept_file.write_text(
                "\n".join(
                    workload.line(
                        host_phone(home - 1), workload.form(host_phone(home - 1), f"ACCEPT {rid}")
                    )
                    for rid, home in pending
                )
                + "\n"
            )
            accept = run_wrk("accept", first.url, accept_file, args.duration)
            print(
                f"host-accept path {accept.rate:9.0f} req/s  p50 {accept.p50_ms:6.2f} ms"
                f"  p99 {accept.p99_ms:6.2f} ms"
                f"  ({accept.requests} requests, {accept.errors} non-2xx)"
                + ("  WRAPPED: raise --accepts" if accept.wrapped else ""),
                flush=True,
            )
            # The outbox drain: queue many messages while the bot is stopped, count deliveries.
            sent_before = await api_count(api_url)
            await restart_bot("bot-drain.log", outbox=args.drain, homes=homes)
            drain_rate = await measure_drain(api_url, sent_before, args.drain)

        def median(target: str, field: str) -> float:
            got = [getattr(r, field) for r in results if r.target == target]
            return statistics.median(got) if got else float("nan")

        def rounds_of(target: str, field: str) -> list[float]:
            """`target`'s figure in each round (results come in round order)."""
            return [getattr(r, field) for r in results if r.target == target]

        def by_round(target: str, reference: str) -> list[float]:
            """`target`'s rate over `reference`'s in each round: runs a minute apart at most,
            so a machine that drifts between rounds moves both sides of each ratio alike."""
            references = rounds_of(reference, "rate")
            if not references:  # (--bots-only)
                return []
            pairs = zip(rounds_of(target, "rate"), references, strict=True)
            return [round(rate / against, 3) for rate, against in pairs]

        def p99_against_first() -> list[float]:
            """The second bot's p99 less the first's, round by round (in the same way):
            --durability both compares the modes, same the benchmark's noise."""
            if len(bots) < 2 or not bots[1].name.startswith("bot"):
                return []
            pairs = zip(
                rounds_of(bots[1].name, "p99_ms"), rounds_of(bots[0].name, "p99_ms"), strict=True
            )
            return [round(second - first, 2) for second, first in pairs]

        def figures(name: str) -> dict[str, Any]:
            return {
                "rps": rounded(median(name, "rate")),
                "p50_ms": rounded(median(name, "p50_ms"), 2),
                "p99_ms": rounded(median(name, "p99_ms"), 2),
                "max_ms": rounded(median(name, "max_ms"), 2),
                "p99_ms_by_round": rounds_of(name, "p99_ms"),
                "max_ms_by_round": rounds_of(name, "max_ms"),
                "to_baseline": rounded(median(name, "rate") / median("baseline", "rate"), 3),
                "to_baseline_by_round": by_round(name, "baseline"),
                "non_2xx": sum(r.errors for r in results if r.target == name),
                # (NaN for two instances at once, measured together)
                "loop_cpu_us": rounded(median(name, "loop_cpu_us"), 1),
                "threads_cpu_us": rounded(median(name, "threads_cpu_us"), 1),
            }

        summary = {
            "mix": args.mix,
            "durability": args.durability,
            "fsync_ms": args.fsync_ms,
            "big_database": args.big,
            "rounds": args.rounds,
            "warm_up": args.warm_up,
            "connections": CONNECTIONS,
            "baseline_rps": rounded(median("baseline", "rate")),
            "floor_rps": rounded(median("floor", "rate")),
            "bot_rps": rounded(median("bot", "rate")),
            "bot_p50_ms": rounded(median("bot", "p50_ms"), 2),
            "bot_p99_ms": rounded(median("bot", "p99_ms"), 2),
            "bot_max_ms": rounded(median("bot", "max_ms"), 2),
            "floor_p99_ms": rounded(median("floor", "p99_ms"), 2),
            "bot_to_baseline": rounded(median("bot", "rate") / median("baseline", "rate"), 3),
            "bot_to_floor": rounded(median("bot", "rate") / median("floor", "rate"), 3),
            "bot_to_baseline_by_round": by_round("bot", "baseline"),
            "bot_to_baseline_paired": rounded(
                statistics.median(by_round("bot", "baseline") or [float("nan")]), 3
            ),
            "bot_to_floor_by_round": by_round("bot", "floor"),
            "bot_non_2xx": sum(r.errors for r in results if r.target == "bot"),
            "bot_requests": sum(r.requests for r in results if r.target == "bot"),
            "bots": {
                BOT_KEYS.get(target.name, target.durability)
                if target.name.startswith("bot")
                else target.name: figures(target.name)
                for target in bots
            },
            "p99_second_bot_minus_first_by_round": p99_against_first(),
            "wrapped": wrapped,
            "replaying": replaying,
            "accept_rps": round(accept.rate) if accept else None,
            "accept_p99_ms": round(accept.p99_ms, 2) if accept else None,
            "outbox_drain_per_s": round(drain_rate) if drain_rate is not None else None,
            "bot_rss_mb": round(rss, 1),
            "reservations_seen": len(reservations),
            "traces": {
                name: (path, [r.window for r in results if r.target == name.rsplit("-", 1)[0]])
                for name, path in traces.items()
            },
        }
        return summary
    finally:
        for proc in reversed(procs):
            proc.stop()
        if args.database:
            from bench.postgres import drop_database

            for name in ("pg", "pg_2x"):
                await drop_database(args.database, f"airtng_bench_{name}")
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"kept {folder}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median taken)")
    parser.add_argument(
        "--warm-up",
        type=int,
        default=1,
        help="runs each bot serves first, not counted (its WAL grown, its caches filled)",
    )
    parser.add_argument("--waves", type=int, default=20, help="waves of 500 guests per bot round")
    parser.add_argument("--duration", type=int, default=10, help="seconds per baseline/floor run")
    parser.add_argument(
        "--durability",
        choices=["normal", "full", "both", "same"],
        default="normal",
        help="both: a bot in each mode, side by side in every round; same: two bots in "
        "'normal' the same way (an A/A run: what the comparison's noise is)",
    )
    parser.add_argument(
        "--mix",
        choices=["booking", "browse"],
        default="booking",
        help="booking: 500 homes, guests booking and hosts answering; browse: 12 homes, "
        "6,000 guests a round browsing (issue 16)",
    )
    parser.add_argument(
        "--big",
        action="store_true",
        help="seed 1M messages, 100k reservations and conversations first",
    )
    parser.add_argument(
        "--drain", type=int, default=5000, help="messages queued for the drain test"
    )
    parser.add_argument(
        "--accepts", type=int, default=30_000, help="pending requests seeded for the accept run"
    )
    parser.add_argument(
        "--database",
        metavar="URL",
        help="also measure the bot on this PostgreSQL server (postgresql://user@host:port/db):"
        " one instance, and two instances each driven by its own wrk, each on a database the run"
        " makes there and drops after",
    )
    parser.add_argument(
        "--bots-only",
        action="store_true",
        help="leave out the baseline and the floor: the bots alone, for comparing them over"
        " many rounds in less time (no ratios to the baseline)",
    )
    parser.add_argument(
        "--fsync-ms",
        type=float,
        default=0,
        metavar="MS",
        help="hold each fsync/fdatasync of the bots this much longer (strace's fault injection):"
        " a disk that syncs as real disks do, where this machine's syncs in ~0.15 ms",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--profile", action="store_true", help="run the bot under py-spy (implies --keep)"
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="record each bot's timeline (bench/trace.py) and report what its slowest turns met"
        " (implies --keep)",
    )
    args = parser.parse_args()
    args.keep = args.keep or args.profile or args.trace
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is not installed (apt-get install wrk)")
    if args.fsync_ms and shutil.which("strace") is None:
        sys.exit("bench: --fsync-ms needs strace (apt-get install strace)")
    if args.fsync_ms and args.profile:  # (py-spy stops the server by ptrace, as strace does)
        sys.exit("bench: --fsync-ms and --profile cannot be combined: both trace the bot")
    summary = asyncio.run(bench(args))
    print()
    rows: list[tuple[str, Any, Any, Any]] = [
        ("baseline (bare aiohttp)", summary["baseline_rps"], "", 1.0),
        (
            "floor (sig+TwiML+cookie)",
            summary["floor_rps"],
            summary["floor_p99_ms"],
            summary["floor_rps"] / summary["baseline_rps"] if summary["baseline_rps"] else None,
        ),
        ("bot (full turns)", summary["bot_rps"], summary["bot_p99_ms"], summary["bot_to_baseline"]),
    ]
    names = {
        "normal": "bot, durability normal",
        "full": "bot, durability full",
        "normal-again": "bot again, normal (A/A)",
        "pg": "PostgreSQL, 1 instance",
        "pg-2x": "PostgreSQL, 2 instances",
    }
    if summary["durability"] in MODES:
        rows[2:] = [
            (names[mode], bot["rps"], bot["p99_ms"], bot["to_baseline"])
            for mode, bot in summary["bots"].items()
            if mode in ("normal", "full", "normal-again")
        ]
    rows += [
        (names[name], bot["rps"], bot["p99_ms"], bot["to_baseline"])
        for name, bot in summary["bots"].items()
        if name in ("pg", "pg-2x")
    ]
    if args.bots_only:
        rows[:2] = []
    print(f"{'':26}{'req/s':>10}{'p99 ms':>10}{'ratio':>8}")
    for name, rate, p99, ratio in rows:
        print(f"{name:26}{rate:>10}{p99:>10}" + (f"{ratio:>8.2f}" if ratio is not None else ""))
    for mode, bot in summary["bots"].items():
        rounds = ", ".join(f"{v:.1f}" for v in bot["p99_ms_by_round"])
        label = names[mode]
        print(
            f"{label}: p50 {bot['p50_ms']} ms, p99 {bot['p99_ms']} ms, max"
            f" {bot['max_ms']} ms; p99 by round {rounds}"
        )
    if summary["p99_second_bot_minus_first_by_round"]:
        differences = summary["p99_second_bot_minus_first_by_round"]
        second = list(summary["bots"])[1]
        print(
            f"p99, {names[second]} less {names[next(iter(summary['bots']))]}, round by round "
            + ", ".join(f"{d:+.2f}" for d in differences)
            + f" ms (median {statistics.median(differences):+.2f})"
        )
    if summary["bot_to_baseline_by_round"]:
        print(
            "bot / baseline round by round "
            + ", ".join(f"{ratio:.3f}" for ratio in summary["bot_to_baseline_by_round"])
            + f" (median {summary['bot_to_baseline_paired']:.3f})"
        )
    print(f"outbox drain {summary['outbox_drain_per_s']} msg/s, bot RSS {summary['bot_rss_mb']} MB")
    if summary["wrapped"]:
        print(f"NOT VALID: replayed files in {', '.join(summary['wrapped'])}; raise --waves")
    if summary["replaying"]:
        print(f"NOT VALID: retries answered instead of turns in {', '.join(summary['replaying'])}")
    if summary["traces"]:
        from bench.trace import report

        traces = summary.pop("traces")
        summary["trace_reports"] = {
            name: report(path, windows) | {"windows": windows}
            for name, (path, windows) in traces.items()
        }
        for name, found in summary["trace_reports"].items():
            print(f"what {name}'s slowest 1% of turns under wrk met ({traces[name][0]}):")
            print(json.dumps(found, indent=1))
    else:
        summary.pop("traces")
    print(json.dumps(summary))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
