"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright.

    from tests.browser import browser_fixture, needs_chromium, png_colours  # noqa: F401
    pytestmark = needs_chromium   # then take `browser` as a fixture

Playwright cannot download its own browsers here; `.ci/run` installs Debian's chromium, with
the flags that keep it off the network.
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 15_000

# Skipped only on a developer machine without chromium; in CI a missing browser fails.
needs_chromium = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None and not os.environ.get("CI"),
    reason=f"{CHROMIUM} is not installed (apt-get install chromium)",
)


@pytest.fixture(name="browser")
async def browser_fixture() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        await browser.close()


def png_colours(data: bytes) -> set[bytes]:
    """The distinct pixels of an 8-bit RGB(A) PNG (what Chromium writes), decoded by hand."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunk = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        position += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour_type in (2, 6)
    size = 3 if colour_type == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * size
    colours: set[bytes] = set()
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):  # undo the PNG row filter
            left = line[i - size] if i >= size else 0
            up, up_left = previous[i], previous[i - size] if i >= size else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                line[i] = (line[i] + predictor) & 0xFF
        if row % 8 == 0:  # every eighth row is plenty to tell a picture from a blank
            colours.update(bytes(line[i : i + size]) for i in range(0, stride, size * 4))
        previous = line
    return colours
