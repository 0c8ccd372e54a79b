"""The operator console under /admin: server-rendered pages (aiohttp-jinja2, autoescaped; no
JavaScript, no CDN), mounted as a sub-application so its session check covers only its pages.

    GET  /admin/login, POST /admin/login    sign in with the admin token
    POST /admin/logout                      sign out
    GET  /admin                             overview: today's and this week's numbers, a chart
    GET  /admin/conversations               newest first; ?phone= &q= &since= &until= &state=
    GET  /admin/conversations/{id}          the transcript
    GET  /admin/reservations                ?status= &home= &host= &guest= &from= &to=
    GET  /admin/reservations/{id}           one reservation's history
    GET  /admin/outbox                      ?show=failed|waiting|all, and the operators' actions
    POST /admin/outbox/{id}/retry           send a failed message again (logged)
    POST /admin/people/{id}/redact          replace a person's number and texts (logged)

Every POST carries the session's CSRF token; without a session every page redirects to
/admin/login. The JSON API (/admin/api, bot/admin.py) is a separate sub-application.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
import jinja2
from aiohttp import web
from multidict import MultiDictProxy

from bot.console import session as sessions
from bot.outbox import PERMANENT_ERRORS
from bot.phones import NotAPhoneNumber, e164
from bot.services import SERVICES
from storage import console_queries as q
from storage import writes

HERE = Path(__file__).parent
PAGE = 50
TRANSCRIPT_MESSAGES = 1000
CHART_DAYS = 14
RESERVATION_STATUSES = ("pending", "confirmed", "rejected", "withdrawn", "expired")
OUTBOX_VIEWS: dict[str, tuple[str, ...]] = {
    "failed": q.FAILED,
    "waiting": q.WAITING,
    "all": ("queued", "sending", "sent", "delivered", "undelivered", "failed", "cancelled"),
}
SESSION = web.RequestKey("console_session", sessions.Session)
KEY = web.AppKey("console_key", dict)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' http: https: data:;"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def console_app() -> web.Application:
    app = web.Application(middlewares=[_guard])
    app[KEY] = {}
    env = aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True
    )
    env.globals["error_meaning"] = lambda code: PERMANENT_ERRORS.get(code or 0, "")
    env.filters["when"] = _when
    env.filters["safe_media"] = lambda urls: [u for u in urls if _is_web_url(u)]
    app.router.add_get("/login", login_page, name="login")
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("", overview, name="overview")
    app.router.add_get("/", overview)
    app.router.add_get("/conversations", conversations, name="conversations")
    app.router.add_get("/conversations/{id:\\d+}", transcript, name="transcript")
    app.router.add_get("/reservations", reservations, name="reservations")
    app.router.add_get("/reservations/{id:\\d+}", reservation, name="reservation")
    app.router.add_get("/outbox", outbox, name="outbox")
    app.router.add_post("/outbox/{id:\\d+}/retry", retry)
    app.router.add_post("/people/{id:\\d+}/redact", redact)
    app.router.add_static("/static/", HERE / "static", name="static")
    return app


# -- the session -------------------------------------------------------------------------------


async def _key(request: web.Request) -> bytes | None:
    services = request.config_dict[SERVICES]
    if not services.admin_token:
        return None  # no token configured: nobody can sign in
    cache: dict[str, bytes] = request.app[KEY]
    key = cache.get(services.admin_token)
    if key is None:
        secret = await services.store.setting("session_secret")
        if secret is None:
            return None
        key = cache[services.admin_token] = sessions.derive_key(
            bytes.fromhex(secret), services.admin_token
        )
    return key


def _now(request: web.Request) -> datetime:
    return request.config_dict[SERVICES].clock()


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    public = request.path in ("/admin/login",) or request.path.startswith("/admin/static/")
    if not public:
        key = await _key(request)
        found = key and sessions.read(
            key, request.cookies.get(sessions.COOKIE), _now(request).timestamp()
        )
        if not found:
            if request.method != "GET":
                raise web.HTTPForbidden(text="sign in first")
            target = request.path_qs
            raise web.HTTPSeeOther("/admin/login?" + _urlencode({"next": target}))
        request[SESSION] = found
    response = await handler(request)
    response.headers.update(HEADERS)
    return response


def _urlencode(params: dict[str, str]) -> str:
    return urlencode(params)


def _safe_next(target: str) -> str:
    # Only a path of the console itself: never another site (//evil.example, \\evil).
    if target.startswith("/admin") and not target.startswith(("//", "/\\")) and "\\" not in target:
        return target
    return "/admin"


async def _checked_form(request: web.Request) -> MultiDictProxy[str | Any]:
    form = await request.post()
    given = form.get("csrf")
    if not isinstance(given, str) or not sessions.token_matches(given, request[SESSION].csrf):
        raise web.HTTPForbidden(text="bad or missing CSRF token: reload the page and try again")
    return form


def _render(request: web.Request, template: str, context: dict[str, Any]) -> web.Response:
    found = request.get(SESSION)
    context.setdefault("csrf", found.csrf if found else "")
    context.setdefault("signed_in", found is not None)
    context.setdefault("path", request.path)
    return aiohttp_jinja2.render_template(template, request, context)


async def login_page(request: web.Request) -> web.Response:
    return _render(
        request,
        "login.html",
        {"next": _safe_next(request.query.get("next", "/admin")), "error": None},
    )


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    given = form.get("token")
    target = _safe_next(str(form.get("next") or "/admin"))
    key = await _key(request)
    token = request.config_dict[SERVICES].admin_token
    if key is None or not isinstance(given, str) or not sessions.token_matches(given, token):
        response = _render(request, "login.html", {"next": target, "error": "Wrong token."})
        response.set_status(401)
        return response
    value, _ = sessions.issue(key, _now(request).timestamp())
    response = web.Response(status=303, headers={"Location": target})
    response.set_cookie(
        sessions.COOKIE,
        value,
        max_age=sessions.MAX_AGE,
        path="/admin",
        httponly=True,
        samesite="Strict",
        secure=request.config_dict[SERVICES].config.public_url.startswith("https:"),
    )
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    await _checked_form(request)
    response = web.Response(status=303, headers={"Location": "/admin/login"})
    response.del_cookie(sessions.COOKIE, path="/admin")
    return response


# -- the pages --------------------------------------------------------------------------------


def _page(request: web.Request) -> int:
    try:
        return max(1, int(request.query.get("page", "1")))
    except ValueError:
        return 1


def _date(text: str | None, name: str, errors: list[str]) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append(f"{name} must be a date like 2026-07-01, not {text!r}")
        return None


def _phone(text: str | None, errors: list[str]) -> str | None:
    if not text or not text.strip():
        return None
    try:
        return e164(text)
    except NotAPhoneNumber as error:
        errors.append(str(error))
        return None


def _paged(rows: list[dict[str, Any]], page: int) -> dict[str, Any]:
    return {"rows": rows[:PAGE], "page": page, "more": len(rows) > PAGE}


async def overview(request: web.Request) -> web.Response:
    now = _now(request).astimezone(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - timedelta(days=today.weekday())
    chart_from = today - timedelta(days=CHART_DAYS - 1)
    store = request.config_dict[SERVICES].store
    numbers = await store.overview(
        writes.stamp(today), writes.stamp(week), writes.stamp(chart_from)
    )
    return _render(
        request,
        "overview.html",
        {"numbers": numbers, "chart": _chart(numbers["per_day"], chart_from.date())},
    )


def _chart(per_day: dict[str, int], first: date) -> dict[str, Any]:
    """Bars for requests per day, laid out here so the page needs no script."""
    width, height, gap = 24, 100, 6
    days = [first + timedelta(days=n) for n in range(CHART_DAYS)]
    top = max([per_day.get(d.isoformat(), 0) for d in days] + [1])
    bars = []
    for index, day in enumerate(days):
        count = per_day.get(day.isoformat(), 0)
        bar = round(count / top * height)
        bars.append(
            {
                "x": index * (width + gap),
                "y": height - bar + 14,
                "height": bar,
                "count": count,
                "label": day.strftime("%d"),
                "day": day.isoformat(),
            }
        )
    return {"bars": bars, "width": CHART_DAYS * (width + gap), "bar": width, "base": height + 14}


async def conversations(request: web.Request) -> web.Response:
    errors: list[str] = []
    page = _page(request)
    since = _date(request.query.get("since"), "since", errors)
    until = _date(request.query.get("until"), "until", errors)
    phone = _phone(request.query.get("phone"), errors)
    state = request.query.get("state") or None
    where = q.ConversationFilter(
        phone=phone,
        words=request.query.get("q") or None,
        since=since.isoformat() if since else None,
        until=(until + timedelta(days=1)).isoformat() if until else None,
        state=state,
    )
    services = request.config_dict[SERVICES]
    store = services.store
    rows: list[dict[str, Any]] = []
    if not errors:
        if where.words:
            await services.search.catch_up()  # every message committed so far is findable
        rows = await store.conversations(where, PAGE + 1, (page - 1) * PAGE)
    return _render(
        request,
        "conversations.html",
        {
            **_paged(rows, page),
            "errors": errors,
            "query": dict(request.query),
            "states": await store.states(),
            "paging": _paging_links(request, page),
        },
    )


def _paging_links(request: web.Request, page: int) -> dict[str, str]:
    params = {k: v for k, v in request.query.items() if k != "page"}
    return {
        "previous": request.path + "?" + _urlencode({**params, "page": str(page - 1)}),
        "next": request.path + "?" + _urlencode({**params, "page": str(page + 1)}),
    }


async def transcript(request: web.Request) -> web.Response:
    store = request.config_dict[SERVICES].store
    found = await store.transcript(int(request.match_info["id"]), TRANSCRIPT_MESSAGES)
    if found is None:
        raise web.HTTPNotFound(text="no such conversation")
    return _render(request, "transcript.html", {"c": found, "limit": TRANSCRIPT_MESSAGES})


async def reservations(request: web.Request) -> web.Response:
    errors: list[str] = []
    page = _page(request)
    status = request.query.get("status") or None
    if status is not None and status not in RESERVATION_STATUSES:
        errors.append(f"status must be one of {', '.join(RESERVATION_STATUSES)}")
    home: int | None = None
    if request.query.get("home"):
        try:
            home = int(request.query["home"])
        except ValueError:
            errors.append("home must be a home's number")
    first = _date(request.query.get("from"), "from", errors)
    last = _date(request.query.get("to"), "to", errors)
    where = q.ReservationFilter(
        status=status,
        home=home,
        host=_phone(request.query.get("host"), errors),
        guest=_phone(request.query.get("guest"), errors),
        check_in_from=first.isoformat() if first else None,
        check_in_to=last.isoformat() if last else None,
    )
    store = request.config_dict[SERVICES].store
    rows: list[dict[str, Any]] = []
    if not errors:
        rows = await store.reservations(where, PAGE + 1, (page - 1) * PAGE)
    return _render(
        request,
        "reservations.html",
        {
            **_paged(rows, page),
            "errors": errors,
            "query": dict(request.query),
            "statuses": RESERVATION_STATUSES,
            "homes": await store.home_titles(),
            "paging": _paging_links(request, page),
        },
    )


async def reservation(request: web.Request) -> web.Response:
    store = request.config_dict[SERVICES].store
    found = await store.reservation_history(int(request.match_info["id"]))
    if found is None:
        raise web.HTTPNotFound(text="no such reservation")
    return _render(request, "reservation.html", {"r": found})


async def outbox(request: web.Request) -> web.Response:
    show = request.query.get("show", "failed")
    if show not in OUTBOX_VIEWS:
        show = "failed"
    page = _page(request)
    store = request.config_dict[SERVICES].store
    rows = await store.outbox(OUTBOX_VIEWS[show], PAGE + 1, (page - 1) * PAGE)
    return _render(
        request,
        "outbox.html",
        {
            **_paged(rows, page),
            "show": show,
            "views": list(OUTBOX_VIEWS),
            "actions": await store.operator_actions(50),
            "notice": request.query.get("done"),
            "paging": _paging_links(request, page),
        },
    )


async def retry(request: web.Request) -> web.StreamResponse:
    await _checked_form(request)
    services = request.config_dict[SERVICES]
    outbox_id = int(request.match_info["id"])
    row = await services.store.outbox_row(outbox_id)
    if row is None:
        raise web.HTTPNotFound(text="no such message")
    if row["status"] not in q.FAILED or not await services.store.requeue(
        outbox_id, row["status"], services.clock()
    ):
        raise web.HTTPConflict(text=f"message {outbox_id} is {row['status']}, not failed")
    services.outbox.wake()
    raise web.HTTPSeeOther(f"/admin/outbox?show=failed&done=retry-{outbox_id}")


async def redact(request: web.Request) -> web.StreamResponse:
    await _checked_form(request)
    services = request.config_dict[SERVICES]
    person_id = int(request.match_info["id"])
    placeholder = f"redacted-{person_id}-{secrets.token_hex(4)}"
    if not await services.store.redact(person_id, placeholder, services.clock()):
        raise web.HTTPNotFound(text="no such person")
    # The bot keeps people and conversations in memory, keyed by number: rebuild it from the
    # redacted database, so the real number is gone from the running service too.
    await services.turns.reload()
    raise web.HTTPSeeOther(f"/admin/outbox?show=all&done=redact-{person_id}")


# -- formatting -----------------------------------------------------------------------------


def _when(stamp: str | None) -> str:
    """A stored ISO timestamp as `2026-07-01 14:03:09 UTC`."""
    if not stamp:
        return ""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _is_web_url(url: object) -> bool:
    return isinstance(url, str) and url.startswith(("https://", "http://"))
