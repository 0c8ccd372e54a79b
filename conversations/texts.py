"""Everything the bot says, in one place: the whole voice of the service in one sitting.

Plain GSM-7, one 160-character segment where it can be, and each text ends with what the person
can send next. Values from people (names, messages, titles) pass through `gsm7.clean` first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import lru_cache

from conversations.gsm7 import clean
from conversations.model import Property, Reservation

NEXT = "Send LIST for homes, MY for your trips, HELP for more."

WELCOME = "Welcome to Airtng: book vacation homes by text. " + NEXT
HELP_GUEST = (
    'Airtng: LIST or "cabins Dec 3-7"; a number or "the 2nd one"; "how much?"; BOOK or '
    '"book it"; MY trips; WITHDRAW <ref>; MENU; HOST lists yours. STOP ends texts.'
)
HELP_HOST = (
    'Airtng hosts: REQUESTS; ACCEPT <ref> or "yes 12"; REJECT <ref> or "no, sorry"; HOMES; '
    "PAUSE/RESUME/PHOTO <n>; PRICE <n> <$>; HOST adds a home. STOP ends texts."
)
NOT_UNDERSTOOD = "Sorry, I didn't get that. " + NEXT
NOT_UNDERSTOOD_VIEWING = (
    'Sorry, I didn\'t get that. Send BOOK to ask for this home, a question like "how much?", '
    "or LIST for others."
)
NOT_UNDERSTOOD_BROWSING = (
    "Sorry, I didn't get that. Send a number to see a home, MORE for more, or a place and "
    'dates like "Malibu Dec 3-7".'
)
# Greetings, thanks and small talk after the first message: short, and what to send next.
GREETING = 'Hi! Send LIST for homes, or tell me a place and dates, like "Malibu Dec 3-7".'
THANKED = "You're welcome! " + NEXT
SMALL_TALK = "I'm the Airtng bot: I find vacation homes and send your requests to hosts. " + NEXT
EMPTY = "Your message was empty. " + NEXT
MENU = "Back to the start. " + NEXT
WELCOME_BACK = "Welcome back to Airtng, you will get our texts again. " + NEXT
APOLOGY = "Sorry, something went wrong on our side and nothing was changed. Please send it again."

NO_HOMES = "No homes are listed right now. Send HELP for what you can do."
NO_MATCH = 'No homes match "{words}". Send LIST to see all homes.'
NO_MATCH_FREE = 'No homes match "{words}" and are free {dates}. Send LIST to see all homes.'
NONE_FREE = "No homes are free {dates}. Send LIST to see all homes, or other dates."
LIST_DATES_PROBLEM = "{reason} Or send LIST for all homes."
NO_MORE = "That was the last page. Send a number to see a home, or LIST to start over."
NO_LIST = "Send LIST first to see homes, then a number to see one."
NOT_IN_LIST = "There is no home {n} in the list. Send a number from 1 to {last}, or LIST."
HOME_GONE = "That home is not available now. Send LIST for the homes there are now."
BOOK_WHICH = "Which home? Send LIST, then BOOK and the home's number, like BOOK 2."
WHICH_NAMED = 'No home here is called "{words}". Send LIST to see the homes, then a number.'
ASK_WHICH_HOME = "Which home do you mean? Send LIST, then a number to see one and ask again."
OWN_HOME = "That is your own home, so you can't book it. Send LIST for others."

BOOKING_PROBLEM = "Booking {title}. {reason}"
ASK_DATES = 'Booking {title}. Which dates? Like "Dec 3-7" or "12/3 to 12/7". MENU to go back.'
ASK_START = (
    'Booking {title} for {nights} {night_word}. From which day? Like "Dec 3". MENU to go back.'
)
DATES_NOT_READ = 'Sorry, I could not read those dates. Try "Dec 3-7" or "Dec 3 for 4 nights".'
DATES_PASSED = 'Those dates have passed. Which dates now for {title}? Like "Dec 3-7", or MENU.'
DATES_TAKEN = "Sorry, {title} is booked on some of those dates. Send other dates, or MENU."
ALREADY_ASKED = "You already have request {ref} for {title} on those dates. Send MY to see it."
ASK_MESSAGE = (
    "{dates}, {nights} {night_word}, ${total}. Now a short note for the host: "
    "who you are, why you travel."
)
MESSAGE_EMPTY = "Please write a few words for the host, or MENU to go back."
# A bare yes at the note step is not a note: the guest is asked for the note itself.
NOTE_AGAIN = (
    'Please write the note itself, like "We are two, quiet, here for the beach", or SKIP to '
    "send none. MENU to go back."
)
ASK_NAME = "And what name should the host see? (MENU to go back)"
DATES_THEN_NAME = "{dates}, {nights} {night_word}, ${total}. " + ASK_NAME
NIGHTS_RANGE = 'A stay is 1 to {max_nights} nights. Send e.g. "Dec 3 for 2 nights".'
# Before a step's question asked again: what the text changed, or an answer to small talk.
CHANGED_LEAD = "Changed. "
HI_LEAD = "Hi! "
THANKED_LEAD = "You're welcome! "
NAME_BAD = "Please send just your name (up to 40 letters), or MENU to go back."
NAME_AGAIN = 'What name should the host see? Send just the name, like "Ana". MENU to go back.'

SUMMARY = (
    '{title}, {dates} ({nights} {night_word}), ${total}, as {name}: "{message}". '
    "Send SEND to ask the host, or MENU to drop it."
)
SUMMARY_NO_NOTE = (
    "{title}, {dates} ({nights} {night_word}), ${total}, as {name}, no note. "
    "Send SEND to ask the host, or MENU to drop it."
)
NOTHING_TO_SEND = "There is no request to send. Send LIST, pick a home, then BOOK."
CONFIRM_WHAT = (
    'Send SEND (or "yes") to send your request to the host, MENU (or "no") to drop it, or new '
    'dates like "Dec 4-8".'
)
SENT = "Request {ref} sent to the host of {title}. I'll text you their answer. MY shows your trips."

NO_TRIPS = "You have no requests or stays yet. Send LIST to find a home."
WITHDRAW_WHICH = "Which request? Send WITHDRAW and its ref, like WITHDRAW 12. MY lists them."
WITHDRAWN = "Request {ref} withdrawn. Send LIST for homes, MY for your trips."
NOT_YOURS = "You have no request {ref}. Send MY to see yours."
NOT_PENDING = "Request {ref} is already {status}, so it can't change. Send MY to see your trips."

HOST_NONE_PENDING = "You have no pending requests; new ones will be texted to you. HELP for more."
HOST_NOT_HOST = "You have no homes listed, so there is nothing to accept. " + NEXT
HOST_UNKNOWN_REF = "No request {ref} is waiting on you. Send REQUESTS to see yours."
HOST_WHICH = "You have {count} pending requests: {items}. Reply ACCEPT <ref> or REJECT <ref>."
HOST_PENDING = "Pending: {items}. Reply ACCEPT <ref> or REJECT <ref>."
HOST_ACCEPTED = "You accepted request {ref} ({guest}, {dates}). {more}"
HOST_REJECTED = "You rejected request {ref} ({guest}, {dates}). {more}"
HOST_MORE_PENDING = "{count} more pending: send REQUESTS."
HOST_ALL_DONE = "No more pending: REQUESTS lists new ones."
HOST_ALSO_CLOSED = " Declined as overlapping: {refs}."
# A host's text that decides nothing: a hedge, a question, anything unclear. Never a guess.
HOST_UNDECIDED_ONE = (
    "Nothing is decided yet on request {ref} ({guest}, {dates}). Reply ACCEPT {ref} or "
    "REJECT {ref} when you know."
)
HOST_UNDECIDED = "Nothing is decided yet. Pending: {items}. Reply ACCEPT <ref> or REJECT <ref>."
# Questions are not passed on to guests: the host has the guest's note, and decides.
HOST_QUESTION_ONE = (
    'I can\'t pass questions on, so nothing is decided. {guest} wrote: "{note}" Reply '
    "ACCEPT {ref} or REJECT {ref}."
)
HOST_GREETING = "Hi! Pending: {items}. Reply ACCEPT <ref> or REJECT <ref>."
HOST_THANKED = "You're welcome! Pending: {items}. Reply ACCEPT <ref> or REJECT <ref>."
HOST_OVERLAP = (
    "Request {ref} overlaps a confirmed stay at {title}, so it can't be accepted. "
    "Send REJECT {ref}."
)

# -- hosts listing a home by text: HOST, the steps, SAVE -------------------------------------

LISTING_TITLE = (
    "Let's list your home. What is it called? Up to 60 letters, like Sunny Beach House. "
    "MENU to go back."
)
LISTING_PLACE = "Where is it? Town and region, like Malibu, CA. MENU to go back."
LISTING_DESCRIPTION = (
    "Describe it for guests in a few lines: rooms, beds, what is special. MENU to go back."
)
LISTING_PRICE = "The price per night in whole dollars, like 120? MENU to go back."
LISTING_PHOTO = (
    "Last, send a photo of the home as a picture message, or SKIP to list it without one. "
    "MENU to go back."
)
LISTING_FIX = "Sorry, {problem}. Please send it again, or MENU to go back."
LISTING_NOT_A_PHOTO = (
    "That file is not a photo. Send a picture of the home (JPEG or PNG), or SKIP to list it "
    "without one."
)
LISTING_NO_PHOTO = (
    "Please attach a photo of the home to your message, or send SKIP to list it without one."
)
LISTING_SUMMARY = (
    '{title}, {place}, ${price}/night, {photo}: "{description}" '
    "Send SAVE to list it, or MENU to drop it."
)
LISTING_WITH_PHOTO = "with a photo"
LISTING_WITHOUT_PHOTO = "no photo"
LISTING_CONFIRM_WHAT = "Send SAVE to list your home now, or MENU to drop it."
LISTING_STALE = "Sorry, that listing can't be saved: {problems}. Send HOST to start again."
LISTED = "{title} is listed as your home {n}: guests can find and book it now. HOMES shows yours."
NOTHING_TO_SAVE = "There is no home to save. Send HOST to list one, or HOMES to see yours."
HOST_WHILE_BOOKING = (
    "You are in the middle of a booking. Finish it, or send MENU to drop it, then HOST to "
    "list your home."
)

# -- hosts managing their homes: HOMES, PAUSE, RESUME, PHOTO, PRICE --------------------------

NO_HOMES_OF_YOURS = "You have no homes listed. Send HOST to list one, or LIST to find a stay."
WHICH_HOME = "Which home? Send {command} and its number from HOMES, like {command} 1{example}."
NOT_YOUR_HOME = "You have no home {n}. Send HOMES to see yours, numbered 1 to {last}."
PAUSED = (
    "{title} is paused: guests can't find or book it. Pending requests still wait for you. "
    "RESUME {n} shows it again."
)
ALREADY_PAUSED = "{title} is already paused. RESUME {n} shows it again, HOMES lists yours."
RESUMED = "{title} is live again: guests can find and book it. PAUSE {n} hides it."
ALREADY_LIVE = "{title} is already live. PAUSE {n} hides it, HOMES lists yours."
PRICE_SET = "{title} is now ${price} a night for new requests. HOMES shows your homes."
PRICE_FIX = "Sorry, {problem}. Send e.g. PRICE {n} 120, or HOMES."
PHOTO_ASK = (
    "Send the new photo of {title} as a picture message now, or MENU to keep the one it has."
)
PHOTO_NOT_A_PHOTO = (
    "That file is not a photo. Send a picture (JPEG or PNG) for {title}, or MENU to keep "
    "the old one."
)
PHOTO_STILL_WAITING = (
    "Please attach the photo of {title} to your message, or MENU to keep the old one."
)
PHOTO_SET = "New photo of {title} saved: guests see it now. HOMES shows your homes."

REMINDER = (
    "Reminder: request {ref} ({title}, {dates}, from {guest}) is waiting for you. "
    "Reply ACCEPT {ref} or REJECT {ref}"
)

NEW_REQUEST_NO_NOTE = (
    "New request {ref}: {title}, {dates} ({nights} {night_word}) from {guest}, no note. "
    "Reply ACCEPT {ref} or REJECT {ref}"
)
NEW_REQUEST = (
    'New request {ref}: {title}, {dates} ({nights} {night_word}) from {guest}: "{message}" '
    "Reply ACCEPT {ref} or REJECT {ref}"
)
GUEST_CONFIRMED = (
    "Good news! {title} confirmed your stay {dates} (request {ref}). MY shows your trips."
)
GUEST_REJECTED = (
    "Sorry, {title} can't host you {dates} (request {ref}). Send LIST to find another home."
)
GUEST_CLOSED = (
    "Sorry, {title} was booked for {dates} by someone else (request {ref}). "
    "Send LIST for other homes."
)
GUEST_EXPIRED = (
    "Request {ref} for {title} ({dates}) got no answer in time and has expired. "
    "Send LIST to try another home."
)
HOST_TOLD_WITHDRAWN = (
    "Request {ref} for {title} ({dates}) was withdrawn by the guest. REQUESTS shows the rest."
)
HOST_TOLD_EXPIRED = (
    "Request {ref} for {title} ({dates}) expired without an answer. REQUESTS shows the rest."
)

# Answers to questions about a home: a fact the bot has, then what to send next.
FACT_PRICE = "{title} is ${price} a night."
FACT_PRICE_TOTAL = "{title} is ${price} a night: ${total} for {dates} ({nights} {night_word})."
FACT_PLACE = "{title} is in {place}."
FACT_PHOTO = "Here is {title} again."
FACT_NO_PHOTO = "{title} has no photo yet."
FACT_FREE = "{title} is free {dates}: {nights} {night_word}, ${total}."
FACT_BUSY = "Sorry, {title} is booked on some nights of {dates}."
FACT_WHICH_DATES = 'For which dates? Ask like "free Dec 3-7?".'
FACT_UNKNOWN = "I don't know that about {title}; the host does: ask in your note."
THEN_BOOK = "Send BOOK to ask for it, or LIST."
THEN_BOOK_DATES = "Send BOOK to ask for it then, or LIST."
THEN_OTHER_DATES = "Send other dates to check, or LIST."
# The same fact inside the booking form ends with the step's question instead.
THEN_STEP = {
    "asking_dates": 'Which dates? Like "Dec 3-7".',
    "asking_message": "Now your note for the host.",
    "asking_name": "Now the name the host should see.",
    "confirming": "Send SEND to ask the host, or MENU.",
}
DATES_NEED_START = 'From which day? Send e.g. "Dec 3 for {nights} {night_word}", or LIST.'

STATUS_WORDS = {
    "pending": "waiting for the host",
    "confirmed": "confirmed",
    "rejected": "declined",
    "withdrawn": "withdrawn",
    "expired": "expired",
}

SEGMENT = 160  # GSM-7 characters in a one-segment SMS
# Long free text (descriptions, the guest's note) is cut so the whole text stays readable.
DESCRIPTION_CHARS = 200
MESSAGE_CHARS = 300
TITLE_CHARS = 40
NAME_CHARS = 40


def shorten(text: str, limit: int) -> str:
    text = " ".join(clean(text).split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def sentence(text: str) -> str:
    """Free text that another sentence follows: ended with a full stop unless it ends already
    ("On the sand, sleeps 4" -> "On the sand, sleeps 4."; "Sleeps 4!" and "..." are kept)."""
    text = text.rstrip()
    if not text or text[-1] in ".!?" or text[-2:] in ('."', ".)", '!"', '?"'):
        return text
    return text + "."


@lru_cache(maxsize=4096)
def date_range(check_in: date, check_out: date) -> str:
    """'Dec 3-7', 'Dec 30-Jan 2', 'Dec 30 2026-Jan 2 2027' only when far apart."""
    start = f"{check_in:%b} {check_in.day}"
    if (check_in.year, check_in.month) == (check_out.year, check_out.month):
        return f"{start}-{check_out.day}"
    return f"{start}-{check_out:%b} {check_out.day}"


def night_word(nights: int) -> str:
    return "night" if nights == 1 else "nights"


def list_page(
    properties: Sequence[Property],
    first: int,
    total: int,
    has_more: bool,
    free: tuple[date, date] | None = None,
) -> str:
    """A page of homes; `free` names the dates they are all free on, when the guest gave some."""
    when = f" free {date_range(*free)}" if free else ""
    lines = [f"Homes {first}-{first + len(properties) - 1} of {total}{when}:"]
    for number, home in enumerate(properties, start=first):
        lines.append(
            f"{number} {shorten(home.title, TITLE_CHARS)}, {shorten(home.place, 24)} "
            f"${home.nightly_price}"
        )
    lines.append(
        "Send a number to see a home" + (", MORE for more." if has_more else ", LIST to restart.")
    )
    return "\n".join(lines)


def home_details(number: int, home: Property) -> str:
    return (
        f"{number} {shorten(home.title, TITLE_CHARS)}, {shorten(home.place, 30)}, "
        f"${home.nightly_price}/night. {sentence(shorten(home.description, DESCRIPTION_CHARS))} "
        "Send BOOK to ask for it, or LIST."
    )


def trips(items: Sequence[tuple[Reservation, Property]]) -> str:
    lines = ["Your trips:"]
    for reservation, home in items:
        lines.append(
            f"{reservation.id} {shorten(home.title, 24)} "
            f"{date_range(reservation.check_in, reservation.check_out)}: "
            f"{STATUS_WORDS[reservation.status]}"
        )
    lines.append("WITHDRAW <ref> drops a pending one. LIST for homes.")
    return "\n".join(lines)


PENDING_SHOWN = 5


def pending_items(items: Sequence[tuple[Reservation, Property, str]]) -> str:
    """The oldest few pending requests; the rest are counted, so the text stays short."""
    shown = "; ".join(
        f"{r.id} {shorten(home.title, 20)} {date_range(r.check_in, r.check_out)} {shorten(g, 15)}"
        for r, home, g in items[:PENDING_SHOWN]
    )
    more = len(items) - PENDING_SHOWN
    return f"{shown}; and {more} more" if more > 0 else shown


HOMES_SHOWN = 20  # 20 of the longest lines stay under 1600 characters


def host_homes(homes: Sequence[Property]) -> str:
    """A host's own homes, numbered in their order (the numbers PAUSE, PRICE... take)."""
    lines = ["Your homes:"]
    for number, home in enumerate(homes[:HOMES_SHOWN], start=1):
        state = "live" if home.active else "paused"
        photo = "" if home.image_url else ", no photo"
        lines.append(
            f"{number} {shorten(home.title, 30)}, ${home.nightly_price}/night, {state}{photo}"
        )
    if len(homes) > HOMES_SHOWN:
        lines.append(f"and {len(homes) - HOMES_SHOWN} more")
    lines.append("PAUSE <n>, RESUME <n>, PRICE <n> <$>, PHOTO <n>; HOST adds a home.")
    return "\n".join(lines)
