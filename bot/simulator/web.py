"""The simulator page of dev mode: phones side by side that text the bot through emulated Twilio.

    GET  /  and  /simulator        the page (server-rendered; plain JS, no CDN, works offline)
    GET  /simulator/events         Server-Sent Events: every message to or from a simulated phone
                                   (?phone=+1555... for one phone, ?after=<id> to skip old ones)
    GET  /simulator/state          JSON: the bot's number, the phones, the last event id
    POST /simulator/send           form (multipart with an optional `photo`): from, body
    POST /simulator/phones         form: number -> a new phone on the page
    POST /simulator/jump           moves Twilio's cookie clock 4 hours forward
    GET  /simulator/uploads/{name} the photos phones attached, as Twilio would host them

A send is a real signed webhook to the bot's own /sms (twilio_side.Carrier); the bot's REST
messages reach the phones through dev mode's Messages.json (DevTwilio's listeners). History is
kept in memory only: this is a developer's tool, and a reload of the page shows it all again.
POSTs need an `X-Simulator` header, which a cross-site form cannot send.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp_jinja2
import jinja2
from aiohttp import BodyPartReader, web

from bot.config import Config
from bot.demo import DEMO_HOMES
from bot.dev_twilio import DevTwilio
from bot.phones import NotAPhoneNumber, e164
from bot.services import SERVICES
from bot.simulator.twilio_side import BotLine, Carrier, CookieJar, Keywords, Text

HERE = Path(__file__).parent
GUEST_PHONE = "+15550001111"
JUMP_SECONDS = 4 * 3600
MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_FIELD_BYTES = 8 * 1024  # a Body is 1600 characters at most; a little room for the rest
MAX_EVENTS = 5000  # the history kept in memory; the oldest go first
MAX_PHONES = 24
# A stream that has said nothing for this long gets a comment line, so proxies and the browser
# keep the connection open; it is not a poll, nothing is fetched.
KEEPALIVE_SECONDS = 15.0
# A subscriber this far behind is gone or stuck: drop it rather than hold events for it.
SUBSCRIBER_BACKLOG = 1000
# Photos are checked by their first bytes, not by what the browser claims.
IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"GIF87a", "image/gif", ".gif"),
    (b"GIF89a", "image/gif", ".gif"),
)
CARRIER = "Twilio"  # the `via` of what Twilio itself texts (a reply to STOP, START, HELP)
UPLOAD_NAME = re.compile(r"^[0-9a-f]{32}\.(png|jpg|gif|webp)$")


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    kind: str  # "message", "phone" or "clock"
    data: dict[str, Any]

    def sse(self) -> bytes:
        data = json.dumps({"id": self.id, **self.data})
        return f"id: {self.id}\nevent: {self.kind}\ndata: {data}\n\n".encode()


class BadRequest(web.HTTPBadRequest):
    def __init__(self, reason: str) -> None:
        super().__init__(
            text=json.dumps({"error": reason}), content_type="application/json", reason=reason
        )


class Simulator:
    """The phones, their history and the live streams to the pages watching them."""

    def __init__(self, config: Config, dev_twilio: DevTwilio) -> None:
        database = config.database_path
        # Next to the database, so a test's tmp_path or a clone's folder holds it all.
        self.uploads = database.parent / f"{database.stem}-uploads"
        host = DEMO_HOMES[0]
        self.phones: dict[str, str] = {
            GUEST_PHONE: "Guest",
            host.host_phone: f"Host {host.host_name} ({host.title})",
        }
        self.jar = CookieJar()
        # Twilio's blocklist, shared with dev mode's REST API: it refuses texts to a phone
        # that replied STOP (21610), as Twilio does.
        self.keywords = Keywords()
        dev_twilio.blocks = self.keywords.blocks
        self.events: deque[Event] = deque(maxlen=MAX_EVENTS)
        self._ids = itertools.count(1)
        self._subscribers: set[asyncio.Queue[Event | None]] = set()
        self._session: aiohttp.ClientSession | None = None
        dev_twilio.listeners.append(self._rest_message)

    def setup(self, app: web.Application) -> None:
        aiohttp_jinja2.setup(
            app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True
        )
        app.add_routes(
            [
                web.get("/", self.page),
                web.get("/simulator", self.page),
                web.get("/simulator/events", self.stream),
                web.get("/simulator/state", self.state),
                web.post("/simulator/send", self.send),
                web.post("/simulator/phones", self.add_phone),
                web.post("/simulator/jump", self.jump),
                web.get("/simulator/uploads/{name}", self.upload),
                web.static("/simulator/static/", HERE / "static"),
            ]
        )
        app[SIMULATOR] = self
        app.on_shutdown.append(self._end_streams)
        app.on_cleanup.append(self._close)

    # -- what happens ------------------------------------------------------------------------

    def publish(self, kind: str, data: dict[str, Any]) -> Event:
        event = Event(next(self._ids), kind, data)
        self.events.append(event)
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                _hang_up(queue)  # the browser reconnects and catches up from the log
                self._subscribers.discard(queue)
        return event

    def ensure_phone(self, number: str, label: str = "") -> bool:
        """Show a phone on the page (a text to a new number makes one appear); False if full."""
        if number in self.phones:
            return True
        if len(self.phones) >= MAX_PHONES:
            return False
        self.phones[number] = label
        self.publish("phone", {"number": number, "label": label})
        return True

    def message(
        self,
        phone: str,
        direction: str,
        body: str,
        media: tuple[str, ...] = (),
        via: str = "",
    ) -> Event:
        """One bubble in `phone`'s window: "out" (the phone sent it), "in" (it received it) or
        "note" (what Twilio would log)."""
        self.ensure_phone(phone)
        return self.publish(
            "message",
            {
                "phone": phone,
                "direction": direction,
                "body": body,
                "media": list(media),
                "via": via,
            },
        )

    def _rest_message(self, message: dict[str, Any]) -> None:
        """DevTwilio's listener: a message the bot sent through the REST API."""
        media = tuple(str(url) for url in message.get("media_urls") or ())
        self.message(str(message["to"]), "in", str(message.get("body") or ""), media, "REST")

    def history(self, phone: str) -> list[dict[str, Any]]:
        return [
            {"id": e.id, **e.data}
            for e in self.events
            if e.kind == "message" and e.data["phone"] == phone
        ]

    def _line(self, request: web.Request) -> BotLine:
        # The effective configuration: dev mode's own credentials exist once the app started.
        config = request.app[SERVICES].config
        return BotLine(
            config.public_url + "/sms",
            config.twilio.phone_number,
            config.twilio.account_sid,
            config.twilio.auth_token,
        )

    def _carrier(self) -> Carrier:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return Carrier(self._session, self.jar, self.keywords)

    # -- handlers ----------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        config = request.app[SERVICES].config
        context = {
            "bot_number": config.twilio.phone_number,
            "phones": [
                {"number": number, "label": label, "messages": self.history(number)}
                for number, label in self.phones.items()
            ],
            "last_id": self.events[-1].id if self.events else 0,
            "offset_hours": round(self.jar.offset / 3600),
            "max_photo_mb": MAX_PHOTO_BYTES // (1024 * 1024),
        }
        response = aiohttp_jinja2.render_template("simulator.html", request, context)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def state(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "bot_number": request.app[SERVICES].config.twilio.phone_number,
                "phones": [{"number": n, "label": label} for n, label in self.phones.items()],
                "last_id": self.events[-1].id if self.events else 0,
                "offset_hours": self.jar.offset / 3600,
            }
        )

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events: the history after `after` (or Last-Event-ID, which the browser
        sends when it reconnects), then each event as it happens."""
        try:
            after = int(request.headers.get("Last-Event-ID") or request.query.get("after") or 0)
        except ValueError as error:
            raise BadRequest("after must be an event id") from error
        phone = request.query.get("phone")
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        # Subscribe before replaying, so nothing published in between is missed.
        queue: asyncio.Queue[Event | None] = asyncio.Queue(SUBSCRIBER_BACKLOG)
        self._subscribers.add(queue)
        try:
            await response.write(b"retry: 1000\n\n")
            last = after
            for event in list(self.events):
                if event.id > last and _wanted(event, phone):
                    await response.write(event.sse())
                last = max(last, event.id)
            while True:
                try:
                    next_event = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if next_event is None:
                    break  # the server is shutting down
                if next_event.id > last and _wanted(next_event, phone):
                    await response.write(next_event.sse())
                    last = next_event.id
        except ConnectionResetError:
            pass  # the page went away
        finally:
            self._subscribers.discard(queue)
        return response

    async def send(self, request: web.Request) -> web.Response:
        """A phone texts the bot: the bubble, the signed webhook, and what Twilio makes of the
        answer, each published to the pages; the events are returned too."""
        _same_site(request)
        fields, photo = await self._read_send(request)
        sender = _phone(fields.get("from", ""))
        body = fields.get("body", "")
        if len(body) > 1600:
            raise BadRequest("a text is 1600 characters at most")
        if not body.strip() and photo is None:
            raise BadRequest("type a message or attach a photo")
        line = self._line(request)
        media: tuple[tuple[str, str], ...] = ()
        if photo is not None:
            url = f"{line.webhook_url.removesuffix('/sms')}/simulator/uploads/{photo[0]}"
            media = ((url, photo[1]),)
        if not self.ensure_phone(sender):
            raise BadRequest(f"at most {MAX_PHONES} phones")
        published = [self.message(sender, "out", body, tuple(url for url, _ in media), "SMS")]
        answer = await self._carrier().text(line, sender, body, media)
        published += [self._delivered(text) for text in answer.texts]
        if answer.problem:
            published.append(self.message(sender, "note", answer.problem, via="Twilio"))
        return web.json_response(
            {
                "status": answer.status,
                "problem": answer.problem,
                "events": [{"id": e.id, **e.data} for e in published],
            }
        )

    def _delivered(self, text: Text) -> Event:
        # Twilio's own answer to a keyword is marked as the carrier's, as a phone shows it.
        return self.message(
            text.to, "in", text.body, text.media, CARRIER if text.by_carrier else "TwiML"
        )

    async def _read_send(
        self, request: web.Request
    ) -> tuple[dict[str, str], tuple[str, str] | None]:
        """The send form's fields, and the attached photo saved as (file name, content type).

        Read part by part: the app refuses bodies over 64 KB (no webhook is bigger), a photo
        may be a few megabytes, so it is streamed here with its own limit."""
        if not request.content_type.startswith("multipart/"):
            form = await request.post()
            return {k: str(v) for k, v in form.items() if isinstance(v, str)}, None
        fields: dict[str, str] = {}
        photo: tuple[str, str] | None = None
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or not part.name:
                continue
            if part.filename is not None:
                if part.name == "photo" and photo is None:
                    data = await _read_limited(part, MAX_PHOTO_BYTES, "a photo is 5 MB at most")
                    if data:  # an empty file input sends an empty part
                        photo = await self._save_photo(data)
                continue
            raw = await _read_limited(part, MAX_FIELD_BYTES, "a field is too long")
            fields[part.name] = raw.decode("utf-8", errors="replace")
        return fields, photo

    async def _save_photo(self, data: bytes) -> tuple[str, str]:
        kind = _image_kind(data)
        if kind is None:
            raise BadRequest("only PNG, JPEG, GIF or WebP photos")
        content_type, extension = kind
        name = secrets.token_hex(16) + extension

        def write() -> None:
            self.uploads.mkdir(parents=True, exist_ok=True)
            (self.uploads / name).write_bytes(data)

        await asyncio.to_thread(write)
        return name, content_type

    async def upload(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = self.uploads / name
        if not UPLOAD_NAME.match(name) or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    async def add_phone(self, request: web.Request) -> web.Response:
        _same_site(request)
        form = await request.post()
        number = _phone(str(form.get("number") or ""))
        label = str(form.get("label") or "")[:40]
        if not self.ensure_phone(number, label):
            raise BadRequest(f"at most {MAX_PHONES} phones")
        return web.json_response({"number": number, "label": self.phones[number]})

    async def jump(self, request: web.Request) -> web.Response:
        """Twilio's clock moves 4 hours: the cookies it keeps per pair expire. The bot's own
        clock does not move (it decides session idleness itself), as in real life."""
        _same_site(request)
        self.jar.jump(JUMP_SECONDS)
        hours = self.jar.offset / 3600
        self.publish("clock", {"offset_hours": hours})
        return web.json_response({"offset_hours": hours})

    # -- lifetime ----------------------------------------------------------------------------

    async def _end_streams(self, app: web.Application) -> None:
        for queue in list(self._subscribers):
            _hang_up(queue)
        self._subscribers.clear()

    async def _close(self, app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()


def _hang_up(queue: asyncio.Queue[Event | None]) -> None:
    """End a stream: whatever it had not sent yet is dropped, then None ends its loop."""
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(None)


def _wanted(event: Event, phone: str | None) -> bool:
    return phone is None or (event.kind == "message" and event.data["phone"] == phone)


def _same_site(request: web.Request) -> None:
    if "X-Simulator" not in request.headers:
        raise web.HTTPForbidden(text="the simulator's own page or run.py chat only")


def _phone(text: str) -> str:
    try:
        return e164(text)
    except NotAPhoneNumber as error:
        raise BadRequest(str(error)) from error


def _image_kind(data: bytes) -> tuple[str, str] | None:
    for magic, content_type, extension in IMAGE_SIGNATURES:
        if data.startswith(magic):
            return content_type, extension
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", ".webp"
    return None


async def _read_limited(part: BodyPartReader, limit: int, refusal: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size, text=refusal)
        chunks.append(chunk)
    return b"".join(chunks)


SIMULATOR = web.AppKey("simulator", Simulator)
