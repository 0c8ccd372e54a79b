"""What makes a home listable: the limits every way of listing one shares (the operator's
add-home, the admin API, and hosts by SMS), and reading a host's answers against them.

    problems = check_home(title="Beach House", place="Malibu", description="...", price=250)
    read_price("$120/night")           -> 120
    read_price("12.50")                -> PriceProblem("the price must be whole dollars, ...")
    first_photo((("https://...", "image/jpeg"),))  -> "https://..."
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

TITLE_MAX = 60
PLACE_MAX = 60
DESCRIPTION_MAX = 600
PRICE_MAX = 100_000

LIMITS = {"title": TITLE_MAX, "place": PLACE_MAX, "description": DESCRIPTION_MAX}
PRICE_RANGE = f"a whole number of dollars from 1 to {PRICE_MAX}"


def check_home(
    *, title: str, place: str, description: str, price: int, image_url: str | None = None
) -> list[str]:
    """Every reason these facts can't be listed, in words for the person who gave them."""
    problems = []
    for label, value in (("title", title), ("place", place), ("description", description)):
        problem = check_text(label, value)
        if problem:
            problems.append(problem)
    if not 1 <= price <= PRICE_MAX:
        problems.append(f"the nightly price must be {PRICE_RANGE}")
    if image_url is not None and not image_url.startswith(("https://", "http://")):
        problems.append("the image URL must start with http:// or https://")
    return problems


def check_text(label: str, value: str) -> str | None:
    """Why this title, place or description can't be listed, or None if it can."""
    limit = LIMITS[label]
    if not value.strip():
        return f"the {label} is empty"
    if len(value) > limit:
        return f"the {label} is over {limit} characters"
    return None


@dataclass(frozen=True, slots=True)
class PriceProblem:
    reason: str


# "$120", "120", "120/night", "$1,200 a night", "120 dollars per night", "USD 120", "120.00".
_PRICE = re.compile(
    r"^(?:usd\s*)?\$?\s*(?P<sign>-)?\s*\$?\s*"
    r"(?P<dollars>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<cents>\d{1,2}))?\s*"
    r"(?:\$|usd|dollars?|bucks)?\s*"
    r"(?:(?:/|a|an|per|each|for\s+(?:a|one|1))\s*(?:night|nite|nt|n|day))?$"
)


def read_price(text: str) -> int | PriceProblem:
    """The nightly price a host texted, in whole dollars, or what is wrong with it."""
    match = _PRICE.match(" ".join(text.casefold().split()).strip(" .!"))
    if match is None:
        return PriceProblem(f"I could not read a price there. It must be {PRICE_RANGE}")
    if match["cents"] is not None and int(match["cents"]) != 0:
        return PriceProblem("the price must be whole dollars, no cents, like 120")
    dollars = int(match["dollars"].replace(",", ""))
    if match["sign"] or not 1 <= dollars <= PRICE_MAX:
        return PriceProblem(f"the nightly price must be {PRICE_RANGE}")
    return dollars


def first_photo(media: Sequence[tuple[str, str]]) -> str | None:
    """The URL of the first image in an MMS's (URL, content type) pairs, if there is one."""
    for url, content_type in media:
        if content_type.casefold().startswith("image/") and url.startswith(("https://", "http://")):
            return url
    return None
