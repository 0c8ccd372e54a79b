"""TwiML answers: every answer `render` gives is byte for byte what MessagingResponse renders
for it, whatever the bodies, numbers and photos (bot/twiml.py fills MessagingResponse-made
templates of each shape with escaped bodies)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import twiml
from conversations.flow import Outgoing

SENDER = "+15550001111"
phones = st.sampled_from([SENDER, "+15550002222", "MyBrand&Co", 'quote"s <x>'])
urls = st.sampled_from(
    [
        "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        "http://x/a?b=1&c=<2>",
    ]
)
# Any text Twilio could deliver, the markers' own private-use characters included.
bodies = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60
) | st.sampled_from(["", "&amp; <b>", "\ue0000\ue001", "]]>", "line\nbreak\r\n\ttab"])
replies = st.lists(
    st.builds(Outgoing, phones, bodies, st.lists(urls, max_size=2).map(tuple)), max_size=3
)


@settings(max_examples=400)
@given(replies)
def test_every_answer_is_what_messaging_response_renders(answer: list[Outgoing]) -> None:
    expected = twiml.render_whole(
        tuple((None if r.to == SENDER else r.to, r.body, r.media) for r in answer)
    )
    assert twiml.render(answer, SENDER) == expected
    assert twiml.render(answer, SENDER) == expected  # from the template the first call made


def test_an_answer_parses_as_twilio_reads_it() -> None:
    xml = twiml.render(
        [Outgoing(SENDER, "Tom & Jerry <3"), Outgoing("+15550002222", "Hi", ("https://x/p.png",))],
        SENDER,
    )
    root = ET.fromstring(xml.encode())
    first, second = root.findall("Message")
    assert first.text == "Tom & Jerry <3" and "to" not in first.attrib
    assert second.get("to") == "+15550002222"
    assert second.findtext("Body") == "Hi" and second.findtext("Media") == "https://x/p.png"
