"""The service as one aiohttp application, built by one factory.

    app = create_app(load_config(Path("config.toml")))
    web.run_app(app, host=..., port=...)

Everything with a lifetime (the database, the outbox worker, the expiry task) is opened and
closed by `_lifetime` in the app's cleanup context, inside `_owning_the_file` (the lock that
refuses a second process on the database file). The background work that sends (the outbox,
dev mode's status callbacks) stops earlier: gracefully, while the server still listens, when a
signal stops the service (bot/serving.py), and at the latest in `on_shutdown`: see `Background`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial

from aiohttp import web
from twilio.request_validator import RequestValidator

from bot.config import Config
from bot.demo import load_demo
from bot.dev_twilio import DevTwilio
from bot.expiry import run_expiry
from bot.metrics import Metrics
from bot.outbox import OutboxWorker, twilio_client
from bot.routes import setup_routes
from bot.search_index import MessageIndex
from bot.services import SERVICES, Services, utc_now
from bot.sessions import Sessions
from bot.simulator.web import Simulator
from bot.turns import TurnRunner, Turns
from bot.world import World
from storage import open_store
from storage.base import Store
from storage.lock import FileLock, Holder
from storage.queries import handled_sids, load_snapshot
from storage.sqlite import SqliteStore
from storage.writes import stamp

log = logging.getLogger(__name__)

DEV_PHONE_NUMBER = "+15550100000"
RECENT_SIDS = 10_000
# A whole Twilio webhook (1600 characters of Body, ten media URLs, location fields) is a few
# kilobytes; anything much larger is not Twilio.
MAX_REQUEST_BYTES = 64 * 1024
# How long a SIGTERM waits for requests in progress. Twilio gives up on a webhook after 15 s,
# so an answer later than that is never read; a turn takes milliseconds. (aiohttp's default
# is 60 s, longer than most service managers wait before a SIGKILL.)
SHUTDOWN_TIMEOUT_SECONDS = 15.0
SWITCH_INTERVAL_SECONDS = 0.0002  # how long a thread waiting for the GIL waits at most


class Background:
    """The service's background tasks and senders, stopped in aiohttp's `on_shutdown`.

    aiohttp stops a server in this order: stop listening, close idle connections, on_shutdown,
    wait for requests in progress (up to the shutdown timeout), on_cleanup. In dev mode the
    outbox and the status callbacks are requests to this same server; one that connected just
    as listening stopped can have its request dropped by aiohttp while its handler waits for it
    (aiohttp 3.14 ignores data on a connection it has begun closing), and the server then waits
    the whole timeout for a request that never comes. Stopping our own senders first closes
    their connections, which ends those handlers at once. Inbound turns still in progress
    keep the database until cleanup; what the outbox did not send stays queued in it.

    A stop by signal (bot/serving.py) comes before all this: while the server still listens,
    the outbox starts nothing more and lets the deliveries in flight finish and be recorded
    (in dev mode they are requests to this very server, which still answers them). What
    on_shutdown cancels is then only what outlived that, or everything when the app is stopped
    another way (a test's server, a failed start).
    """

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []
        self.closers: list[Callable[[], Awaitable[None]]] = []

    async def stop(self, app: web.Application | None = None) -> None:
        tasks, self.tasks = self.tasks, []
        closers, self.closers = self.closers, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for close in closers:
            await close()


BACKGROUND = web.AppKey("background", Background)


def create_app(
    config: Config,
    *,
    clock: Callable[[], datetime] = utc_now,
    printer: Callable[[str], None] = print,
) -> web.Application:
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    dev_twilio = DevTwilio("", "", printer) if config.dev_mode else None
    simulator = Simulator(config, dev_twilio) if dev_twilio is not None else None
    background = app[BACKGROUND] = Background()
    app.on_shutdown.append(background.stop)
    app.cleanup_ctx.append(partial(_owning_the_file, config))
    app.cleanup_ctx.append(partial(_lifetime, config, clock, printer, dev_twilio, background))
    setup_routes(app, dev_twilio, simulator)
    return app


async def effective_config(config: Config, store: Store) -> Config:
    """Dev mode makes its own credentials (kept in the store, so restarts keep them) and points
    the REST client at its own server."""
    if not config.dev_mode:
        return config
    twilio = replace(
        config.twilio,
        account_sid=await store.secret("dev_account_sid", lambda: "AC" + secrets.token_hex(16)),
        auth_token=await store.secret("dev_auth_token", lambda: secrets.token_hex(16)),
        phone_number=config.twilio.phone_number or DEV_PHONE_NUMBER,
        api_base_url=config.public_url,
    )
    admin_token = config.admin.token or await store.secret(
        "dev_admin_token", lambda: secrets.token_urlsafe(18)
    )
    return replace(config, twilio=twilio, admin=replace(config.admin, token=admin_token))


async def _owning_the_file(config: Config, app: web.Application) -> AsyncIterator[None]:
    """The first context entered and the last left: a second process on the database file is
    refused before anything touches the file (storage/lock.py), and the lock is let go only
    after the database is closed. A shared store (PostgreSQL) has no file to own: any number
    of instances serve it."""
    if config.database_url:
        yield
        return
    with FileLock.acquire(config.database_path, Holder.me(config.local_url)):
        yield


async def _lifetime(
    config: Config,
    clock: Callable[[], datetime],
    printer: Callable[[str], None],
    dev_twilio: DevTwilio | None,
    background: Background,
    app: web.Application,
) -> AsyncIterator[None]:
    store = await open_store(config)
    try:
        config = await effective_config(config, store)
        idle = timedelta(hours=config.session.idle_hours)
        secret = await store.secret("session_secret", lambda: secrets.token_hex(32))
    except BaseException:
        await store.close()
        raise
    sessions = Sessions(
        bytes.fromhex(secret),
        int(idle.total_seconds()),
        secure=config.public_url.startswith("https:"),
    )

    def opted_out(phone: str) -> bool:
        return turns.opted_out(phone)

    async def unsubscribed(phone: str) -> None:
        await turns.opt_out(phone)

    metrics = Metrics(config.instance)
    outbox = OutboxWorker(
        store,
        twilio_client(config),
        config,
        clock=clock,
        opted_out=opted_out,
        on_unsubscribed=unsubscribed,
        metrics=metrics,
    )
    turns: Turns
    try:
        if isinstance(store, SqliteStore):
            turns = await _memory_turns(store, config, sessions, idle, clock, outbox.wake)
        else:
            from bot.shared_turns import SharedTurnRunner
            from storage.postgres import PostgresStore

            assert isinstance(store, PostgresStore)
            turns = await SharedTurnRunner.start(store, config, sessions, idle, clock, outbox.wake)
        if config.dev_mode and not await turns.homes():
            await load_demo(turns, config.public_url, clock())
    except BaseException:
        # A start that fails leaves nothing open (a shared store's listener would keep the
        # process from ending).
        await outbox.close()
        await store.close()
        raise
    if dev_twilio is not None:
        dev_twilio.account_sid = config.twilio.account_sid
        dev_twilio.auth_token = config.twilio.auth_token
        dev_twilio.validator = RequestValidator(config.twilio.auth_token)
    search = MessageIndex(store)
    app[SERVICES] = Services(
        config=config,
        store=store,
        turns=turns,
        outbox=outbox,
        validator=RequestValidator(config.twilio.auth_token),
        admin_token=config.admin.token,
        search=search,
        metrics=metrics,
        clock=clock,
    )
    background.tasks = [
        asyncio.create_task(outbox.run(), name="outbox"),
        asyncio.create_task(search.run(), name="search-index"),
        asyncio.create_task(
            run_expiry(
                turns,
                timedelta(hours=config.booking.request_ttl_hours),
                config.twilio.phone_number,
                clock,
            ),
            name="expiry",
        ),
    ]
    background.closers = [outbox.close]
    if dev_twilio is not None:
        background.closers.append(dev_twilio.close)
    _announce(config, len([home for home in await turns.homes() if home.active]), printer)
    # Everything loaded so far lives as long as the process: keep the collector from walking
    # it again and again (the world holds many small objects; full collections cost p99).
    gc.collect()
    gc.freeze()
    # A turn allocates a few hundred short-lived objects: collecting the young generation every
    # 700 allocations (the default) runs the collector several times a turn for nothing.
    gc.set_threshold(50_000, 20, 20)
    # The database threads (storage/db.py) give up the GIL around each SQLite step and need it
    # back after; with the loop busy they wait for the switch interval, 5 ms by default, for
    # each of the few steps of a group commit, and every turn of the batch waits with them.
    # Under the benchmark (python -m bench.run): commits of 9.3 ms at 5 ms, 5.6 ms at 0.5 ms,
    # 5.0 ms at 0.2 ms; at 0.2 ms the bot ran at 0.187-0.21 of the baseline over three runs
    # against 0.192-0.194 at 0.5 ms (a small edge, within the machine's noise; no cost seen).
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    try:
        yield
    finally:
        await background.stop()  # already stopped by on_shutdown, unless startup failed
        await turns.close()
        await store.close()


async def _memory_turns(
    store: SqliteStore,
    config: Config,
    sessions: Sessions,
    idle: timedelta,
    clock: Callable[[], datetime],
    on_queued: Callable[[], None],
) -> TurnRunner:
    """The embedded store's turns: the world in memory, written through by group commit."""
    db = store.db
    snapshot = await db.read(load_snapshot, stamp(clock() - idle), RECENT_SIDS)
    turns = TurnRunner(
        db,
        World(snapshot, idle),
        sessions,
        max_nights=config.booking.max_nights,
        timezone=config.booking.timezone,
        same_day_until_hour=config.booking.same_day_until_hour,
        idle=idle,
        clock=clock,
        on_queued=on_queued,
        handled_sids=await db.read(handled_sids),
        recent_sids=RECENT_SIDS,
    )
    for sid, twiml in snapshot.handled:
        turns.handled.remember(sid, twiml)
    return turns


def _announce(config: Config, homes: int, printer: Callable[[str], None]) -> None:
    url = config.public_url
    if config.dev_mode:
        printer(
            f"Airtng by SMS, dev mode: {homes} homes, serving {url}\n"
            f"  Open {url}/ : the phone simulator, a guest and a host texting the bot.\n"
            f"  Bot number {config.twilio.phone_number}; texts it sends are printed here.\n"
            f"  Operator console: {url}/admin (sign in with the admin token below)\n"
            f"  Admin API: {url}/admin/api/reservations with the header\n"
            f"    Authorization: Bearer {config.admin.token}\n"
            f"  Or from a terminal: python run.py chat --from +15550001111"
        )
    else:
        printer(f"Airtng by SMS: serving {url}/sms for Twilio number {config.twilio.phone_number}")
        if not config.admin.token:
            log.warning("no [admin] token: the admin API refuses every request")
