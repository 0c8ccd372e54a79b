"""The long-lived objects of a running service, shared by the handlers under one typed key.

services = request.app[SERVICES]
await services.turns.run(sms, cookie)
await services.store.admin_outbox(None, 100, 0)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web
from twilio.request_validator import RequestValidator

from bot.config import Config
from bot.metrics import Metrics
from bot.outbox import OutboxWorker
from bot.search_index import MessageIndex
from bot.turns import Turns
from storage.base import Store


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    config: Config
    store: Store
    turns: Turns
    outbox: OutboxWorker
    validator: RequestValidator
    admin_token: str
    search: MessageIndex
    metrics: Metrics
    clock: Callable[[], datetime] = field(default=utc_now)
    # Set on SIGTERM (bot/serving.py): /readyz answers 503 and webhooks close their connection.
    stopping: bool = False


SERVICES = web.AppKey("services", Services)
