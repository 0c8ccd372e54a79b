"""Tests for conversations.typos: command words mistyped are read as the command, real words and
Twilio's keywords never are."""

from __future__ import annotations

import pytest

from conversations.commands import OPT_OUT_WORDS
from conversations.typos import COMMAND_WORDS, REAL_WORDS, correct, dictionary, near_real_words


@pytest.mark.parametrize(
    ("typo", "command"),
    [
        ("lsit", "list"), ("boook", "book"), ("acept", "accept"), ("rejct", "reject"),
        ("reqests", "requests"), ("accpet", "accept"), ("hepl", "help"), ("menue", "menu"),
        ("witdraw", "withdraw"), ("sned", "send"), ("trpis", "trips"), ("homs", "homes"),
        ("pase", "pause"), ("resme", "resume"), ("prcie", "price"), ("photp", "photo"),
        ("declne", "decline"),
    ],
)  # fmt: skip
def test_a_typo_is_read_as_its_command(typo: str, command: str) -> None:
    assert correct(typo) == command


@pytest.mark.parametrize(
    "word",
    [
        "look", "lift", "lost", "last", "boot", "books", "sand", "seed", "mode", "most",
        "hose", "ghost", "safe", "have", "ship", "slip", "price", "list", "stop", "stpo",
        "sotp", "canel", "cancl", "quiet", "yse", "bok", "acpt", "", "12", "l1st",
    ],
)  # fmt: skip
def test_real_words_short_words_and_opt_outs_are_never_guessed(word: str) -> None:
    assert correct(word) in (None, word if word in COMMAND_WORDS else None)


def test_no_opt_out_word_is_a_target() -> None:
    assert not COMMAND_WORDS & OPT_OUT_WORDS
    assert not COMMAND_WORDS & {"start", "unstop", "yes", "no", "ok", "y", "n"}


def test_the_real_words_list_is_what_the_dictionary_gives() -> None:
    # conversations/real_words.txt is made by `python -m conversations.typos`: still true?
    assert near_real_words(dictionary()) == sorted(REAL_WORDS)
    assert {"look", "lost", "boot", "hose", "safe"} <= REAL_WORDS
