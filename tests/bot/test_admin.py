"""The operator's JSON API (SPEC §4, issue 2 item 7): bearer token or 401, the documented fields,
phone filters in any format, paging that refuses nonsense.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from tests.bot.test_webhook import (
    GUEST,
    GUEST_B,
    HOST,
    bot_that_stops_cleanly,  # noqa: F401  (the `bot` fixture)
    request_stay,
)
from tests.conftest import ADMIN_TOKEN, HOSTS, Bot

READ_ROUTES = (
    "/admin/api/reservations",
    "/admin/api/conversations",
    "/admin/api/outbox",
    "/admin/api/properties",
)
WRITE_ROUTES = ("/admin/api/properties", "/admin/api/demo")

RESERVATION_FIELDS = {
    "id",
    "status",
    "property_id",
    "property_title",
    "guest_phone",
    "guest_name",
    "host_phone",
    "host_name",
    "check_in",
    "check_out",
    "message",
    "created_at",
    "updated_at",
}
CONVERSATION_FIELDS = {"id", "phone", "started_at", "last_at", "state", "messages"}
MESSAGE_FIELDS = {"direction", "body", "media", "at", "status"}
OUTBOX_FIELDS = {"id", "to", "body", "status", "attempts", "twilio_sid", "error"}
PROPERTY_FIELDS = {
    "id",
    "title",
    "place",
    "description",
    "image_url",
    "nightly_price",
    "host_phone",
    "host_name",
    "active",
}


async def get(
    bot: Bot, path: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    if headers is None:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with bot.session.get(bot.url + path, params=params, headers=headers) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


def aware(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp)
    assert moment.utcoffset() is not None, stamp
    return moment


async def booked(bot: Bot) -> int:
    await bot.add_home(HOST, "Beach House", place="Malibu, CA", host_name="Hana")
    ref = await request_stay(bot, bot.phone(GUEST), message="We love the sea.")
    await bot.drained()
    return ref


# -- the token --------------------------------------------------------------------------------


BAD_CREDENTIALS = {
    "none": {},
    "wrong": {"Authorization": "Bearer not-the-token"},
    "prefix": {"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"},
    "longer": {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
    "basic": {"Authorization": f"Basic {ADMIN_TOKEN}"},
    "bare": {"Authorization": ADMIN_TOKEN},
    "empty-bearer": {"Authorization": "Bearer "},
}


@pytest.mark.parametrize("credentials", BAD_CREDENTIALS.values(), ids=BAD_CREDENTIALS.keys())
async def test_every_route_wants_the_token(bot: Bot, credentials: dict[str, str]) -> None:
    await booked(bot)
    for path in READ_ROUTES:
        async with bot.session.get(bot.url + path, headers=credentials) as response:
            assert response.status == 401, path
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert ADMIN_TOKEN not in await response.text()
    for path in WRITE_ROUTES:
        home = {"host_phone": HOSTS[1], "title": "Sneaky", "place": "X", "description": "Y"}
        async with bot.session.post(
            bot.url + path, json={**home, "nightly_price": 1}, headers=credentials
        ) as response:
            assert response.status == 401, path
    # Nothing was listed by the refused requests.
    assert [p["title"] for p in await bot.admin("/admin/api/properties")] == ["Beach House"]


async def test_the_token_in_the_query_string_is_not_enough(bot: Bot) -> None:
    status, _ = await get(bot, "/admin/api/reservations", {"token": ADMIN_TOKEN}, headers={})
    assert status == 401


# -- the documented fields ----------------------------------------------------------------------


async def test_reservations(bot: Bot) -> None:
    ref = await booked(bot)
    status, rows = await get(bot, "/admin/api/reservations")
    assert status == 200
    (row,) = rows
    assert set(row) == RESERVATION_FIELDS
    (home,) = await bot.admin("/admin/api/properties")
    assert row["id"] == ref
    assert row["status"] == "pending"
    assert row["property_id"] == home["id"]
    assert row["property_title"] == "Beach House"
    assert (row["guest_phone"], row["host_phone"]) == (GUEST, HOST)
    assert (row["guest_name"], row["host_name"]) == ("Ann", "Hana")
    check_in, check_out = date.fromisoformat(row["check_in"]), date.fromisoformat(row["check_out"])
    assert (check_out - check_in).days == 3
    assert row["message"] == "We love the sea."
    assert aware(row["created_at"]) <= aware(row["updated_at"])
    # ?status= filters.
    assert await bot.admin("/admin/api/reservations?status=confirmed") == []
    assert [r["id"] for r in await bot.admin("/admin/api/reservations?status=pending")] == [ref]


async def test_conversations(bot: Bot) -> None:
    await booked(bot)
    status, rows = await get(bot, "/admin/api/conversations")
    assert status == 200
    assert {c["phone"] for c in rows} == {GUEST, HOST}
    for conversation in rows:
        assert set(conversation) == CONVERSATION_FIELDS
        assert aware(conversation["started_at"]) <= aware(conversation["last_at"])
        for message in conversation["messages"]:
            assert set(message) == MESSAGE_FIELDS
            assert message["direction"] in ("in", "out")
            assert isinstance(message["media"], list)
            aware(message["at"])
    (guest,) = [c for c in rows if c["phone"] == GUEST]
    assert guest["state"] == "start"
    assert guest["messages"][0] == {
        "direction": "in",
        "body": "LIST",
        "media": [],
        "at": guest["messages"][0]["at"],
        "status": "received",
    }
    assert guest["messages"][1]["direction"] == "out"
    assert guest["messages"][1]["status"] == "replied"
    (host,) = [c for c in rows if c["phone"] == HOST]
    (notice,) = host["messages"]
    assert notice["direction"] == "out"
    assert notice["body"].startswith("New request 1:")
    assert notice["status"] in ("sent", "delivered")


@pytest.mark.parametrize(
    "phone",
    [
        "+15550001111",
        "(555) 000-1111",
        "555-000-1111",
        "5550001111",
        "+1 555 000 1111",
        "1-555-000-1111",
    ],
)
async def test_conversations_by_phone_in_any_format(bot: Bot, phone: str) -> None:
    await bot.phone(GUEST).ask("hello")
    await bot.phone(GUEST_B).ask("hello")
    status, rows = await get(bot, "/admin/api/conversations", {"phone": phone})
    assert status == 200
    assert [c["phone"] for c in rows] == [GUEST]


async def test_conversations_by_a_phone_that_is_not_one_is_400(bot: Bot) -> None:
    status, text = await get(bot, "/admin/api/conversations", {"phone": "not a phone"})
    assert status == 400
    assert "phone" in text


async def test_outbox(bot: Bot) -> None:
    await booked(bot)
    status, rows = await get(bot, "/admin/api/outbox")
    assert status == 200
    (row,) = rows
    assert set(row) >= OUTBOX_FIELDS
    # Beyond SPEC §4: the Twilio error code and the timing of attempts, for the operator.
    assert set(row) - OUTBOX_FIELDS == {"error_code", "next_attempt_at", "created_at", "updated_at"}
    assert row["to"] == HOST
    assert row["status"] in ("sent", "delivered")
    assert row["attempts"] == 1
    assert row["twilio_sid"].startswith("SM")
    assert row["error"] is None
    assert row["body"].startswith("New request 1:")


async def test_properties(bot: Bot) -> None:
    await booked(bot)
    status, rows = await get(bot, "/admin/api/properties")
    assert status == 200
    (row,) = rows
    assert set(row) == PROPERTY_FIELDS
    assert row == {
        "id": row["id"],
        "title": "Beach House",
        "place": "Malibu, CA",
        "description": "A lovely beach house.",
        "image_url": "https://img.example.com/Beach House.jpg",
        "nightly_price": 100,
        "host_phone": HOST,
        "host_name": "Hana",
        "active": True,
    }


async def test_adding_a_home_normalises_the_host_phone(bot: Bot) -> None:
    body = {
        "host_phone": "(555) 010-0002",
        "title": "Lake Cottage",
        "place": "Tahoe, CA",
        "description": "Quiet cottage by the water.",
        "nightly_price": 150,
    }
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with bot.session.post(
        bot.url + "/admin/api/properties", json=body, headers=headers
    ) as response:
        assert response.status == 201
        new_id = (await response.json())["id"]
    (row,) = await bot.admin("/admin/api/properties")
    assert (row["id"], row["host_phone"], row["image_url"]) == (new_id, HOSTS[1], None)
    # Live at once: a guest sees it.
    assert "Lake Cottage" in await bot.phone(GUEST).ask("LIST")


async def test_the_same_host_and_title_is_one_home(bot: Bot) -> None:
    first = await bot.add_home(HOST, "Beach House", host_name="Hana", nightly_price=100)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    again = {
        "host_phone": HOST,
        "title": "  beach   HOUSE ",  # case and spacing aside, the same title
        "place": "Elsewhere",
        "description": "Another text.",
        "nightly_price": 999,
    }
    async with bot.session.post(
        bot.url + "/admin/api/properties", json=again, headers=headers
    ) as response:
        assert response.status == 200
        answer = await response.json()
    assert answer == {
        "id": first,
        "title": "Beach House",
        "host_phone": HOST,
        "host_name": "Hana",
        "existing": True,
    }
    (home,) = await bot.admin("/admin/api/properties")
    assert (home["id"], home["place"], home["nightly_price"]) == (first, "Somewhere, CA", 100)
    # Another host may list a home of that title: it is theirs.
    other = await bot.add_home(HOSTS[1], "Beach House")
    assert other != first


@pytest.mark.parametrize(
    "change",
    [{"host_phone": "nope"}, {"nightly_price": "cheap"}, {"title": None}, {"place": ""}],
    ids=["phone", "price", "no-title", "empty-place"],
)
async def test_adding_a_bad_home_is_400(bot: Bot, change: dict[str, Any]) -> None:
    body = {
        "host_phone": HOSTS[1],
        "title": "Lake Cottage",
        "place": "Tahoe, CA",
        "description": "Quiet cottage by the water.",
        "nightly_price": 150,
        **change,
    }
    body = {k: v for k, v in body.items() if v is not None}
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with bot.session.post(
        bot.url + "/admin/api/properties", json=body, headers=headers
    ) as response:
        assert response.status == 400
    assert await bot.admin("/admin/api/properties") == []


# -- paging -----------------------------------------------------------------------------------


@pytest.mark.parametrize("route", READ_ROUTES[:3])
@pytest.mark.parametrize(
    "params",
    [
        {"limit": "abc"},
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "-1"},
        {"limit": "1.5"},
        {"limit": ""},
        {"offset": "-1"},
        {"offset": "x"},
    ],
    ids=["text", "zero", "over", "negative", "fraction", "empty", "offset-negative", "offset-text"],
)
async def test_bad_paging_is_400(bot: Bot, route: str, params: dict[str, str]) -> None:
    status, text = await get(bot, route, params)
    assert status == 400
    assert "limit" in text


@pytest.mark.parametrize("route", ["/admin/api/reservations", "/admin/api/outbox"])
async def test_an_unknown_status_filter_is_400(bot: Bot, route: str) -> None:
    status, text = await get(bot, route, {"status": "bogus"})
    assert status == 400
    assert "status" in text


async def test_limit_and_offset_page_through(bot: Bot) -> None:
    for phone in ("+15550001001", "+15550001002", "+15550001003"):
        await bot.phone(phone).ask("hello")
    everything = await bot.admin("/admin/api/conversations?limit=1000")
    assert len(everything) == 3
    pages = [await bot.admin(f"/admin/api/conversations?limit=1&offset={n}") for n in range(4)]
    assert [len(p) for p in pages] == [1, 1, 1, 0]
    assert [p[0]["id"] for p in pages[:3]] == [c["id"] for c in everything]
    assert len(await bot.admin("/admin/api/conversations?limit=1000&offset=0")) == 3


@pytest.mark.parametrize("price", [1.9, True, "120", None])
async def test_a_home_price_must_be_a_whole_number_of_dollars(bot: Bot, price: object) -> None:
    body = {
        "host_phone": "+15550100009",
        "title": "Odd Price",
        "place": "Nowhere",
        "description": "Priced oddly.",
        "nightly_price": price,
    }
    async with bot.session.post(
        bot.url + "/admin/api/properties",
        json=body,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    ) as response:
        assert response.status == 400, await response.text()
    homes = await bot.admin("/admin/api/properties")
    assert "Odd Price" not in [h["title"] for h in homes]
