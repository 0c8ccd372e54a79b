"""Reading a guest's stay dates ("Dec 3-7", "fri-sun", "Dec 3 for 4 nights") from a text message,
alone (`parse_stay`) or anywhere in a sentence (`find_stay`: "anything in Austin next weekend?").

Owns the phrasing rules and the guest-facing reasons when dates can't be booked; no I/O, no state.
Pieces (month and weekday names) come from dateutil; the stay rules are ours.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import NamedTuple

from dateutil.parser import parserinfo
from dateutil.relativedelta import MO, TH, relativedelta, weekday


@dataclass(frozen=True, slots=True)
class Stay:
    check_in: date
    check_out: date

    @property
    def nights(self) -> int:
        return (self.check_out - self.check_in).days


@dataclass(frozen=True, slots=True)
class DateProblem:
    reason: str
    month: int | None = None  # the month named, when only a month was ("in March")
    nights: int | None = None  # the nights named, when only they were ("for a week")


class Found(NamedTuple):
    """Dates found in a sentence, and the sentence without them."""

    stay: Stay | DateProblem
    rest: str


def parse_stay(
    text: str,
    today: date,
    max_nights: int,
    *,
    same_day: bool = False,
    month: int | None = None,
) -> Stay | DateProblem | None:
    """None when the text does not look like dates at all (the caller then treats it as
    something else); a DateProblem when it looks like dates but can't be booked; else the Stay.

    Every word must be a date word (month, weekday, number, "to", "for", "nights", "next",
    "weekend", "arriving", a holiday...): a sentence that merely mentions a date is left to
    `find_stay`. A bare number ("3") is a home number, not a date. Rules chosen where the
    phrasing is open:

    - A month/day without a year is its next occurrence, counting today (so "Nov 23" on Nov 23
      is today, which is refused unless `same_day`: a stay may then start today).
    - The end of a range takes the start's month and year; it moves to next year only when its
      month is before the start's month ("Dec 30 - Jan 2"), never when only the day is earlier
      ("Dec 7-3" is a check-out before check-in). Days with no month at all ("the 3rd to the
      7th") take `month`, the month the guest named last, when there is one.
    - Weeks run Monday to Sunday. "friday" and "this friday" are the first Friday after today;
      "next friday" (and "friday after next", "friday next week") is the Friday of next week. A
      weekday ending a range is the first one after check-in. "this weekend" (or "weekend") is
      Friday to Sunday of the current week, "next weekend" that of next week; on Friday to
      Sunday "this weekend" has begun and is refused.
    - "tonight" is one night from today, "tomorrow night" one from tomorrow; "for a week" is 7
      nights, "for 10 days" 10 nights (the dates are always said back, so a guest who meant 9
      sees it). "in 3 days" starts three days from today.
    - A holiday is its next occurrence ("christmas", "labor day"); "<day> weekend" ("4th of July
      weekend", "memorial day weekend") is the weekend nearest that day, from Friday: to Sunday,
      or through that day's night when it is a Sunday or Monday (as Duckling reads "memorial day
      week-end"); a day in mid-week gets a question.
    - Dates before today get a "has passed" question; "next week", a month with no day, or days
      with no month get a question, never a guess.
    """
    return _parse_stay(text, today, max_nights, same_day, month)


def find_stay(
    text: str,
    today: date,
    max_nights: int,
    *,
    same_day: bool = False,
    month: int | None = None,
) -> Found | None:
    """The dates anywhere in a sentence, read by `parse_stay`'s rules, and the sentence without
    them; None when it names none.

    Only a phrase that is clearly about dates counts: one with a number tied to a month, a
    weekday or nights, or a date word ("tomorrow", "weekend", a holiday). A lone month or
    weekday counts after "in", "on", "for", "during", "this" or "next" ("anything in March?"),
    and a lone weekday only in full ("on friday"), so "I may come" and "homes in the sun" name
    no dates. The first phrase that reads as a stay wins; failing that, the first problem.
    """
    return _find_stay(text, today, max_nights, same_day, month)


def nights_in(text: str) -> int | None:
    """The length of a stay a text names without its days ("make it 3 nights", "for a week"),
    or None: none, or more than one."""
    return _nights_in(text)


_INFO = parserinfo()  # dateutil's English month and weekday names; only read, never changed
_EXAMPLE = '"Dec 3-7"'

# Times of day ("at 5pm", "15:30") are read and left out: a stay is whole days. iso and m/d come
# before num so "2026-12-03" and "12/3" stay whole; with re.ASCII only ASCII digits and letters
# make tokens, and anything between them (punctuation, emoji) is skipped.
_TOKEN = re.compile(
    r"(?P<time>(?:(?:at|@)\s*)?[0-9]{1,2}(?::[0-9]{2})?\s*(?:[ap]\.?m\b\.?)"
    r"|(?:(?:at|@)\s*)?[0-9]{1,2}:[0-9]{2})"
    r"|(?P<check>check(?:ing)?-(?:in|out))(?![a-z])"
    r"|(?P<weekend>week-end)(?![a-z])"
    r"|(?P<iy>[0-9]{4})[-/](?P<im>[0-9]{1,2})[-/](?P<id>[0-9]{1,2})"
    r"|(?P<mm>[0-9]{1,2})/(?P<md>[0-9]{1,2})(?:/(?P<my>[0-9]{4}|[0-9]{2}))?"
    r"|(?P<num>[0-9]+)(?:(?:st|nd|rd|th)(?![a-z]))?"
    r"|(?P<word>[a-z]+(?:'[a-z]+)?)"
    r"|(?P<dash>[-\u2010-\u2015\u2212])",
    re.ASCII,
)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})

_SEPARATORS = frozenset(
    {"to", "until", "till", "til", "thru", "through", "leaving", "leave", "departing", "depart"}
)
_FILLERS = frozenset(
    {"from", "the", "of", "on", "please", "arriving", "arrive", "arrival", "starting", "between"}
    | {"around", "about", "noon", "midnight", "morning", "afternoon", "evening", "ish"}
)
_KEYWORDS = {
    "for": "for",
    "night": "nights",
    "nights": "nights",
    "nite": "nights",
    "nites": "nights",
    "day": "days",
    "days": "days",
    "week": "week",
    "weeks": "week",
    "this": "this",
    "next": "next",
    "coming": "coming",
    "after": "after",
    "last": "last",
    "past": "last",
    "ago": "ago",
    "in": "in",
    "and": "and",
    "a": "a",
    "an": "a",
    "today": "today",
    "tonight": "tonight",
    "tomorrow": "tomorrow",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "yesterday": "yesterday",
    "weekend": "weekend",
    "wknd": "weekend",
}
_NUMBER_WORDS = {
    word: n
    for n, word in enumerate(
        [
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
        ],
        start=1,
    )
}
_NUMBER_WORDS["couple"] = 2
_ORDINALS = {
    word: n
    for n, word in enumerate(
        [
            "first",
            "second",
            "third",
            "fourth",
            "fifth",
            "sixth",
            "seventh",
            "eighth",
            "ninth",
            "tenth",
            "eleventh",
            "twelfth",
            "thirteenth",
            "fourteenth",
            "fifteenth",
            "sixteenth",
            "seventeenth",
            "eighteenth",
            "nineteenth",
            "twentieth",
        ],
        start=1,
    )
}
_ORDINALS["thirtieth"] = 30


def _nth_weekday(month: int, day: int, nth: int) -> Callable[[int], date]:
    """The nth such weekday of a month (nth -1: the last), as a function of the year."""
    if nth > 0:
        return lambda year: date(year, month, 1) + relativedelta(weekday=weekday(day)(nth))
    return lambda year: date(year, month, 1) + relativedelta(day=31, weekday=weekday(day)(-1))


def _fixed(month: int, day: int) -> Callable[[int], date]:
    return lambda year: date(year, month, day)


# US holidays people book around (the ones Duckling's English corpus names), by their words.
_HOLIDAYS: dict[tuple[str, ...], Callable[[int], date]] = {
    ("christmas",): _fixed(12, 25),
    ("christmas", "day"): _fixed(12, 25),
    ("xmas",): _fixed(12, 25),
    ("christmas", "eve"): _fixed(12, 24),
    ("xmas", "eve"): _fixed(12, 24),
    ("new", "year's", "eve"): _fixed(12, 31),
    ("new", "years", "eve"): _fixed(12, 31),
    ("new", "year", "eve"): _fixed(12, 31),
    ("nye",): _fixed(12, 31),
    ("new", "year's", "day"): _fixed(1, 1),
    ("new", "years", "day"): _fixed(1, 1),
    ("new", "year's"): _fixed(1, 1),
    ("new", "years"): _fixed(1, 1),
    ("valentine's", "day"): _fixed(2, 14),
    ("valentines", "day"): _fixed(2, 14),
    ("valentine", "day"): _fixed(2, 14),
    ("valentine's",): _fixed(2, 14),
    ("halloween",): _fixed(10, 31),
    ("independence", "day"): _fixed(7, 4),
    ("thanksgiving",): _nth_weekday(11, TH.weekday, 4),
    ("thanksgiving", "day"): _nth_weekday(11, TH.weekday, 4),
    ("memorial", "day"): _nth_weekday(5, MO.weekday, -1),
    ("labor", "day"): _nth_weekday(9, MO.weekday, 1),
    ("labour", "day"): _nth_weekday(9, MO.weekday, 1),
}
_HOLIDAY_LIST = list(_HOLIDAYS.values())
# Phrases of several words read as one token: (kind, value).
_PHRASES: dict[tuple[str, ...], tuple[str, int]] = {
    ("check", "in"): ("filler", 0),
    ("checking", "in"): ("filler", 0),
    ("check", "out"): ("sep", 0),
    ("checking", "out"): ("sep", 0),
    ("day", "after", "tomorrow"): ("from_today", 2),
    ("the", "day", "after", "tomorrow"): ("from_today", 2),
    ("day", "before", "yesterday"): ("from_today", -2),
    ("the", "day", "before", "yesterday"): ("from_today", -2),
    ("tomorrow", "night"): ("tomorrow_night", 0),
    ("this", "evening"): ("tonight", 0),
    ("today", "evening"): ("tonight", 0),
    ("this", "coming"): ("this", 0),
    ("week", "end"): ("weekend", 0),
    ("a", "couple", "of"): ("numword", 2),
    ("a", "couple"): ("numword", 2),
    **{words: ("holiday", n) for n, words in enumerate(_HOLIDAYS)},
}
_LONGEST_PHRASE = max(len(words) for words in _PHRASES)
_PHRASE_STARTS = frozenset(words[0] for words in _PHRASES)
_CHECK_WORDS = {"checkin": ("filler", 0), "checkout": ("sep", 0)}

# Any of these makes a message a date reply; numbers alone don't (they are home numbers).
_ANCHORS = frozenset(
    {
        "month",
        "weekday",
        "today",
        "tonight",
        "tomorrow",
        "tomorrow_night",
        "yesterday",
        "from_today",
        "weekend",
        "week",
        "nights",
        "days",
        "holiday",
    }
)
# Words that, just before a lone month or weekday, say it is meant as a date.
_LEADS = frozenset({"in", "on", "for", "during", "this", "next", "until", "till", "by", "around"})
_LONGEST_RUN = 16


class _Tok(NamedTuple):
    kind: str  # month, weekday, num, year, ord, sep, other, or a _KEYWORDS/_PHRASES kind
    value: int = 0
    start: int = 0  # where in the text it was
    end: int = 0
    word: str = ""


@dataclass(frozen=True, slots=True)
class _Part:
    """One end of a range as written; what is missing is filled in from the other end or today."""

    month: int | None = None
    day: int | None = None
    year: int | None = None
    weekday: int | None = None  # alone: the next such day; with a day: a check on that date
    relative: str | None = None  # "this", "next" or "last" before a weekday
    from_today: int | None = None  # today = 0, tomorrow = 1
    holiday: int | None = None  # an index in _HOLIDAY_LIST


class _Problem(Exception):
    def __init__(self, reason: str, month: int | None = None, nights: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.month = month
        self.nights = nights


class _Rules(NamedTuple):
    today: date
    max_nights: int
    same_day: bool
    month: int | None

    @property
    def first_day(self) -> date:
        return self.today if self.same_day else self.today + timedelta(days=1)


@lru_cache(maxsize=4096)
def _parse_stay(
    text: str, today: date, max_nights: int, same_day: bool, month: int | None
) -> Stay | DateProblem | None:
    tokens = _tokenise(text)
    if not tokens or any(t.kind == "other" for t in tokens):
        return None
    tokens = [t for t in tokens if t.kind != "filler"]
    if not _looks_like_dates(tokens):
        return None
    return _read(tokens, _Rules(today, max_nights, same_day, month))


@lru_cache(maxsize=4096)
def _nights_in(text: str) -> int | None:
    tokens = [t for t in _tokenise(text) if t.kind != "filler"]
    found = []
    for i in range(len(tokens) - 1):
        count, unit = _count(tokens[i]), tokens[i + 1].kind
        if count is None or unit not in ("nights", "days", "week"):
            continue
        before = tokens[i - 1].kind if i else ""
        after = tokens[i + 2].kind if i + 2 < len(tokens) else ""
        if before not in ("in", "next", "last", "this") and after != "ago":
            found.append(count * (7 if unit == "week" else 1))
    return found[0] if len(found) == 1 else None


@lru_cache(maxsize=4096)
def _find_stay(
    text: str, today: date, max_nights: int, same_day: bool, month: int | None
) -> Found | None:
    tokens = _tokenise(text)
    if not tokens:
        return None
    rules = _Rules(today, max_nights, same_day, month)
    runs: list[list[_Tok]] = [[]]
    for token in tokens:
        if token.kind == "other":
            runs.append([])
        else:
            runs[-1].append(token)
    problem: Found | None = None
    for run in runs:
        if len(run) > _LONGEST_RUN:
            continue  # no stay takes that many words: not worth reading every slice of
        for first, last in _spans(len(run)):
            piece = run[first:last]
            if not _means_dates(piece, run[first - 1] if first else None, len(tokens)):
                continue
            words = [t for t in piece if t.kind != "filler"]
            if not _looks_like_dates(words):
                continue
            stay = _read(words, rules)
            found = Found(stay, _without(text, piece[0].start, piece[-1].end))
            if isinstance(stay, Stay):
                return found
            if stay.reason != _UNREADABLE:
                # The longest reading of this run says why it can't be booked.
                problem = problem or found
                break
    return problem


def _spans(length: int) -> list[tuple[int, int]]:
    """Every (first, last) slice of a run, longest first: a run may carry words around the
    dates that are not part of them ("book 3 for dec 3-7")."""
    return [
        (first, first + size)
        for size in range(length, 0, -1)
        for first in range(0, length - size + 1)
    ]


def _means_dates(piece: list[_Tok], before: _Tok | None, all_tokens: int) -> bool:
    """Whether a phrase found in a sentence is clearly meant as dates (see find_stay)."""
    kinds = [t.kind for t in piece if t.kind != "filler"]
    if not kinds or kinds[0] in ("sep", "and") or kinds[-1] in ("sep", "for", "in", "a", "and"):
        return False
    strong = {"today", "tonight", "tomorrow", "tomorrow_night", "yesterday", "from_today"}
    strong |= {"holiday", "weekend", "nights", "days"}
    if any(kind in strong for kind in kinds) or ("week" in kinds and len(kinds) > 1):
        return True
    has_number = any(kind in ("num", "ord", "year") for kind in kinds)
    if ("month" in kinds or "weekday" in kinds) and has_number:
        return True
    ordinals = [t for t in piece if t.kind == "ord" or (t.kind == "num" and not t.word.isdigit())]
    if len(ordinals) == 2 and "sep" in kinds:
        return True  # "the 4th to the 8th": days of a month the guest named before
    if len(piece) == all_tokens:
        return True  # the whole message is the phrase
    lone = [t for t in piece if t.kind in ("month", "weekday")]
    if len(lone) != 1 or has_number:
        return False
    lead = piece[0] if piece[0].kind != "month" and piece[0].kind != "weekday" else before
    if lead is None or lead.word not in _LEADS:
        return False
    return lone[0].kind == "month" or len(lone[0].word) >= 6  # "friday", not "sun" or "sat"


def _without(text: str, start: int, end: int) -> str:
    return " ".join(f"{text[:start]} {text[end:]}".split())


def _tokenise(text: str) -> list[_Tok]:
    """Date tokens of the text; words that are not date words are "other" tokens."""
    low = text.lower().translate(_APOSTROPHES)
    if len(low) != len(text):  # a character that lower-cases into two: spans follow `low`
        text = low
    found = list(_TOKEN.finditer(low))
    tokens: list[_Tok] = []
    i = 0
    while i < len(found):
        m = found[i]
        at, to = m.start(), m.end()
        if m["word"] is not None and m["word"] in _PHRASE_STARTS:
            phrase = _phrase(found, i)
            if phrase is not None:
                size, (kind, value) = phrase
                tokens.append(_Tok(kind, value, at, found[i + size - 1].end(), m["word"]))
                i += size
                continue
        i += 1
        if m["time"] is not None:
            tokens.append(_Tok("filler", 0, at, to, m["time"]))
        elif m["weekend"] is not None:
            tokens.append(_Tok("weekend", 0, at, to, "weekend"))
        elif m["check"] is not None:
            kind = "sep" if m["check"].endswith("out") else "filler"
            tokens.append(_Tok(kind, 0, at, to, m["check"]))
        elif m["iy"] is not None:
            tokens += [_Tok("month", int(m["im"]), at, to), _Tok("num", int(m["id"]), at, to)]
            tokens.append(_Tok("year", int(m["iy"]), at, to))
        elif m["mm"] is not None:
            tokens += [_Tok("month", int(m["mm"]), at, to), _Tok("num", int(m["md"]), at, to)]
            if m["my"] is not None:
                # 2-digit years are this century; dateutil's convertyear would depend on the clock
                year = int(m["my"])
                tokens.append(_Tok("year", year if year >= 100 else 2000 + year, at, to))
        elif m["num"] is not None:
            digits = m["num"]
            if len(digits) > 4:
                tokens.append(_Tok("other", 0, at, to, digits))
            else:
                kind = "year" if len(digits) == 4 else "num"
                tokens.append(_Tok(kind, int(digits), at, to, m.group()))
        elif m["dash"] is not None:
            tokens.append(_Tok("sep", 0, at, to, "-"))
        else:
            tokens.append(_word(m["word"], at, to))
    return tokens


def _phrase(found: list[re.Match[str]], i: int) -> tuple[int, tuple[str, int]] | None:
    for size in range(min(_LONGEST_PHRASE, len(found) - i), 1, -1):
        words = tuple(m["word"] for m in found[i : i + size])
        if None not in words and words in _PHRASES:
            return size, _PHRASES[words]
    single = (found[i]["word"],)
    if single in _PHRASES:
        return 1, _PHRASES[single]
    return None


def _word(word: str, at: int, to: int) -> _Tok:
    if word in _FILLERS:
        return _Tok("filler", 0, at, to, word)
    if word in _SEPARATORS:
        return _Tok("sep", 0, at, to, word)
    if word in _KEYWORDS:
        return _Tok(_KEYWORDS[word], 0, at, to, word)
    if word in _CHECK_WORDS:
        kind, value = _CHECK_WORDS[word]
        return _Tok(kind, value, at, to, word)
    if word in _NUMBER_WORDS:
        return _Tok("numword", _NUMBER_WORDS[word], at, to, word)
    if word in _ORDINALS:
        return _Tok("ord", _ORDINALS[word], at, to, word)
    month = _INFO.month(word)
    if month is not None:
        return _Tok("month", month, at, to, word)
    day = _INFO.weekday(word)
    if day is not None:
        return _Tok("weekday", day, at, to, word)
    return _Tok("other", 0, at, to, word)


def _looks_like_dates(tokens: list[_Tok]) -> bool:
    kinds = [t.kind for t in tokens]
    if any(kind in _ANCHORS for kind in kinds):
        return True
    # "3-7" is a date range missing its month, which deserves a question rather than None.
    numbers = ("num", "ord")
    return any(
        kinds[i] in numbers and kinds[i + 1] == "sep" and kinds[i + 2] in numbers
        for i in range(len(kinds) - 2)
    )


def _read(tokens: list[_Tok], rules: _Rules) -> Stay | DateProblem:
    try:
        return _parse(tokens, rules)
    except _Problem as problem:
        return DateProblem(problem.reason, problem.month, problem.nights)
    except (OverflowError, ValueError):  # date arithmetic past year 9999
        return DateProblem(f"Those dates are too far ahead. Send e.g. {_EXAMPLE}.")


def _parse(tokens: list[_Tok], rules: _Rules) -> Stay:
    today = rules.today
    # "in" only counts in "in 3 days"; elsewhere ("in March") it is a filler.
    tokens = [
        t
        for i, t in enumerate(tokens)
        if t.kind != "in"
        or (
            (i + 2 < len(tokens) and _count(tokens[i + 1]) is not None)
            and tokens[i + 2].kind in ("days", "week")
        )
    ]
    when, nights = _split_nights(tokens)
    if nights is not None and nights < 1:
        raise _Problem('A stay is at least 1 night. Send e.g. "Dec 3 for 1 night".')
    if nights is not None and nights > rules.max_nights:
        raise _Problem(
            f'The most is {rules.max_nights} nights. Send e.g. "Dec 3 for {rules.max_nights} '
            'nights".'
        )
    if not when:
        raise _Problem(
            f'From which day? Send e.g. "Dec 3 for {_nights(nights or 1)}".', nights=nights
        )
    check_in, check_out, implied = _when(when, rules)
    if check_in < today:
        first = rules.first_day
        raise _Problem(
            f"{_fmt(check_in, today)} has passed. Check-in can be from "
            f"{'today' if rules.same_day else 'tomorrow'} ({_fmt(first)}) on: send e.g. "
            f'"{_fmt_range(first, first + timedelta(days=2))}".'
        )
    if check_in == today and not rules.same_day:
        tomorrow = today + timedelta(days=1)
        raise _Problem(
            f"Check-in must be tomorrow ({_fmt(tomorrow)}) or later. "
            f'Send new dates, e.g. "{_fmt_range(tomorrow, tomorrow + timedelta(days=2))}".'
        )
    if nights is not None:
        wanted = check_in + timedelta(days=nights)
        if check_out is not None and check_out != wanted:
            raise _Problem(
                f"{_fmt_range(check_in, check_out)} is not {_nights(nights)}. "
                f'Send one of them, e.g. "{_fmt(check_in)} for {_nights(nights)}".'
            )
        check_out = wanted
    if check_out is None and implied is not None:
        check_out = check_in + timedelta(days=implied)
    if check_out is None:
        raise _Problem(
            f'How many nights from {_fmt(check_in)}? Send e.g. "{_fmt(check_in)} for 2 nights".'
        )
    if check_out <= check_in:
        raise _Problem(
            f"Check-out ({_fmt(check_out)}) must be after check-in ({_fmt(check_in)}). "
            f"Send e.g. {_EXAMPLE}."
        )
    stay = Stay(check_in, check_out)
    if stay.nights > rules.max_nights:
        raise _Problem(
            f"That is {stay.nights} nights; the most is {rules.max_nights}. "
            f'Send e.g. "{_fmt(check_in)} for {_nights(rules.max_nights)}".'
        )
    return stay


def _split_nights(tokens: list[_Tok]) -> tuple[list[_Tok], int | None]:
    """Takes "[for] N nights" (or days, or weeks) out of the tokens, wherever it is ("4 nights
    from Dec 3", "for a week"); "in N days" and "N days ago" stay: they name a day."""
    rest: list[_Tok] = []
    nights: int | None = None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        count = _count(token)
        unit = tokens[i + 1].kind if i + 1 < len(tokens) else ""
        if count is not None and unit in ("nights", "days", "week"):
            before = rest[-1].kind if rest else ""
            after = tokens[i + 2].kind if i + 2 < len(tokens) else ""
            if before == "in" or after == "ago":  # a day, not a length
                scale = 7 if unit == "week" else 1
                if before == "in":
                    rest.pop()
                    rest.append(token._replace(kind="from_today", value=count * scale))
                else:
                    rest.append(token._replace(kind="from_today", value=-count * scale))
                    i += 1  # "ago"
                i += 2
                continue
            if nights is not None:
                raise _unreadable()
            nights = count * (7 if unit == "week" else 1)
            if before == "for":
                rest.pop()
            i += 2
            continue
        if token.kind in ("nights", "days"):
            raise _unreadable()  # "nights" with no number: "Dec 3 nights"
        rest.append(token)
        i += 1
    if any(t.kind in ("for", "a", "numword") for t in rest):
        raise _unreadable()
    return rest, nights


def _count(token: _Tok) -> int | None:
    if token.kind in ("num", "year"):
        return token.value
    if token.kind == "numword":
        return token.value
    if token.kind == "a":
        return 1
    return None


def _when(tokens: list[_Tok], rules: _Rules) -> tuple[date, date | None, int | None]:
    """Check-in, check-out when the text gives one, and the nights a phrase implies
    ("tonight" is one)."""
    today = rules.today
    tokens = _weekday_of_week(tokens)
    kinds = [t.kind for t in tokens]
    if "weekend" in kinds:
        return (*_weekend(tokens, rules), None)
    if "week" in kinds:
        raise _Problem(f"Which days? Send exact dates, e.g. {_EXAMPLE}.")
    implied = 1 if kinds[-1] in ("tonight", "tomorrow_night") else None
    if "and" in kinds:
        # "between Dec 3 and Dec 7" (and is the separator), "Dec 3 and leave Dec 7" (it is not)
        if "sep" in kinds:
            tokens = [
                t
                for i, t in enumerate(tokens)
                if t.kind != "and" or i + 1 == len(kinds) or kinds[i + 1] != "sep"
            ]
        else:
            tokens = [t._replace(kind="sep") if t.kind == "and" else t for t in tokens]
        kinds = [t.kind for t in tokens]
    seps = [i for i, kind in enumerate(kinds) if kind == "sep"]
    if not seps:
        return _start(_piece(tokens), _Part(), rules), None, implied
    if len(seps) > 1:
        raise _unreadable()
    start, end = _piece(tokens[: seps[0]]), _piece(tokens[seps[0] + 1 :])
    check_in = _start(start, end, rules)
    return check_in, _end(end, check_in, today), None


def _weekday_of_week(tokens: list[_Tok]) -> list[_Tok]:
    """ "wednesday next week" is "next wednesday", "friday this week" is "this friday"."""
    out: list[_Tok] = []
    for token in tokens:
        out.append(token)
        if (
            len(out) >= 3
            and out[-1].kind == "week"
            and out[-2].kind in ("this", "next")
            and out[-3].kind == "weekday"
        ):
            day, relative = out[-3], out[-2]
            out[-3:] = [relative, day]
    return out


def _weekend(tokens: list[_Tok], rules: _Rules) -> tuple[date, date]:
    today = rules.today
    kinds = [t.kind for t in tokens]
    if kinds in (["weekend"], ["this", "weekend"], ["next", "weekend"]):
        monday = today + relativedelta(weeks=1 if kinds[0] == "next" else 0, weekday=MO(-1))
        friday = monday + timedelta(days=4)
        return friday, friday + timedelta(days=2)
    if kinds == ["last", "weekend"]:
        friday = today + relativedelta(weeks=-1, weekday=MO(-1)) + timedelta(days=4)
        return friday, friday + timedelta(days=2)
    # "4th of july weekend", "memorial day weekend", "the weekend of Dec 12"
    around = [t for t in tokens if t.kind != "weekend"]
    if len(around) != len(tokens) - 1 or not around:
        raise _unreadable()
    day = _start(_piece(around), _Part(), rules)
    days_from_friday = (day.weekday() - 4) % 7  # Fri 0, Sat 1, Sun 2, Mon 3
    if days_from_friday > 3:
        raise _Problem(
            f"{_fmt(day)} is a {_weekday_name(day.weekday())}. Which days? "
            f'Send e.g. "{_fmt_range(day, day + timedelta(days=2))}".'
        )
    friday = day - timedelta(days=days_from_friday)
    return friday, max(friday + timedelta(days=2), day + timedelta(days=1))


def _piece(tokens: list[_Tok]) -> _Part:
    kinds = tuple(t.kind for t in tokens)
    v = [t.value for t in tokens]
    match kinds:
        case ("today",) | ("tonight",):
            return _Part(from_today=0)
        case ("tomorrow",) | ("tomorrow_night",):
            return _Part(from_today=1)
        case ("yesterday",):
            return _Part(from_today=-1)
        case ("from_today",):
            return _Part(from_today=v[0])
        case ("holiday",):
            return _Part(holiday=v[0])
        case ("holiday", "year"):
            return _Part(holiday=v[0], year=v[1])
        case ("weekday",):
            return _Part(weekday=v[0])
        case ("this" | "next" | "last", "weekday"):
            return _Part(weekday=v[1], relative=kinds[0])
        case ("coming", "weekday"):
            return _Part(weekday=v[1], relative="this")
        case ("weekday", "after", "next"):
            return _Part(weekday=v[0], relative="next")
        case ("month", "num" | "ord") | ("month", "num" | "ord", "year"):
            return _Part(month=v[0], day=v[1], year=v[2] if len(v) == 3 else None)
        case ("num" | "ord", "month") | ("num" | "ord", "month", "year"):
            return _Part(month=v[1], day=v[0], year=v[2] if len(v) == 3 else None)
        case ("num" | "ord",) | ("num" | "ord", "year"):
            return _Part(day=v[0], year=v[1] if len(v) == 2 else None)
        case ("month",) | ("month", "year"):
            name = _month_name(v[0])
            full = _INFO.MONTHS[v[0] - 1][1]
            raise _Problem(f'Which days in {full}? Send e.g. "{name} 3-7".', month=v[0])
        case ("weekday", *_):
            # "Fri Dec 4", "Tuesday the 19th": the weekday is kept only to check the date
            dated = _piece(tokens[1:])
            if dated.day is None:
                raise _unreadable()
            return replace(dated, weekday=v[0])
        case (*_, "weekday") if len(kinds) > 1 and kinds[0] in ("month", "num", "ord"):
            # "Jul 18, Fri"
            dated = _piece(tokens[:-1])
            if dated.day is None:
                raise _unreadable()
            return replace(dated, weekday=v[-1])
    raise _unreadable()


def _start(part: _Part, end: _Part, rules: _Rules) -> date:
    today = rules.today
    if part.holiday is not None:
        return _holiday(part, today)
    if part.day is None:
        return _undated(part, today, after=today)
    month = part.month if part.month is not None else end.month
    if month is None:
        month = rules.month
    if month is None:
        raise _Problem(f"Which month? Send e.g. {_EXAMPLE}.")
    if part.year is not None:
        year = part.year
    elif end.year is not None and end.month is not None:
        year = end.year - (month > end.month)
    elif end.year is not None:  # "Nov 20-22 2026": the end's year is the start's
        year = end.year
    else:
        year = today.year + ((month, part.day) < (today.month, today.day))
    return _dated(part, year, month, part.day, today)


def _end(part: _Part, check_in: date, today: date) -> date:
    if part.holiday is not None:
        return _holiday(part, check_in)
    if part.day is None:
        return _undated(part, today, after=today if part.relative else check_in)
    month = part.month if part.month is not None else check_in.month
    year = part.year if part.year is not None else check_in.year + (month < check_in.month)
    return _dated(part, year, month, part.day, today)


def _holiday(part: _Part, after: date) -> date:
    """The holiday's date in the year given, else its next one on or after `after`."""
    assert part.holiday is not None
    on = _HOLIDAY_LIST[part.holiday]
    if part.year is not None:
        return on(part.year)
    day = on(after.year)
    return day if day >= after else on(after.year + 1)


def _undated(part: _Part, today: date, after: date) -> date:
    """today/tomorrow, or a weekday: the first one after `after`, or in next week for "next"."""
    if part.from_today is not None:
        return today + timedelta(days=part.from_today)
    if part.weekday is None:
        raise _unreadable()
    if part.relative == "next":
        monday = today + relativedelta(weeks=1, weekday=MO(-1))
        return monday + relativedelta(weekday=weekday(part.weekday))
    if part.relative == "last":
        return today - relativedelta(days=1, weekday=weekday(part.weekday)(-1))
    return after + relativedelta(days=1, weekday=weekday(part.weekday))


def _dated(part: _Part, year: int, month: int, day: int, today: date) -> date:
    if not 1 <= month <= 12:
        raise _Problem(f'There is no month {month}. Dates are month/day, e.g. "12/3-12/7".')
    if year > date.max.year:
        raise _Problem(f"Those dates are too far ahead. Send e.g. {_EXAMPLE}.")
    if year < date.min.year:
        year = today.year - 1  # year 0 is as much in the past as any; _parse says so
    try:
        result = date(year, month, day)
    except ValueError:
        leap = f" in {year}" if (month, day) == (2, 29) else ""
        name = _month_name(month)
        raise _Problem(f"There is no {name} {day}{leap}. Send e.g. {_EXAMPLE}.") from None
    if part.weekday is not None and result.weekday() != part.weekday:
        raise _Problem(
            f"{_fmt(result)} is a {_weekday_name(result.weekday())}, not a "
            f"{_weekday_name(part.weekday)}. Which did you mean? Send e.g. {_EXAMPLE}."
        )
    return result


_UNREADABLE = f'Sorry, I could not read those dates. Send e.g. {_EXAMPLE} or "Dec 3 for 4 nights".'


def _unreadable() -> _Problem:
    return _Problem(_UNREADABLE)


def _month_name(month: int) -> str:
    return _INFO.MONTHS[month - 1][0]


def _weekday_name(day: int) -> str:
    return _INFO.WEEKDAYS[day][1]


def _fmt(day: date, today: date | None = None) -> str:
    """Like "Dec 3"; with the year when `today` is given and the year differs."""
    text = f"{_month_name(day.month)} {day.day}"
    return f"{text} {day.year}" if today is not None and day.year != today.year else text


def _fmt_range(first: date, last: date) -> str:
    """Like "Dec 3-7", or "Nov 30-Dec 2" across months; both parse back to the same dates."""
    if (first.year, first.month) == (last.year, last.month):
        return f"{_fmt(first)}-{last.day}"
    return f"{_fmt(first)}-{_fmt(last)}"


def _nights(count: int) -> str:
    return "1 night" if count == 1 else f"{count} nights"
