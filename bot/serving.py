"""Serving the app until a signal, and stopping without failing a turn or losing a send.

    sys.exit(serve(load_config(Path("config.toml"))))      # python run.py

On SIGTERM (a service manager, a rolling deploy), in this order:
1. /readyz answers 503 at once, so a balancer that checks it sends nothing more here.
2. For `[server] drain_seconds` everything that still arrives is served as usual (nothing is
   refused: a refused webhook is an error at Twilio); each webhook's answer closes its
   connection, so the sender's next request opens a new one, through the balancer elsewhere.
3. The outbox starts no more deliveries and lets those posted to Twilio finish and be recorded
   (bot/outbox.py `stop`), while the server still listens (in dev mode they are requests to it).
4. Listening stops: a new connection is refused, which a balancer retries elsewhere (and
   Twilio retries a webhook it could not connect for). Connections accepted just before get a
   moment for their requests to be read and served; then aiohttp closes idle connections,
   waits for the turns in progress (SHUTDOWN_TIMEOUT_SECONDS at most), the database is closed
   and the file lock released.
SIGINT (Ctrl-C) and dev mode (one process, no balancer) skip the drain; a second signal cuts
it short.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable

from aiohttp import web

from bot.app import SHUTDOWN_TIMEOUT_SECONDS, create_app
from bot.config import Config
from bot.services import SERVICES
from storage.lock import InUse

# Connections accepted just before listening stopped, whose requests were not read yet, would
# be closed as idle (a webhook lost at the door: under a direct load, 5 of 8 senders' last
# ones). A loopback or LAN request arrives well within this.
ACCEPTED_GRACE_SECONDS = 0.1


def serve(config: Config, printer: Callable[[str], None] = print) -> int:
    """Serve until SIGTERM or SIGINT; 0 after a clean stop, 1 (and one line) if it can't start."""
    try:
        asyncio.run(_serve(config, printer))
    except (InUse, CannotListen) as error:
        print(f"run.py: {error}", file=sys.stderr)
        return 1
    return 0


class CannotListen(RuntimeError):
    """The port is taken, or the address is not this machine's."""


async def _serve(config: Config, printer: Callable[[str], None]) -> None:
    app = create_app(config, printer=printer)
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS
    )
    try:
        await runner.setup()  # (a failed start is cleaned up too: the file's lock let go)
        site = web.TCPSite(runner, config.server.host, config.server.port)
        try:
            await site.start()
        except OSError as error:
            where = f"{config.server.host}:{config.server.port}"
            raise CannotListen(f"cannot serve on {where}: {error.strerror or error}") from None
        signals = Signals()
        first = await signals.next()
        services = app[SERVICES]
        services.stopping = True
        drain = 0.0 if first == signal.SIGINT or config.dev_mode else config.server.drain_seconds
        if drain:
            await signals.next(timeout=drain)
        await services.outbox.stop(timeout=SHUTDOWN_TIMEOUT_SECONDS)
        await site.stop()
        # Connections accepted just before listening stopped: let their requests be read, so
        # they are served instead of closed as idle by the cleanup below.
        await asyncio.sleep(ACCEPTED_GRACE_SECONDS)
    finally:
        await runner.cleanup()


class Signals:
    """SIGTERM and SIGINT as awaitable events, instead of Python's default handlers."""

    STOP = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self._queue: asyncio.Queue[signal.Signals] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        for number in self.STOP:
            loop.add_signal_handler(number, self._queue.put_nowait, number)

    async def next(self, timeout: float | None = None) -> signal.Signals | None:
        """The next signal, or None after `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout):
                return await self._queue.get()
        except TimeoutError:
            return None
