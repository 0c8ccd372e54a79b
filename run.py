"""The command line: serve the bot (default), and the operator and developer commands.

    python run.py [--config config.toml]                 # serve
    python run.py demo                                   # list the demo homes (idempotent)
    python run.py add-home --host +14155550100 --title "Beach House" --place Malibu \\
        --description "On the sand" --price 250          # prints the new home's id
    python run.py send --from +15550001111 LIST          # text the running bot, print its answer
    python run.py chat --from +15550001111               # a phone in the terminal (dev mode)
    python run.py logs [--phone P] [--since 2026-07-01] [--format text|jsonl|csv]
    python run.py reservations [--status pending]        # the operator's questions, offline
    python run.py retention --days 90                    # empty message bodies older than that
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import logging
import os
import sys
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
from twilio.request_validator import RequestValidator

from bot import serving
from bot.app import effective_config
from bot.config import Config, ConfigError, load_config
from bot.demo import load_demo
from bot.offline import open_store
from bot.phones import NotAPhoneNumber, e164
from bot.retention import forget_old_bodies
from bot.services import utc_now
from conversations.listing import PriceProblem, check_home, read_price
from conversations.model import Property
from storage import console_queries
from storage.lock import InUse

log = logging.getLogger("airtng")
RESERVATION_STATUSES = ("pending", "confirmed", "rejected", "withdrawn", "expired")
LOG_FIELDS = (
    "id", "conversation_id", "at", "direction", "phone", "body", "media", "status",
    "error_code", "state_before", "state_after",
)  # fmt: skip
BATCH = 1000


def _parser() -> argparse.ArgumentParser:
    # --config goes before or after the subcommand: each subcommand takes it too, and only
    # sets it when given (SUPPRESS), so `run.py --config a.toml demo` keeps a.toml.
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="TOML file")
    parser = argparse.ArgumentParser(prog="run.py", description="Airtng by SMS")
    parser.add_argument("--config", type=Path, default=Path("config.toml"), help="TOML file")
    commands = parser.add_subparsers(dest="command")

    def command(name: str, description: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, help=description, description=description, parents=[config]
        )

    command("serve", "serve the bot (the default)")
    command("demo", "load the demo homes and their hosts (idempotent)")
    add = command("add-home", "list a host's home (the same host and title is one home)")
    add.add_argument("--host", required=True, help="the host's phone number")
    add.add_argument("--title", required=True)
    add.add_argument("--place", required=True)
    add.add_argument("--description", required=True)
    add.add_argument("--price", required=True, help="nightly price: 120, $120, 120/night")
    add.add_argument("--image-url")
    add.add_argument("--host-name")
    send = command("send", "text the running bot as Twilio would; print replies")
    send.add_argument("--from", dest="sender", required=True, help="the phone texting the bot")
    send.add_argument("body", nargs="+", help="the message")
    chat = command("chat", "be a phone in this terminal, through the dev server's simulator")
    chat.add_argument("--from", dest="sender", required=True, help="the phone you are")
    logs = command("logs", "print the message log (transcripts)")
    logs.add_argument("--phone", help="only this person's messages (any format)")
    logs.add_argument("--since", help="only messages from this date (YYYY-MM-DD) on")
    logs.add_argument("--format", choices=("text", "jsonl", "csv"), default="text")
    listed = command("reservations", "print the reservations, newest first")
    listed.add_argument("--status", choices=RESERVATION_STATUSES)
    retention = command(
        "retention", "empty message bodies older than N days (counts and bookings stay)"
    )
    retention.add_argument("--days", type=int, required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Both libraries log every state change and every request at INFO: noise, and a cost per turn.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    logging.getLogger("twilio").setLevel(logging.WARNING)
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"run.py: {error}", file=sys.stderr)
        return 2
    try:
        code = _command(config, args)
        sys.stdout.flush()  # inside the try: a reader gone by now is the same quiet end
        return code
    except BrokenPipeError:
        # The reader went away (`run.py logs | head`): end quietly, as `git log | head` does.
        # Python would report the pipe again when it flushes stdout at exit: point it elsewhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a writer the pipe cut off


def _command(config: Config, args: argparse.Namespace) -> int:
    if args.command in (None, "serve"):
        return serving.serve(config)
    try:
        return asyncio.run(_operator_command(config, args))
    except InUse as error:  # another operator command is writing the database: change nothing
        print(f"run.py {args.command}: {error}; try again when it ends", file=sys.stderr)
        return 1


async def _operator_command(config: Config, args: argparse.Namespace) -> int:
    if args.command == "demo":
        return await demo(config)
    if args.command == "add-home":
        return await add_home(config, args)
    if args.command == "send":
        return await send_sms(config, args.sender, " ".join(args.body))
    if args.command == "chat":
        return await chat_sms(config, args.sender)
    if args.command == "logs":
        return await print_logs(config, args.phone, args.since, args.format)
    if args.command == "reservations":
        return await print_reservations(config, args.status)
    if args.command == "retention":
        return await apply_retention(config, args.days)
    raise AssertionError(f"unknown command {args.command}")


async def demo(config: Config) -> int:
    async with open_store(config, writes=True) as store:
        effective = await effective_config(config, store.store)
        if store.service is not None:
            # The running service holds the homes in memory: list them through it.
            added = (await _post_admin(store.service.url, effective, "demo", {}))["added"]
            print(f"Listed {added} demo home(s).")
            return 0
        # This command owns the file, or the store is shared (its instances see new homes).
        listed = await load_demo(store.store, effective.public_url, utc_now())
        live = [home for home in await store.store.homes() if home.active]
        print(f"Listed {len(listed)} demo home(s); {len(live)} homes in all.")
        return 0


async def add_home(config: Config, args: argparse.Namespace) -> int:
    try:
        host = e164(args.host)
    except NotAPhoneNumber as error:
        print(f"run.py add-home: {error}", file=sys.stderr)
        return 2
    price = read_price(args.price)  # the same reader as a host's HOST by text
    if isinstance(price, PriceProblem):
        print(f"run.py add-home: --price {args.price!r}: {price.reason}", file=sys.stderr)
        return 2
    home = Property(
        0, host, args.title.strip(), args.place.strip(), args.description.strip(), price,
        args.image_url,
    )  # fmt: skip
    problems = check_home(
        title=home.title,
        place=home.place,
        description=home.description,
        price=home.nightly_price,
        image_url=home.image_url,
    )
    if problems:
        print(f"run.py add-home: {'; '.join(problems)}", file=sys.stderr)
        return 2
    async with open_store(config, writes=True) as store:
        effective = await effective_config(config, store.store)
        if store.service is not None:
            listed = await _post_admin(
                store.service.url,
                effective,
                "properties",
                {
                    "host_phone": host,
                    "host_name": args.host_name,
                    "title": home.title,
                    "place": home.place,
                    "description": home.description,
                    "nightly_price": home.nightly_price,
                    "image_url": home.image_url,
                },
            )
            home_id, existed = int(listed["id"]), bool(listed.get("existing"))
            host_name = listed.get("host_name") or args.host_name
        else:
            done = await store.store.add_home(host, args.host_name, home, utc_now())
            home_id, existed = done.home.id, done.existing
            host_name = done.host_name or args.host_name
    who = f"{host_name} ({host})" if host_name else host
    if existed:
        print(f'Home {home_id} exists already: "{home.title}" of host {who}. Nothing changed.')
    else:
        print(
            f'Listed home {home_id}: "{home.title}" in {home.place}, ${home.nightly_price} a'
            f" night, host {who}."
        )
    return 0


async def _post_admin(
    service_url: str | None, config: Config, resource: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """POST to the admin API of the service that owns the database (its lock file says where)."""
    url = f"{service_url}/admin/api/{resource}"
    headers = {"Authorization": f"Bearer {config.admin.token}"}
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=payload, headers=headers) as response,
        ):
            if response.status not in (200, 201):
                raise SystemExit(f"run.py: the service refused it: {await response.text()}")
            result: dict[str, Any] = await response.json()
            return result
    except aiohttp.ClientError as error:
        raise SystemExit(
            f"run.py: the service that has the database does not answer at {url}: {error}"
        ) from None


async def send_sms(config: Config, sender: str, body: str) -> int:
    """Text the running bot once, as Twilio would, and print what the phones get back.

    In dev mode the text goes through the simulator, as `chat` does: the same signed webhook
    with the cookie Twilio keeps for the pair, and the simulator's page shows it. Otherwise
    it is a webhook signed with the configured auth token, posted to <public_url>/sms."""
    try:
        phone = e164(sender)
    except NotAPhoneNumber as error:
        print(f"run.py send: {error}", file=sys.stderr)
        return 2
    base = f"http://{config.server.host}:{config.server.port}"
    url = base if config.dev_mode else config.public_url
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            if config.dev_mode:
                return await _send_through_simulator(session, base, phone, body)
            return await _send_signed(session, config, phone, body)
    except (aiohttp.ClientConnectionError, TimeoutError) as error:
        reason = "no answer in time" if isinstance(error, TimeoutError) else "no server"
        print(f"run.py send: {reason} at {url}; start it: python run.py", file=sys.stderr)
        return 1


async def _send_through_simulator(
    session: aiohttp.ClientSession, base: str, phone: str, body: str
) -> int:
    form = {"from": phone, "body": body}
    async with session.post(
        base + "/simulator/send", data=form, headers={"X-Simulator": "1"}
    ) as response:
        if response.status == 404:
            print(
                f"run.py send: the server at {base} is not in dev mode; give run.py send the"
                " server's configuration (--config) with its Twilio credentials",
                file=sys.stderr,
            )
            return 2
        answer = await response.json(content_type=None)
    if response.status != 200:
        print(f"run.py send: {answer.get('error', response.status)}", file=sys.stderr)
        return 1
    for event in answer["events"]:
        if event["direction"] == "note":
            print(f"! {event['body']} ({event['via']})", file=sys.stderr)
        elif event["direction"] == "in":
            _print_text(event["phone"], event["body"], event["media"], event["via"])
    return 0


async def _send_signed(
    session: aiohttp.ClientSession, config: Config, phone: str, body: str
) -> int:
    form = {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": config.twilio.account_sid,
        "From": phone,
        "To": config.twilio.phone_number,
        "Body": body,
        "NumMedia": "0",
    }
    form["SmsSid"] = form["MessageSid"]
    url = config.public_url + "/sms"
    signature = RequestValidator(config.twilio.auth_token).compute_signature(url, form)
    async with session.post(url, data=form, headers={"X-Twilio-Signature": signature}) as response:
        text = await response.text()
        if response.status != 200:
            print(f"run.py send: HTTP {response.status}: {text.strip()[:200]}", file=sys.stderr)
            return 1
    for message in ET.fromstring(text).iter("Message"):
        body_el = message.find("Body")
        words = body_el.text if body_el is not None else message.text
        media = [m.text or "" for m in message.iter("Media")]
        _print_text(message.get("to") or phone, words or "", media, "TwiML")
    return 0


def _print_text(to: str, body: str, media: list[str], via: str) -> None:
    photos = "".join(f" [photo {url}]" for url in media)
    carrier = ", from Twilio itself" if via == "Twilio" else ""
    print(f"[to {to}{carrier}] {body}{photos}")


async def chat_sms(config: Config, sender: str) -> int:
    """Be `sender`'s phone in the terminal: each line is texted through the dev server's phone
    simulator (a signed webhook with Twilio's cookie jar, shared with the browser page), and
    every message to this phone is printed as it arrives, replies and REST texts alike."""
    try:
        phone = e164(sender)
    except NotAPhoneNumber as error:
        print(f"run.py chat: {error}", file=sys.stderr)
        return 2
    base = f"http://{config.server.host}:{config.server.port}"
    headers = {"X-Simulator": "1"}
    printed: set[int] = set()  # a reply comes in the send's answer and on the stream: once

    def show(event: dict[str, Any]) -> None:
        if event["id"] in printed or event["phone"] != phone or event["direction"] == "out":
            return
        printed.add(event["id"])
        mark = "!" if event["direction"] == "note" else "<"
        photos = "".join(f" [photo {url}]" for url in event["media"])
        via = "from Twilio itself, not the bot" if event["via"] == "Twilio" else event["via"]
        print(f"{mark} {event['body']}{photos} ({via})", flush=True)

    async with aiohttp.ClientSession() as session:
        try:
            async with session.get(base + "/simulator/state") as response:
                if response.status == 404:
                    print(
                        "run.py chat: the server is not in dev mode (no simulator)", file=sys.stderr
                    )
                    return 2
                state = await response.json()
        except aiohttp.ClientError:
            print(f"run.py chat: no server at {base}; start it: python run.py", file=sys.stderr)
            return 1
        print(
            f"You are {phone}, texting the bot at {state['bot_number']}. Type a message and "
            "Enter; /jump moves Twilio's clock 4 hours; Ctrl-D ends.",
            flush=True,
        )
        stream = asyncio.create_task(_follow(session, base, phone, state["last_id"], show))
        lines = _stdin_lines()
        try:
            while (line := await lines.get()) is not None:
                body = line.strip()
                if not body:
                    continue
                path, form = "/simulator/send", {"from": phone, "body": body}
                if body == "/jump":
                    path, form = "/simulator/jump", {}
                async with session.post(base + path, data=form, headers=headers) as response:
                    answer = await response.json(content_type=None)
                if response.status != 200:
                    print(f"! {answer.get('error', response.status)}", flush=True)
                elif path == "/simulator/jump":
                    print(f"! Twilio's clock is {answer['offset_hours']:g} h ahead", flush=True)
                else:
                    for event in answer["events"]:
                        show(event)
        finally:
            stream.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stream
    return 0


async def _follow(
    session: aiohttp.ClientSession,
    base: str,
    phone: str,
    after: int,
    show: Callable[[dict[str, Any]], None],
) -> None:
    """Print what the simulator's event stream brings this phone (REST texts arrive here)."""
    url = base + "/simulator/events"
    async with session.get(
        url, params={"phone": phone, "after": str(after)}, timeout=aiohttp.ClientTimeout()
    ) as response:
        while raw := await response.content.readline():
            line = raw.decode().rstrip("\n")
            if line.startswith("data: "):
                event = json.loads(line.removeprefix("data: "))
                if "phone" in event:
                    show(event)


def _stdin_lines() -> asyncio.Queue[str | None]:
    """Lines typed (or piped) on stdin, then None. A daemon thread reads them: blocking reads of
    a terminal or a file have no portable asyncio form, and the thread must not outlive us."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=read, name="stdin", daemon=True).start()
    return lines


# -- the operator's questions from the command line ---------------------------------------------


async def print_logs(config: Config, phone: str | None, since: str | None, form: str) -> int:
    """Messages in order, a batch at a time (a million of them never sit in memory)."""
    try:
        number = e164(phone) if phone else None
        start = date.fromisoformat(since).isoformat() if since else None
    except (NotAPhoneNumber, ValueError) as error:
        print(f"run.py logs: {error}", file=sys.stderr)
        return 2
    async with open_store(config, writes=False) as store:
        out = csv.writer(sys.stdout) if form == "csv" else None
        if out is not None:
            out.writerow(LOG_FIELDS)
        after = 0
        while rows := await store.store.logs(number, start, BATCH, after):
            for row in rows:
                if out is not None:
                    out.writerow([row[field] for field in LOG_FIELDS])
                elif form == "jsonl":
                    print(json.dumps({**row, "media": json.loads(row["media"] or "[]")}))
                else:
                    arrow = "->" if row["direction"] == "in" else "<-"
                    states = (
                        f" [{row['state_before']} -> {row['state_after']}]"
                        if row["state_before"] or row["state_after"]
                        else ""
                    )
                    code = f" (error {row['error_code']})" if row["error_code"] else ""
                    body = row["body"].replace("\n", "\n    ")  # a message's own lines, indented
                    print(
                        f"{row['at']} #{row['conversation_id']} {row['phone']} {arrow} bot"
                        f" {row['status']}{code}{states}: {body}"
                    )
            after = rows[-1]["id"]
        return 0


async def print_reservations(config: Config, status: str | None) -> int:
    async with open_store(config, writes=False) as store:
        where = console_queries.ReservationFilter(status=status)
        offset = 0
        while rows := await store.store.reservations(where, BATCH, offset):
            for r in rows:
                print(
                    f"{r['id']}\t{r['status']}\t{r['property_title']}\t{r['check_in']} to"
                    f" {r['check_out']}\tguest {_named(r['guest_name'], r['guest_phone'])}"
                    f"\thost {_named(r['host_name'], r['host_phone'])}"
                    f"\trequested {r['created_at']}"
                )
            offset += len(rows)
        if offset == 0:
            print(f"no {status} reservations" if status else "no reservations")
        return 0


def _named(name: str | None, phone: str) -> str:
    return f"{name} {phone}" if name else phone


async def apply_retention(config: Config, days: int) -> int:
    """Empty the bodies of messages older than `days` days (bot/retention.py); through the
    running service when one owns the database."""
    if days < 0:
        print("run.py retention: --days must be 0 or more", file=sys.stderr)
        return 2
    async with open_store(config, writes=True) as store:
        if store.service is not None:
            effective = await effective_config(config, store.store)
            reply = await _post_admin(store.service.url, effective, "retention", {"days": days})
            summary = reply["summary"]
        else:
            summary = await forget_old_bodies(store.store, days, utc_now())
    print(f"Removed {summary}; message counts, times, states and reservations are kept.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
