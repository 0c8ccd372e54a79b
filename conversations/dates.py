"""Reading a guest's stay dates ("Dec 3-7", "fri-sun", "Dec 3 for 4 nights") from a text message.

Owns the phrasing rules and the guest-facing reasons when dates can't be booked; no I/O, no state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import NamedTuple

from dateutil.parser import parserinfo
from dateutil.relativedelta import MO, relativedelta, weekday


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


def parse_stay(text: str, today: date, max_nights: int) -> Stay | DateProblem | None:
    """None when the text does not look like dates at all (the caller then treats it as
    something else); a DateProblem when it looks like dates but can't be booked; else the Stay.

    Every word must be a date word (month, weekday, number, "to", "for", "nights", "next",
    "weekend", ...): a sentence that merely mentions a date is left to the caller. A bare number
    ("3") is a home number, not a date. Rules chosen where the phrasing is open:

    - A month/day without a year is its next occurrence, counting today (so "Nov 23" on Nov 23
      is today, which is then refused: check-in is from tomorrow on).
    - The end of a range takes the start's month and year; it moves to next year only when its
      month is before the start's month ("Dec 30 - Jan 2"), never when only the day is earlier
      ("Dec 7-3" is a check-out before check-in).
    - Weeks run Monday to Sunday. "friday" and "this friday" are the first Friday after today;
      "next friday" is the Friday of next week. A weekday ending a range is the first one after
      check-in. "this weekend" (or "weekend") is Friday to Sunday of the current week, "next
      weekend" that of next week; on Friday to Sunday "this weekend" has begun and is refused.
    - "next week", a month with no day, or days with no month get a question, never a guess.
    """
    tokens = _tokenise(text)
    if tokens is None or not _looks_like_dates(tokens):
        return None
    try:
        return _parse(tokens, today, max_nights)
    except _Problem as problem:
        return DateProblem(problem.reason)
    except OverflowError:  # date arithmetic past year 9999
        return DateProblem(f"Those dates are too far ahead. Send e.g. {_EXAMPLE}.")


_INFO = parserinfo()  # dateutil's English month and weekday names; only read, never changed
_EXAMPLE = '"Dec 3-7"'

# iso and m/d come before num so "2026-12-03" and "12/3" stay whole; with re.ASCII only ASCII
# digits and letters make tokens, and anything between them (punctuation, emoji) is skipped.
_TOKEN = re.compile(
    r"(?P<iy>[0-9]{4})[-/](?P<im>[0-9]{1,2})[-/](?P<id>[0-9]{1,2})"
    r"|(?P<mm>[0-9]{1,2})/(?P<md>[0-9]{1,2})(?:/(?P<my>[0-9]{4}|[0-9]{2}))?"
    r"|(?P<num>[0-9]+)(?:(?:st|nd|rd|th)(?![a-z]))?"
    r"|(?P<word>[a-z]+)"
    r"|(?P<dash>[-\u2010-\u2015\u2212])",
    re.ASCII,
)
_SEPARATORS = frozenset({"to", "until", "till", "til", "thru", "through"})
_FILLERS = frozenset({"from", "the", "of", "on", "please"})
_KEYWORDS = {
    "for": "for",
    "night": "nights",
    "nights": "nights",
    "this": "this",
    "next": "next",
    "today": "today",
    "tonight": "today",
    "tomorrow": "tomorrow",
    "weekend": "weekend",
    "week": "week",
    "weeks": "week",
}
# Any of these makes a message a date reply; numbers alone don't (they are home numbers).
_ANCHORS = frozenset({"month", "weekday", "today", "tomorrow", "weekend", "week", "nights"})


class _Tok(NamedTuple):
    kind: str  # month, weekday, num, year, sep, or a _KEYWORDS value
    value: int = 0


@dataclass(frozen=True, slots=True)
class _Part:
    """One end of a range as written; what is missing is filled in from the other end or today."""

    month: int | None = None
    day: int | None = None
    year: int | None = None
    weekday: int | None = None  # alone: the next such day; with a day: a check on that date
    relative: str | None = None  # "this" or "next" before a weekday
    from_today: int | None = None  # today = 0, tomorrow = 1


class _Problem(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _tokenise(text: str) -> list[_Tok] | None:
    """Date tokens of the text, or None as soon as a word is not a date word."""
    tokens: list[_Tok] = []
    for m in _TOKEN.finditer(text.lower()):
        if m["iy"] is not None:
            tokens += [_Tok("month", int(m["im"])), _Tok("num", int(m["id"]))]
            tokens.append(_Tok("year", int(m["iy"])))
        elif m["mm"] is not None:
            tokens += [_Tok("month", int(m["mm"])), _Tok("num", int(m["md"]))]
            if m["my"] is not None:
                # 2-digit years are this century; dateutil's convertyear would depend on the clock
                year = int(m["my"])
                tokens.append(_Tok("year", year if year >= 100 else 2000 + year))
        elif m["num"] is not None:
            digits = m["num"]
            if len(digits) > 4:
                return None
            tokens.append(_Tok("year" if len(digits) == 4 else "num", int(digits)))
        elif m["dash"] is not None:
            tokens.append(_Tok("sep"))
        else:
            word = _word(m["word"])
            if word is None:
                return None
            if word.kind != "filler":
                tokens.append(word)
    return tokens


def _word(word: str) -> _Tok | None:
    if word in _FILLERS:
        return _Tok("filler")
    if word in _SEPARATORS:
        return _Tok("sep")
    if word in _KEYWORDS:
        return _Tok(_KEYWORDS[word])
    month = _INFO.month(word)
    if month is not None:
        return _Tok("month", month)
    day = _INFO.weekday(word)
    if day is not None:
        return _Tok("weekday", day)
    return None


def _looks_like_dates(tokens: list[_Tok]) -> bool:
    kinds = [t.kind for t in tokens]
    if any(kind in _ANCHORS for kind in kinds):
        return True
    # "3-7" is a date range missing its month, which deserves a question rather than None.
    return any(kinds[i : i + 3] == ["num", "sep", "num"] for i in range(len(kinds) - 2))


def _parse(tokens: list[_Tok], today: date, max_nights: int) -> Stay:
    when, nights = _split_nights(tokens)
    if nights is not None and nights < 1:
        raise _Problem('A stay is at least 1 night. Send e.g. "Dec 3 for 1 night".')
    if nights is not None and nights > max_nights:
        raise _Problem(
            f'The most is {max_nights} nights. Send e.g. "Dec 3 for {max_nights} nights".'
        )
    if not when:
        raise _Problem(f'From which day? Send e.g. "Dec 3 for {_nights(nights or 1)}".')
    check_in, check_out = _when(when, today)
    if check_in <= today:
        tomorrow = today + timedelta(days=1)
        raise _Problem(
            f"Check-in must be tomorrow ({_fmt(tomorrow)}) or later. "
            f'Send new dates, e.g. "{_fmt_range(tomorrow, tomorrow + timedelta(days=2))}".'
        )
    if nights is not None:
        implied = check_in + timedelta(days=nights)
        if check_out is not None and check_out != implied:
            raise _Problem(
                f"{_fmt_range(check_in, check_out)} is not {_nights(nights)}. "
                f'Send one of them, e.g. "{_fmt(check_in)} for {_nights(nights)}".'
            )
        check_out = implied
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
    if stay.nights > max_nights:
        raise _Problem(
            f"That is {stay.nights} nights; the most is {max_nights}. "
            f'Send e.g. "{_fmt(check_in)} for {_nights(max_nights)}".'
        )
    return stay


def _split_nights(tokens: list[_Tok]) -> tuple[list[_Tok], int | None]:
    """Takes "[for] N nights" out of the tokens, wherever it is ("4 nights from Dec 3")."""
    at = [i for i, t in enumerate(tokens) if t.kind == "nights"]
    if not at:
        rest, nights = tokens, None
    else:
        i = at[0]
        if len(at) > 1 or i == 0 or tokens[i - 1].kind not in ("num", "year"):
            raise _unreadable()
        start = i - 2 if i >= 2 and tokens[i - 2].kind == "for" else i - 1
        rest, nights = tokens[:start] + tokens[i + 1 :], tokens[i - 1].value
    if any(t.kind == "for" for t in rest):
        raise _unreadable()
    return rest, nights


def _when(tokens: list[_Tok], today: date) -> tuple[date, date | None]:
    """Check-in, and check-out when the text gives one."""
    kinds = [t.kind for t in tokens]
    if "week" in kinds:
        raise _Problem(f"Which days? Send exact dates, e.g. {_EXAMPLE}.")
    if "weekend" in kinds:
        return _weekend(kinds, today)
    seps = [i for i, kind in enumerate(kinds) if kind == "sep"]
    if not seps:
        return _start(_piece(tokens), _Part(), today), None
    if len(seps) > 1:
        raise _unreadable()
    start, end = _piece(tokens[: seps[0]]), _piece(tokens[seps[0] + 1 :])
    check_in = _start(start, end, today)
    return check_in, _end(end, check_in, today)


def _weekend(kinds: list[str], today: date) -> tuple[date, date]:
    if kinds not in (["weekend"], ["this", "weekend"], ["next", "weekend"]):
        raise _unreadable()
    monday = today + relativedelta(weeks=1 if kinds[0] == "next" else 0, weekday=MO(-1))
    friday = monday + timedelta(days=4)
    return friday, friday + timedelta(days=2)


def _piece(tokens: list[_Tok]) -> _Part:
    kinds = tuple(t.kind for t in tokens)
    v = [t.value for t in tokens]
    match kinds:
        case ("today",):
            return _Part(from_today=0)
        case ("tomorrow",):
            return _Part(from_today=1)
        case ("weekday",):
            return _Part(weekday=v[0])
        case ("this" | "next", "weekday"):
            return _Part(weekday=v[1], relative=kinds[0])
        case ("month", "num") | ("month", "num", "year"):
            return _Part(month=v[0], day=v[1], year=v[2] if len(v) == 3 else None)
        case ("num", "month") | ("num", "month", "year"):
            return _Part(month=v[1], day=v[0], year=v[2] if len(v) == 3 else None)
        case ("num",) | ("num", "year"):
            return _Part(day=v[0], year=v[1] if len(v) == 2 else None)
        case ("month",) | ("month", "year"):
            name = _month_name(v[0])
            raise _Problem(f'Which days in {name}? Send e.g. "{name} 3-7".')
        case ("weekday", *_):
            # "Fri Dec 4": the weekday is kept only to check it against the date
            dated = _piece(tokens[1:])
            if dated.day is None:
                raise _unreadable()
            return replace(dated, weekday=v[0])
    raise _unreadable()


def _start(part: _Part, end: _Part, today: date) -> date:
    if part.day is None:
        return _undated(part, today, after=today)
    month = part.month if part.month is not None else end.month
    if month is None:
        raise _Problem(f"Which month? Send e.g. {_EXAMPLE}.")
    if part.year is not None:
        year = part.year
    elif end.year is not None and end.month is not None:
        year = end.year - (month > end.month)
    else:
        year = today.year + ((month, part.day) < (today.month, today.day))
    return _dated(part, year, month, part.day, today)


def _end(part: _Part, check_in: date, today: date) -> date:
    if part.day is None:
        return _undated(part, today, after=today if part.relative else check_in)
    month = part.month if part.month is not None else check_in.month
    year = part.year if part.year is not None else check_in.year + (month < check_in.month)
    return _dated(part, year, month, part.day, today)


def _undated(part: _Part, today: date, after: date) -> date:
    """today/tomorrow, or a weekday: the first one after `after`, or in next week for "next"."""
    if part.from_today is not None:
        return today + timedelta(days=part.from_today)
    if part.weekday is None:
        raise _unreadable()
    if part.relative == "next":
        monday = today + relativedelta(weeks=1, weekday=MO(-1))
        return monday + relativedelta(weekday=weekday(part.weekday))
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


def _unreadable() -> _Problem:
    return _Problem(
        f'Sorry, I could not read those dates. Send e.g. {_EXAMPLE} or "Dec 3 for 4 nights".'
    )


def _month_name(month: int) -> str:
    return _INFO.MONTHS[month - 1][0]


def _weekday_name(day: int) -> str:
    return _INFO.WEEKDAYS[day][1]


def _fmt(day: date) -> str:
    return f"{_month_name(day.month)} {day.day}"


def _fmt_range(first: date, last: date) -> str:
    """Like "Dec 3-7", or "Nov 30-Dec 2" across months; both parse back to the same dates."""
    if (first.year, first.month) == (last.year, last.month):
        return f"{_fmt(first)}-{last.day}"
    return f"{_fmt(first)}-{_fmt(last)}"


def _nights(count: int) -> str:
    return "1 night" if count == 1 else f"{count} nights"
