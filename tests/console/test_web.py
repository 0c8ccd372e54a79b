"""The operator console's pages and actions over real HTTP (the `bot` fixture: the real app on a
real port, guests and hosts texting it as Twilio would): sign-in, CSRF, every list's filters
and paging, the transcript, the outbox retry, the overview, redaction, escaping."""

from __future__ import annotations

import asyncio
import contextlib
import re
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from bot.app import BACKGROUND
from bot.console import session as sessions
from conversations import texts
from tests.bot.test_webhook import GUEST, GUEST_B, HOST, eventually, outbox_rows, request_stay
from tests.conftest import ADMIN_TOKEN, Bot
from tests.console.conftest import Operator

PAGES = (
    "/admin",
    "/admin/conversations",
    "/admin/conversations/1",
    "/admin/reservations",
    "/admin/reservations/1",
    "/admin/outbox",
)


def rows(page_text: str) -> list[str]:
    """The first cells' links of a list page: the people or ids shown, in order."""
    return re.findall(r'<a class="person" href="/admin/conversations/\d+">([^<]+)</a>', page_text)


async def booked(bot: Bot) -> int:
    await bot.add_home(HOST, "Beach House")
    ref = await request_stay(bot, bot.phone(GUEST))
    await bot.drained()
    return ref


# -- signing in ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_sends_a_stranger_to_sign_in(anonymous: Operator, path: str) -> None:
    page = await anonymous.get(path)
    assert page.status == 303
    assert page.location is not None and page.location.startswith("/admin/login?next=")


async def test_the_sign_in_page_is_a_form_and_a_wrong_token_is_refused(
    anonymous: Operator,
) -> None:
    page = await anonymous.get("/admin/login")
    assert page.status == 200
    assert '<input name="token" type="password"' in page.text
    refused = await anonymous.sign_in("not-the-token")
    assert refused.status == 401
    assert "Wrong token." in refused.text
    assert (await anonymous.get("/admin")).status == 303


async def test_signing_in_sets_a_strict_http_only_cookie_for_admin_only(
    anonymous: Operator,
) -> None:
    url = anonymous.bot.url + "/admin/login"
    async with anonymous.session.post(
        url, data={"token": ADMIN_TOKEN, "next": "/admin/outbox"}, allow_redirects=False
    ) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/admin/outbox"
        cookie = response.cookies[sessions.COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/admin"
    assert cookie["max-age"] == str(sessions.MAX_AGE)
    page = await anonymous.get("/admin/outbox")
    assert page.status == 200
    assert "<h1>Outbox</h1>" in page.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/admin", "/sms"])
async def test_sign_in_never_redirects_off_the_console(anonymous: Operator, target: str) -> None:
    page = await anonymous.post("/admin/login", {"token": ADMIN_TOKEN, "next": target})
    assert (page.status, page.location) == (303, "/admin")


async def test_a_forged_or_expired_cookie_is_no_session(anonymous: Operator, bot: Bot) -> None:
    await anonymous.sign_in()
    (cookie,) = [c for c in anonymous.session.cookie_jar if c.key == sessions.COOKIE]
    issued, csrf, signature = cookie.value.split(".")

    async def status_with(value: str) -> int:
        jar = aiohttp.DummyCookieJar()
        headers = {"Cookie": f"{sessions.COOKIE}={value}"}
        async with (
            aiohttp.ClientSession(cookie_jar=jar) as session,
            session.get(bot.url + "/admin", headers=headers, allow_redirects=False) as response,
        ):
            return response.status

    assert await status_with(cookie.value) == 200
    assert await status_with(f"{int(issued) + 1}.{csrf}.{signature}") == 303
    assert await status_with(f"{issued}.{csrf}x.{signature}") == 303
    assert await status_with(f"{issued}.{csrf}") == 303
    bot.clock.advance(seconds=sessions.MAX_AGE + 1)
    assert await status_with(cookie.value) == 303


async def test_signing_out_needs_the_csrf_token_and_ends_the_session(operator: Operator) -> None:
    assert (await operator.post("/admin/logout", {})).status == 403
    assert (await operator.post("/admin/logout", {"csrf": "guess"})).status == 403
    assert (await operator.get("/admin")).status == 200
    page = await operator.post("/admin/logout", {"csrf": await operator.csrf()})
    assert (page.status, page.location) == (303, "/admin/login")
    assert (await operator.get("/admin")).status == 303


async def test_the_json_api_keeps_its_bearer_token_beside_the_console(
    operator: Operator, bot: Bot
) -> None:
    # A console session is not an API credential, and the API still answers its token.
    page = await operator.get("/admin/api/outbox")
    assert page.status == 401
    assert await bot.admin("/admin/api/outbox") == []


async def test_a_post_without_a_session_is_forbidden(anonymous: Operator) -> None:
    assert (await anonymous.post("/admin/outbox/1/retry", {"csrf": "x"})).status == 403


# -- conversations ----------------------------------------------------------------------------


async def test_conversations_are_found_by_phone_in_any_format(operator: Operator, bot: Bot) -> None:
    await booked(bot)
    await bot.phone(GUEST_B).ask("LIST")
    every = await operator.get("/admin/conversations")
    assert rows(every.text) == [GUEST_B, HOST, GUEST]  # newest first
    for typed in ("(555) 000-1111", "555.000.1111", "+1 555 000 1111", "5550001111"):
        page = await operator.get("/admin/conversations?phone=" + typed.replace("+", "%2B"))
        assert rows(page.text) == [GUEST], typed
    bad = await operator.get("/admin/conversations?phone=12")
    assert bad.status == 200
    assert "is not a possible phone number" in bad.text
    assert rows(bad.text) == []


async def test_each_row_shows_role_last_message_and_state(operator: Operator, bot: Bot) -> None:
    await booked(bot)
    page = await operator.get(f"/admin/conversations?phone={HOST.replace('+', '%2B')}")
    row = page.text.split('class="person"')[1].split("</tr>")[0]
    assert "<td>host</td>" in row
    assert "New request" in row or "Request" in row
    guest = await operator.get(f"/admin/conversations?phone={GUEST.replace('+', '%2B')}")
    row = guest.text.split('class="person"')[1].split("</tr>")[0]
    assert "<td>guest</td>" in row
    assert "<code>" in row


async def test_conversations_are_found_by_words_dates_and_state(
    operator: Operator, bot: Bot
) -> None:
    await booked(bot)  # the guest's note says "here for a wedding"; the host's request quotes it
    await bot.phone(GUEST_B).ask("LIST")
    await bot.phone(GUEST_B).ask("pineapple")
    assert rows((await operator.get("/admin/conversations?q=wedding")).text) == [HOST, GUEST]
    assert rows((await operator.get("/admin/conversations?q=WEDDING+quiet")).text) == [
        HOST,
        GUEST,
    ]
    assert rows((await operator.get("/admin/conversations?q=pineapple")).text) == [GUEST_B]
    assert rows((await operator.get("/admin/conversations?q=wedding+nowhere")).text) == []
    # FTS5 syntax typed by an operator is only words.
    assert (await operator.get('/admin/conversations?q="AND OR NEAR(*')).status == 200
    today = bot.clock().date()
    tomorrow = today + timedelta(days=1)
    assert len(rows((await operator.get(f"/admin/conversations?since={today}")).text)) == 3
    assert len(rows((await operator.get(f"/admin/conversations?until={today}")).text)) == 3
    assert rows((await operator.get(f"/admin/conversations?since={tomorrow}")).text) == []
    yesterday = today - timedelta(days=1)
    assert rows((await operator.get(f"/admin/conversations?until={yesterday}")).text) == []
    bad = await operator.get("/admin/conversations?since=yesterday")
    assert "since must be a date" in bad.text
    states = await bot.services.store.states()
    state_b = (await bot.admin(f"/admin/api/conversations?phone={GUEST_B.replace('+', '%2B')}"))[0][
        "state"
    ]
    assert state_b in states
    found = rows((await operator.get(f"/admin/conversations?state={state_b}")).text)
    assert GUEST_B in found


async def test_a_word_search_finds_every_message_committed_before_it(
    operator: Operator, bot: Bot
) -> None:
    # Messages are indexed in bulk beside the turns (bot/search_index.py); with that background
    # task stopped, only the catch-up the search itself runs can find a message just sent.
    for task in bot.server.app[BACKGROUND].tasks:
        if task.get_name() == "search-index":
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    await bot.phone(GUEST_B).ask("LIST")
    await bot.phone(GUEST_B).ask("kumquat")
    assert rows((await operator.get("/admin/conversations?q=kumquat")).text) == [GUEST_B]


async def test_conversations_are_paged(operator: Operator, bot: Bot) -> None:
    phones = [f"+1555010{n:04d}" for n in range(52)]
    for number in phones:
        await bot.phone(number).ask("LIST")
    first = await operator.get("/admin/conversations")
    assert rows(first.text) == phones[::-1][:50]
    assert 'rel="next" href="/admin/conversations?page=2"' in first.text
    assert 'rel="prev"' not in first.text
    second = await operator.get("/admin/conversations?page=2")
    assert rows(second.text) == phones[1::-1]
    assert 'rel="next"' not in second.text


async def test_message_bodies_are_shown_as_text_never_as_markup(
    operator: Operator, bot: Bot
) -> None:
    await bot.phone(GUEST).text('<script>alert("x")</script><img src=x onerror=alert(1)>')
    for path in ("/admin/conversations", "/admin/conversations?q=script", "/admin/conversations/1"):
        page = await operator.get(path)
        assert "<script>alert" not in page.text
        assert "<img src=x" not in page.text
    page = await operator.get("/admin/conversations/1")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x" in page.text


# -- the transcript ---------------------------------------------------------------------------


async def test_the_transcript_shows_bubbles_states_photos_and_reservations(
    operator: Operator, bot: Bot
) -> None:
    ref = await booked(bot)
    photo = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    await bot.phone(GUEST).text("look", media=((photo, "image/jpeg"),))
    (conversation,) = await bot.admin(f"/admin/api/conversations?phone={GUEST.replace('+', '%2B')}")
    page = await operator.get(f"/admin/conversations/{conversation['id']}")
    assert page.status == 200
    bubbles = re.findall(r'<li class="bubble (in|out)"', page.text)
    logged = [m["direction"] for m in conversation["messages"]] + ["in", "out"]
    assert bubbles[: len(conversation["messages"])] == logged[: len(conversation["messages"])]
    assert bubbles[0] == "in" and "out" in bubbles
    assert f'<img class="thumb" src="{photo}"' in page.text
    assert re.search(r'<span class="states"><code>\w+</code> → <code>\w+</code></span>', page.text)
    assert f'<a href="/admin/reservations/{ref}">Reservation {ref}</a>' in page.text
    assert "replied (TwiML)" in page.text
    host = (await bot.admin(f"/admin/api/conversations?phone={HOST.replace('+', '%2B')}"))[0]
    host_page = await operator.get(f"/admin/conversations/{host['id']}")
    assert '<span class="status status-' in host_page.text
    assert re.search(r"status-(sent|delivered)\">(sent|delivered)", host_page.text)
    assert f'href="/admin/reservations/{ref}">reservation {ref}' in host_page.text
    assert (await operator.get("/admin/conversations/999")).status == 404


async def test_a_photo_url_that_is_not_the_web_is_not_shown(operator: Operator, bot: Bot) -> None:
    await bot.phone(GUEST).text("x", media=(("javascript:alert(1)", "image/jpeg"),))
    page = await operator.get("/admin/conversations/1")
    assert "javascript:" not in page.text


# -- the outbox and retry ---------------------------------------------------------------------


async def test_a_failed_delivery_shows_its_code_and_is_retried_once(
    operator: Operator, bot: Bot
) -> None:
    bot.twilio.fail_next(1, "21211", to=HOST)
    await bot.add_home(HOST, "Beach House")
    await request_stay(bot, bot.phone(GUEST))

    async def host_rows() -> list[dict[str, Any]]:
        return await outbox_rows(bot, HOST)

    (row,) = await eventually(host_rows, lambda r: len(r) == 1 and r[0]["status"] == "failed")
    page = await operator.get("/admin/outbox")
    assert f'<tr id="o{row["id"]}">' in page.text
    assert "error 21211: invalid &#39;To&#39; phone number" in page.text
    assert f'action="/admin/outbox/{row["id"]}/retry"' in page.text
    # Without the CSRF token nothing happens.
    refused = await operator.post(f"/admin/outbox/{row['id']}/retry", {"csrf": "nope"})
    assert refused.status == 403
    assert (await host_rows())[0]["status"] == "failed"

    done = await operator.post(f"/admin/outbox/{row['id']}/retry", {"csrf": page.csrf})
    assert done.status == 303
    (sent,) = await eventually(host_rows, lambda r: r[0]["status"] in ("sent", "delivered"))
    assert (sent["id"], sent["error_code"]) == (row["id"], None)
    assert len(bot.twilio.messages_to(HOST)) == 1
    after = await operator.get("/admin/outbox?show=all")
    assert f"<td>retry</td><td>outbox {row['id']}</td><td>was failed; queued again</td>" in (
        after.text
    )
    # Retrying what is not failed is refused.
    again = await operator.post(f"/admin/outbox/{row['id']}/retry", {"csrf": page.csrf})
    assert again.status == 409
    assert (await operator.post("/admin/outbox/999/retry", {"csrf": page.csrf})).status == 404


async def test_the_outbox_views(operator: Operator, bot: Bot) -> None:
    await booked(bot)
    failed = await operator.get("/admin/outbox")
    assert "Nothing here." in failed.text
    every = await operator.get("/admin/outbox?show=all")
    assert HOST in every.text
    assert "Nothing here." not in every.text


# -- reservations -----------------------------------------------------------------------------


def reservation_ids(text: str) -> list[int]:
    return [int(n) for n in re.findall(r'<td><a href="/admin/reservations/(\d+)">', text)]


async def test_reservations_are_filtered_and_show_their_history(
    operator: Operator, bot: Bot
) -> None:
    await bot.add_home(HOST, "Beach House")
    home_b = await bot.add_home("+15550100002", "Cabin")
    first = await request_stay(bot, bot.phone(GUEST), start=30)
    second = await request_stay(bot, bot.phone(GUEST_B), home=home_b, start=60, name="Bo")
    await bot.drained()
    every = await operator.get("/admin/reservations")
    assert reservation_ids(every.text) == [second, first]
    checks = {
        "status=pending": [second, first],
        "status=confirmed": [],
        f"home={home_b}": [second],
        f"guest={GUEST.replace('+', '%2B')}": [first],
        "host=(555)%20010-0002": [second],
        f"from={bot.clock().date() + timedelta(days=45)}": [second],
        f"to={bot.clock().date() + timedelta(days=45)}": [first],
    }
    for query, expected in checks.items():
        page = await operator.get("/admin/reservations?" + query)
        assert reservation_ids(page.text) == expected, query
    assert "status must be one of" in (await operator.get("/admin/reservations?status=x")).text

    history = await operator.get(f"/admin/reservations/{first}")
    steps = re.findall(r"<strong>([^<]+)</strong>", history.text)
    assert steps == ["requested", "host notified"]
    assert "Two of us, quiet, here for a wedding." in history.text
    assert (await operator.get("/admin/reservations/999")).status == 404


async def test_reservations_show_the_guest_and_the_host_by_name_and_number(
    operator: Operator, bot: Bot
) -> None:
    await bot.add_home(HOST, "Beach House", host_name="Hana")
    ref = await request_stay(bot, bot.phone(GUEST), name="Ann")
    listed = (await operator.get("/admin/reservations")).text
    (row,) = re.findall(r"<tr>.*?</tr>", listed.split("<tbody>", 1)[1], re.S)
    assert re.search(rf"<td>Ann <span class=\"muted\">\{GUEST}</span></td>", row), row
    assert re.search(rf"<td>Hana <span class=\"muted\">\{HOST}</span></td>", row), row
    page = (await operator.get(f"/admin/reservations/{ref}")).text
    assert "guest Ann <a href=" in page and f">{GUEST}</a>" in page
    assert "host Hana <a href=" in page and f">{HOST}</a>" in page


async def test_a_decided_reservation_shows_the_decision_and_the_guest_told(
    operator: Operator, bot: Bot
) -> None:
    ref = await booked(bot)
    await bot.phone(HOST).ask(f"YES {ref}")
    await bot.drained()
    history = await operator.get(f"/admin/reservations/{ref}")
    steps = re.findall(r"<strong>([^<]+)</strong>", history.text)
    assert steps[0] == "requested"
    assert "host notified" in steps
    assert "confirmed" in steps


# -- overview ---------------------------------------------------------------------------------


async def test_the_overview_counts_today_and_draws_the_chart(operator: Operator, bot: Bot) -> None:
    await booked(bot)
    page = await operator.get("/admin")
    assert page.status == 200
    assert '<td id="today-conversations">2</td>' in page.text
    assert '<td id="today-requests">1</td>' in page.text
    assert '<td id="today-failed">0</td>' in page.text
    assert '<strong id="opted-out">0</strong>' in page.text
    today = bot.clock().date().isoformat()
    assert f'data-day="{today}" data-count="1"' in page.text
    assert page.text.count("<rect ") == 14
    assert "<script" not in page.text


async def test_the_overview_counts_opt_outs_as_they_happened(operator: Operator, bot: Bot) -> None:
    # Three people opt out and come back; a fourth opts out for good.
    for n in range(3):
        phone = bot.phone(f"+1555000300{n}")
        await phone.ask("hello")
        await phone.text("STOP")
        await phone.ask("START")
    await bot.phone("+15550003009").text("quit")
    page = await operator.get("/admin")
    assert '<td id="today-opt-outs">4</td>' in page.text
    assert '<td id="week-opt-outs">4</td>' in page.text
    assert '<td id="today-opt-ins">3</td>' in page.text
    assert '<strong id="opted-out">1</strong>' in page.text  # who is opted out now
    assert "even if they came back" in page.text  # the page says what the figures mean


# -- redaction --------------------------------------------------------------------------------


async def test_redacting_a_person_replaces_their_number_and_texts_and_keeps_the_booking(
    operator: Operator, bot: Bot
) -> None:
    ref = await booked(bot)
    (conversation,) = await bot.admin(f"/admin/api/conversations?phone={GUEST.replace('+', '%2B')}")
    page = await operator.get(f"/admin/conversations/{conversation['id']}")
    (person_id,) = re.findall(r'action="/admin/people/(\d+)/redact"', page.text)
    assert (await operator.post(f"/admin/people/{person_id}/redact", {})).status == 403
    done = await operator.post(f"/admin/people/{person_id}/redact", {"csrf": page.csrf})
    assert done.status == 303
    after = await operator.get(f"/admin/conversations/{conversation['id']}")
    assert GUEST not in after.text
    assert "wedding" not in after.text
    assert after.text.count("[redacted]") == len(conversation["messages"])
    assert await bot.admin(f"/admin/api/conversations?phone={GUEST.replace('+', '%2B')}") == []
    (kept,) = [r for r in await bot.admin("/admin/api/reservations") if r["id"] == ref]
    assert kept["status"] == "pending"
    assert kept["guest_phone"].startswith(f"redacted-{person_id}-")
    assert kept["message"] == "[redacted]"
    log = await operator.get("/admin/outbox")
    assert f"<td>redact</td><td>person {person_id}</td>" in log.text
    # The running bot forgot the number too: it no longer knows this person, nor their draft:
    # texting again is a newcomer's first message, with no trips.
    again = bot.phone(GUEST)
    assert await again.ask("hello") == texts.WELCOME
    assert await again.ask("MY") == texts.NO_TRIPS


async def test_every_page_names_a_favicon_that_is_served(operator: Operator, bot: Bot) -> None:
    page = await operator.get("/admin")
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page.text
    for path in ("/static/favicon.svg", "/favicon.ico"):
        async with bot.session.get(bot.url + path) as response:
            assert response.status == 200, path
            assert response.headers["Content-Type"] == "image/svg+xml"
            assert (await response.text()).startswith("<svg")
