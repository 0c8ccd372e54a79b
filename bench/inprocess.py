"""The benchmark's workload run inside one process, without HTTP: what a turn costs the bot
itself, for profiling (the wrk benchmark, bench/run.py, is the measure that counts).

    python -m bench.inprocess                 # microseconds of CPU per turn, by command
    python -m bench.inprocess --profile       # and the top of a cProfile, by cumulative time
    python -m bench.inprocess --database postgresql://postgres@127.0.0.1:5432/postgres
                                              # on PostgreSQL: round trips, where the time goes

Each request line is handled as bot/webhook.py handles it (form parsed, signature validated,
cookie read, the turn run, the Set-Cookie header made) by 64 concurrent workers, so turns
group-commit as they do under load. The Twilio REST stand-in runs as its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import shutil
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from bench.postgres import create_database, drop_database, seed_homes, server_usage, where_time_goes
from bench.run import (
    CONNECTIONS,
    HOMES,
    Workload,
    free_port,
    guest_phone,
    host_phone,
    prepare_database,
    start_twilio_api,
    write_config,
)
from bot.app import create_app
from bot.config import load_config
from bot.services import SERVICES, Services
from bot.webhook import read_inbound
from storage.postgres import PostgresStore
from storage.sqlite import SqliteStore

Line = tuple[str, str, str]
DATABASE_NAME = "airtng_bench_inprocess"  # signature, cookie header, url-encoded form


def _command(body: str) -> str:
    word = body.split(" ", 1)[0].upper()
    return word if word.isalpha() and len(word) <= 8 else "(text)"


async def handle(services: Services, url: str, line: Line) -> str | None:
    """What inbound_sms does, minus aiohttp: returns the cookie set, if any."""
    started = time.perf_counter()
    signature, cookie, encoded = line
    form = MultiDictProxy(MultiDict(parse_qsl(encoded, keep_blank_values=True)))
    if not services.validator.validate(url, form, signature):
        raise RuntimeError("signature refused")
    sms = read_inbound(form)
    sessions = services.turns.sessions
    answer = await services.turns.run(sms, sessions.read(cookie or None))
    header = sessions.set_cookie_header(answer.cookie) if answer.cookie else None
    services.metrics.turn(answer, time.perf_counter() - started)
    return header


async def main_async(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="airtng-inprocess-"))
    api = None
    runner = None
    try:
        api_port, bot_port = free_port(), free_port()
        api = await start_twilio_api(api_port, folder)
        database_url = ""
        if args.database:
            database_url = await create_database(args.database, DATABASE_NAME)
            await seed_homes(database_url, HOMES, f"http://127.0.0.1:{bot_port}", host_phone)
        config_path = write_config(folder, bot_port, api_port, args.durability, database_url)
        if not database_url:
            await prepare_database(config_path, False, 0)
        app = create_app(load_config(config_path), printer=lambda _: None)
        runner = web.AppRunner(app)
        await runner.setup()
        services = app[SERVICES]
        public_url = services.config.public_url
        url = public_url + "/sms"
        workload = Workload(public_url)

        async def run_lines(lines: list[Line]) -> dict[str, list[float]]:
            queue = list(reversed(lines))
            spent: dict[str, list[float]] = defaultdict(list)

            async def worker() -> None:
                while queue:
                    line = queue.pop()
                    started = time.perf_counter()
                    await handle(services, url, line)
                    body = dict(parse_qsl(line[2]))["Body"]
                    spent[_command(body)].append(time.perf_counter() - started)

            await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
            return spent

        # Warm every phone's cookie, as the wrk benchmark does.
        phones = [guest_phone(w, i) for w in range(args.waves) for i in range(HOMES)]
        phones += [host_phone(k) for k in range(HOMES)]
        for phone in phones:
            form = workload.form(phone, "hi")
            signature = workload.validator.compute_signature(url, form)
            header = await handle(services, url, (signature, "", urlencode(form)))
            if header:
                workload.cookies[phone] = header.split(";", 1)[0]
        text = workload.waves(0, args.waves, date.today())
        lines: list[Line] = [tuple(line.split("\t", 2)) for line in text]  # type: ignore[misc]

        store = services.store
        profiler = cProfile.Profile() if args.profile else None
        if isinstance(store, PostgresStore):
            store.turn_timings.clear()
            turns_before, server_before = store.turns_run, await server_usage(database_url)
        cpu, wall = time.thread_time(), time.perf_counter()
        process = time.process_time()
        if profiler:
            profiler.enable()
        spent = await run_lines(lines)
        if isinstance(store, SqliteStore):
            await store.db.flush()
        if profiler:
            profiler.disable()
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        process = time.process_time() - process
        n = len(lines)
        print(
            f"{n} turns in {wall:.2f} s: {n / wall:.0f} turns/s;"
            f" event-loop thread CPU {cpu / n * 1e6:.0f} us/turn,"
            f" whole process {process / n * 1e6:.0f} us/turn",
            end="",
        )
        if isinstance(store, SqliteStore):
            print(f" ({store.db.commits} commits, {store.db.replays} replayed turn by turn)")
        elif isinstance(store, PostgresStore):
            turns = store.turns_run - turns_before
            server = await server_usage(database_url) - server_before
            trips = sum(count for count, _ in store.turn_timings.values())
            print(
                f"\nPostgreSQL: {trips / turns:.2f} round trips a turn; server CPU"
                f" {server.cpu_seconds / turns * 1e6:.0f} us a turn;"
                f" {server.transactions / turns:.2f} commits and"
                f" {server.wal_syncs / turns:.3f} WAL flushes a turn"
                f" ({server.transactions / max(server.wal_syncs, 1):.1f} commits a flush)"
            )
            print("\n".join(where_time_goes(store.turn_timings, turns)))
        for command, times in sorted(spent.items(), key=lambda kv: -len(kv[1])):
            median = sorted(times)[len(times) // 2] * 1e3
            print(f"  {command:8} {len(times):6}  median latency {median:6.2f} ms")
        if profiler:
            stats = pstats.Stats(profiler)
            stats.sort_stats(args.sort).print_stats(args.top)
    finally:
        if runner is not None:
            await runner.cleanup()
        if api is not None:
            api.stop()
        if args.database:
            await drop_database(args.database, DATABASE_NAME)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--waves", type=int, default=2, help="waves of 500 guests")
    parser.add_argument("--durability", choices=["normal", "full"], default="normal")
    parser.add_argument(
        "--database",
        metavar="URL",
        help="a PostgreSQL server (postgresql://user@host:port/db) to run on instead of SQLite;"
        f" the run makes its own database there ({DATABASE_NAME}) and drops it after",
    )
    parser.add_argument("--profile", action="store_true", help="print a cProfile")
    parser.add_argument("--sort", default="tottime", help="cProfile sort key")
    parser.add_argument("--top", type=int, default=40, help="cProfile rows")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
