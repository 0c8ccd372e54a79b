"""A host's words never decide a request unless they plainly approve or refuse it.

A wrong accept is far worse than one more question: hedges, questions, thanks and anything
unclear decide nothing, and the reply says so, lists what is pending and shows how to answer.
Random words and sentences (hypothesis) never accept or reject without a clear approval or
refusal word, and a typo never becomes an opt-out or a decision it does not clearly spell.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations import texts
from conversations import understand as u
from conversations import words as w
from conversations.commands import OPT_OUT_WORDS
from conversations.gsm7 import is_gsm7, segments
from conversations.understand import Context, read_host_answer, understand
from tests.conversations.fakes import Chat, FakeWorld

TODAY = date(2026, 11, 23)
HOST = "+15550100001"
GUEST = "+15550001111"
GUEST2 = "+15550002222"
ONE_PENDING = Context("start", TODAY, 30, host=True, pending=1)

# Texts a host may send about a request that must never decide it.
NEVER_DECIDE = [
    "let me check with my wife",
    "probably",
    "ok I'll look at my calendar",
    "how many people?",
    "maybe",
    "maybe yes",
    "possibly",
    "perhaps next time",
    "I think so",
    "I guess",
    "not sure",
    "not sure yet",
    "let me think about it",
    "I'll get back to you",
    "will let you know",
    "give me a minute",
    "wait",
    "hold on",
    "hang on, checking",
    "hmm",
    "yes but only 2 guests",
    "yes if they're quiet",
    "ok, but no pets",
    "sure, unless my sister comes",
    "who is it?",
    "can they arrive early?",
    "is it for a family?",
    "how long do they stay?",
    "what time do they arrive?",
    "are they smokers?",
    "do they have a dog?",
    "yes?",
    "ok?",
    "no?",
    "no thanks",
    "No, thanks!",
    "nope",
    "nah",
    "not now",
    "not yet",
    "later",
    "tomorrow",
    "N/A",
    "cancel 1",
    "STOP 1",
    "ok thanks",
    "great",
    "thanks",
    "cool",
    "lol",
    "yes no",
    "no yes",
    "not ok",
    "not fine",
    "don't accept",
    "never",
    "yes 12 and 14",
    "ok 1 2",
    "accept?",
    "acpt",
    "rejekt it maybe",
    "the guest asked about parking",
    "I'm busy, text me later",
    "call me",
    "who are you",
    "probably fine",
    "should be ok",
    "sounds good but let me check",
    "yes, I need to ask my partner first",
]


@pytest.mark.parametrize("text", NEVER_DECIDE)
def test_a_host_text_that_must_never_decide(text: str) -> None:
    intent = understand(text, ONE_PENDING)
    assert intent.kind not in (u.ACCEPT, u.REJECT), intent


def test_there_are_at_least_forty() -> None:
    assert len(NEVER_DECIDE) >= 40
    assert len(set(NEVER_DECIDE)) == len(NEVER_DECIDE)


def pending_world() -> FakeWorld:
    world = FakeWorld()
    world.add_person(HOST, "Hana")
    world.add_person(GUEST, "Ana")
    beach = world.add_home(HOST, "Beach House", place="Malibu", price=250)
    world.add_reservation(GUEST, beach, date(2026, 12, 3), date(2026, 12, 7), message="Hi!")
    return world


@pytest.mark.parametrize("text", NEVER_DECIDE)
def test_through_the_flow_nothing_changes_and_the_host_is_told(text: str) -> None:
    world = pending_world()
    host = Chat(world, HOST)
    host.send("REQUESTS")
    decision = host.send(text)
    assert decision.changes == []
    assert decision.opted_out in (None, True)  # "STOP 1" is no opt-out either: not whole
    assert world.reservations[0].status == "pending"
    assert [r.to for r in decision.replies] == [HOST]


def test_the_undecided_reply_says_so_lists_and_shows_how() -> None:
    host = Chat(pending_world(), HOST)
    host.send("REQUESTS")
    assert host.ask("let me check with my wife") == texts.HOST_UNDECIDED_ONE.format(
        ref=1, guest="Ana", dates="Dec 3-7"
    )
    reply = host.ask("probably")
    assert reply.startswith("Nothing is decided yet on request 1")
    assert "ACCEPT 1" in reply and "REJECT 1" in reply


def test_a_question_is_not_passed_on_and_the_note_is_shown() -> None:
    world = pending_world()
    host = Chat(world, HOST)
    host.send("REQUESTS")
    decision = host.send("how many people?")
    assert decision.notifications == [] and decision.changes == []
    assert [r.body for r in decision.replies] == [
        texts.HOST_QUESTION_ONE.format(guest="Ana", note="Hi!", ref=1)
    ]


def test_the_reply_to_a_question_fits_one_segment_with_a_long_name_and_note() -> None:
    world = FakeWorld()
    world.add_person(HOST, "Hana")
    world.add_person(GUEST, "Maximiliana Bartholomew-Featherstonehaug")
    home = world.add_home(HOST, "Beach House", place="Malibu", price=250)
    request = world.add_reservation(
        GUEST, home, date(2026, 12, 3), date(2026, 12, 7), message="x" * 300
    )
    request.id = 123456
    host = Chat(world, HOST)
    reply = host.ask("how many people?")
    assert reply.startswith("I can't pass questions on, so nothing is decided.")
    assert "ACCEPT" in reply and "xxx..." in reply
    assert is_gsm7(reply) and segments(reply) == 1, len(reply)


def test_with_several_pending_the_undecided_reply_lists_them() -> None:
    world = pending_world()
    world.add_person(GUEST2, "Ben")
    world.add_reservation(GUEST2, world.properties[0], date(2026, 12, 10), date(2026, 12, 12))
    host = Chat(world, HOST)
    host.send("REQUESTS")
    reply = host.ask("maybe")
    assert reply == texts.HOST_UNDECIDED.format(
        items="1 Beach House Dec 3-7 Ana; 2 Beach House Dec 10-12 Ben"
    )


def test_ok_right_after_a_decision_is_a_thank_you_not_a_yes_to_the_next() -> None:
    world = pending_world()
    world.add_person(GUEST2, "Ben")
    world.add_reservation(GUEST2, world.properties[0], date(2026, 12, 10), date(2026, 12, 12))
    host = Chat(world, HOST)
    assert host.send("yes 1").changes == [(1, "confirmed")]
    decision = host.send("ok")
    assert decision.changes == []
    assert decision.replies[0].body.startswith("You're welcome! Pending: 2 Beach House")
    # Asked again later, OK is the SPEC's accept once more.
    assert host.send("ok").changes == [(2, "confirmed")]


def test_an_unclear_text_from_a_host_with_pending_gets_the_hosts_help() -> None:
    host = Chat(pending_world(), HOST)
    host.send("REQUESTS")
    reply = host.ask("the quick brown fox")
    assert reply.startswith("Nothing is decided yet on request 1")
    assert texts.NOT_UNDERSTOOD not in reply


def test_a_host_with_pending_is_greeted_with_them() -> None:
    host = Chat(pending_world(), HOST)
    host.send("REQUESTS")
    assert host.ask("hi") == texts.HOST_GREETING.format(items="1 Beach House Dec 3-7 Ana")


# -- hypothesis: random words and sentences ------------------------------------------------

CLEAR_APPROVAL = re.compile(
    "|".join(
        [rf"\b{re.escape(word)}\b" for word in sorted(w.APPROVALS)]
        + [rf"\b{re.escape(phrase)}\b" for phrase in w.APPROVAL_PHRASES]
        + [r"^\W*(ok|okay|y)\W*$", r"\baccept\w*"]
        + [rf"\b{word}\b.*\d|\d.*\b{word}\b" for word in sorted(w.WEAK_WITH_REFERENCE)]
    ),
    re.IGNORECASE,
)
CLEAR_REFUSAL = re.compile(
    "|".join(
        [rf"\b{re.escape(word)}\b" for word in sorted(w.REFUSALS)]
        + [rf"\b{re.escape(phrase)}\b" for phrase in w.REFUSAL_PHRASES]
        + [r"^\W*n\W*$", r"\breject\w*", r"\bdeclin\w*"]
    ),
    re.IGNORECASE,
)
# Words of every kind: hedges, neutral words, approvals, refusals, questions, others.
VOCABULARY = sorted(
    set(w.HEDGE_WORDS)
    | set(w.NEUTRAL)
    | set(w.APPROVALS)
    | set(w.WEAK_APPROVALS)
    | set(w.REFUSALS)
    | {"?", "!", ",", ".", "12", "#7", "not", "if", "but", "maybe", "dog", "parking", "lake"}
    | {"cabin", "please", "thanks", "tomorrow", "dec", "3-7", "n/a", "nope", "yes?", "no?"}
)
sentences = st.one_of(
    st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=8).map(" ".join),
    st.text(max_size=60),
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=sentences, pending=st.sampled_from([1, 2]))
def test_no_decision_without_a_clear_approval_or_refusal(text: str, pending: int) -> None:
    intent = understand(text, Context("start", TODAY, 30, host=True, pending=pending))
    text = u.plain(text)  # accents dropped, as understanding reads ("YÀ" is "ya")
    if intent.kind == u.ACCEPT:
        assert CLEAR_APPROVAL.search(text), text
        assert "?" not in text, text
    if intent.kind == u.REJECT:
        assert CLEAR_REFUSAL.search(text), text
        assert "?" not in text, text


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=sentences)
def test_a_decision_is_never_both_or_hedged(text: str) -> None:
    verdict, _ = read_host_answer(text)
    text = u.plain(text)
    if verdict in ("accept", "reject"):
        words = set(re.findall(r"[a-z0-9]+(?:'[a-z]+)*", text.casefold()))
        assert not words & w.HEDGE_WORDS - {"not"} or verdict == "reject", text
        assert "?" not in text
        other = CLEAR_REFUSAL if verdict == "accept" else CLEAR_APPROVAL
        assert not other.search(text) or re.search(r"\bno (problem|worries|prob)", text), text


def one_edit(word: str) -> st.SearchStrategy[str]:
    """Every kind of single typo of `word`: a letter dropped, doubled, swapped or changed."""
    at = st.integers(0, len(word) - 1)
    letters = st.sampled_from("abcdefghijklmnopqrstuvwxyz")
    return st.one_of(
        at.map(lambda i: word[:i] + word[i + 1 :]),
        at.map(lambda i: word[:i] + word[i] + word[i:]),
        at.filter(lambda i: i < len(word) - 1).map(
            lambda i: word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        ),
        st.tuples(at, letters).map(lambda p: word[: p[0]] + p[1] + word[p[0] + 1 :]),
    )


TWILIO_WORDS = sorted(OPT_OUT_WORDS | {"start", "unstop", "yes", "help", "info"})


@settings(max_examples=600, deadline=None)
@given(data=st.data(), word=st.sampled_from(TWILIO_WORDS))
def test_a_typo_never_becomes_an_opt_out_or_a_decision(data: st.DataObject, word: str) -> None:
    typo = data.draw(one_edit(word))
    if typo.strip().casefold() in TWILIO_WORDS:
        return  # the edit gave back a keyword itself
    world = pending_world()
    host = Chat(world, HOST)
    host.send("REQUESTS")
    decision = host.send(typo)
    assert decision.opted_out is None, typo
    intent = understand(typo, ONE_PENDING)
    if intent.kind in (u.ACCEPT, u.REJECT):
        # Only a typo of an accept/reject word, or a real approval or refusal ("yea" is one
        # edit from "yes", and a word of its own), may decide.
        clear = CLEAR_APPROVAL if intent.kind == u.ACCEPT else CLEAR_REFUSAL
        assert intent.typo in ("accept", "reject", "decline", "confirm") or clear.search(typo)
