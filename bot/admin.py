"""The operator's JSON API under /admin/api: reservations, conversations, outbox, properties.

    curl -H "Authorization: Bearer $AIRTNG_ADMIN_TOKEN" http://127.0.0.1:8080/admin/api/outbox

Every list is paged with ?limit= (default 100, at most 1000) and ?offset=.
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from bot.demo import load_demo
from bot.phones import NotAPhoneNumber, e164
from bot.retention import forget_old_bodies
from bot.services import SERVICES
from conversations.listing import check_home
from conversations.model import Property

RESERVATION_STATUSES = ("pending", "confirmed", "rejected", "withdrawn", "expired")
OUTBOX_STATUSES = ("queued", "sending", "sent", "delivered", "undelivered", "failed", "cancelled")


def authorised(request: web.Request) -> bool:
    return bearer_matches(
        request.headers.get("Authorization", ""), request.config_dict[SERVICES].admin_token
    )


def bearer_matches(header: str, token: str) -> bool:
    """Whether an Authorization header is `Bearer <token>` (never, for an empty token)."""
    scheme, _, given = header.partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    # Constant time, so the token cannot be guessed a character at a time.
    return hmac.compare_digest(given.strip().encode(), token.encode())


def _whole_dollars(value: object) -> int:
    # JSON true or 1.9 must not become a price of $1.
    if type(value) is not int:
        raise ValueError(f"nightly_price must be a whole number of dollars, not {value!r}")
    return value


def api_app() -> web.Application:
    """The JSON API as a sub-application, so only its requests pass the token check."""
    app = web.Application(middlewares=[require_token])
    app.router.add_get("/reservations", reservations)
    app.router.add_get("/conversations", conversations)
    app.router.add_get("/outbox", outbox)
    app.router.add_get("/properties", properties)
    app.router.add_post("/properties", add_property)
    app.router.add_post("/demo", load_demo_homes)
    app.router.add_post("/retention", retention)
    return app


@web.middleware
async def require_token(request: web.Request, handler: Any) -> web.StreamResponse:
    if not authorised(request):
        raise web.HTTPUnauthorized(
            text="Authorization: Bearer <admin token> required",
            headers={"WWW-Authenticate": 'Bearer realm="airtng admin"'},
        )
    return await handler(request)


def _paging(request: web.Request) -> tuple[int, int]:
    try:
        limit = int(request.query.get("limit", "100"))
        offset = int(request.query.get("offset", "0"))
    except ValueError as error:
        raise web.HTTPBadRequest(text="limit and offset must be whole numbers") from error
    if not 1 <= limit <= 1000 or offset < 0:
        raise web.HTTPBadRequest(text="limit must be 1-1000 and offset at least 0")
    return limit, offset


def _status(request: web.Request, allowed: tuple[str, ...]) -> str | None:
    status = request.query.get("status") or None
    if status is not None and status not in allowed:
        raise web.HTTPBadRequest(text=f"status must be one of: {', '.join(allowed)}")
    return status


async def reservations(request: web.Request) -> web.Response:
    limit, offset = _paging(request)
    status = _status(request, RESERVATION_STATUSES)
    store = request.config_dict[SERVICES].store
    return web.json_response(await store.admin_reservations(status, limit, offset))


async def conversations(request: web.Request) -> web.Response:
    limit, offset = _paging(request)
    phone = request.query.get("phone") or None
    if phone is not None:
        try:
            phone = e164(phone)
        except NotAPhoneNumber as error:
            raise web.HTTPBadRequest(text=str(error)) from error
    store = request.config_dict[SERVICES].store
    rows = await store.admin_conversations(phone, limit, offset, 1000)
    return web.json_response(rows)


async def outbox(request: web.Request) -> web.Response:
    limit, offset = _paging(request)
    status = _status(request, OUTBOX_STATUSES)
    store = request.config_dict[SERVICES].store
    return web.json_response(await store.admin_outbox(status, limit, offset))


async def properties(request: web.Request) -> web.Response:
    store = request.config_dict[SERVICES].store
    return web.json_response(await store.admin_properties())


async def add_property(request: web.Request) -> web.Response:
    """List a home for a host: JSON {host_phone, title, place, description, nightly_price,
    image_url?, host_name?} -> 201 with the new home's id, title and host. The same host and
    title is one home: listed already, it is 200 with `existing: true` and nothing changes.
    `run.py add-home` uses it while the service runs, so the home is live at once."""
    services = request.config_dict[SERVICES]
    try:
        facts = await request.json()
        home = Property(
            0,
            e164(str(facts["host_phone"])),
            str(facts["title"]).strip(),
            str(facts["place"]).strip(),
            str(facts["description"]).strip(),
            _whole_dollars(facts["nightly_price"]),
            str(facts["image_url"]) if facts.get("image_url") else None,
        )
        host_name = str(facts["host_name"]).strip() if facts.get("host_name") else None
    except (ValueError, KeyError, TypeError, NotAPhoneNumber) as error:
        raise web.HTTPBadRequest(text=f"bad home: {error}") from error
    problems = check_home(
        title=home.title,
        place=home.place,
        description=home.description,
        price=home.nightly_price,
        image_url=home.image_url,
    )
    if problems:
        raise web.HTTPBadRequest(text="; ".join(problems))
    listed = await services.turns.add_home(home.host_phone, host_name, home, services.clock())
    return web.json_response(
        {
            "id": listed.home.id,
            "title": listed.home.title,
            "host_phone": listed.home.host_phone,
            "host_name": listed.host_name,
            "existing": listed.existing,
        },
        status=200 if listed.existing else 201,
    )


async def load_demo_homes(request: web.Request) -> web.Response:
    """List the demo homes that are not listed yet (`run.py demo` while the service runs)."""
    services = request.config_dict[SERVICES]
    added = await load_demo(services.turns, services.config.public_url, services.clock())
    return web.json_response({"added": len(added)})


async def retention(request: web.Request) -> web.Response:
    """`run.py retention` while the service runs: the bodies are emptied by the service's own
    writer, between turns, instead of by a second process holding the file's write lock."""
    services = request.config_dict[SERVICES]
    try:
        days = (await request.json())["days"]
        summary = await forget_old_bodies(services.store, days, services.clock())
    except (ValueError, KeyError, TypeError) as error:
        raise web.HTTPBadRequest(text=f'expected {{"days": N}} with N >= 0: {error}') from error
    return web.json_response({"summary": summary})
