"""Tests for conversations.dates: the phrasings guests send, and what is refused or left alone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversations.dates import DateProblem, Stay, parse_stay

MONDAY = date(2026, 11, 23)
NEW_YEARS_EVE = date(2026, 12, 31)  # a Thursday
FRIDAY = date(2026, 11, 27)
SUNDAY = date(2026, 11, 29)
MAX_NIGHTS = 30


@dataclass(frozen=True)
class Problem:
    """Expect a DateProblem whose reason mentions `hint` (case-insensitive)."""

    hint: str


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


DEC_3_7 = (d(12, 3), d(12, 7))

CASES: list[tuple[str, date, tuple[date, date] | Problem | None]] = [
    # The phrasings from the brief, today a Monday.
    ("Dec 3-7", MONDAY, DEC_3_7),
    ("Dec 3 - Dec 7", MONDAY, DEC_3_7),
    ("december 3 to 7", MONDAY, DEC_3_7),
    ("December 3rd to 7th", MONDAY, DEC_3_7),
    ("3-7 Dec", MONDAY, DEC_3_7),
    ("3 Dec - 7 Dec", MONDAY, DEC_3_7),
    ("12/3-12/7", MONDAY, DEC_3_7),
    ("12/3 to 12/7", MONDAY, DEC_3_7),
    ("12/03 - 12/07", MONDAY, DEC_3_7),
    ("2026-12-03 to 2026-12-07", MONDAY, DEC_3_7),
    ("2026-12-03 - 2026-12-07", MONDAY, DEC_3_7),
    ("Dec 3 for 4 nights", MONDAY, DEC_3_7),
    ("12/3 for 4 nights", MONDAY, DEC_3_7),
    ("4 nights from Dec 3", MONDAY, DEC_3_7),
    ("this friday to sunday", MONDAY, (d(11, 27), d(11, 29))),
    ("friday to sunday", MONDAY, (d(11, 27), d(11, 29))),
    ("fri-sun", MONDAY, (d(11, 27), d(11, 29))),
    ("next weekend", MONDAY, (d(12, 4), d(12, 6))),
    ("this weekend", MONDAY, (d(11, 27), d(11, 29))),
    ("tomorrow for 2 nights", MONDAY, (d(11, 24), d(11, 26))),
    ("tomorrow to Dec 3", MONDAY, (d(11, 24), d(12, 3))),
    ("Dec 30 - Jan 2", MONDAY, (d(12, 30), d(1, 2, 2027))),
    ("Dec 3 until Dec 7", MONDAY, DEC_3_7),
    ("from Dec 3 to Dec 7", MONDAY, DEC_3_7),
    ("Dec 3 thru 7", MONDAY, DEC_3_7),
    ("Dec. 3 - 7", MONDAY, DEC_3_7),
    ("Jan 5-9", MONDAY, (d(1, 5, 2027), d(1, 9, 2027))),
    ("Dec 3 to Dec 7 2026", MONDAY, DEC_3_7),
    ("3rd to 7th December", MONDAY, DEC_3_7),
    ("Dec 3, 4 nights", MONDAY, DEC_3_7),
    # Case, spacing, punctuation and the other separators.
    ("  DEC 3\u20137!  ", MONDAY, DEC_3_7),
    ("Dec 3 \u2014 7.", MONDAY, DEC_3_7),
    ("dec 3 till dec 7", MONDAY, DEC_3_7),
    ("Dec 3 through 7", MONDAY, DEC_3_7),
    ("the 3rd of December to the 7th", MONDAY, DEC_3_7),
    ("Dec 3 for 1 night", MONDAY, (d(12, 3), d(12, 4))),
    ("12/3/2026 - 12/7/26", MONDAY, DEC_3_7),
    ("Nov 30-Dec 2", MONDAY, (d(11, 30), d(12, 2))),
    ("Dec 3-7 for 4 nights", MONDAY, DEC_3_7),
    ("Fri Dec 4 - Sun Dec 6", MONDAY, (d(12, 4), d(12, 6))),
    ("next friday to sunday", MONDAY, (d(12, 4), d(12, 6))),
    ("friday to next sunday", MONDAY, (d(11, 27), d(12, 6))),
    ("Nov 24 for 30 nights", MONDAY, (d(11, 24), d(12, 24))),
    # Year rollover, today New Year's Eve (a Thursday).
    ("Dec 30 - Jan 2", NEW_YEARS_EVE, (d(12, 30, 2027), d(1, 2, 2028))),
    ("Jan 5-9", NEW_YEARS_EVE, (d(1, 5, 2027), d(1, 9, 2027))),
    ("tomorrow for 2 nights", NEW_YEARS_EVE, (d(1, 1, 2027), d(1, 3, 2027))),
    ("this friday to sunday", NEW_YEARS_EVE, (d(1, 1, 2027), d(1, 3, 2027))),
    ("this weekend", NEW_YEARS_EVE, (d(1, 1, 2027), d(1, 3, 2027))),
    ("next weekend", NEW_YEARS_EVE, (d(1, 8, 2027), d(1, 10, 2027))),
    ("12/30 - 1/2", NEW_YEARS_EVE, (d(12, 30, 2027), d(1, 2, 2028))),
    ("Dec 31 - Jan 2", NEW_YEARS_EVE, Problem("tomorrow")),
    ("12/30/2026 - 1/2/2027", NEW_YEARS_EVE, Problem("tomorrow")),
    # Weekdays and weekends counted from other days of the week.
    ("friday to sunday", FRIDAY, (d(12, 4), d(12, 6))),
    ("this weekend", FRIDAY, Problem("tomorrow")),
    ("next weekend", SUNDAY, (d(12, 4), d(12, 6))),
    ("this weekend", SUNDAY, Problem("tomorrow")),
    ("Feb 29 for 2 nights", date(2027, 11, 1), (d(2, 29, 2028), d(3, 2, 2028))),
    # Not dates at all: left to the caller.
    ("hi", MONDAY, None),
    ("LIST", MONDAY, None),
    ("BOOK 2", MONDAY, None),
    ("I am coming with my dog", MONDAY, None),
    ("", MONDAY, None),
    ("   ", MONDAY, None),
    ("3", MONDAY, None),
    ("2026", MONDAY, None),
    ("next", MONDAY, None),
    ("please", MONDAY, None),
    ("I may come on Dec 3", MONDAY, None),
    # Dates that can't be booked: a question back, never a guess.
    ("Dec 7-3", MONDAY, Problem("after check-in")),
    ("Feb 30-31", MONDAY, Problem("no Feb 30")),
    ("Feb 29 - Mar 2", MONDAY, Problem("no Feb 29 in 2027")),
    ("2020-01-01 to 2020-01-05", MONDAY, Problem("tomorrow")),
    ("today for 2 nights", MONDAY, Problem("tomorrow")),
    ("tonight", MONDAY, Problem("tomorrow")),
    ("Nov 23 - 25", MONDAY, Problem("tomorrow")),
    ("Dec 1 - Feb 1", MONDAY, Problem("the most is 30")),
    ("Dec 3 for 31 nights", MONDAY, Problem("the most is 30")),
    ("Dec 3 for 0 nights", MONDAY, Problem("at least 1 night")),
    ("3-7", MONDAY, Problem("which month")),
    ("3rd to 7th", MONDAY, Problem("which month")),
    ("next week", MONDAY, Problem("exact dates")),
    ("Dec 3", MONDAY, Problem("how many nights")),
    ("friday", MONDAY, Problem("how many nights from Nov 27")),
    ("4 nights", MONDAY, Problem("from which day")),
    ("december", MONDAY, Problem("which days in Dec")),
    ("13/3-13/7", MONDAY, Problem("month/day")),
    ("Dec 3-7 for 2 nights", MONDAY, Problem("not 2 nights")),
    ("Fri Dec 5 - Sun Dec 7", MONDAY, Problem("Saturday, not a Friday")),
    ("Dec 3 - 7 - 9", MONDAY, Problem("could not read")),
    ("Dec 3 for 4", MONDAY, Problem("could not read")),
    ("9999-12-31 for 2 nights", MONDAY, Problem("too far ahead")),
]


@pytest.mark.parametrize(("text", "today", "expected"), CASES)
def test_parse_stay(text: str, today: date, expected: tuple[date, date] | Problem | None) -> None:
    result = parse_stay(text, today, MAX_NIGHTS)
    if expected is None:
        assert result is None
    elif isinstance(expected, Problem):
        assert isinstance(result, DateProblem), result
        assert expected.hint.lower() in result.reason.lower()
    else:
        assert result == Stay(*expected)


def test_nights() -> None:
    assert Stay(d(12, 30), d(1, 2, 2027)).nights == 3


@pytest.mark.parametrize(
    ("text", "today"), [(text, today) for text, today, e in CASES if isinstance(e, Problem)]
)
def test_problem_examples_can_be_sent_back(text: str, today: date) -> None:
    # A reason tells the guest what to send; whatever it quotes has to work when they do.
    result = parse_stay(text, today, MAX_NIGHTS)
    assert isinstance(result, DateProblem)
    examples = re.findall(r'"([^"]+)"', result.reason)
    assert examples, result.reason
    for example in examples:
        assert isinstance(parse_stay(example, today, MAX_NIGHTS), Stay), example


DATE_WORDS = [
    "dec", "feb", "jan", "3", "7", "29", "30", "31", "0", "13", "999", "2026", "9999", "0000",
    "12/3", "2/29", "1/2/27", "2026-12-03", "9999-12-31", "-", "to", "for", "nights", "night",
    "from", "fri", "sunday", "this", "next", "weekend", "week", "today", "tomorrow", ",", "3rd",
]  # fmt: skip
date_like_text = st.lists(st.sampled_from(DATE_WORDS), max_size=8).map(" ".join)


@given(
    text=st.one_of(st.text(), date_like_text),
    today=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
    max_nights=st.integers(min_value=1, max_value=400),
)
def test_never_raises_and_results_are_bookable(text: str, today: date, max_nights: int) -> None:
    result = parse_stay(text, today, max_nights)
    if isinstance(result, Stay):
        assert result.check_in > today
        assert 1 <= result.nights <= max_nights
    elif isinstance(result, DateProblem):
        assert result.reason.isascii()
        assert len(result.reason) <= 120
    else:
        assert result is None
