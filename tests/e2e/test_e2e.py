"""The whole product as Twilio and its users see it: `python run.py --config <tmp>` in its own
process, Twilio's REST API played by tests/twilio_api.py, phones texting through signed webhooks.

One server and one story for the module, told in order (each test is a chapter; run alone, a
test first tells the chapters before it, so no test depends on which others ran): the operator
lists homes with
`run.py add-home`; a guest browses, views a home with its photo, books it; the host is texted and
accepts; a second guest is rejected; a host with two pending requests answers by reference;
overlapping requests are closed on accept; a replayed MessageSid changes nothing; a forged
signature is refused; an opted-out guest is sent nothing; delivery reports mark every text
delivered; the admin API tells the same story; SIGTERM ends the service cleanly. The last test
has a server of its own: killed with SIGKILL, it restarts on its database.
"""

from __future__ import annotations

import functools
import re
import signal
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from twilio.request_validator import RequestValidator

from tests.conftest import postgres_database
from tests.e2e.harness import BOT_NUMBER, Handset, Service, running_service
from tests.openapi_contract import validate_create_message, validate_message_resource
from tests.phones import Reply
from tests.postgres import PostgresServer

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOST_A = "+15550100001"  # Maria: Beach House and Mountain Cabin
HOST_B = "+15550100002"  # City Loft
HOST_C = "+15550100003"  # three more homes, so the list has a second page

ANA = "+15550200001"  # books the Beach House; accepted
BEN = "+15550200002"  # asks for the City Loft; rejected
CLEO = "+15550200003"  # Mountain Cabin; one of host A's two pending requests, rejected by ref
DAN = "+15550200004"  # Beach House later that month; accepted by ref
EVE = "+15550200005"  # City Loft, overlapping Finn's dates; accepted
FINN = "+15550200006"  # City Loft; closed when Eve's request is accepted
GUS = "+15550200007"  # Garden Cottage; opts out, then accepted
HANA = "+15550200008"  # Garden Cottage, overlapping Gus; opts out, then closed
IVY = "+15550200009"  # Mountain Cabin; her SEND is replayed; stays pending
JO = "+15550200010"  # texts the seed's webhook route, /reservation/incoming

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def stay_month() -> date:
    """The first of the month after next (its 5th is 33 to 64 days ahead): every stay in the
    story is in that month, safely in the future whatever today is."""
    next_month = (datetime.now(UTC).date().replace(day=1) + timedelta(days=32)).replace(day=1)
    return (next_month + timedelta(days=32)).replace(day=1)


def said(first: int, last: int) -> str:
    """Dates as a guest types them: "Jan 5-9"."""
    return f"{MONTHS[stay_month().month - 1]} {first}-{last}"


def iso(day: int) -> str:
    return stay_month().replace(day=day).isoformat()


@dataclass
class Story:
    service: Service
    homes: dict[str, int] = field(default_factory=dict)  # title -> id
    refs: dict[str, int] = field(default_factory=dict)  # guest phone -> reservation ref

    def phone(self, number: str) -> Handset:
        return self.service.phone(number)

    told: dict[str, BaseException | None] = field(default_factory=dict)  # chapter -> failure

    def ref(self, guest: str) -> int:
        return self.refs[guest]

    async def tell_through(self, last: Chapter) -> None:
        """Tell every chapter up to `last` that was not told yet, in the story's order; the
        chapter a test names is told by that test, so its own failure is its test's."""
        for chapter in CHAPTERS[: CHAPTERS.index(last) + 1]:
            name = chapter.__name__
            if name in self.told:
                failure = self.told[name]
                if failure is not None and chapter is not last:
                    raise AssertionError(f"an earlier chapter failed: {name}") from failure
                continue
            try:
                await chapter(self)
            except BaseException as error:
                self.told[name] = error
                raise
            self.told[name] = None

    async def reservation(self, ref: int) -> dict[str, Any]:
        rows = await self.service.admin("/admin/api/reservations?limit=1000")
        matching = [row for row in rows if row["id"] == ref]
        assert len(matching) == 1, rows
        return matching[0]

    async def outbox_to(self, phone: str) -> list[dict[str, Any]]:
        rows = await self.service.admin("/admin/api/outbox?limit=1000")
        return [row for row in rows if row["to"] == phone]


Chapter = Callable[[Story], Awaitable[None]]
CHAPTERS: list[Chapter] = []


def chapter(tell: Chapter) -> Chapter:
    """A test that is one chapter of the story: the chapters before it are told first."""
    CHAPTERS.append(tell)

    @functools.wraps(tell)
    async def test(story: Story) -> None:
        await story.tell_through(tell)

    return test


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def story(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: tuple[PostgresServer | None, str],
) -> AsyncIterator[Story]:
    """The story on each store: the embedded SQLite file, then a PostgreSQL database."""
    url = "" if request.param == "sqlite" else await postgres_database(postgres_server)
    try:
        async with running_service(tmp_path_factory.mktemp("e2e"), database_url=url) as service:
            yield Story(service)
    finally:
        if url and postgres_server[0] is not None:
            await postgres_server[0].drop(url)


def only(replies: list[Reply], to: str) -> Reply:
    mine = [reply for reply in replies if reply.to == to]
    assert len(mine) == 1, f"expected one message to {to}, got {replies}"
    return mine[0]


def number_in_list(page: str, title: str) -> int:
    """The number a list page gives the home with this title."""
    found = re.search(rf"^(\d+) {re.escape(title)},", page, re.MULTILINE)
    assert found, f"{title!r} is not in the list:\n{page}"
    return int(found.group(1))


async def book(guest: Handset, search: str, title: str, dates: str, message: str, name: str) -> int:
    """LIST <search>, view the home, BOOK, dates, message, name (first booking), SEND: the ref."""
    page = await guest.ask(f"LIST {search}")
    number = number_in_list(page, title)
    details = only(await guest.text(str(number)), guest.number)
    assert title in details.body and details.media, details
    assert (await guest.ask("BOOK")).startswith(f"Booking {title}. Which dates?")
    assert "Now a short note for the host" in await guest.ask(dates)
    answer = await guest.ask(message)
    if answer == "And what name should the host see? (MENU to go back)":
        answer = await guest.ask(name)
    assert answer.startswith(f"{title}, {dates}") and f"as {name}" in answer, answer
    sent = await guest.ask("SEND")
    found = re.fullmatch(rf"Request (\d+) sent to the host of {re.escape(title)}\. .*", sent)
    assert found, sent
    return int(found.group(1))


# -- the operator lists homes ------------------------------------------------------------------


@chapter
async def test_operator_lists_homes_with_add_home(story: Story) -> None:
    server = story.service.server
    homes = [
        (HOST_A, "Beach House", "Malibu, CA", "Right on the sand, sunsets from the deck.", 250),
        (HOST_A, "Mountain Cabin", "Tahoe, CA", "Log cabin by the lake, wood stove.", 180),
        (HOST_B, "City Loft", "San Francisco, CA", "Bright loft near the ballpark.", 200),
        (HOST_C, "Garden Cottage", "Sonoma, CA", "Quiet cottage among the vines.", 150),
        (HOST_C, "Desert Dome", "Joshua Tree, CA", "Geodesic dome under the stars.", 140),
        (HOST_C, "Redwood Treehouse", "Mendocino, CA", "Up in the old redwoods.", 160),
    ]
    for host, title, place, description, price in homes:
        slug = title.lower().replace(" ", "-")
        story.homes[title] = await server.add_home(
            host,
            title,
            place=place,
            description=description,
            price=price,
            image_url=f"https://img.example.com/{slug}.jpg",
            host_name="Maria" if host == HOST_A else None,
        )
    assert len(set(story.homes.values())) == len(homes)

    listed = await story.service.admin("/admin/api/properties")
    by_id = {row["id"]: row for row in listed}
    assert set(by_id) == set(story.homes.values())
    beach = by_id[story.homes["Beach House"]]
    assert beach["host_phone"] == HOST_A and beach["host_name"] == "Maria"
    assert beach["image_url"] == "https://img.example.com/beach-house.jpg"
    assert by_id[story.homes["City Loft"]]["host_phone"] == HOST_B
    assert all(row["active"] for row in listed)


# -- a guest browses, views, books; the host is texted and accepts ------------------------------


@chapter
async def test_guest_browses_pages_and_searches(story: Story) -> None:
    ana = story.phone(ANA)
    assert (await ana.ask("hello")).startswith("Welcome to Airtng")

    first = await ana.ask("LIST")
    assert first.startswith("Homes 1-5 of 6:"), first
    assert first.endswith("MORE for more."), first
    assert "1 Beach House, Malibu, CA $250" in first

    second = await ana.ask("MORE")
    assert second.startswith("Homes 6-6 of 6:"), second
    assert "6 Redwood Treehouse, Mendocino, CA $160" in second
    assert "That was the last page" in await ana.ask("more")

    found = await ana.ask("LIST sand sunsets")
    assert found.startswith("Homes 1-1 of 1:\n1 Beach House, Malibu, CA $250"), found
    assert "airtng_session" in ana.cookies  # Twilio keeps it for the pair and sends it back

    # The seed's route is the same webhook.
    seed = story.service.carrier.phone(JO, path="/reservation/incoming")
    assert (await seed.ask("list loft")).startswith("Homes 1-1 of 1:\n1 City Loft")


@chapter
async def test_guest_views_a_home_with_its_photo(story: Story) -> None:
    ana = story.phone(ANA)
    answer = await ana.send(ana.form("1"))
    assert answer.status == 200 and answer.content_type.startswith("text/xml")
    message = ET.fromstring(answer.text).find("Message")
    assert message is not None and message.get("to") is None
    media = message.findall("Media")
    assert [m.text for m in media] == ["https://img.example.com/beach-house.jpg"]
    details = only(answer.replies, ANA)
    assert details.body.startswith("1 Beach House, Malibu, CA, $250/night. Right on the sand")
    assert details.body.endswith("Send BOOK to ask for it, or LIST.")
    assert ana.twiml[-1].media == ["https://img.example.com/beach-house.jpg"]


@chapter
async def test_guest_books_with_dates_a_message_and_a_name(story: Story) -> None:
    ana = story.phone(ANA)
    assert await ana.ask("BOOK") == (
        'Booking Beach House. Which dates? Like "Dec 3-7" or "12/3 to 12/7". MENU to go back.'
    )
    assert (await ana.ask(said(5, 9))).startswith(f"{said(5, 9)}, 4 nights, $1000. Now a short")
    assert (
        await ana.ask("We are two quiet painters.")
        == "And what name should the host see? (MENU to go back)"
    )
    summary = await ana.ask("Ana")
    assert summary == (
        f'Beach House, {said(5, 9)} (4 nights), $1000, as Ana: "We are two quiet painters.". '
        "Send SEND to ask the host, or MENU to drop it."
    )
    sent = await ana.ask("SEND")
    found = re.fullmatch(r"Request (\d+) sent to the host of Beach House\. .*", sent)
    assert found, sent
    story.refs[ANA] = int(found.group(1))


@chapter
async def test_host_is_texted_by_rest(story: Story) -> None:
    ref = story.ref(ANA)
    host = story.phone(HOST_A)
    message = await host.wait_for_rest(f"ACCEPT {ref}")
    assert message["to"] == HOST_A and message["from"] == BOT_NUMBER
    assert message["body"] == (
        f"New request {ref}: Beach House, {said(5, 9)} (4 nights) from Ana: "
        f'"We are two quiet painters." Reply ACCEPT {ref} or REJECT {ref}'
    )
    assert ANA not in message["body"]  # a guest's number is never shown to a host
    form = story.service.twilio.form_of(message["sid"])
    assert form["From"] == [BOT_NUMBER] and form["To"] == [HOST_A]
    assert form["StatusCallback"] == [story.service.server.url + "/sms/status"]
    assert [r.channel for r in host.inbox] == ["rest"]


@chapter
async def test_rest_requests_match_twilios_api_description(story: Story) -> None:
    twilio = story.service.twilio
    requests = twilio.create_requests()
    assert requests, "nothing was sent by REST"
    for request in requests:
        assert request.path == f"/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
        assert validate_create_message(request.form, twilio.account_sid) == [], request.form
        assert request.status == 201
    assert len(twilio.created) == len(requests)
    for resource in twilio.created:
        assert validate_message_resource(resource) == [], resource


@chapter
async def test_host_accepts_and_the_guest_is_told(story: Story) -> None:
    ref = story.ref(ANA)
    host = story.phone(HOST_A)
    answer = await host.send(host.form("ACCEPT"))
    assert answer.status == 200
    messages = ET.fromstring(answer.text).findall("Message")
    assert [m.get("to") for m in messages] == [None, ANA]
    assert answer.replies == [
        Reply(
            HOST_A,
            f"You accepted request {ref} (Ana, {said(5, 9)}). No more pending: REQUESTS lists new ones.",
        ),
        Reply(
            ANA,
            f"Good news! Beach House confirmed your stay {said(5, 9)} (request {ref}). "
            "MY shows your trips.",
        ),
    ]
    assert story.phone(ANA).inbox[-1].body.startswith("Good news! Beach House confirmed")
    assert HOST_A not in answer.replies[1].body  # a host's number is never shown to a guest
    assert (await story.reservation(ref))["status"] == "confirmed"
    trips = await story.phone(ANA).ask("MY")
    assert f"{ref} Beach House {said(5, 9)}: confirmed" in trips


# -- a second guest is rejected -------------------------------------------------------------------


@chapter
async def test_second_guest_is_rejected_and_told(story: Story) -> None:
    ben = story.phone(BEN)
    ref = await book(ben, "loft", "City Loft", said(5, 9), "Visiting my sister.", "Ben")
    story.refs[BEN] = ref
    host = story.phone(HOST_B)
    await host.wait_for_rest(f"REJECT {ref}")
    replies = await host.text("REJECT")
    assert replies == [
        Reply(
            HOST_B,
            f"You rejected request {ref} (Ben, {said(5, 9)}). No more pending: REQUESTS lists new ones.",
        ),
        Reply(
            BEN,
            f"Sorry, City Loft can't host you {said(5, 9)} (request {ref}). "
            "Send LIST to find another home.",
        ),
    ]
    assert ben.twiml[-1].body.startswith("Sorry, City Loft can't host you")
    assert (await story.reservation(ref))["status"] == "rejected"


# -- a host with two pending requests answers by reference ----------------------------------------


@chapter
async def test_host_with_two_pending_requests_answers_by_reference(story: Story) -> None:
    cleo, dan = story.phone(CLEO), story.phone(DAN)
    cleo_ref = await book(cleo, "cabin", "Mountain Cabin", said(5, 9), "Hiking trip.", "Cleo")
    dan_ref = await book(dan, "sand", "Beach House", said(12, 15), "Our anniversary.", "Dan")
    story.refs[CLEO], story.refs[DAN] = cleo_ref, dan_ref
    host = story.phone(HOST_A)
    await host.wait_for_rest(f"ACCEPT {cleo_ref}")
    await host.wait_for_rest(f"ACCEPT {dan_ref}")

    which = await host.text("ACCEPT")
    assert len(which) == 1 and which[0].to == HOST_A, which
    assert which[0].body.startswith("You have 2 pending requests: "), which
    assert f"{cleo_ref} Mountain Cabin {said(5, 9)} Cleo" in which[0].body
    assert f"{dan_ref} Beach House {said(12, 15)} Dan" in which[0].body
    assert which[0].body.endswith("Reply ACCEPT <ref> or REJECT <ref>.")
    assert (await story.reservation(cleo_ref))["status"] == "pending"
    assert (await story.reservation(dan_ref))["status"] == "pending"

    accepted = await host.text(f"accept {dan_ref}")
    assert accepted == [
        Reply(
            HOST_A,
            f"You accepted request {dan_ref} (Dan, {said(12, 15)}). 1 more pending: send REQUESTS.",
        ),
        Reply(
            DAN,
            f"Good news! Beach House confirmed your stay {said(12, 15)} (request {dan_ref}). "
            "MY shows your trips.",
        ),
    ]
    rejected = await host.text(f"REJECT {cleo_ref}")
    assert [r.to for r in rejected] == [HOST_A, CLEO]
    assert rejected[0].body.endswith("No more pending: REQUESTS lists new ones.")
    assert rejected[1].body.startswith("Sorry, Mountain Cabin can't host you")
    assert (await story.reservation(dan_ref))["status"] == "confirmed"
    assert (await story.reservation(cleo_ref))["status"] == "rejected"
    assert await host.ask("REQUESTS") == (
        "You have no pending requests; new ones will be texted to you. HELP for more."
    )


# -- overlapping requests: accepting one closes the other -----------------------------------------


@chapter
async def test_accepting_closes_overlapping_requests(story: Story) -> None:
    eve, finn = story.phone(EVE), story.phone(FINN)
    eve_ref = await book(eve, "loft", "City Loft", said(20, 24), "Conference week.", "Eve")
    finn_ref = await book(finn, "loft", "City Loft", said(22, 26), "Road trip.", "Finn")
    story.refs[EVE], story.refs[FINN] = eve_ref, finn_ref
    host = story.phone(HOST_B)
    await host.wait_for_rest(f"ACCEPT {finn_ref}")

    replies = await host.text(f"ACCEPT {eve_ref}")
    assert [r.to for r in replies] == [HOST_B, EVE]
    assert replies[0].body == (
        f"You accepted request {eve_ref} (Eve, {said(20, 24)}). No more pending: REQUESTS lists new ones. "
        f"Declined as overlapping: {finn_ref}."
    )
    assert replies[1].body.startswith("Good news! City Loft confirmed your stay")
    told = await finn.wait_for_rest(f"request {finn_ref}")
    assert told["body"] == (
        f"Sorry, City Loft was booked for {said(22, 26)} by someone else (request {finn_ref}). "
        "Send LIST for other homes."
    )
    assert told["from"] == BOT_NUMBER
    assert finn.twiml[-1].body.startswith("Request ")  # his last TwiML was his own SEND
    assert (await story.reservation(eve_ref))["status"] == "confirmed"
    assert (await story.reservation(finn_ref))["status"] == "rejected"


# -- a replayed MessageSid and a forged signature ------------------------------------------------


@chapter
async def test_replayed_message_sid_gets_the_same_answer_and_no_second_effect(story: Story) -> None:
    ivy = story.phone(IVY)
    page = await ivy.ask("LIST cabin")
    assert "Mountain Cabin" in await ivy.ask(str(number_in_list(page, "Mountain Cabin")))
    assert "Which dates?" in await ivy.ask("BOOK")
    assert "Now a short note" in await ivy.ask(said(12, 14))
    assert "name" in await ivy.ask("Birdwatching.")
    assert "Send SEND" in await ivy.ask("Ivy")

    form = ivy.form("SEND")
    headers = ivy.headers_for(ivy.public_url + ivy.path, form)
    first = await ivy.send(form, dict(headers))
    again = await ivy.send(form, dict(headers))
    assert first.status == again.status == 200
    assert again.text.encode() == first.text.encode()
    assert again.content_type == first.content_type
    found = re.search(r"Request (\d+) sent to the host of Mountain Cabin", first.text)
    assert found, first.text
    ref = story.refs[IVY] = int(found.group(1))

    rows = await story.service.admin("/admin/api/reservations?limit=1000")
    assert [r["id"] for r in rows if r["guest_phone"] == IVY] == [ref]
    queued = [r for r in await story.outbox_to(HOST_A) if f"ACCEPT {ref}" in r["body"]]
    assert len(queued) == 1, queued
    conversations = await story.service.admin(f"/admin/api/conversations?phone={IVY}")
    inbound = [m["body"] for c in conversations for m in c["messages"] if m["direction"] == "in"]
    assert inbound.count("SEND") == 1, inbound

    await story.phone(HOST_A).wait_for_rest(f"ACCEPT {ref}")
    await story.service.server.drained()
    sent = [m for m in story.phone(HOST_A).rest if f"ACCEPT {ref}" in m["body"]]
    assert len(sent) == 1, sent


@chapter
async def test_forged_signature_is_refused_and_changes_nothing(story: Story) -> None:
    ref = story.ref(IVY)
    host = story.phone(HOST_A)
    url = host.public_url + host.path
    form = host.form(f"ACCEPT {ref}")

    forged = host.headers_for(url, form)
    forged["X-Twilio-Signature"] = RequestValidator("not-the-auth-token").compute_signature(
        url, form
    )
    answer = await host.send(form, forged)
    assert answer.status == 403 and answer.replies == []

    tampered = dict(form, Body=f"REJECT {ref}")  # signed for another body
    answer = await host.send(tampered, host.headers_for(url, form))
    assert answer.status == 403

    unsigned = {k: v for k, v in host.headers_for(url, form).items() if k != "X-Twilio-Signature"}
    assert (await host.send(form, unsigned)).status == 403

    assert (await story.reservation(ref))["status"] == "pending"
    conversations = await story.service.admin(f"/admin/api/conversations?phone={HOST_A}")
    bodies = [m["body"] for c in conversations for m in c["messages"]]
    assert f"ACCEPT {ref}" not in bodies and f"REJECT {ref}" not in bodies


# -- an opted-out guest is sent nothing ----------------------------------------------------------


@chapter
async def test_opted_out_guests_get_nothing_when_the_host_decides(story: Story) -> None:
    gus, hana = story.phone(GUS), story.phone(HANA)
    gus_ref = await book(gus, "vines", "Garden Cottage", said(5, 9), "Wine tasting.", "Gus")
    hana_ref = await book(hana, "vines", "Garden Cottage", said(7, 10), "Family visit.", "Hana")
    story.refs[GUS], story.refs[HANA] = gus_ref, hana_ref
    host = story.phone(HOST_C)
    await host.wait_for_rest(f"ACCEPT {hana_ref}")

    for guest in (gus, hana):
        answer = await guest.send(guest.form("STOP"))
        assert answer.status == 200 and answer.replies == [], answer.text
    before = {phone: len(story.phone(phone).inbox) for phone in (GUS, HANA)}

    answer = await host.send(host.form(f"ACCEPT {gus_ref}"))
    assert answer.status == 200
    assert 'to="' not in answer.text, answer.text
    assert [r.to for r in answer.replies] == [HOST_C]
    assert answer.replies[0].body.startswith(f"You accepted request {gus_ref} (Gus, ")
    assert f"Declined as overlapping: {hana_ref}." in answer.replies[0].body

    assert (await story.reservation(gus_ref))["status"] == "confirmed"
    assert (await story.reservation(hana_ref))["status"] == "rejected"
    assert await story.outbox_to(HANA) == [] and await story.outbox_to(GUS) == []
    await story.service.server.drained()
    assert gus.rest == [] and hana.rest == []
    assert {phone: len(story.phone(phone).inbox) for phone in (GUS, HANA)} == before


# -- delivery reports ----------------------------------------------------------------------------


@chapter
async def test_status_callbacks_mark_messages_delivered(story: Story) -> None:
    twilio = story.service.twilio
    await story.service.server.drained()
    # The stand-in reports "sent" then "delivered" for each message, signed, to StatusCallback.
    await twilio.wait_for(
        lambda: (
            len(twilio.callbacks) == 2 * len(twilio.created)
            and all(c.status is not None or c.error for c in twilio.callbacks)
        ),
        what="every status callback answered",
    )
    assert [(c.status, c.error) for c in twilio.callbacks if c.status != 204] == []
    rows = await story.service.admin("/admin/api/outbox?limit=1000")
    assert len(rows) == len(twilio.created)
    assert {row["status"] for row in rows} == {"delivered"}, rows
    assert {row["twilio_sid"] for row in rows} == {m["sid"] for m in twilio.created}

    # A forged report is refused and changes nothing.
    row = rows[0]
    form = {"MessageSid": row["twilio_sid"], "MessageStatus": "undelivered", "ErrorCode": "30003"}
    url = story.service.server.url + "/sms/status"
    signature = RequestValidator("not-the-auth-token").compute_signature(url, form)
    carrier = story.service.carrier
    status, _, _ = await carrier.post(url, form, {"X-Twilio-Signature": signature})
    assert status == 403
    after = await story.service.admin("/admin/api/outbox?limit=1000")
    assert next(r for r in after if r["id"] == row["id"])["status"] == "delivered"


# -- the operator sees the same story ------------------------------------------------------------


@chapter
async def test_admin_api_shows_the_story(story: Story) -> None:
    expected = {
        ANA: ("confirmed", "Beach House", iso(5), iso(9)),
        BEN: ("rejected", "City Loft", iso(5), iso(9)),
        CLEO: ("rejected", "Mountain Cabin", iso(5), iso(9)),
        DAN: ("confirmed", "Beach House", iso(12), iso(15)),
        EVE: ("confirmed", "City Loft", iso(20), iso(24)),
        FINN: ("rejected", "City Loft", iso(22), iso(26)),
        GUS: ("confirmed", "Garden Cottage", iso(5), iso(9)),
        HANA: ("rejected", "Garden Cottage", iso(7), iso(10)),
        IVY: ("pending", "Mountain Cabin", iso(12), iso(14)),
    }
    rows = await story.service.admin("/admin/api/reservations?limit=1000")
    assert len(rows) == len(expected), rows
    hosts = {"Beach House": HOST_A, "Mountain Cabin": HOST_A, "City Loft": HOST_B}
    for row in rows:
        status, title, check_in, check_out = expected[row["guest_phone"]]
        assert story.refs.get(row["guest_phone"]) == row["id"]
        assert (row["status"], row["property_title"]) == (status, title), row
        assert (row["check_in"], row["check_out"]) == (check_in, check_out), row
        assert row["property_id"] == story.homes[title]
        assert row["host_phone"] == hosts.get(title, HOST_C)
    pending = await story.service.admin("/admin/api/reservations?status=pending")
    assert [row["guest_phone"] for row in pending] == [IVY]

    [ana] = await story.service.admin(f"/admin/api/conversations?phone={ANA}")
    assert ana["phone"] == ANA
    inbound = [m["body"] for m in ana["messages"] if m["direction"] == "in"]
    assert inbound[:4] == ["hello", "LIST", "MORE", "more"]
    assert "We are two quiet painters." in inbound and "SEND" in inbound
    outbound = [m for m in ana["messages"] if m["direction"] == "out"]
    photo = [m for m in outbound if m["media"]]
    assert [m["media"] for m in photo] == [["https://img.example.com/beach-house.jpg"]]
    assert any(m["body"].startswith("Good news! Beach House confirmed") for m in outbound)

    [finn] = await story.service.admin(f"/admin/api/conversations?phone={FINN}")
    closing = [m for m in finn["messages"] if "by someone else" in m["body"]]
    assert [(m["direction"], m["status"]) for m in closing] == [("out", "delivered")], closing

    [host] = await story.service.admin(f"/admin/api/conversations?phone={HOST_A}")
    host_in = [m["body"] for m in host["messages"] if m["direction"] == "in"]
    answers = ["ACCEPT", "ACCEPT", f"accept {story.ref(DAN)}", f"REJECT {story.ref(CLEO)}"]
    assert host_in == [*answers, "REQUESTS"], host_in
    assert sum("New request" in m["body"] for m in host["messages"]) == 4


# -- the end --------------------------------------------------------------------------------------


@chapter
async def test_sigterm_stops_the_service_cleanly(story: Story) -> None:
    server = story.service.server
    assert server.running
    assert await server.stop() == 0, server.output()
    assert "Traceback" not in server.stderr, server.stderr
    assert f"serving {server.url}/sms" in server.stdout, server.stdout


# -- the harness itself: a killed server comes back on its own database --------------------------


@pytest.mark.asyncio(loop_scope="function")
async def test_a_killed_server_restarts_on_its_database(service: Service) -> None:
    server = service.server
    home = await server.add_home(
        HOST_B,
        "City Loft",
        place="San Francisco, CA",
        description="Bright loft.",
        price=200,
        image_url="https://img.example.com/city-loft.jpg",
    )
    guest = service.phone(BEN)
    ref = await book(guest, "loft", "City Loft", said(5, 9), "Visiting my sister.", "Ben")
    await service.phone(HOST_B).wait_for_rest(f"ACCEPT {ref}")

    assert await server.kill() == -signal.SIGKILL
    assert not server.running
    await server.start()
    assert server.runs == 2 and "Traceback" not in server.stderr

    assert [row["id"] for row in await service.admin("/admin/api/properties")] == [home]
    replies = await service.phone(HOST_B).text("ACCEPT")
    assert [r.to for r in replies] == [HOST_B, BEN]
    assert guest.twiml[-1].body.startswith("Good news! City Loft confirmed")
    assert await server.stop() == 0, server.output()
