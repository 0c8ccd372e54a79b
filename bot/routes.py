"""Which URL is served by which handler: nothing else lives here."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot import admin, probes, webhook
from bot.console.web import console_app
from bot.dev_twilio import DevTwilio
from bot.simulator.web import Simulator

STATIC = Path(__file__).parent / "static"


def setup_routes(
    app: web.Application, dev_twilio: DevTwilio | None, simulator: Simulator | None = None
) -> None:
    app.router.add_post("/sms", webhook.inbound_sms)
    app.router.add_post("/reservation/incoming", webhook.inbound_sms)  # the seed's route
    app.router.add_post("/sms/status", webhook.message_status)
    app.router.add_get("/healthz", webhook.healthz)
    app.router.add_get("/readyz", probes.readyz)
    app.router.add_get("/metrics", probes.metrics)
    app.add_subapp("/admin/api", admin.api_app())
    # The operator console's pages; /admin/api above is matched first and keeps its own auth.
    app.add_subapp("/admin", console_app())
    app.router.add_static("/static/", STATIC)
    # Pages name /static/favicon.svg; a client that asks for the old default path finds it too.
    app.router.add_get("/favicon.ico", favicon)
    if dev_twilio is not None:
        app.add_routes(dev_twilio.routes())
    if simulator is not None:
        simulator.setup(app)  # dev mode's phone simulator at / and /simulator


async def favicon(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "favicon.svg", headers={"Content-Type": "image/svg+xml"})
