"""The console in a real browser (Debian's headless Chromium, driven by Playwright): an
operator signs in, finds a guest's conversation by typing their number the way people do, sees
the bubbles and the guest's photo, then retries the host's failed delivery from the outbox."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Browser, expect

from tests.bot.test_webhook import GUEST, HOST, request_stay
from tests.browser import TIMEOUT_MS, browser_fixture, needs_chromium, png_colours  # noqa: F401
from tests.conftest import ADMIN_TOKEN, Bot

pytestmark = needs_chromium


async def test_sign_in_find_a_guest_see_the_photo_and_retry_a_failed_delivery(
    bot: Bot, browser: Browser, tmp_path: Path
) -> None:
    bot.twilio.fail_next(1, "21211", to=HOST)
    await bot.add_home(HOST, "Beach House")
    await request_stay(bot, bot.phone(GUEST))
    photo = bot.url + "/static/homes/beach-house.png"
    await bot.phone(GUEST).text("Is this the view?", media=((photo, "image/png"),))
    await bot.drained()

    page = await browser.new_page(viewport={"width": 1100, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    missing: list[str] = []  # every request of every page answered, the favicon's too
    page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    await page.goto(bot.url + "/admin/conversations")
    await expect(page.locator("h1")).to_have_text("Sign in")
    await page.fill("input[name=token]", ADMIN_TOKEN)
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_have_text("Conversations")

    await page.fill("header input[name=phone]", "(555) 000-1111")
    await page.press("header input[name=phone]", "Enter")
    people = page.locator("a.person")
    await expect(people).to_have_count(1)
    await expect(people).to_have_text(GUEST)
    await people.click()

    await expect(page.locator("h1")).to_contain_text(GUEST)
    await expect(page.locator(".bubble.in .text").first).to_have_text("LIST")
    assert await page.locator(".bubble.out").count() >= 5
    thumb = page.locator("img.thumb")
    await expect(thumb).to_have_count(1)
    await expect(thumb).to_be_visible()
    assert await thumb.evaluate("img => img.complete && img.naturalWidth") > 0
    shot = tmp_path / "transcript.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert len(png_colours(shot.read_bytes())) > 20  # a rendered page, not a blank

    await page.click("nav >> text=Outbox")
    failed = page.locator("table.list tbody tr", has_text=HOST)
    await expect(failed).to_have_count(1)
    await expect(failed).to_contain_text("error 21211: invalid 'To' phone number")
    await failed.locator("button", has_text="Retry").click()
    await expect(page.locator(".notice")).to_contain_text("retry-")
    await expect(page.locator("table.actions")).to_contain_text("was failed; queued again")
    await bot.drained()
    assert len(bot.twilio.messages_to(HOST)) == 1
    await page.goto(bot.url + "/admin/outbox?show=all")
    await expect(page.locator("table.list tbody tr", has_text=HOST)).to_contain_text(
        re.compile(r"\b(sent|delivered)\b")
    )
    await page.goto(bot.url + "/admin/reservations")
    await expect(page.locator("table.list tbody tr").first).to_contain_text("Ann")  # a name
    icon = await page.evaluate("document.querySelector('link[rel=icon]').href")
    assert icon == bot.url + "/static/favicon.svg"
    assert missing == []
