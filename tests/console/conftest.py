"""The console's test helper: an operator's browser-like HTTP client (its own cookie jar,
redirects not followed, so each step's status and Location can be checked).

    async def test_x(bot, operator):
        page = await operator.get("/admin/conversations?phone=5550001111")
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from tests.conftest import ADMIN_TOKEN, Bot

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Page:
    status: int
    text: str
    location: str | None

    @property
    def csrf(self) -> str:
        found = CSRF.search(self.text)
        assert found, "no CSRF field on the page"
        return html.unescape(found.group(1))


@dataclass
class Operator:
    bot: Bot
    session: aiohttp.ClientSession

    async def get(self, path: str) -> Page:
        async with self.session.get(self.bot.url + path, allow_redirects=False) as response:
            return Page(response.status, await response.text(), response.headers.get("Location"))

    async def post(self, path: str, form: dict[str, str]) -> Page:
        async with self.session.post(
            self.bot.url + path, data=form, allow_redirects=False
        ) as response:
            return Page(response.status, await response.text(), response.headers.get("Location"))

    async def sign_in(self, token: str = ADMIN_TOKEN) -> Page:
        return await self.post("/admin/login", {"token": token, "next": "/admin"})

    async def csrf(self) -> str:
        return (await self.get("/admin/outbox")).csrf


@pytest.fixture
async def anonymous(bot: Bot) -> AsyncIterator[Operator]:
    # unsafe=True: the test server is at 127.0.0.1, and aiohttp's jar ignores IP hosts otherwise.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield Operator(bot, session)


@pytest.fixture
async def operator(anonymous: Operator) -> Operator:
    page = await anonymous.sign_in()
    assert (page.status, page.location) == (303, "/admin")
    return anonymous
