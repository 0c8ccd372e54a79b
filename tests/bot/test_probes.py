"""GET /readyz and GET /metrics (issue 15 item 4) through the real app: readiness from the store
and the stop, and the figures turns, deliveries and the outbox leave, read back with
prometheus-client's own parser as Prometheus would scrape them.
"""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.config import MetricsConfig
from conversations import texts
from storage.postgres.schema import MIGRATIONS as PG_MIGRATIONS
from storage.schema import MIGRATIONS
from tests.bot.test_webhook import (
    GUEST,
    GUEST_B,
    HOST,
    Restarted,
    bot_that_stops_cleanly,  # noqa: F401  (the `bot` fixture)
    eventually,
    outbox_rows,
    request_stay,
)
from tests.conftest import ADMIN_TOKEN, Bot, Clock
from tests.twilio_api import TwilioAPI

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def get(bot: Bot, path: str, **headers: str) -> tuple[int, Any, dict[str, str]]:
    async with bot.session.get(bot.url + path, headers=headers) as response:
        body = await (response.json() if path == "/readyz" else response.text())
        return response.status, body, dict(response.headers)


async def scrape(bot: Bot, **headers: str) -> Samples:
    status, text, response_headers = await get(bot, "/metrics", **headers)
    assert status == 200, text
    assert response_headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The one sample of `name` with these labels (the instance label included)."""
    matches = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    assert len(matches) == 1, (name, labels, matches)
    return matches[0]


def instance(bot: Bot) -> str:
    return f"{socket.gethostname()}:{bot.config.server.port}"


async def set_schema_version(bot: Bot, version: int) -> None:
    """What newer code's migration does to the store: another connection, another version."""
    if bot.config.database_url:
        conn = await asyncpg.connect(bot.config.database_url)
        try:
            await conn.execute("DELETE FROM schema_version WHERE version > $1", version)
            await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
        finally:
            await conn.close()
        return
    conn = sqlite3.connect(bot.config.database_path)
    try:
        conn.execute(f"PRAGMA user_version = {version}")
    finally:
        conn.close()


# -- readiness ------------------------------------------------------------------------------


async def test_ready_when_the_store_answers_at_this_schema(bot: Bot) -> None:
    status, body, headers = await get(bot, "/readyz")
    assert (status, body) == (200, {"ready": True})
    assert headers.get("Connection") != "close"


async def test_not_ready_once_newer_code_migrated_the_file(bot: Bot) -> None:
    # A rolling deploy whose new version migrated the database: the old instance must take
    # no more turns, though it is alive.
    ours = len(PG_MIGRATIONS) if bot.config.database_url else len(MIGRATIONS)
    await set_schema_version(bot, ours + 1)
    status, body, _ = await get(bot, "/readyz")
    assert status == 503
    assert body == {
        "ready": False,
        "reason": f"the database is at schema version {ours + 1}, newer than this code's {ours}",
    }
    assert (await get(bot, "/healthz"))[0] == 200
    await set_schema_version(bot, ours)
    assert (await get(bot, "/readyz"))[0] == 200


# -- metrics ----------------------------------------------------------------------------------


@pytest.mark.sqlite_only  # a turn refused by its file moving under it (PostgreSQL re-decides)
async def test_turns_are_counted_by_outcome_with_their_latency(bot: Bot) -> None:
    guest = bot.phone(GUEST)
    form = guest.form("LIST")
    assert (await guest.send(form)).status == 200  # answered
    assert (await guest.send(form)).status == 200  # the same MessageSid again: replayed
    forged = await guest.send(guest.form("LIST"), {"X-Twilio-Signature": "Zm9yZ2Vk"})
    assert forged.status == 403
    # The file moves under the process (another writer bumped the conversation): the turn's
    # guarded write changes nothing, so it is refused and the guest gets the apology.
    conn = sqlite3.connect(bot.config.database_path)
    with conn:
        conn.execute("UPDATE conversations SET version = version + 1")
    conn.close()
    failed = await guest.send(guest.form("MY"))
    assert failed.status == 200 and failed.replies[0].body == texts.APOLOGY

    samples = await scrape(bot)
    me = instance(bot)
    assert value(samples, "airtng_turns_total", instance=me, outcome="answered") == 1
    assert value(samples, "airtng_turns_total", instance=me, outcome="replayed") == 1
    assert value(samples, "airtng_turns_total", instance=me, outcome="failed") == 1
    assert value(samples, "airtng_webhooks_refused_total", instance=me, status="403") == 1
    assert value(samples, "airtng_turn_seconds_count", instance=me) == 3
    assert value(samples, "airtng_turn_seconds_bucket", instance=me, le="+Inf") == 3
    assert 0 < value(samples, "airtng_turn_seconds_sum", instance=me) < 15
    # Memory was rebuilt from the file: the next turn is answered again.
    assert (await guest.send(guest.form("MY"))).status == 200
    samples = await scrape(bot)
    assert value(samples, "airtng_turns_total", instance=me, outcome="answered") == 2


@pytest.mark.postgresql_only
async def test_a_turn_the_shared_store_refuses_is_counted_as_failed(bot: Bot) -> None:
    """The same count on PostgreSQL: a turn whose writes the database refuses (here a trigger
    that refuses every logged message, as a full disk or a broken constraint would) gets the
    apology, changes nothing, and is counted failed, not answered."""
    guest = bot.phone(GUEST)
    assert (await guest.send(guest.form("LIST"))).status == 200
    conn = await asyncpg.connect(bot.config.database_url)
    try:
        await conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
            " $$BEGIN RAISE EXCEPTION 'refused by the test'; END$$;"
            " CREATE TRIGGER refuse BEFORE INSERT ON messages EXECUTE FUNCTION refuse()"
        )
        failed = await guest.send(guest.form("MY"))
        assert failed.status == 200 and failed.replies[0].body == texts.APOLOGY
        await conn.execute("DROP TRIGGER refuse ON messages; DROP FUNCTION refuse()")
    finally:
        await conn.close()
    assert (await guest.send(guest.form("MY"))).status == 200
    samples = await scrape(bot)
    me = instance(bot)
    assert value(samples, "airtng_turns_total", instance=me, outcome="answered") == 2
    assert value(samples, "airtng_turns_total", instance=me, outcome="failed") == 1


async def test_deliveries_are_counted_by_outcome_and_twilio_error_code(bot: Bot) -> None:
    bot.twilio.fail_next(1, "500", to=HOST)
    await bot.add_home(HOST, "Beach House")
    await request_stay(bot, bot.phone(GUEST))
    await eventually(lambda: outbox_rows(bot, HOST), lambda rows: rows[0]["status"] == "delivered")
    bot.twilio.fail_next(1, "21211", to=HOST)
    await request_stay(bot, bot.phone(GUEST_B), start=60)
    await eventually(
        lambda: outbox_rows(bot, HOST),
        lambda rows: sorted(r["status"] for r in rows) == ["delivered", "failed"],
    )
    samples = await scrape(bot)
    me = instance(bot)

    def deliveries(outcome: str, code: str = "") -> float:
        return value(
            samples, "airtng_outbox_deliveries_total", instance=me, outcome=outcome, code=code
        )

    assert deliveries("retried", "20500") == 1  # Twilio's 500 carries its code 20500
    assert deliveries("sent") == 1
    assert deliveries("delivered") == 1  # from the stand-in's status callback
    assert deliveries("refused", "21211") == 1
    assert value(samples, "airtng_outbox_depth", instance=me, status="queued") == 0
    assert value(samples, "airtng_outbox_in_flight", instance=me) == 0


async def test_the_outbox_backlog_and_its_oldest_row_are_read_when_scraped(
    bot: Bot, clock: Clock
) -> None:
    bot.twilio.fail_for(3600, "503", to=HOST)  # Twilio is down for the host's notification
    await bot.add_home(HOST, "Beach House")
    await request_stay(bot, bot.phone(GUEST))
    await eventually(lambda: outbox_rows(bot, HOST), lambda rows: rows[0]["attempts"] >= 2)
    clock.advance(minutes=10)
    samples = await scrape(bot)
    me = instance(bot)
    waiting = sum(
        value(samples, "airtng_outbox_depth", instance=me, status=status)
        for status in ("queued", "sending")
    )
    assert waiting == 1
    assert 600 <= value(samples, "airtng_outbox_oldest_age_seconds", instance=me) < 700
    assert value(samples, "airtng_outbox_deliveries_total", instance=me, outcome="retried") >= 1
    bot.twilio.clear_faults()
    await bot.drained()
    samples = await scrape(bot)
    assert value(samples, "airtng_outbox_depth", instance=me, status="queued") == 0
    assert value(samples, "airtng_outbox_depth", instance=me, status="sending") == 0
    assert value(samples, "airtng_outbox_oldest_age_seconds", instance=me) == 0


async def test_metrics_take_their_own_token_and_instance_when_configured(
    tmp_path: Path, twilio_api: TwilioAPI, clock: Clock
) -> None:
    metrics = MetricsConfig(instance="web-7", token="scrape-secret")
    async with Restarted(tmp_path, twilio_api, clock, metrics=metrics) as bot:
        for headers in ({}, {"Authorization": f"Bearer {ADMIN_TOKEN}"}):
            status, _, _ = await get(bot, "/metrics", **headers)
            assert status == 401  # the admin token opens the console, not this
        samples = await scrape(bot, Authorization="Bearer scrape-secret")
        assert value(samples, "airtng_turns_total", instance="web-7", outcome="answered") == 0
        assert value(samples, "process_cpu_seconds_total") > 0
        # A scraper that asks for OpenMetrics gets it.
        accept = "application/openmetrics-text; version=1.0.0"
        status, text, headers = await get(
            bot, "/metrics", Authorization="Bearer scrape-secret", Accept=accept
        )
        assert status == 200 and text.endswith("# EOF\n")
        assert headers["Content-Type"].startswith("application/openmetrics-text")
        # Readiness and liveness stay open: a balancer has no token.
        assert (await get(bot, "/readyz"))[0] == 200
