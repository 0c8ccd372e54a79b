"""Reading what a person texted: which command it is, and its argument.

parse("  accept #12! ")  -> Command("accept", "12")
parse("list beach")      -> Command("list", "beach")
parse("PRICE 2 $150")    -> Command("price", "2 $150")
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Twilio acts on these whole-message keywords itself and still forwards them (seed 003).
OPT_OUT_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
)
OPT_IN_WORDS = frozenset({"start", "unstop", "yes"})
HELP_WORDS = frozenset({"help", "info"})

ACCEPT_WORDS = frozenset({"accept", "yes", "y", "confirm", "ok", "okay"})
REJECT_WORDS = frozenset({"reject", "no", "n", "decline"})

_VERBS = {
    "list": "list",
    "browse": "list",
    "more": "more",
    "next": "more",
    "book": "book",
    "send": "send",
    "my": "my",
    "trips": "my",
    "withdraw": "withdraw",
    "menu": "menu",
    "requests": "requests",
    # Hosts: listing a home step by step, and managing the homes they have.
    "host": "host",
    "save": "save",
    "skip": "skip",
    "homes": "homes",
    "pause": "pause",
    "resume": "resume",
    "photo": "photo",
    "price": "price",
}

# Punctuation people put around a command ("Stop.", "LIST!", "'yes'") but not inside it.
_EDGES = " \t\r\n.,;:!?'\"()[]{}<>*_~`-"
_REF = re.compile(r"^#?\s*(\d{1,9})$")


@dataclass(frozen=True, slots=True)
class Command:
    verb: str  # one of the verbs below, "number", "text" (anything else), or "empty"
    argument: str = ""
    word: str = ""  # the keyword as typed, lower case: tells YES from ACCEPT

    @property
    def reference(self) -> int | None:
        """The number in the argument ("12", "#12"), if that is all it is."""
        match = _REF.match(self.argument)
        return int(match.group(1)) if match else None


def normalise(body: str) -> str:
    return " ".join(body.split()).strip(_EDGES).casefold()


def parse(body: str) -> Command:
    text = normalise(body)
    if not text:
        return Command("empty")
    word, _, rest = text.partition(" ")
    word = word.strip(_EDGES)
    rest = rest.strip(_EDGES)
    if not rest:
        if word in OPT_OUT_WORDS:
            return Command("opt_out", word=word)
        if word in HELP_WORDS:
            return Command("help", word=word)
        if word in ("start", "unstop"):
            return Command("opt_in", word=word)
    if word in ACCEPT_WORDS and (not rest or _REF.match(rest)):
        return Command("accept", rest, word)
    if word in REJECT_WORDS and (not rest or _REF.match(rest)):
        return Command("reject", rest, word)
    if word in _VERBS:
        return Command(_VERBS[word], rest, word)
    match = _REF.match(text)
    if match:
        return Command("number", match.group(1), word)
    return Command("text", " ".join(body.split()).strip(), word)
