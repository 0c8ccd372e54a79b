"""The simulator in a real browser (Debian's headless Chromium, driven by Playwright): a guest
books a home, the host's phone gets the request live, the host accepts, and the guest's phone
gets the answer without a reload. The screenshot is kept for the README (docs/simulator.png) when AIRTNG_UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from tests.browser import TIMEOUT_MS, browser_fixture, needs_chromium, png_colours  # noqa: F401
from tests.simulator.conftest import GUEST, HOST, DevBot, png, stay

DOCS = Path(__file__).resolve().parents[2] / "docs"

pytestmark = needs_chromium


def phone(page: Page, number: str):  # type: ignore[no-untyped-def]
    return page.locator(f'section.phone[data-number="{number}"]')


async def text(page: Page, number: str, body: str) -> None:
    """Type and send on a phone; wait until its answer (a new incoming bubble) is shown."""
    window = phone(page, number)
    received = window.locator(".bubble.in")
    before = await received.count()
    await window.locator("input[name=body]").fill(body)
    await window.locator("button[type=submit]").click()
    await expect(received).to_have_count(before + 1, timeout=TIMEOUT_MS)


async def test_book_and_accept_in_the_browser(
    dev: DevBot, browser: Browser, tmp_path: Path
) -> None:
    page = await browser.new_page(viewport={"width": 1180, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(dev.url + "/", timeout=TIMEOUT_MS)
    await expect(page.locator("#simulator.live")).to_have_count(1, timeout=TIMEOUT_MS)

    await text(page, GUEST, "LIST")
    await expect(phone(page, GUEST).locator(".bubble.in").last).to_contain_text("Beach House")
    await text(page, GUEST, "1")
    photo = phone(page, GUEST).locator(".bubble.in img.photo")
    await expect(photo).to_have_attribute("src", f"{dev.url}/static/homes/beach-house.png")
    await text(page, GUEST, "BOOK")
    await text(page, GUEST, stay(date.today()))
    await text(page, GUEST, "Two of us, quiet, no pets")
    await text(page, GUEST, "Ana")
    await text(page, GUEST, "SEND")
    await expect(phone(page, GUEST).locator(".bubble.in").last).to_contain_text(
        "Request 1 sent to the host", timeout=TIMEOUT_MS
    )

    # The host's phone gets the bot's REST text over the event stream, with no reload.
    host_request = phone(page, HOST).locator(".bubble.in", has_text="New request 1: Beach House")
    await expect(host_request).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(host_request).to_contain_text("Reply ACCEPT 1 or REJECT 1")

    await text(page, HOST, "ACCEPT")
    await expect(phone(page, HOST).locator(".bubble.in").last).to_contain_text("You accepted")
    good_news = phone(page, GUEST).locator(".bubble.in", has_text="Good news!")
    await expect(good_news).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(good_news).to_contain_text("Beach House confirmed your stay")
    assert errors == []

    shot = tmp_path / "simulator.png"
    await page.screenshot(path=str(shot))
    data = shot.read_bytes()
    assert len(data) > 20_000, len(data)
    assert len(png_colours(data)) > 20  # a rendered page, not a blank
    if os.environ.get("AIRTNG_UPDATE_SCREENSHOTS"):
        # Refresh the README's picture on request only: a test run leaves the tree clean.
        DOCS.mkdir(exist_ok=True)
        (DOCS / "simulator.png").write_bytes(data)

    # The file picker: the photo is uploaded, hosted by the dev server and sent as MediaUrl0.
    host = phone(page, HOST)
    await host.locator("input[name=photo]").set_input_files(
        files=[{"name": "deck.png", "mimeType": "image/png", "buffer": png(40, 30)}]
    )
    await host.locator("input[name=body]").fill("Our deck")
    await host.locator("button[type=submit]").click()
    sent_photo = host.locator(".bubble.out img.photo")
    await expect(sent_photo).to_have_count(1, timeout=TIMEOUT_MS)
    src = await sent_photo.get_attribute("src")
    assert src is not None and src.startswith(f"{dev.url}/simulator/uploads/")
    await expect(host.locator(".bubble.out").last).to_contain_text("Our deck")
    loaded = await sent_photo.evaluate("img => img.decode().then(() => img.naturalWidth)")
    assert loaded == 40
    assert errors == []
