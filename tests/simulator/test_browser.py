"""The simulator in a real browser (Debian's headless Chromium, driven by Playwright): a guest
books a home, the host's phone gets the request live, the host accepts, and the guest's phone
gets the answer without a reload. The screenshot is kept for the README (docs/simulator.png) when AIRTNG_UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from tests.browser import TIMEOUT_MS, browser_fixture, needs_chromium, png_colours  # noqa: F401
from tests.simulator.conftest import GUEST, HOST, DevBot, png, stay

DOCS = Path(__file__).resolve().parents[2] / "docs"
RUN_PY = DOCS.parent / "run.py"

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


async def test_twilios_own_replies_to_its_keywords_are_shown_as_the_carriers(
    dev: DevBot, browser: Browser
) -> None:
    page = await browser.new_page(viewport={"width": 1180, "height": 900})
    await page.goto(dev.url + "/", timeout=TIMEOUT_MS)
    await expect(page.locator("#simulator.live")).to_have_count(1, timeout=TIMEOUT_MS)
    guest = phone(page, GUEST)
    await text(page, GUEST, "BOOK 1")
    # A newcomer's "cancel" mid-booking is an opt-out at Twilio: the bot says nothing, and the
    # phone shows what Twilio itself answers, marked as the carrier's.
    await text(page, GUEST, "cancel")
    carrier = guest.locator(".bubble.in.carrier")
    await expect(carrier).to_have_count(1)
    await expect(carrier).to_contain_text("You have successfully been unsubscribed")
    await expect(carrier).to_contain_text("Reply START to resubscribe")
    await expect(carrier.locator(".via")).to_have_text("from Twilio itself, not the bot")
    # Later texts get nothing from the bot (Twilio would refuse what it sent): no new bubble.
    await guest.locator("input[name=body]").fill("LIST")
    await guest.locator("button[type=submit]").click()
    await expect(guest.locator(".bubble.out").last).to_contain_text("LIST")
    await expect(guest.locator(".status")).to_have_text("", timeout=TIMEOUT_MS)
    await expect(guest.locator(".bubble.in")).to_have_count(2)  # BOOK's answer and Twilio's
    # START: Twilio's re-subscribed text, and the bot's own welcome back.
    await guest.locator("input[name=body]").fill("START")
    await guest.locator("button[type=submit]").click()
    await expect(carrier).to_have_count(2, timeout=TIMEOUT_MS)
    await expect(carrier.last).to_contain_text("You have successfully been re-subscribed")
    await expect(guest.locator(".bubble.in:not(.carrier)")).to_have_count(2, timeout=TIMEOUT_MS)
    # Reloaded, the page shows the same marks.
    await page.reload()
    await expect(phone(page, GUEST).locator(".bubble.in.carrier")).to_have_count(2)


async def test_a_photo_reply_is_scrolled_into_view_once_it_has_loaded(
    dev: DevBot, browser: Browser
) -> None:
    page = await browser.new_page(viewport={"width": 1180, "height": 900})
    await page.goto(dev.url + "/", timeout=TIMEOUT_MS)
    await expect(page.locator("#simulator.live")).to_have_count(1, timeout=TIMEOUT_MS)
    for body in ("MENU", "LIST", "MORE", "LIST"):  # enough to fill the phone's screen
        await text(page, GUEST, body)
    await text(page, GUEST, "1")
    last = phone(page, GUEST).locator(".bubble.in").last
    await expect(last.locator("img.photo")).to_have_count(1)
    await last.locator("img.photo").evaluate("img => img.decode()")
    # The list is scrolled to its very end: the details under the photo are in view.
    await page.wait_for_function(
        """number => {
            const list = document.querySelector(`section.phone[data-number="${number}"] .messages`);
            return list.scrollHeight > list.clientHeight
                && list.scrollTop + list.clientHeight >= list.scrollHeight - 2;
        }""",
        arg=GUEST,
        timeout=TIMEOUT_MS,
    )


async def test_on_a_narrow_screen_the_phones_are_stacked(dev: DevBot, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await page.goto(dev.url + "/", timeout=TIMEOUT_MS)
    guest = await phone(page, GUEST).bounding_box()
    host = await phone(page, HOST).bounding_box()
    assert guest is not None and host is not None
    for box in (guest, host):
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box  # all of it on screen
    assert host["y"] >= guest["y"] + guest["height"]  # under the guest's, not beside it
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing to scroll sideways to


async def test_texts_sent_with_run_py_send_appear_on_the_page(
    dev: DevBot, browser: Browser, tmp_path: Path
) -> None:
    page = await browser.new_page(viewport={"width": 1180, "height": 900})
    await page.goto(dev.url + "/", timeout=TIMEOUT_MS)
    await expect(page.locator("#simulator.live")).to_have_count(1, timeout=TIMEOUT_MS)
    config = tmp_path / "send.toml"
    config.write_text(f"[server]\nport = {dev.config.server.port}\n", encoding="utf-8")
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(RUN_PY), "send", "--config", str(config), "--from", GUEST, "LIST"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"[to {GUEST}] Homes 1-5 of 6:"), done.stdout
    guest = phone(page, GUEST)
    await expect(guest.locator(".bubble.out .text")).to_have_text(["LIST"], timeout=TIMEOUT_MS)
    await expect(guest.locator(".bubble.in").last).to_contain_text("Homes 1-5 of 6:")
