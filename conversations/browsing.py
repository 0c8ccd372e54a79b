"""Guests finding a home: searching (LIST, or a sentence with places, words and dates), paging
(MORE), picking one by number, position or name, and the questions about it the bot can answer
(price and the total, place, the photo again, free on given dates; honestly not the rest).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from itertools import islice

from rapidfuzz import fuzz, process

from conversations import texts
from conversations.dates import DateProblem, Stay
from conversations.gsm7 import clean
from conversations.model import Property
from conversations.turn import Turn, World

PAGE_SIZE = 5


# -- searching and paging -------------------------------------------------------------------


def search(t: Turn) -> None:
    """LIST [words] [dates], or a sentence: "anything near the lake next weekend?"."""
    intent = t.intent
    show_list(t, intent.words, intent.stay)


def dates_alone(t: Turn) -> None:
    """Dates with nothing else: the homes free then (while viewing one: is it free then?)."""
    if t.state == "viewing":
        t.intent = replace(t.intent, topic="free")
        return question(t)
    show_list(t, "", t.intent.stay)


def show_list(t: Turn, words: str, stay: Stay | DateProblem | None) -> None:
    if isinstance(stay, DateProblem):
        return t.say(texts.LIST_DATES_PROBLEM.format(reason=stay.reason))
    homes = _search(words, t.world)
    free = (stay.check_in, stay.check_out) if stay else None
    if free:
        homes = _free(homes, free, t.world)
    if not homes:
        return t.say(_nothing_found(words, free))
    t.data["query"] = words
    t.data["shown"] = []
    t.data.pop("viewing", None)
    if free:
        t.data["free"] = [free[0].isoformat(), free[1].isoformat()]
    else:
        t.data.pop("free", None)
    t.move("browse")
    _page(t, homes, free)


def more(t: Turn) -> None:
    if "query" not in t.data:
        return t.say(texts.NO_LIST)
    homes = _search(t.data["query"], t.world)
    free = stored_stay(t.data.get("free"))
    if free:  # the same dates as the first page
        homes = _free(homes, free, t.world)
    if len(t.data["shown"]) >= len(homes):
        return t.say(texts.NO_MORE)
    t.move("browse")
    _page(t, homes, free)


def _search(words: str, world: World) -> list[Property]:
    terms = clean(words).casefold().split()
    if not terms:
        return list(world.listed())
    return world.search_index().matching(terms)


def _free(homes: list[Property], stay: tuple[date, date], world: World) -> list[Property]:
    """The homes no confirmed stay keeps busy on any night of `stay`."""
    return [home for home in homes if is_free(home, stay, world)]


def is_free(home: Property, stay: tuple[date, date], world: World) -> bool:
    return not any(
        other.status == "confirmed" and other.overlaps(*stay)
        for other in world.reservations_at(home.id)
    )


def _nothing_found(words: str, free: tuple[date, date] | None) -> str:
    shown = texts.shorten(words, 30)
    if free:
        dates = texts.date_range(*free)
        if words:
            return texts.NO_MATCH_FREE.format(words=shown, dates=dates)
        return texts.NONE_FREE.format(dates=dates)
    return texts.NO_MATCH.format(words=shown) if words else texts.NO_HOMES


def stored_stay(value: object) -> tuple[date, date] | None:
    if isinstance(value, list) and len(value) == 2:
        try:
            return date.fromisoformat(value[0]), date.fromisoformat(value[1])
        except (TypeError, ValueError):
            return None
    return None


def _page(t: Turn, homes: list[Property], free: tuple[date, date] | None = None) -> None:
    shown: list[int] = t.data["shown"]
    seen = set(shown)
    page = list(islice((home for home in homes if home.id not in seen), PAGE_SIZE))
    first = len(shown) + 1
    t.data["shown"] = shown + [home.id for home in page]
    has_more = len(t.data["shown"]) < len(homes)
    t.say(texts.list_page(page, first, len(homes), has_more, free))


# -- picking a home -------------------------------------------------------------------------


def pick(t: Turn) -> None:
    """A number from the list, a position ("the second one"), or words of a title or place
    ("the cabin"); words that name no home shown are a search."""
    intent = t.intent
    if intent.number is not None:
        return view(t, intent.number)
    found = named(t, intent.words, among_listed=False)
    if isinstance(found, Property):
        return view(t, t.data["shown"].index(found.id) + 1)
    show_list(t, intent.words, None)


def picked(t: Turn, number: int) -> Property | None:
    """Home `number` of the last list, or None (and why, said)."""
    shown: list[int] = t.data.get("shown", [])
    if not shown:
        t.say(texts.NO_LIST)
        return None
    if not 1 <= number <= len(shown):
        t.say(texts.NOT_IN_LIST.format(n=number, last=len(shown)))
        return None
    home = t.world.property(shown[number - 1])
    if home is None or not home.active:
        t.say(texts.HOME_GONE)
        return None
    return home


def view(t: Turn, number: int) -> None:
    home = picked(t, number)
    if home is None:
        return
    t.data["viewing"] = home.id
    t.move("view")
    media = (home.image_url,) if home.image_url else ()
    t.say(texts.home_details(number, home), media)


def named(t: Turn, words: str, among_listed: bool = True) -> Property | list[Property] | None:
    """The one home these words name: among the last list shown, else (if `among_listed`)
    among all listed homes. Several: those; none: None. Every word must be in the title or
    place, or, failing that, one home must be a close fuzzy match (typos: "the cabn")."""
    terms = clean(words).casefold().split()
    if not terms:
        return None
    shown = [t.world.property(i) for i in t.data.get("shown", [])]
    pools = [[h for h in shown if h is not None and h.active]]
    if among_listed:
        pools.append(list(t.world.listed()))
    for pool in pools:
        names = {home.id: f"{home.title} {home.place}".casefold() for home in pool}
        matches = [home for home in pool if all(term in names[home.id] for term in terms)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            return matches
        if pool and len(pool) <= 50:  # fuzzy over a short pool only: it costs per home
            # Each word close to a word of the title or place: "the cabn"
            loose = [home for home in pool if _loosely(terms, names[home.id].split())]
            if len(loose) == 1:
                return loose[0]
    return None


def _loosely(terms: list[str], words: list[str]) -> bool:
    return all(
        process.extractOne(term, words, scorer=fuzz.ratio, score_cutoff=80) is not None
        for term in terms
    )


# -- questions about a home -----------------------------------------------------------------


def question(t: Turn) -> None:
    """A question about the home viewed or named; while browsing, it becomes the home viewed."""
    home = _asked_about(t)
    if home is None:
        return
    fact, then = answer(t, home)
    t.data["viewing"] = home.id
    if t.state != "viewing":
        t.move("view")
    media = (home.image_url,) if t.intent.topic == "photo" and home.image_url else ()
    t.say(f"{fact} {then}", media)


def _asked_about(t: Turn) -> Property | None:
    intent = t.intent
    if intent.words:
        found = named(t, intent.words)
        if isinstance(found, Property):
            return found
    draft = t.data.get("draft")
    home_id = draft.get("property_id") if isinstance(draft, dict) else t.data.get("viewing")
    home = t.world.property(home_id) if isinstance(home_id, int) else None
    if home is None or not home.active:
        first = t.conversation.version == 0 and t.state == "start"
        t.say(texts.WELCOME if first else texts.ASK_WHICH_HOME)
        return None
    return home


def answer(t: Turn, home: Property) -> tuple[str, str]:
    """The fact asked for, and what to send next."""
    intent = t.intent
    title = texts.shorten(home.title, 40)
    stay = intent.stay
    if intent.topic == "price":
        if isinstance(stay, Stay):
            if is_free(home, (stay.check_in, stay.check_out), t.world):
                t.data["asked"] = [home.id, stay.check_in.isoformat(), stay.check_out.isoformat()]
            return texts.FACT_PRICE_TOTAL.format(
                title=title, price=home.nightly_price, **_stay_values(stay, home)
            ), texts.THEN_BOOK_DATES
        return texts.FACT_PRICE.format(title=title, price=home.nightly_price), texts.THEN_BOOK
    if intent.topic == "place":
        return texts.FACT_PLACE.format(title=title, place=texts.shorten(home.place, 40)), (
            texts.THEN_BOOK
        )
    if intent.topic == "photo":
        fact = texts.FACT_PHOTO if home.image_url else texts.FACT_NO_PHOTO
        return fact.format(title=title), texts.THEN_BOOK
    if intent.topic == "free":
        if isinstance(stay, DateProblem):
            return stay.reason, ""
        if not isinstance(stay, Stay):
            return texts.FACT_WHICH_DATES, texts.THEN_BOOK
        if is_free(home, (stay.check_in, stay.check_out), t.world):
            # "book it" next books those dates
            t.data["asked"] = [home.id, stay.check_in.isoformat(), stay.check_out.isoformat()]
            return texts.FACT_FREE.format(title=title, **_stay_values(stay, home)), (
                texts.THEN_BOOK_DATES
            )
        dates = texts.date_range(stay.check_in, stay.check_out)
        return texts.FACT_BUSY.format(title=title, dates=dates), texts.THEN_OTHER_DATES
    return texts.FACT_UNKNOWN.format(title=texts.shorten(home.title, 30)), texts.THEN_BOOK


def _stay_values(stay: Stay, home: Property) -> dict[str, object]:
    return {
        "dates": texts.date_range(stay.check_in, stay.check_out),
        "nights": stay.nights,
        "night_word": texts.night_word(stay.nights),
        "total": stay.nights * home.nightly_price,
    }
