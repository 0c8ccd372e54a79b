"""The demo homes and their hosts: what dev mode starts with, and `python run.py demo` loads.

await load_demo(world, db, public_url, now)   # idempotent: a home already listed is kept
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.world import World
from conversations.model import Property
from storage.db import Database


@dataclass(frozen=True, slots=True)
class DemoHome:
    host_phone: str
    host_name: str
    title: str
    place: str
    description: str
    nightly_price: int
    photo: str


# 555-01xx numbers are reserved for fiction: they reach nobody.
DEMO_HOMES = (
    DemoHome(
        "+15550100001",
        "Maria",
        "Beach House",
        "Malibu, CA",
        "Sunny two-bedroom on the sand with a deck over the waves, outdoor shower and "
        "surfboards to borrow. Sleeps 4.",
        250,
        "beach-house.png",
    ),
    DemoHome(
        "+15550100001",
        "Maria",
        "Lake Cottage",
        "Lake Tahoe, CA",
        "Quiet cottage with a private dock, kayaks and a wood stove. Ten minutes to the "
        "ski lifts. Sleeps 3.",
        180,
        "lake-cottage.png",
    ),
    DemoHome(
        "+15550100002",
        "Jon",
        "Forest Cabin",
        "Asheville, NC",
        "Log cabin in the Blue Ridge woods: hot tub, fire pit and trails from the door. "
        "Dogs welcome. Sleeps 4.",
        120,
        "forest-cabin.png",
    ),
    DemoHome(
        "+15550100002",
        "Jon",
        "Farmhouse",
        "Hudson Valley, NY",
        "Restored 1890s farmhouse with fresh eggs, a big kitchen and an orchard to walk in. "
        "Sleeps 6.",
        210,
        "farmhouse.png",
    ),
    DemoHome(
        "+15550100003",
        "Aiko",
        "City Loft",
        "Chicago, IL",
        "Bright loft in the West Loop, steps from restaurants and the L. Fast wifi and a "
        "desk for remote work. Sleeps 2.",
        140,
        "city-loft.png",
    ),
    DemoHome(
        "+15550100003",
        "Aiko",
        "Mountain Chalet",
        "Aspen, CO",
        "Ski-in chalet with a sauna, boot warmers and views of the Maroon Bells. Sleeps 8.",
        450,
        "mountain-chalet.png",
    ),
)


async def load_demo(world: World, db: Database, public_url: str, now: datetime) -> list[Property]:
    """List the demo homes that are not listed yet; returns the homes added."""
    added: list[Property] = []
    for demo in DEMO_HOMES:
        if world.home_titled(demo.host_phone, demo.title) is not None:
            continue
        home = Property(
            0,
            demo.host_phone,
            demo.title,
            demo.place,
            demo.description,
            demo.nightly_price,
            f"{public_url}/static/homes/{demo.photo}",
        )
        home, out = world.add_home(demo.host_phone, demo.host_name, home, now)
        await db.write(out)
        added.append(home)
    return added
