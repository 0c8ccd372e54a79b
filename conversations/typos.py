"""Mistyped command words read as the command ("lsit", "boook", "acept", "reqests"), where no
real word is meant.

    correct("lsit")  -> "list"
    correct("look")  -> None   (a real word: whoever typed it meant it)
    correct("stpo")  -> None   (opt-out words are Twilio's: never guessed)

One edit away (rapidfuzz's optimal string alignment: a letter wrong, missing, added, or two
swapped), words of four letters or more, and only when one command is that close. The English
words one edit from a command word are in `real_words.txt`, made from pyspellchecker's English
word list by `python -m conversations.typos` and checked against it by the tests.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

from rapidfuzz import process
from rapidfuzz.distance import OSA

# The commands a typo may become. Not STOP, CANCEL, QUIT... (Twilio's opt-out words) nor START,
# YES, NO, OK: a guess at those would opt someone out or in, or decide a request.
COMMAND_WORDS = frozenset(
    {
        "list", "browse", "more", "book", "send", "trips", "withdraw", "menu", "help",
        "requests", "accept", "reject", "decline", "confirm", "homes", "pause", "resume",
        "photo", "price", "save", "skip", "host",
    }
)  # fmt: skip
# A typo becomes a host's decision only when the word is long enough to be clearly spelt.
DECISION_WORDS = frozenset({"accept", "reject", "decline", "confirm"})
SHORTEST = 4
# Only words this common in the list count as real (its rarest are mostly misspellings).
COMMON = 100


def _load() -> frozenset[str]:
    text = resources.files("conversations").joinpath("real_words.txt").read_text("utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


REAL_WORDS = _load()


@lru_cache(maxsize=4096)
def correct(word: str) -> str | None:
    """The command `word` is a typo of, or None."""
    if len(word) < SHORTEST or word in COMMAND_WORDS or word in REAL_WORDS or not word.isalpha():
        return None
    close = process.extract(word, COMMAND_WORDS, scorer=OSA.distance, score_cutoff=1, limit=2)
    if len(close) != 1:
        return None  # none that close, or two: a guess either way
    command = close[0][0]
    if command in DECISION_WORDS and len(word) < 5:
        return None
    return command


def near_real_words(words: Iterable[str]) -> list[str]:
    """Of these real words, the ones one edit from a command word: never read as typos."""
    candidates = [w for w in words if w.isalpha() and SHORTEST - 1 <= len(w) <= 10]
    near: set[str] = set()
    for command in COMMAND_WORDS:
        for word, _, _ in process.extract(
            command, candidates, scorer=OSA.distance, score_cutoff=1, limit=None
        ):
            if word != command:
                near.add(word)
    return sorted(near)


def dictionary() -> list[str]:
    """pyspellchecker's English words at least COMMON often (it is a test dependency)."""
    from spellchecker import SpellChecker

    frequency = SpellChecker().word_frequency.dictionary
    return [word for word, count in frequency.items() if count >= COMMON]


if __name__ == "__main__":  # regenerate real_words.txt
    lines = ["# English words one edit from a command word: python -m conversations.typos"]
    sys.stdout.write("\n".join(lines + near_real_words(dictionary())) + "\n")
