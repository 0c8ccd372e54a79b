"""How fast the operator console's pages are with a million logged messages.

    python -m bench.console          # seeds 1M messages, 100k reservations and conversations

Starts `python run.py` on a seeded database, signs in with the admin token, and times every
page and filter (median of 5 loads each, over loopback); prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.run import (
    ADMIN_TOKEN,
    Proc,
    free_port,
    prepare_database,
    wait_http,
    write_config,
)

PAGES = [
    ("overview", "/admin"),
    ("conversations", "/admin/conversations"),
    ("conversations by phone", "/admin/conversations?phone=%28557%29%20000-0042"),
    ("conversations by words (common)", "/admin/conversations?q=LIST"),
    ("conversations by words (rare)", "/admin/conversations?q=Malibu"),
    ("conversations by state", "/admin/conversations?state=start"),
    ("conversations by dates", "/admin/conversations?since=2026-01-01&until=2026-12-31"),
    ("conversations page 100", "/admin/conversations?page=100"),
    ("transcript", "/admin/conversations/42"),
    ("reservations", "/admin/reservations"),
    ("reservations by status", "/admin/reservations?status=expired"),
    ("reservations by home", "/admin/reservations?home=7"),
    ("reservation history", "/admin/reservations/42"),
    ("outbox", "/admin/outbox?show=all"),
]


async def measure(url: str, repeat: int) -> dict[str, float]:
    timings: dict[str, float] = {}
    # unsafe=True: aiohttp keeps no cookies from an IP-address host (127.0.0.1) otherwise.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.post(
            url + "/admin/login", data={"token": ADMIN_TOKEN, "next": "/admin"}
        ) as response:
            assert response.status in (200, 303), response.status
        for name, path in PAGES:
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                async with session.get(url + path) as response:
                    await response.read()
                    assert response.status == 200, (path, response.status)
                    assert response.url.path != "/admin/login", "not signed in"
                samples.append((time.perf_counter() - started) * 1000)
            timings[name] = round(statistics.median(samples), 1)
    return timings


async def run(args: argparse.Namespace) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="airtng-console-"))
    bot: Proc | None = None
    try:
        port = free_port()
        config = write_config(folder, port, free_port(), "normal")
        await prepare_database(config, True, 0)
        bot = Proc.start(
            "bot", [sys.executable, "run.py", "--config", str(config)], folder / "bot.log"
        )
        url = f"http://127.0.0.1:{port}"
        await wait_http(url + "/healthz", timeout=120)
        return await measure(url, args.repeat)
    finally:
        if bot is not None:
            bot.stop()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5)
    timings = asyncio.run(run(parser.parse_args()))
    for name, ms in timings.items():
        print(f"{name:36}{ms:>8} ms")
    slowest = max(timings, key=lambda name: timings[name])
    print(f"slowest: {slowest} ({timings[slowest]} ms)")
    print(json.dumps({"pages_ms": timings, "slowest": slowest}))


if __name__ == "__main__":
    main()
