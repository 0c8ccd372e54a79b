"""What a balancer and a metrics scraper ask a running instance (GET /healthz is in
bot/webhook.py: alive, nothing more).

    GET /readyz    200 {"ready": true}, or 503 {"ready": false, "reason": "..."}: route turns here?
    GET /metrics   Prometheus text format (bot/metrics.py)
"""

from __future__ import annotations

from aiohttp import web

from bot.admin import bearer_matches
from bot.services import SERVICES


async def readyz(request: web.Request) -> web.Response:
    """200 only when this instance should get turns: not stopping, and its store answers at
    this code's schema. A balancer that checks it takes a stopping instance out at once."""
    services = request.app[SERVICES]
    reason = "shutting down" if services.stopping else await services.store.check()
    if reason is None:
        return web.json_response({"ready": True})
    response = web.json_response({"ready": False, "reason": reason}, status=503)
    if services.stopping:
        response.force_close()
    return response


async def metrics(request: web.Request) -> web.Response:
    """The scrape. Open unless [metrics] token is set (then a bearer token of its own, never
    the admin token, which opens the console): it shows counts, no phone or text."""
    services = request.app[SERVICES]
    token = services.config.metrics.token
    if token and not bearer_matches(request.headers.get("Authorization", ""), token):
        raise web.HTTPUnauthorized(
            text="GET /metrics needs Authorization: Bearer <[metrics] token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    body, content_type = services.metrics.exposition(
        request.headers.get("Accept", ""),
        backlog=await services.store.outbox_backlog(),
        in_flight=services.outbox.sending,
        stopping=services.stopping,
        now=services.clock(),
    )
    return web.Response(body=body, headers={"Content-Type": content_type})
