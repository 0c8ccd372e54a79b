"""Tests for conversations.commands: the table of phrasings people text, and what each one is."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conversations.commands import OPT_OUT_WORDS, Command, normalise, parse

LONG = "I would love to stay " + "x" * 1579  # 1600 characters, the most Twilio forwards

# (body, verb, argument, word): argument and word as parse returns them.
TABLE: list[tuple[str, str, str, str]] = [
    # Case and the punctuation around a command do not matter.
    ("LIST", "list", "", "list"),
    ("list", "list", "", "list"),
    ("LiSt", "list", "", "list"),
    ("  list  ", "list", "", "list"),
    ("LIST!", "list", "", "list"),
    ("list.", "list", "", "list"),
    ("(list)", "list", "", "list"),
    ("\tlist\n", "list", "", "list"),
    ("BROWSE", "list", "", "browse"),
    ("LIST beach", "list", "beach", "list"),
    ("list  Beach   House!", "list", "beach house", "list"),
    ("list, beach", "list", "beach", "list"),
    ("browse malibu", "list", "malibu", "browse"),
    ("MORE", "more", "", "more"),
    ("more?", "more", "", "more"),
    ("next", "more", "", "next"),
    # Numbers pick a home from the list.
    ("3", "number", "3", "3"),
    (" 3. ", "number", "3", "3"),
    ("#3", "number", "3", "#3"),
    ("12", "number", "12", "12"),
    ("1234567890", "text", "1234567890", "1234567890"),  # too long for a reference
    ("BOOK", "book", "", "book"),
    ("book 3", "book", "3", "book"),
    ("Book #3!", "book", "#3", "book"),
    ("SEND", "send", "", "send"),
    ("send!", "send", "", "send"),
    ("MY", "my", "", "my"),
    ("my trips", "my", "trips", "my"),
    ("TRIPS", "my", "", "trips"),
    ("WITHDRAW 12", "withdraw", "12", "withdraw"),
    ("withdraw #12", "withdraw", "#12", "withdraw"),
    ("WITHDRAW", "withdraw", "", "withdraw"),
    ("MENU", "menu", "", "menu"),
    ("Menu.", "menu", "", "menu"),
    ("REQUESTS", "requests", "", "requests"),
    # Host answers, with and without a reference.
    ("ACCEPT", "accept", "", "accept"),
    ("accept 12", "accept", "12", "accept"),
    ("accept #12!", "accept", "#12", "accept"),
    ("Accept # 12", "accept", "# 12", "accept"),
    ("YES", "accept", "", "yes"),
    ("'yes'", "accept", "", "yes"),
    ('"Yes!"', "accept", "", "yes"),
    ("yes 7", "accept", "7", "yes"),
    ("Y", "accept", "", "y"),
    ("CONFIRM", "accept", "", "confirm"),
    ("confirm 4", "accept", "4", "confirm"),
    ("OK", "accept", "", "ok"),
    ("ok 12", "accept", "12", "ok"),
    ("okay", "accept", "", "okay"),
    ("REJECT", "reject", "", "reject"),
    ("reject 12", "reject", "12", "reject"),
    ("NO", "reject", "", "no"),
    ("no.", "reject", "", "no"),
    ("N", "reject", "", "n"),
    ("DECLINE", "reject", "", "decline"),
    ("decline #9", "reject", "#9", "decline"),
    # Words that are not answers are text, never a reject or an accept.
    ("no thanks", "text", "no thanks", "no"),
    ("No, thanks!", "text", "No, thanks!", "no"),
    ("yes please", "text", "yes please", "yes"),
    ("accept 12 please", "text", "accept 12 please", "accept"),
    ("nope", "text", "nope", "nope"),
    # Opt-out words only as the whole message.
    ("  Stop. ", "opt_out", "", "stop"),
    ("STOP", "opt_out", "", "stop"),
    ("stop!", "opt_out", "", "stop"),
    ("StopAll", "opt_out", "", "stopall"),
    ("UNSUBSCRIBE", "opt_out", "", "unsubscribe"),
    ("cancel", "opt_out", "", "cancel"),
    ("END", "opt_out", "", "end"),
    ("Quit", "opt_out", "", "quit"),
    ("REVOKE", "opt_out", "", "revoke"),
    ("optout", "opt_out", "", "optout"),
    ("stop by at 5", "text", "stop by at 5", "stop"),
    ("cancel 12", "text", "cancel 12", "cancel"),
    ("the end", "text", "the end", "the"),
    ("STOP STOP", "text", "STOP STOP", "stop"),
    # Opt-in and help.
    ("START", "opt_in", "", "start"),
    ("start.", "opt_in", "", "start"),
    ("UNSTOP", "opt_in", "", "unstop"),
    ("start now", "text", "start now", "start"),
    ("HELP", "help", "", "help"),
    ("help?", "help", "", "help"),
    ("INFO", "help", "", "info"),
    ("help me", "text", "help me", "help"),
    # Everything else is text, kept as typed (spaces collapsed).
    ("Hi there!", "text", "Hi there!", "hi"),
    ("Dec 3-7", "text", "Dec 3-7", "dec"),
    ("  Ana   Lopez ", "text", "Ana Lopez", "ana"),
    ("🙂", "text", "🙂", "🙂"),
    ("🙂🙂 ", "text", "🙂🙂", "🙂🙂"),
    ("</Message>", "text", "</Message>", "/message"),  # edges stripped from the word only
    ("'; DROP TABLE people; --", "text", "'; DROP TABLE people; --", "drop"),
    (LONG, "text", LONG, "i"),
    # Nothing at all.
    ("", "empty", "", ""),
    ("   ", "empty", "", ""),
    ("\n\t", "empty", "", ""),
    ("...", "empty", "", ""),
]


@pytest.mark.parametrize(("body", "verb", "argument", "word"), TABLE)
def test_parse_table(body: str, verb: str, argument: str, word: str) -> None:
    assert parse(body) == Command(verb, argument, word)


def test_the_table_is_big_enough_and_has_no_duplicates() -> None:
    bodies = [row[0] for row in TABLE]
    assert len(bodies) >= 40
    assert len(set(bodies)) == len(bodies)
    assert len(LONG) == 1600


@pytest.mark.parametrize("word", sorted(OPT_OUT_WORDS))
@pytest.mark.parametrize("style", [str.upper, str.lower, str.title, lambda w: f"  {w}!  "])
def test_every_opt_out_word_alone_is_an_opt_out(word: str, style: Callable[[str], str]) -> None:
    assert parse(style(word)).verb == "opt_out"


@pytest.mark.parametrize("word", sorted(OPT_OUT_WORDS))
def test_an_opt_out_word_inside_a_sentence_is_not_an_opt_out(word: str) -> None:
    for body in (f"{word} please", f"please {word}", f"{word} 12", f"I want to {word} now"):
        assert parse(body).verb == "text", body


def test_the_opt_out_words_are_exactly_twilios() -> None:
    assert frozenset(
        {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
    ) == (OPT_OUT_WORDS)


@pytest.mark.parametrize(
    ("body", "reference"),
    [
        ("accept 12", 12),
        ("accept #12!", 12),
        ("ACCEPT # 12", 12),
        ("withdraw #7", 7),
        ("book 3", 3),
        ("reject", None),
        ("withdraw abc", None),
        ("book 123456789", 123456789),
    ],
)
def test_reference(body: str, reference: int | None) -> None:
    assert parse(body).reference == reference


def test_normalise() -> None:
    assert normalise("  Stop. ") == "stop"
    assert normalise("LIST   Beach\tHouse!") == "list beach house"
    assert normalise("") == ""
