"""Understanding a text in its context: what the person means (an intent) and what they gave
(its slots: a home, dates, nights, words to search, a reference, a note, a name, yes or no).

    understand("book the cabin from the 3rd to the 7th of May", context)
        -> Intent("book", words="cabin", stay=Stay(May 3, May 7))
    understand("yes that's fine", context_with(pending=1))  -> Intent("accept")
    understand("let me check with my wife", context_with(pending=1))  -> Intent("unsure")

The command words (LIST, BOOK 2, ACCEPT 12) are the short way; sentences, typos of command
words and the answers hosts give a friend are read here too. The context says what the step
asked for, so at the note step "hello, we are two" is the note and not a greeting. Nothing here
reads the world: the flow resolves the slots ("the cabin" is which home?). The same text in
the same context is understood once (cached).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from typing import NamedTuple

from conversations import words as w
from conversations.commands import Command, parse
from conversations.dates import DateProblem, Found, Stay, find_stay, nights_in, parse_stay
from conversations.typos import correct

# What a text means. The flow's ROUTES table says what each does in each state.
EMPTY = "empty"
HELP = "help"
MENU = "menu"  # back to the start, dropping what was under way
GREET = "greet"
THANKS = "thanks"
CHAT = "chat"  # small talk: "how are you", "who are you"
SEARCH = "search"  # words and/or dates to find homes by
MORE = "more"
PICK = "pick"  # a home from the list: number, position or words of its title or place
ASK = "ask"  # a question about a home: topic price, place, photo, free or other
BOOK = "book"  # book the home viewed or named, with whatever slots came along
DATES = "dates"
NIGHTS = "nights"
YES = "yes"
NO = "no"
SKIP = "skip"
SEND = "send"
MY = "my"
WITHDRAW = "withdraw"
REQUESTS = "requests"
ACCEPT = "accept"
REJECT = "reject"
UNSURE = "unsure"  # a host's answer that decides nothing: a hedge, a question, unclear
HOST = "host"  # list a home
SAVE = "save"
HOMES = "homes"
PAUSE = "pause"
RESUME = "resume"
PRICE = "price"
PHOTO = "photo"
TEXT = "text"  # none of these: the text itself (a note, a name, a listing answer, or unclear)

FREE_STATES = ("start", "browsing", "viewing")
FORM_STATES = ("asking_dates", "asking_message", "asking_name", "confirming")


@dataclass(frozen=True, slots=True)
class Intent:
    kind: str
    number: int | None = None  # a home's number in the list, or a request's reference
    words: str = ""  # words to search by, or naming a home ("cabin")
    stay: Stay | DateProblem | None = None
    nights: int | None = None
    topic: str = ""  # what a question asks: price, place, photo, free, other
    text: str = ""  # the text itself, tidied: a note, a name, a listing answer
    question: bool = False  # it reads as a question
    typo: str = ""  # the command word a mistyped word was read as


class Context(NamedTuple):
    """What understanding needs to know of the conversation (all hashable, for the cache)."""

    state: str
    today: date
    max_nights: int
    same_day: bool = False
    month: int | None = None  # the month the person named last ("the 3rd to the 7th")
    viewing: bool = False  # a home's details were shown
    listed: bool = False  # a list was shown: numbers and names pick from it
    host: bool = False  # the sender has homes listed
    pending: int = 0  # requests waiting on the sender as a host
    just_decided: bool = False  # the last reply told this host of a decision


def understand(text: str, context: Context) -> Intent:
    return _understand(text, context)


class _Reading(NamedTuple):
    """A text taken apart once: the command reading, its words, and the whole of it."""

    text: str  # as sent, spaces tidied
    command: Command
    words: tuple[str, ...]  # lower case, apostrophes straight, no punctuation
    joined: str  # the words with single spaces
    padded: str  # " " + joined + " ", for finding phrases as whole words
    question: bool


_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)*|\?")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})


def plain(text: str) -> str:
    """ASCII, letter by letter: an accented letter is its letter ("Zoë" -> "Zoe"); anything else
    (emoji, "º", "¼") parts words rather than joining "y🙂a" into "ya" or making "Nº" a no."""
    if text.isascii():
        return text
    return "".join(c if c.isascii() else _letter(c) for c in text)


@lru_cache(maxsize=1024)
def _letter(char: str) -> str:
    base = unicodedata.normalize("NFD", char)[0]
    return base if base.isascii() and base.isalpha() else " "


def _read(text: str) -> _Reading:
    tidy = " ".join(text.split())
    low = plain(tidy.translate(_APOSTROPHES)).casefold()
    tokens = _WORD.findall(low)
    question = "?" in tokens
    found = tuple(t for t in tokens if t != "?")
    joined = " ".join(found)
    if not found and question:
        joined = "?"
    question = question or bool(found and found[0] in w.QUESTION_STARTS)
    return _Reading(tidy, parse(text), found, joined, f" {joined} ", question)


def _has(reading: _Reading, phrases: tuple[str, ...] | frozenset[str]) -> bool:
    return any(f" {phrase} " in reading.padded for phrase in phrases)


@lru_cache(maxsize=8192)
def _understand(text: str, ctx: Context) -> Intent:
    reading = _read(text)
    command = reading.command
    if ctx.state.startswith("listing_") or ctx.state == "replacing_photo":
        return _at_listing_step(reading, ctx)  # an empty text may carry the photo
    if reading.joined == "?":
        return Intent(HELP)
    if command.verb == "empty" or not reading.words:
        return Intent(EMPTY) if command.verb == "empty" else Intent(TEXT, text=reading.text)
    if ctx.state == "asking_message":
        return _at_note(reading, ctx)
    if ctx.state == "asking_name":
        return _at_name(reading, ctx)
    intent = _general(reading, ctx)
    if ctx.host and ctx.state in FREE_STATES:
        intent = _as_host(reading, intent, ctx)
    return _never_a_question(reading, intent)


def _never_a_question(reading: _Reading, intent: Intent) -> Intent:
    """ "yes?", "accept?": a question decides nothing, whatever word it asks with."""
    if intent.kind in (ACCEPT, REJECT) and "?" in reading.text:
        return Intent(UNSURE, number=intent.number, question=True)
    return intent


# -- the steps that take free text ----------------------------------------------------------


_SAVE_OR_DROP = frozenset({"save", "yes", "y", "ok", "okay", "confirm", "sure", "yep", "yeah"})
_SAVE_OR_DROP |= {"no", "n", "nope"}


def _at_listing_step(reading: _Reading, ctx: Context) -> Intent:
    """A listing step's answer is the text; only MENU, HELP, HOST and a host's decision by
    reference mean themselves (the step reads SAVE, SKIP and yes/no itself). At the summary
    and while a new photo is awaited, other commands mean themselves too."""
    command = reading.command
    if command.verb in ("menu", "help", "host"):
        return Intent(command.verb)
    if command.verb in ("accept", "reject") and command.reference is not None:
        return _never_a_question(reading, Intent(command.verb, number=command.reference))
    if reading.joined in w.MENU:
        return Intent(MENU)
    if ctx.state == "listing_confirming":
        if reading.joined in _SAVE_OR_DROP or command.verb in ("text", "empty"):
            return Intent(TEXT, text=reading.text)
        return _general(reading, ctx)
    if ctx.state == "replacing_photo" and command.verb not in ("text", "empty"):
        return _general(reading, ctx)
    return Intent(TEXT, text=reading.text)


def _at_note(reading: _Reading, ctx: Context) -> Intent:
    """The note to the host is whatever the guest writes, except: MENU, HELP, HOST alone, a host's
    decision by reference, a bare yes/no/skip, and new dates or nights ("Dec 4-8",
    "change the dates to Dec 4-8", "make it 3 nights")."""
    command = reading.command
    if command.verb in ("menu", "help"):
        return Intent(command.verb)
    if command.verb == "host" and not command.argument:
        return Intent(HOST)
    if command.verb in ("accept", "reject") and command.reference is not None:
        return _never_a_question(reading, Intent(command.verb, number=command.reference))
    joined = reading.joined
    if joined in w.MENU:
        return Intent(MENU)
    if joined in w.SKIP or joined in w.NO:
        return Intent(SKIP)
    if joined in w.YES:
        return Intent(YES)
    change = _change(reading, ctx)
    if change is not None:
        return change
    if command.verb == "book" and len(reading.words) <= 6:
        return _book(command.argument, ctx)  # "book the cabin instead"
    return Intent(TEXT, text=reading.text)


def _at_name(reading: _Reading, ctx: Context) -> Intent:
    """The name is whatever the guest writes, tidied ("my name is Ana" is Ana), unless it is a
    command, new dates, a bare yes/no/skip, a greeting or a question."""
    command = reading.command
    named = _named(reading.text)
    if named is not None:
        return Intent(TEXT, text=named)
    if command.verb not in ("text", "number"):
        return _general(reading, ctx)
    joined = reading.joined
    if joined in w.MENU:
        return Intent(MENU)
    if joined in w.SKIP or joined in w.NO:
        return Intent(SKIP)
    if joined in w.YES:
        return Intent(YES)
    if joined in w.GREETINGS or joined in w.THANKS:
        return Intent(GREET if joined in w.GREETINGS else THANKS)
    change = _change(reading, ctx)
    if change is not None:
        return change
    return Intent(TEXT, text=reading.text, question=reading.question)


def _named(text: str) -> str | None:
    """The name in "my name is Ana", "I'm Ana", or None."""
    low = text.casefold()
    for prefix in w.NAME_PREFIXES:
        if low.startswith(prefix) and len(text) > len(prefix):
            return text[len(prefix) :]
    return None


def _change(reading: _Reading, ctx: Context) -> Intent | None:
    """New dates or nights inside a form step: the whole text is dates, or a change phrase
    carries them ("actually Dec 4-8", "make it 3 nights")."""
    whole = _stay(reading.text, ctx)
    if isinstance(whole, DateProblem) and whole.nights is not None:
        return Intent(NIGHTS, nights=whole.nights)
    if whole is not None:
        return Intent(DATES, stay=whole)
    changing = _has(reading, w.CHANGE_PHRASES) or len(reading.words) <= 4
    nights = nights_in(reading.text)
    found = _find(reading.text, ctx)
    if found is not None and isinstance(found.stay, Stay) and changing:
        return Intent(DATES, stay=found.stay)
    if nights is not None and changing and (found is None or isinstance(found.stay, DateProblem)):
        return Intent(NIGHTS, nights=nights)
    if found is not None and changing and _has(reading, w.CHANGE_PHRASES):
        return Intent(DATES, stay=found.stay)
    return None


# -- everywhere else ------------------------------------------------------------------------


def _general(reading: _Reading, ctx: Context) -> Intent:
    whole = _stay(reading.text, ctx)
    if isinstance(whole, DateProblem) and whole.nights is not None:
        return Intent(NIGHTS, nights=whole.nights)  # "for a week": the day is asked
    if whole is not None:
        return Intent(DATES, stay=whole)
    command, typo = reading.command, ""
    if command.verb == "text" and command.word:
        fixed = correct(command.word.strip("'"))
        if fixed is not None:
            rest = reading.text.split(maxsplit=1)
            command, typo = parse(fixed + (" " + rest[1] if len(rest) > 1 else "")), fixed
            reading = reading._replace(command=command)
    if command.verb not in ("text", "opt_in", "opt_out"):
        intent = _command(command, reading, ctx)
        if intent is not None:
            return replace(intent, typo=typo) if typo else intent
    return _sentence(reading, ctx)


def _command(command: Command, reading: _Reading, ctx: Context) -> Intent | None:
    verb, argument = command.verb, command.argument
    if verb == "number":
        return Intent(PICK, number=int(argument))
    if verb == "list":
        if _has(reading, w.HOST_PHRASES):
            return Intent(HOST)
        words, stay = _words_and_dates(argument, ctx)
        return Intent(SEARCH, words=words, stay=stay)
    if verb == "book":
        return _book(argument, ctx)
    if verb == "send" and argument and argument not in _SEND_WHAT:
        return None  # "send the picture again": a sentence
    if verb in ("homes", "more", "save", "skip") and argument:
        return None  # "homes in Austin", "more like the loft": sentences
    if verb == "my":
        return Intent(HOMES if reading.joined in w.HOMES else MY)
    if verb == "withdraw":
        return Intent(WITHDRAW, number=command.reference or _reference(reading))
    if verb in ("accept", "reject"):
        reference = command.reference
        if reference is None and command.word in ("yes", "y", "ok", "okay", "confirm"):
            return Intent(YES)
        if reference is None and command.word in ("no", "n"):
            return Intent(NO)
        return Intent(verb, number=reference)
    if verb in ("pause", "resume", "price", "photo"):
        return Intent(verb, text=argument)
    if verb == "host" and argument:
        return None  # "host, we are two": a sentence
    return Intent(verb, text=argument)


_SEND_WHAT = frozenset({"it", "it please", "now", "please", "it now", "the request", "request"})


def _sentence(reading: _Reading, ctx: Context) -> Intent:
    """A text that is not a command word: read by its phrases, in order of how clear they are."""
    joined = reading.joined
    words = reading.words
    first = words[0] if words else ""
    # A greeting first: "hello, do you have anything in Malibu?" asks for homes in Malibu.
    greeting = _greeting(words)
    if greeting:
        after = " ".join(reading.text.split()[greeting:])
        if not after.strip(" ,.!?-"):
            return Intent(GREET)
        inner = _general(_read(after), ctx)
        return Intent(GREET) if inner.kind == TEXT and not inner.question else inner
    whole = _whole(joined, ctx)
    if whole is not None:
        return whole
    if ctx.state == "confirming":
        # "yes please, send it", "sounds good, go ahead": read as safely as a host's answer
        verdict, _ = read_host_answer(reading.text)
        if verdict in ("accept", "reject"):
            return Intent(YES if verdict == "accept" else NO)
        if first in w.YES and len(words) > 1 and not reading.question:
            return Intent(YES)
    if _has(reading, w.HOST_PHRASES):
        return Intent(HOST)
    withdraw = _withdraw(reading)
    if withdraw is not None:
        return withdraw
    if reading.words[:1] == ("my",) and len(words) <= 4 and set(words) & w.REQUEST_NOUNS:
        return Intent(MY)
    found = _find(reading.text, ctx)
    stay = found.stay if found else None
    rest = _read(found.rest) if found else reading
    nights = nights_in(reading.text) if not isinstance(stay, Stay) else None
    if isinstance(stay, DateProblem) and stay.nights is not None:
        nights = stay.nights  # "for 3 nights": the length, the day still to come
        stay = None
    if _has(rest, w.BOOK_PHRASES):
        return _book(found.rest if found else reading.text, ctx, stay, nights)
    if ctx.listed:
        by_position = _pick(rest, ctx, by_words=False)
        if by_position is not None:
            return by_position
    searching = _has(rest, w.SEARCH_PHRASES)
    topic = _topic(reading)
    if topic and (reading.question or topic in ("price", "photo", "place")):
        stop = w.PICK_WORDS | w.SEARCH_STOPWORDS | {k for k, v in w.TOPICS.items() if v == topic}
        home = _content(rest.words, stop - _HOME_WORDS)
        in_form = ctx.state in FORM_STATES  # about the home being booked
        about_home = ctx.viewing or in_form or (home and not _has(rest, _SEARCHING))
        if about_home and (topic != "free" or ctx.viewing or in_form or home):
            return Intent(ASK, topic=topic, stay=stay, words=home, question=True)
        if topic in ("price", "place", "photo") and not searching:
            return Intent(ASK, topic=topic, stay=stay, words=home, question=True)  # which home?
    if ctx.viewing and stay is not None and not searching:
        return Intent(ASK, topic="free", stay=stay, question=True)
    if ctx.listed and not _has(rest, _SEARCHING) and stay is None:
        pick = _pick(rest, ctx)
        if pick is not None:
            return pick
    if searching or (stay is not None and ctx.state in FREE_STATES):
        return Intent(SEARCH, words=_search_words(rest.words), stay=stay)
    pick = _pick(rest, ctx)
    if pick is not None:
        return pick
    if nights is not None:
        return Intent(NIGHTS, nights=nights)
    if stay is not None:
        return Intent(DATES, stay=stay)
    if ctx.viewing and reading.question:
        return Intent(ASK, topic="other", question=True)
    return Intent(TEXT, text=reading.text, question=reading.question)


# Search phrases that say "several homes", unlike "show me" or "free", which may be about one.
_SEARCHING = tuple(
    p for p in w.SEARCH_PHRASES if p not in ("show me", "free", "available", "availability")
)
_HOME_WORDS = frozenset({"house", "cabin", "loft", "cottage", "villa", "beach", "lake"})


def _greeting(words: tuple[str, ...]) -> int:
    """How many words of a greeting the text starts with (0: none)."""
    for size in (3, 2, 1):
        if len(words) >= size and " ".join(words[:size]) in w.GREETINGS:
            return size
    return 0


def _whole(joined: str, ctx: Context) -> Intent | None:
    """Whole messages with one meaning: "start over", "thanks", "my trips", "yep"..."""
    at_summary = ctx.state == "confirming"
    if at_summary and (joined in w.YES_AT_SUMMARY):
        return Intent(YES)
    if at_summary and joined in w.NO_AT_SUMMARY:
        return Intent(NO)
    for table, kind in _WHOLE:
        if joined in table:
            return Intent(kind)
    return None


_WHOLE: tuple[tuple[frozenset[str], str], ...] = (
    (w.MENU, MENU),
    (w.HELP, HELP),
    (w.YES, YES),
    (w.NO, NO),
    (w.SKIP, SKIP),
    (w.THANKS, THANKS),
    (w.SMALL_TALK, CHAT),
    (w.MY, MY),
    (w.HOMES, HOMES),
    (w.MORE, MORE),
    (w.REQUESTS, REQUESTS),
)


def _withdraw(reading: _Reading) -> Intent | None:
    """ "cancel my request 12", "I want to cancel my booking": WITHDRAW, with its reference if
    given. A request word must be there: "cancel 12" alone is not read as this."""
    words = set(reading.words)
    if not (words & w.WITHDRAW_VERBS and words & w.REQUEST_NOUNS):
        return None
    return Intent(WITHDRAW, number=_reference(reading))


def _reference(reading: _Reading) -> int | None:
    numbers = [word for word in reading.words if word.isdigit() and len(word) <= 9]
    return int(numbers[0]) if len(numbers) == 1 else None


def _book(
    text: str,
    ctx: Context,
    stay: Stay | DateProblem | None = None,
    nights: int | None = None,
) -> Intent:
    """BOOK with whatever came with it: a number ("book 3", "book the second one"), words
    naming a home ("book the cabin"), dates, nights."""
    reference = Command("book", text).reference
    if reference is not None:
        return Intent(BOOK, number=reference, stay=stay, nights=nights)
    if stay is None:
        found = _find(text, ctx)
        if found is not None:
            stay, text = found.stay, found.rest
    if isinstance(stay, DateProblem) and stay.nights is not None:
        nights = stay.nights
        stay = None
    if nights is None and not isinstance(stay, Stay):
        nights = nights_in(text)
    reading = _read(text)
    number = _position(reading.words)
    home = _content(reading.words, w.BOOK_FILLERS | w.PICK_WORDS, drop_numbers=nights is not None)
    if number is None and home.isdigit():
        number, home = int(home), ""
    return Intent(BOOK, number=number, words=home, stay=stay, nights=nights)


def _topic(reading: _Reading) -> str:
    if _has(reading, w.PHOTO_PHRASES):
        return "photo"
    if " how much " in reading.padded:
        return "price"
    found = [w.TOPICS[word] for word in reading.words if word in w.TOPICS]
    if not found:
        return ""
    for topic in ("price", "free", "photo", "place"):  # the facts the bot has first
        if topic in found:
            return topic
    return "other"


def _pick(reading: _Reading, ctx: Context, by_words: bool = True) -> Intent | None:
    """A home from the list: "the second one", "number 3", "show me 2", "the cabin"."""
    words = reading.words
    number = _position(words)
    rest = [word for word in words if word not in w.PICK_WORDS and word not in w.ORDINALS]
    if number is None:
        digits = [word for word in rest if word.isdigit()]
        if len(digits) == 1 and len(rest) == 1:
            number = int(digits[0])
    if number is not None and len(rest) <= 1:
        return Intent(PICK, number=number)
    if by_words and ctx.listed and rest and len(rest) <= 4 and not reading.question:
        return Intent(PICK, words=" ".join(rest))
    return None


def _position(words: tuple[str, ...]) -> int | None:
    """ "the second one" -> 2, "number 3" -> 3, "no. 4" -> 4 ("last" is not a position here)."""
    for i, word in enumerate(words):
        if word in w.ORDINALS:
            return w.ORDINALS[word]
        if word in ("number", "no", "option", "#") and i + 1 < len(words):
            after = words[i + 1]
            if after.isdigit() and len(after) <= 4:
                return int(after)
    return None


def _content(
    words: tuple[str, ...], stop: frozenset[str] | set[str], drop_numbers: bool = False
) -> str:
    kept = [
        word
        for word in words
        if word not in stop and not (drop_numbers and word.isdigit()) and word not in w.ORDINALS
    ]
    return " ".join(kept)


def _search_words(words: tuple[str, ...]) -> str:
    """The words of a search sentence worth searching for, plurals made singular ("cabins"
    finds "Mountain Cabin"), numbers and the words of a question left out."""
    kept = []
    for word in words:
        if word in w.SEARCH_STOPWORDS or word.isdigit() or word in w.QUESTION_STARTS:
            continue
        if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        kept.append(word)
    return " ".join(kept)


# Words that join a search to its dates ("cabin for Dec 3-7"): not search words.
_JOINERS = frozenset({"for", "from", "on", "in", "at", "between", "during"})


def _words_and_dates(argument: str, ctx: Context) -> tuple[str, Stay | DateProblem | None]:
    """Split LIST's argument into search words and a trailing date phrase, if it ends in one.

    The longest ending that reads as a stay wins ("beach dec 3-7" -> "beach", Dec 3-7). An
    ending that looks like dates but can't be booked ("dec 7-3") is a question back, but only
    when it has a digit: "LIST sun" searches for "sun", not for a stay from Sunday.
    """
    words = argument.split()
    problem: tuple[int, DateProblem] | None = None
    for start in range(len(words)):
        ending = " ".join(words[start:])
        found = _stay(ending, ctx)
        if isinstance(found, Stay):
            # "beach, dec 3-7": the comma went with the words, and is not one to search for
            head = [word for word in (word.strip(",;:") for word in words[:start]) if word]
            while head and head[-1] in _JOINERS:
                head.pop()
            return " ".join(head), found
        if found is not None and problem is None and any(c.isdigit() for c in ending):
            problem = (start, found)
    if problem is not None:
        return " ".join(words[: problem[0]]), problem[1]
    return argument, None


def _stay(text: str, ctx: Context) -> Stay | DateProblem | None:
    return parse_stay(text, ctx.today, ctx.max_nights, same_day=ctx.same_day, month=ctx.month)


def _find(text: str, ctx: Context) -> Found | None:
    return find_stay(text, ctx.today, ctx.max_nights, same_day=ctx.same_day, month=ctx.month)


# -- hosts ----------------------------------------------------------------------------------

# The guest's intents a host's answer may be hiding in; the clear guest actions (LIST, a
# number, BOOK, MY...) keep their meaning for a host too.
_HOST_MAY_ANSWER = frozenset({YES, NO, SKIP, TEXT, THANKS, GREET, CHAT, ASK, DATES, NIGHTS})


_SPEC_YES = frozenset({"yes", "y", "ok", "okay", "confirm"})


def _as_host(reading: _Reading, intent: Intent, ctx: Context) -> Intent:
    """A host with pending requests: a plain approval or refusal decides (the only request, or
    the one named); anything unsure decides nothing. Never a guess."""
    sentence = reading.command.verb == "text"
    if (intent.kind not in _HOST_MAY_ANSWER and not sentence) or (
        intent.kind == ASK and ctx.viewing
    ):
        return intent
    command = reading.command
    # The SPEC's synonyms, as typed (not "Ý", which reads as "y" only once cleaned)
    spec_yes = command.verb == "accept" and command.word in _SPEC_YES and not command.argument
    spec_no = command.verb == "reject" and command.word in ("no", "n") and not command.argument
    if not ctx.pending:  # the SPEC's YES and NO say "no pending requests"; the rest is a guest's
        if spec_yes or spec_no:
            return Intent(ACCEPT if spec_yes else REJECT)
        return intent
    if spec_yes:
        if ctx.just_decided and command.word in ("ok", "okay"):
            return Intent(THANKS)  # "ok" to "You accepted request 1" is not a yes to the next
        return Intent(ACCEPT)
    if spec_no:
        return Intent(REJECT)
    verdict, reference = read_host_answer(reading.text)
    if intent.kind not in _HOST_MAY_ANSWER and verdict not in ("accept", "reject"):
        return intent  # "anything in Malibu?": a host searching, as a guest would
    if verdict == "accept":
        return Intent(ACCEPT, number=reference)
    if verdict == "reject":
        return Intent(REJECT, number=reference)
    if verdict == "unsure" or intent.kind in (TEXT, YES, NO, SKIP, ASK, DATES, NIGHTS):
        return Intent(UNSURE, number=reference, question=reading.question)
    return intent


def read_host_answer(text: str) -> tuple[str | None, int | None]:
    """A host's free-text answer: ("accept" | "reject" | "unsure" | None, reference).

    It decides only when every word is known (an approval or refusal, a reference, or a word
    that changes nothing: "that's", "sorry", "welcome"...), exactly one of approval and refusal
    is there, and nothing hedges or asks. None when it holds no answer at all ("hello").
    """
    reading = _read(text)
    if not reading.words:
        return None, None
    padded = reading.padded
    references = {int(word) for word in reading.words if word.isdigit() and len(word) <= 9}
    reference = next(iter(references)) if len(references) == 1 else None
    unclear = reading.question or len(references) > 1
    unclear |= any(f" {phrase} " in padded for phrase in w.HEDGE_PHRASES)
    approve = refuse = weak = thanks = False
    for phrase in w.APPROVAL_PHRASES:
        if f" {phrase} " in padded:
            approve = True
            padded = padded.replace(f" {phrase} ", " ")
    for phrase in w.REFUSAL_PHRASES:
        if f" {phrase} " in padded:
            refuse = True
            padded = padded.replace(f" {phrase} ", " ")
    for word in padded.split():
        if word.isdigit() and len(word) <= 9:
            continue
        if word in w.APPROVALS:
            approve = True
        elif word in w.REFUSALS:
            refuse = True
        elif word in w.WEAK_APPROVALS:
            weak = weak or word in w.WEAK_WITH_REFERENCE
            thanks = True
        elif word in w.HEDGE_WORDS or word not in w.NEUTRAL:
            unclear = True
    if not (approve or refuse or weak or thanks):
        return ("unsure" if unclear and references else None), reference
    if unclear or ((approve or thanks) and refuse):
        return "unsure", reference
    if refuse:
        return "reject", reference
    if approve or (weak and reference is not None):
        return "accept", reference
    return "unsure", reference  # only a weak word: "ok thanks", "great"
