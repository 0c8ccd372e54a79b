"""The simulator's routes in dev mode, on a real port: each send is a signed webhook to the bot's
own /sms, answers reach the right phones, REST messages arrive on the event stream."""

from __future__ import annotations

from datetime import date

import aiohttp
import markupsafe

from bot.services import SERVICES
from bot.simulator.web import MAX_PHOTO_BYTES
from tests.conftest import Bot
from tests.simulator.conftest import GUEST, HOST, DevBot, png, stay


async def test_the_page_is_at_the_root_and_at_simulator_with_both_phones(dev: DevBot) -> None:
    for path in ("/", "/simulator"):
        async with dev.session.get(dev.url + path) as response:
            assert response.status == 200
            assert response.content_type == "text/html"
            page = await response.text()
        assert f'data-number="{GUEST}"' in page and f'data-number="{HOST}"' in page
        assert dev.bot_number in page
        assert 'src="/simulator/static/simulator.js"' in page
        assert "http://" not in page.replace(dev.url, "")  # nothing from elsewhere: no CDN
    for asset in ("simulator.js", "simulator.css"):
        async with dev.session.get(f"{dev.url}/simulator/static/{asset}") as response:
            assert response.status == 200


async def test_outside_dev_mode_there_is_no_simulator(bot: Bot) -> None:
    for path in ("/", "/simulator", "/simulator/events", "/simulator/state"):
        async with bot.session.get(bot.url + path) as response:
            assert response.status == 404, path


async def test_a_text_goes_through_the_webhook_and_the_answer_comes_back(dev: DevBot) -> None:
    answer = await dev.send(GUEST, "LIST")
    assert answer["status"] == 200 and answer["problem"] is None
    sent, reply = answer["events"]
    assert sent["phone"] == GUEST and sent["direction"] == "out" and sent["body"] == "LIST"
    assert reply["phone"] == GUEST and reply["direction"] == "in" and reply["via"] == "TwiML"
    assert "Beach House" in reply["body"]
    # The bot checked the signature (else 403) and set the cookie Twilio now keeps for the pair.
    assert dev.simulator.jar.header(GUEST, dev.bot_number) is not None


async def test_a_photo_in_an_answer_is_media(dev: DevBot) -> None:
    await dev.send(GUEST, "LIST")
    answer = await dev.send(GUEST, "1")
    [reply] = [e for e in answer["events"] if e["direction"] == "in"]
    assert reply["media"] == [f"{dev.url}/static/homes/beach-house.png"]
    async with dev.session.get(reply["media"][0]) as response:
        assert response.status == 200 and response.content_type == "image/png"


async def test_a_booking_reaches_the_host_live_and_the_answer_reaches_the_guest(
    dev: DevBot,
) -> None:
    async with dev.events(after=0) as stream:
        await dev.say(GUEST, "LIST")
        await dev.say(GUEST, "1")
        assert "Which dates?" in await dev.say(GUEST, "BOOK")
        await dev.say(GUEST, stay(date.today()))
        assert (
            await dev.say(GUEST, "Two of us, quiet")
            == "And what name should the host see? (MENU to go back)"
        )
        await dev.say(GUEST, "Ana")
        assert (await dev.say(GUEST, "SEND")).startswith("Request 1 sent to the host")
        request = await stream.next_where(
            lambda e: e["event"] == "message" and e["data"]["phone"] == HOST
        )
        assert request["data"]["via"] == "REST" and request["data"]["direction"] == "in"
        assert request["data"]["body"].startswith("New request 1: Beach House")
        assert GUEST not in request["data"]["body"]

        answer = await dev.send(HOST, "ACCEPT")
        told = [e for e in answer["events"] if e["phone"] == GUEST]
        assert len(told) == 1 and told[0]["via"] == "TwiML"
        assert told[0]["body"].startswith("Good news! Beach House confirmed your stay")
        streamed = await stream.next_where(
            lambda e: e["event"] == "message" and e["data"]["body"].startswith("Good news!")
        )
        assert streamed["data"]["phone"] == GUEST
        # The page dedupes by the id inside the data: it must be the event's id.
        assert int(streamed["id"]) == streamed["data"]["id"] == told[0]["id"]


async def test_a_reload_shows_the_conversation(dev: DevBot) -> None:
    reply = await dev.say(GUEST, "MENU")
    async with dev.session.get(dev.url + "/simulator") as response:
        page = await response.text()
    assert f'<p class="text">{markupsafe.escape(reply)}</p>' in page
    assert '<p class="text">MENU</p>' in page


async def test_help_gets_twilios_short_help_and_the_bots_own(dev: DevBot) -> None:
    answer = await dev.send(GUEST, "HELP")
    got = [(e["via"], e["body"]) for e in answer["events"] if e["direction"] == "in"]
    assert got[0] == ("Twilio", "Reply STOP to unsubscribe. Msg&Data Rates May Apply.")
    assert [via for via, _ in got[1:]] == ["TwiML"]
    assert "LIST" in got[1][1]  # the bot's own help


async def test_after_stop_twilio_refuses_rest_texts_to_that_phone(dev: DevBot) -> None:
    answer = await dev.send(GUEST, "STOP")
    assert [e["via"] for e in answer["events"] if e["direction"] == "in"] == ["Twilio"]
    config = dev.app[SERVICES].config
    form = {"To": GUEST, "From": dev.bot_number, "Body": "Anything"}
    url = f"{dev.url}/2010-04-01/Accounts/{config.twilio.account_sid}/Messages.json"
    auth = aiohttp.BasicAuth(config.twilio.account_sid, config.twilio.auth_token)
    async with dev.session.post(url, data=form, auth=auth) as response:
        assert response.status == 400
        assert (await response.json())["code"] == 21610
    await dev.send(GUEST, "START")
    async with dev.session.post(url, data=form, auth=auth) as response:
        assert response.status == 201


async def test_the_stream_resumes_after_the_last_event_id(dev: DevBot) -> None:
    first = await dev.send(GUEST, "HELP")
    second = await dev.send(GUEST, "MENU")
    resume_after = first["events"][-1]["id"]
    async with dev.events(last_event_id=resume_after) as stream:
        event = await stream.next_where(lambda e: e["event"] == "message")
        assert int(event["id"]) == second["events"][0]["id"]
    async with dev.events(phone=HOST) as stream:
        await dev.send(GUEST, "HELP")
        await dev.send(HOST, "HELP")
        event = await stream.next_where(lambda e: True)
        assert event["data"]["phone"] == HOST and event["data"]["body"] == "HELP"


async def test_jumping_four_hours_expires_twilios_cookie(dev: DevBot) -> None:
    await dev.send(GUEST, "LIST")
    assert dev.simulator.jar.header(GUEST, dev.bot_number) is not None
    status, answer = await dev.post("/simulator/jump", {})
    assert status == 200 and answer == {"offset_hours": 4.0}
    assert dev.simulator.jar.header(GUEST, dev.bot_number) is None
    async with dev.session.get(dev.url + "/simulator/state") as response:
        assert (await response.json())["offset_hours"] == 4.0


async def test_an_attached_photo_is_hosted_and_sent_as_media(dev: DevBot) -> None:
    picture = png()
    answer = await dev.send(HOST, "", (picture, "image/png"))
    sent = answer["events"][0]
    [url] = sent["media"]
    assert url.startswith(f"{dev.url}/simulator/uploads/") and url.endswith(".png")
    async with dev.session.get(url) as response:
        assert response.status == 200 and response.content_type == "image/png"
        assert await response.read() == picture
    uploads = dev.config.database_path.parent / "airtng-uploads"
    assert [p.name for p in uploads.iterdir()] == [url.rsplit("/", 1)[1]]
    # A second photo gets another random name.
    again = await dev.send(HOST, "", (picture, "image/png"))
    assert again["events"][0]["media"] != [url]


async def test_only_small_images_are_taken(dev: DevBot) -> None:
    def form(data: bytes) -> aiohttp.FormData:
        form = aiohttp.FormData()
        form.add_field("from", GUEST)
        form.add_field("photo", data, filename="x.png", content_type="image/png")
        return form

    status, answer = await dev.post("/simulator/send", form(b"#!/bin/sh\necho not a picture"))
    assert status == 400 and "PNG" in answer["error"]
    big = png() + b"\x00" * MAX_PHOTO_BYTES
    status, _ = await dev.post("/simulator/send", form(big))
    assert status == 413
    async with dev.session.get(dev.url + "/simulator/uploads/../airtng.db") as response:
        assert response.status == 404
    async with dev.session.get(dev.url + "/simulator/uploads/" + "a" * 32 + ".png") as response:
        assert response.status == 404


async def test_phones_can_be_added_and_a_text_to_a_new_number_adds_one(dev: DevBot) -> None:
    status, phone = await dev.post("/simulator/phones", {"number": "(555) 000-1112"})
    assert status == 200 and phone["number"] == "+15550001112"
    status, refused = await dev.post("/simulator/phones", {"number": "hello"})
    assert status == 400 and refused["error"]
    async with dev.session.get(dev.url + "/simulator/state") as response:
        numbers = [p["number"] for p in (await response.json())["phones"]]
    assert numbers == [GUEST, HOST, "+15550001112"]


async def test_posts_need_the_simulator_header(dev: DevBot) -> None:
    for path in ("/simulator/send", "/simulator/phones", "/simulator/jump"):
        status, _ = await dev.post(path, {"from": GUEST, "body": "LIST", "number": GUEST}, {})
        assert status == 403, path
    assert list(dev.simulator.events) == []  # nothing was sent, no phone added


async def test_an_empty_text_is_refused(dev: DevBot) -> None:
    status, answer = await dev.post("/simulator/send", {"from": GUEST, "body": "  "})
    assert status == 400 and answer["error"]
    assert list(dev.simulator.events) == []
