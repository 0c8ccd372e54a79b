"""What makes a home listable: the limits every way of listing one shares (the operator's
add-home, the admin API, and later hosts by SMS).

    problems = check_home(title="Beach House", place="Malibu", description="...", price=250)
"""

from __future__ import annotations

TITLE_MAX = 60
PLACE_MAX = 60
DESCRIPTION_MAX = 600
PRICE_MAX = 100_000


def check_home(
    *, title: str, place: str, description: str, price: int, image_url: str | None = None
) -> list[str]:
    """Every reason these facts can't be listed, in words for the person who gave them."""
    problems = []
    for label, value, limit in (
        ("title", title, TITLE_MAX),
        ("place", place, PLACE_MAX),
        ("description", description, DESCRIPTION_MAX),
    ):
        if not value.strip():
            problems.append(f"the {label} is empty")
        elif len(value) > limit:
            problems.append(f"the {label} is over {limit} characters")
    if not 1 <= price <= PRICE_MAX:
        problems.append(
            f"the nightly price must be a whole number of dollars from 1 to {PRICE_MAX}"
        )
    if image_url is not None and not image_url.startswith(("https://", "http://")):
        problems.append("the image URL must start with http:// or https://")
    return problems
