"""What the bot says to anyone, anywhere: the welcome, HELP, MENU, a short friendly answer to
greetings, thanks and small talk (the full welcome is for a conversation's first message
only), and "didn't get that" with what can be sent in this state.
"""

from __future__ import annotations

from conversations import answering, texts
from conversations.turn import Turn


def help(t: Turn) -> None:
    t.say(texts.HELP_HOST if t.world.is_host(t.phone) else texts.HELP_GUEST)


def menu(t: Turn) -> None:
    t.restart()


def empty(t: Turn) -> None:
    t.say(texts.EMPTY)


def greet(t: Turn) -> None:
    if _first_message(t):
        return t.say(texts.WELCOME)
    if not answering.greet(t):
        t.say(texts.GREETING)


def thanks(t: Turn) -> None:
    if not answering.thanks(t):
        t.say(texts.THANKED)


def chat(t: Turn) -> None:
    if _first_message(t):
        return t.say(texts.WELCOME)
    if not answering.greet(t):
        t.say(texts.SMALL_TALK)


def not_understood(t: Turn) -> None:
    """Anything else: say so briefly and what can be sent now."""
    state = t.state
    if _first_message(t):
        return t.say(texts.WELCOME)
    if state == "viewing":
        return t.say(texts.NOT_UNDERSTOOD_VIEWING)
    if state == "browsing" and t.data.get("shown"):
        return t.say(texts.NOT_UNDERSTOOD_BROWSING)
    if state == "listing_confirming":
        return t.say(texts.LISTING_CONFIRM_WHAT)
    t.say(texts.NOT_UNDERSTOOD)


def _first_message(t: Turn) -> bool:
    return t.conversation.version == 0 and t.state == "start"
