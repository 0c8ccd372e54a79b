"""The words people text, by what they mean: the tables `conversations.understand` reads.

Whole messages are matched as a whole ("start over"), phrases anywhere in a message (" book it "
inside "ok book it please"), single words by membership. All lower case, apostrophes straight.
Adding a way of saying something is adding it here.
"""

from __future__ import annotations

# -- whole messages -------------------------------------------------------------------------

GREETINGS = frozenset(
    {
        "hi", "hello", "hey", "hiya", "howdy", "yo", "hola", "greetings", "heya", "hallo",
        "hi there", "hello there", "hey there", "good morning", "good afternoon",
        "good evening", "morning", "evening", "hello?", "hi again", "hello again", "sup",
        "what's up", "whats up",
    }
)  # fmt: skip
THANKS = frozenset(
    {
        "thanks", "thank you", "thx", "ty", "cheers", "thanks a lot", "thank you so much",
        "thanks so much", "many thanks", "much appreciated", "appreciate it", "great thanks",
        "ok thanks", "okay thanks", "ok thank you", "perfect thanks", "awesome", "great",
        "cool", "nice", "perfect", "got it", "ok got it", "lovely", "wonderful", "amazing",
        "brilliant", "excellent", "ok cool", "great thank you", "thanks again", "tks", "tnx",
    }
)  # fmt: skip
SMALL_TALK = frozenset(
    {
        "how are you", "how are you doing", "how's it going", "hows it going", "who are you",
        "what are you", "what is this", "what's this", "whats this", "are you a bot",
        "are you a robot", "are you human", "are you real", "is this a bot", "lol", "haha",
        "hahaha", "bye", "goodbye", "good bye", "good night", "see you", "see ya",
        "are you there", "anyone there", "ok bye", "what is airtng",
        "what's airtng",
    }
)  # fmt: skip
MENU = frozenset(
    {
        "start over", "start again", "never mind", "nevermind", "nvm", "back", "go back",
        "forget it", "main menu", "restart", "reset", "begin again", "from the start",
        "let's start over", "lets start over", "forget that", "scratch that",
    }
)  # fmt: skip
HELP = frozenset(
    {
        "?", "what can i do", "what can i say", "what can i send", "what do i send",
        "what do i do", "how does this work", "how does it work", "how do i book",
        "how does this work?", "commands", "what are the commands", "options", "menu?",
        "i need help", "help me", "help please", "what now", "now what",
    }
)  # fmt: skip
MY = frozenset(
    {
        "my trips", "my bookings", "my booking", "my reservations", "my reservation",
        "my stays", "my stay", "my requests", "my request", "trips", "bookings",
        "what did i book", "show my trips", "show my bookings", "any news", "status",
        "did the host answer", "did the host reply", "did they answer", "did they reply",
        "has the host answered", "any answer", "any reply", "where is my booking",
        "my booking status", "check my booking", "check my request", "is it confirmed",
    }
)  # fmt: skip
MORE = frozenset(
    {
        "more", "show more", "more please", "next page", "any more", "anything else", "others",
        "other homes", "what else", "see more", "more homes", "show me more", "next one",
        "what else do you have", "more options", "other options", "anything more",
    }
)  # fmt: skip
HOMES = frozenset({"my homes", "my listings", "my properties", "my places", "my houses"})
REQUESTS = frozenset(
    {
        "requests", "pending", "any requests", "show requests", "pending requests",
        "what's pending", "whats pending", "new requests", "show me the requests",
        "any new requests", "who wants to book", "any bookings for me",
    }
)  # fmt: skip
# A bare yes, no or skip: what it means depends on the step (summary, note, host).
YES = frozenset(
    {
        "yes", "y", "yep", "yeah", "yup", "yea", "ya", "sure", "ok", "okay", "k", "kk",
        "alright", "all right", "yes please", "sure thing", "go ahead", "send it", "send",
        "do it", "please do", "sounds good", "sounds great", "looks good", "looks great",
        "correct", "that's right", "thats right", "right", "confirm", "confirmed",
        "absolutely", "definitely", "of course", "yes send it", "ok send it", "go for it",
        "let's do it", "lets do it", "perfect send it", "yes go ahead", "yes that's right",
        "all good", "fine", "that's fine", "thats fine", "yes correct", "yes send",
        "ok go ahead", "sure go ahead", "yes do it",
    }
)  # fmt: skip
# At the summary these also mean "send it"; elsewhere they are a thank-you.
YES_AT_SUMMARY = frozenset({"perfect", "great", "awesome", "excellent", "lovely", "nice"})
NO = frozenset(
    {
        "no", "n", "nope", "nah", "no thanks", "no thank you", "not now", "don't", "dont",
        "don't send", "dont send", "don't send it", "do not send", "no don't", "no dont",
        "not yet", "no way", "wrong", "that's wrong", "no not that",
    }
)  # fmt: skip
# "cancel" alone is Twilio's opt-out; in a sentence at the summary it drops the request.
NO_AT_SUMMARY = frozenset(
    {"cancel it", "cancel that", "cancel this", "drop it", "never mind", "nevermind", "nvm"}
)
SKIP = frozenset(
    {
        "skip", "skip it", "no note", "no message", "none", "nothing", "n/a", "na", "-",
        "nothing to say", "no comment", "no comments", "nothing thanks", "skip that",
        "no need", "not needed", "none thanks", "just send it", "no note thanks",
    }
)  # fmt: skip

# -- words and phrases inside a message -----------------------------------------------------

# Booking what is viewed or named: "book it", "I'll take it", "reserve this one".
BOOK_PHRASES = (
    "book", "reserve", "booking", "i'll take it", "ill take it", "i will take it",
    "we'll take it", "well take it", "we will take it", "take it", "i want it",
    "i want this one", "i want that one", "we want this one", "i'd like this one",
    "id like this one", "i'd like that one", "we'd like this one", "sign me up",
    "i'll have it", "let's do this one", "lets do this one", "i want to stay there",
    "we want to stay there", "i'd like to stay there", "we would like to stay there",
)  # fmt: skip
# Words around "book" that name no home: "book it please", "I'd like to book this one".
BOOK_FILLERS = frozenset(
    {
        "book", "reserve", "booking", "it", "this", "that", "one", "the", "a", "an",
        "please", "pls", "now", "me", "us", "for", "i", "i'd", "id", "we", "we'd", "like",
        "to", "want", "would", "could", "can", "may", "i'll", "ill", "let's", "lets", "go",
        "ahead", "and", "ok", "okay", "yes", "sure", "then", "instead", "place", "home",
        "stay", "in", "at", "on", "from", "of", "so", "just", "really", "love",
        "take", "will", "we'll", "well", "there", "here", "is", "do", "you", "have", "our",
        "my", "great", "perfect", "lovely", "nice", "oh", "hi", "hello", "hey", "please,",
        "request", "ask", "send", "option", "sign", "up", "yes,",
    }
)  # fmt: skip

# Cancelling one's own request, in a sentence: read as WITHDRAW (never a whole-message CANCEL,
# which is Twilio's opt-out). A request word must be there: "cancel 12" alone is not this.
WITHDRAW_VERBS = frozenset({"cancel", "withdraw", "drop", "retract", "pull"})
REQUEST_NOUNS = frozenset(
    {"request", "booking", "reservation", "trip", "stay", "requests", "bookings", "ref"}
)

# Listing one's own home: "list my house", "add a home", "I want to host".
HOST_PHRASES = (
    "list my", "add my", "add a home", "add a house", "add a place", "add a listing",
    "add a property", "add home", "become a host", "i want to host", "i'd like to host",
    "be a host", "rent out my", "rent my", "host my", "list a home", "list a house",
    "list a place", "list a property", "i have a house to rent", "i have a home to rent",
    "i have a place to rent", "new listing", "create a listing",
)  # fmt: skip

# A search: "do you have anything in Malibu?", "what's available next weekend".
SEARCH_PHRASES = (
    "anything", "any homes", "any houses", "any places", "available", "availability",
    "do you have", "got any", "is there", "are there", "looking for", "look for",
    "search", "find", "show me", "homes", "houses", "places", "rentals", "properties",
    "options", "somewhere", "something", "where can i stay", "a place", "a home",
    "a house", "what do you have", "what have you got", "what's there", "whats there",
    "what's free", "whats free", "free", "need a", "want a", "a stay", "stays",
    "vacation", "getaway", "list", "cabins", "apartments", "cottages", "lofts", "villas",
)  # fmt: skip
# Words of a search sentence that name nothing to search for.
SEARCH_STOPWORDS = frozenset(
    {
        "anything", "any", "available", "availability", "do", "you", "have", "got", "is",
        "are", "there", "looking", "look", "for", "search", "find", "show", "me", "homes",
        "home", "houses", "places", "place", "rentals", "rental", "properties", "property",
        "options", "option", "somewhere", "something", "where", "can", "i", "stay", "stays",
        "staying", "in", "at", "near", "around", "close", "to", "by", "on", "the", "a", "an",
        "what's", "whats", "what", "which", "free", "need", "want", "like", "i'd", "id",
        "we'd", "we", "us", "our", "my", "would", "could", "please", "pls", "and", "or",
        "with", "of", "some", "vacation", "getaway", "trip", "hello", "hi", "hey", "there's",
        "theres", "list", "it", "that", "this", "be", "open", "also", "else", "other",
        "nice", "good", "great", "really", "from", "people", "guests", "adults",
        "kids", "children", "persons", "person", "family", "friends", "couple", "so", "just",
        "yes", "ok", "okay", "now", "then", "how", "about", "maybe", "perhaps", "within",
        "weekend", "week", "month", "during", "between", "until", "days", "nights", "night",
        "book", "booking", "go", "going", "visit", "visiting", "spend", "let", "let's",
        "lets", "see", "all", "too", "very", "much", "many", "get", "your", "i'm", "im",
        "we're", "were", "you've", "has", "ones", "one", "cheap?", "stay?",
    }
)  # fmt: skip

# Picking from the list by position: "the second one", "the 3rd", "the last one".
ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
    "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8,
    "8th": 8, "ninth": 9, "9th": 9, "tenth": 10, "10th": 10,
}  # fmt: skip
PICK_WORDS = frozenset(
    {
        "the", "one", "number", "no", "no.", "option", "home", "place", "show",
        "me", "see", "tell", "about", "what", "more", "details", "on", "of", "please", "pls",
        "let's", "lets", "look", "at", "can", "i", "how", "open", "view", "that", "this",
        "is", "it", "like", "info", "which", "with", "a", "in", "to", "want", "see?",
    }
)  # fmt: skip
PICK_PHRASES = ("show me", "tell me about", "what about", "more about", "details", "look at")

# Questions about the home being viewed, by what they ask.
QUESTION_STARTS = frozenset(
    {
        "how", "what", "what's", "whats", "who", "when", "where", "where's", "why", "which",
        "can", "could", "is", "are", "do", "does", "did", "should", "shall", "any", "will",
        "may", "have", "has",
    }
)  # fmt: skip
TOPICS: dict[str, str] = {
    # price and the total
    "price": "price", "prices": "price", "cost": "price", "costs": "price", "much": "price",
    "rate": "price", "rates": "price", "total": "price", "cheaper": "price", "fee": "price",
    "fees": "price", "expensive": "price", "pay": "price", "dollars": "price",
    # place
    "where": "place", "where's": "place", "location": "place", "located": "place",
    "address": "place", "area": "place", "neighborhood": "place", "neighbourhood": "place",
    "town": "place", "city": "place", "far": "place",
    # the photo
    "photo": "photo", "photos": "photo", "picture": "photo", "pictures": "photo",
    "pic": "photo", "pics": "photo", "image": "photo", "images": "photo",
    # free on given dates
    "free": "free", "available": "free", "availability": "free", "open": "free",
    "vacant": "free", "booked": "free", "taken": "free",
    # what the bot does not know: the host does
    "pets": "other", "pet": "other", "dog": "other", "dogs": "other", "cat": "other",
    "cats": "other", "parking": "other", "park": "other", "wifi": "other", "wi-fi": "other",
    "internet": "other", "pool": "other", "kitchen": "other", "beds": "other",
    "bed": "other", "bedrooms": "other", "bedroom": "other", "bathroom": "other",
    "bathrooms": "other", "sleeps": "other", "sleep": "other", "kids": "other",
    "children": "other", "smoking": "other", "smoke": "other", "accessible": "other",
    "wheelchair": "other", "tv": "other", "ac": "other", "heating": "other",
    "washer": "other", "laundry": "other", "towels": "other", "checkin": "other",
    "checkout": "other", "early": "other", "late": "other", "quiet": "other",
    "safe": "other", "people": "other", "guests": "other", "breakfast": "other",
    "hot": "other", "tub": "other", "garden": "other", "view": "other", "views": "other",
    "beach": "other", "stairs": "other", "elevator": "other", "crib": "other",
    "allowed": "other", "bbq": "other", "grill": "other", "fireplace": "other",
}  # fmt: skip
PHOTO_PHRASES = ("see it", "look like", "send a photo", "show me it", "photo again", "pic again")

# Making the stay longer or shorter: "make it 3 nights", "3 nights instead".
CHANGE_PHRASES = (
    "change", "make it", "actually", "instead", "can we do", "could we do", "how about",
    "what about", "let's do", "lets do", "new dates", "different dates", "other dates",
    "move it to", "switch to", "rather", "update",
)  # fmt: skip

# At the name step, what comes before the name: "my name is Ana", "I'm Ana".
NAME_PREFIXES = (
    "my name is ", "my name's ", "name is ", "name: ", "name ", "i'm ", "im ", "i am ",
    "it's ", "its ", "call me ", "this is ", "it is ", "we are ", "we're ",
)  # fmt: skip

# -- a host's answer, read safely (conversations.understand.read_host_answer) ---------------

# Clear approvals, any one of which (with nothing against it) accepts.
APPROVALS = frozenset(
    {
        "yes", "yeah", "yep", "yup", "yea", "ya", "yah", "sure", "approved", "approve",
        "accept", "accepted", "confirm", "confirmed", "fine", "absolutely", "definitely",
        "certainly", "agreed",
    }
)  # fmt: skip
APPROVAL_PHRASES = (
    "sounds good", "sounds great", "sounds fine", "go ahead", "of course", "no problem",
    "no problems", "no worries", "no prob", "all good", "works for me", "fine by me",
    "happy to host", "glad to host", "that works", "looks good", "sure thing", "ok with me",
    "okay with me", "that's ok", "thats ok", "that's okay", "is ok", "is okay", "all set",
)  # fmt: skip
# Approvals too weak to decide alone ("ok thanks" is as likely a thank-you): they accept only
# with a request's reference ("12 ok"), or as the whole message OK (the SPEC's synonym).
WEAK_APPROVALS = frozenset(
    {"ok", "okay", "k", "kk", "alright", "great", "good", "perfect", "cool", "lovely", "nice"}
)
# The weak ones that, with a reference, are a plain yes: "12 ok", "ok 12", "12 good".
WEAK_WITH_REFERENCE = frozenset({"ok", "okay", "k", "kk", "alright", "good", "great", "perfect"})
# Clear refusals.
REFUSALS = frozenset(
    {
        "no", "decline", "declined", "reject", "rejected", "unavailable", "cannot", "can't",
        "cant", "booked", "taken", "refuse", "refused", "deny", "denied",
    }
)  # fmt: skip
REFUSAL_PHRASES = (
    "not available", "not possible", "not those dates", "not these dates", "not that date",
    "not this time", "no vacancy", "fully booked", "already booked", "can not",
    "won't work", "wont work", "doesn't work", "does not work", "no can do", "not free",
    "we're full", "were full", "we are full", "not open",
)  # fmt: skip
# Never a decision, whatever else the message says: a hedge, a question, a polite no-thanks.
HEDGE_PHRASES = (
    "no thanks", "no thank you", "n/a", "not sure", "let me", "i'll check", "ill check",
    "will check", "get back", "let you know", "not yet", "not now", "later", "maybe",
    "probably", "perhaps", "possibly", "might", "i think", "i guess", "depends", "wait",
    "hold on", "hang on", "check with", "ask my", "hmm", "not ok", "not okay", "not fine",
)  # fmt: skip
HEDGE_WORDS = frozenset(
    {
        "maybe", "probably", "perhaps", "possibly", "might", "think", "guess", "check",
        "later", "wait", "hold", "hmm", "unsure", "depends", "consider", "ask", "calendar",
        "look", "let", "if", "but", "unless", "tomorrow", "soon", "see", "not", "nope", "nah",
        "cancel", "stop", "quit", "end", "why", "how", "what", "who", "when", "which",
        "don't", "dont", "won't", "wont", "i'll", "ill", "we'll", "never",
    }
)  # fmt: skip
# Words that may stand beside an approval or a refusal and change nothing. Anything else makes
# the answer unclear, and the host is asked.
NEUTRAL = frozenset(
    {
        "that's", "thats", "that", "is", "it", "it's", "its", "this", "the", "a", "an", "for",
        "to", "of", "and", "i", "we", "i'm", "im", "we're", "were", "am", "are", "be",
        "would", "them", "they", "her", "him", "she", "he", "you", "your", "you're", "youre",
        "guest", "guests", "request", "booking", "reservation", "ref", "number", "dates",
        "date", "stay", "visit", "here", "there", "then", "those", "these", "very", "so",
        "really", "totally", "all", "just", "please", "thanks", "thank", "thx", "ty",
        "cheers", "welcome", "hi", "hello", "hey", "dear", "sorry", "unfortunately",
        "afraid", "apologies", "happy", "glad", "host", "have", "has", "enjoy", "with", "us",
        "our", "my", "me", "too", "also", "will", "can", "we'd", "i'd", "love", "by",
        "on", "at", "in", "again", "already", "fully", "completely", "sadly", "regret",
        "regrets", "come", "coming",
    }
)  # fmt: skip
