"""Which URL is served by which handler: nothing else lives here."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot import admin, webhook
from bot.dev_twilio import DevTwilio

STATIC = Path(__file__).parent / "static"


def setup_routes(app: web.Application, dev_twilio: DevTwilio | None) -> None:
    app.router.add_post("/sms", webhook.inbound_sms)
    app.router.add_post("/reservation/incoming", webhook.inbound_sms)  # the seed's route
    app.router.add_post("/sms/status", webhook.message_status)
    app.router.add_get("/healthz", webhook.healthz)
    app.router.add_get("/admin/api/reservations", admin.reservations)
    app.router.add_get("/admin/api/conversations", admin.conversations)
    app.router.add_get("/admin/api/outbox", admin.outbox)
    app.router.add_get("/admin/api/properties", admin.properties)
    app.router.add_post("/admin/api/properties", admin.add_property)
    app.router.add_post("/admin/api/demo", admin.load_demo_homes)
    app.router.add_static("/static/", STATIC)
    if dev_twilio is not None:
        app.add_routes(dev_twilio.routes())
