"""The benchmark: whole conversations through the real server, against the baseline and the
protocol floor measured in the same run.

    python -m bench.run                       # ~3 minutes; prints a table and one JSON line
    python -m bench.run --big --durability full --rounds 2

It starts the local Twilio REST stand-in (tests/twilio_api.py) and `python run.py` on a fresh
database with 500 hosts' homes, warms up every phone's session cookie, then replays pre-signed
webhooks with wrk (one request file per bot round: guests listing, viewing, booking with dates,
messages and names, MY, unknown text, a replayed MessageSid; hosts asking REQUESTS and accepting
or rejecting). Each round also runs the same wrk over the same requests against a bare aiohttp
app (the baseline) and the protocol floor (signature + MessagingResponse + cookie), interleaved.
Finally it measures the outbox drain rate and the server's resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
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
HOMES = 500
CONNECTIONS = 64


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

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
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
        self.counter = 0

    def form(self, phone: str, body: str) -> dict[str, str]:
        self.counter += 1
        sid = f"SM{self.counter:032x}"
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


# -- wrk --------------------------------------------------------------------------------------


@dataclass
class Result:
    target: str
    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    wrapped: bool
    round: int = 0  # which interleaved round (bench), counted from 0


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
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors_match = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(errors_match.group(1)) if errors_match else 0
    wrapped = "WRAPPED 0" not in out
    return Result(target, rate, p50, p99, total, errors, wrapped)


# -- the run ----------------------------------------------------------------------------------


def write_config(folder: Path, port: int, api_port: int, durability: str) -> Path:
    path = folder / "config.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
public_url = "http://127.0.0.1:{port}"
[storage]
path = "{folder / "bench.db"}"
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
    config_path: Path, big: bool, outbox: int, pending_per_home: int = 0
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
        for k in range(HOMES):
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


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="airtng-bench-"))
    procs: list[Proc] = []
    try:
        api_port, bot_port, bare_port, floor_port = (free_port() for _ in range(4))
        api_url = f"http://127.0.0.1:{api_port}"
        procs.append(await start_twilio_api(api_port, folder))
        config = write_config(folder, bot_port, api_port, args.durability)
        public_url = f"http://127.0.0.1:{bot_port}"
        await prepare_database(config, args.big, 0)
        command = [sys.executable, "run.py", "--config", str(config)]
        if args.profile:
            # py-spy samples the server while it serves; collapsed stacks land beside the logs.
            profile = folder / "profile.txt"
            command = [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--format",
                "raw",
                "--gil",  # only the thread holding the GIL: where the one core goes
                "-o",
                str(profile),
                "--",
                *command,
            ]
        bot = Proc.start("bot", command, folder / "bot.log")
        procs.append(bot)
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
                    public_url,
                    "--auth-token",
                    AUTH_TOKEN,
                ],
                folder / "floor.log",
            )
        )
        for url in (
            public_url + "/healthz",
            f"http://127.0.0.1:{bare_port}/",
            f"http://127.0.0.1:{floor_port}/",
        ):
            await wait_http(url)

        workload = Workload(public_url)
        today = date.today()
        results: list[Result] = []
        for round_ in range(args.rounds):
            waves = range(round_ * args.waves, (round_ + 1) * args.waves)
            phones = [guest_phone(w, i) for w in waves for i in range(HOMES)]
            if round_ == 0:
                phones += [host_phone(k) for k in range(HOMES)]
            await workload.warm_up(phones)
            request_file = folder / f"round{round_}.txt"
            request_file.write_text(
                "\n".join(workload.waves(waves.start, args.waves, today)) + "\n"
            )
            for target, url in (
                ("baseline", f"http://127.0.0.1:{bare_port}"),
                ("bot", public_url),
                ("floor", f"http://127.0.0.1:{floor_port}"),
            ):
                result = replace(run_wrk(target, url, request_file, args.duration), round=round_)
                if target == "bot" and result.wrapped:
                    print("warning: the bot answered every request in the file; raise --waves")
                results.append(result)
                print(
                    f"round {round_ + 1} {target:8} {result.rate:9.0f} req/s"
                    f"  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
                    f"  ({result.requests} requests, {result.errors} non-2xx)",
                    flush=True,
                )

        rss = bot.rss_mb()
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                public_url + "/admin/api/reservations?limit=1000",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            ) as r,
        ):
            reservations = await r.json()

        async def restart_bot(log: str, **seed: Any) -> tuple[Proc, list[tuple[int, int]]]:
            """Stop the bot, seed the database while nobody holds it in memory, start again."""
            bot.stop()
            procs.remove(bot)
            seeded = await prepare_database(config, False, **seed)
            started = Proc.start(
                "bot", [sys.executable, "run.py", "--config", str(config)], folder / log
            )
            procs.append(started)
            await wait_http(public_url + "/healthz")
            return started, seeded

        # The host-accept path alone: hosts accepting seeded pending requests by reference.
        bot, pending = await restart_bot(
            "bot-accept.log", outbox=0, pending_per_home=args.accepts // HOMES
        )
        accept_file = folder / "accept.txt"
        accept_file.write_text(
            "\n".join(
                workload.line(
                    host_phone(home - 1), workload.form(host_phone(home - 1), f"ACCEPT {rid}")
                )
                for rid, home in pending
            )
            + "\n"
        )
        accept = run_wrk("accept", public_url, accept_file, args.duration)
        print(
            f"host-accept path {accept.rate:9.0f} req/s  p50 {accept.p50_ms:6.2f} ms"
            f"  p99 {accept.p99_ms:6.2f} ms  ({accept.requests} requests, {accept.errors} non-2xx)"
            + ("  WRAPPED: raise --accepts" if accept.wrapped else ""),
            flush=True,
        )
        # The outbox drain: queue many messages while the bot is stopped, count deliveries.
        before = await api_count(api_url)
        bot, _ = await restart_bot("bot-drain.log", outbox=args.drain)
        drain_rate = await measure_drain(api_url, before, args.drain)

        def median(target: str, field: str) -> float:
            return statistics.median(getattr(r, field) for r in results if r.target == target)

        def by_round(target: str, reference: str) -> list[float]:
            """`target`'s rate over `reference`'s in each round: runs a minute apart at most,
            so a machine that drifts between rounds moves both sides of each ratio alike."""
            rates = {(r.round, r.target): r.rate for r in results}
            return [round(rates[k, target] / rates[k, reference], 3) for k in range(args.rounds)]

        summary = {
            "durability": args.durability,
            "big_database": args.big,
            "rounds": args.rounds,
            "connections": CONNECTIONS,
            "baseline_rps": round(median("baseline", "rate")),
            "floor_rps": round(median("floor", "rate")),
            "bot_rps": round(median("bot", "rate")),
            "bot_p50_ms": round(median("bot", "p50_ms"), 2),
            "bot_p99_ms": round(median("bot", "p99_ms"), 2),
            "floor_p99_ms": round(median("floor", "p99_ms"), 2),
            "bot_to_baseline": round(median("bot", "rate") / median("baseline", "rate"), 3),
            "bot_to_floor": round(median("bot", "rate") / median("floor", "rate"), 3),
            "bot_to_baseline_by_round": by_round("bot", "baseline"),
            "bot_to_baseline_paired": statistics.median(by_round("bot", "baseline")),
            "bot_to_floor_by_round": by_round("bot", "floor"),
            "bot_non_2xx": sum(r.errors for r in results if r.target == "bot"),
            "bot_requests": sum(r.requests for r in results if r.target == "bot"),
            "accept_rps": round(accept.rate),
            "accept_p99_ms": round(accept.p99_ms, 2),
            "outbox_drain_per_s": round(drain_rate),
            "bot_rss_mb": round(rss, 1),
            "reservations_seen": len(reservations),
        }
        return summary
    finally:
        for proc in reversed(procs):
            proc.stop()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"kept {folder}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median taken)")
    parser.add_argument("--waves", type=int, default=6, help="waves of 500 guests per bot round")
    parser.add_argument("--duration", type=int, default=10, help="seconds per baseline/floor run")
    parser.add_argument("--durability", choices=["normal", "full"], default="normal")
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
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--profile", action="store_true", help="run the bot under py-spy (implies --keep)"
    )
    args = parser.parse_args()
    args.keep = args.keep or args.profile
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is not installed (apt-get install wrk)")
    summary = asyncio.run(bench(args))
    print()
    rows = [
        ("baseline (bare aiohttp)", summary["baseline_rps"], "", 1.0),
        (
            "floor (sig+TwiML+cookie)",
            summary["floor_rps"],
            summary["floor_p99_ms"],
            summary["floor_rps"] / summary["baseline_rps"],
        ),
        ("bot (full turns)", summary["bot_rps"], summary["bot_p99_ms"], summary["bot_to_baseline"]),
    ]
    print(f"{'':26}{'req/s':>10}{'p99 ms':>10}{'ratio':>8}")
    for name, rate, p99, ratio in rows:
        print(f"{name:26}{rate:>10}{p99:>10}{ratio:>8.2f}")
    print(
        "bot / baseline round by round "
        + ", ".join(f"{ratio:.3f}" for ratio in summary["bot_to_baseline_by_round"])
        + f" (median {summary['bot_to_baseline_paired']:.3f})"
    )
    print(f"outbox drain {summary['outbox_drain_per_s']} msg/s, bot RSS {summary['bot_rss_mb']} MB")
    print(json.dumps(summary))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
