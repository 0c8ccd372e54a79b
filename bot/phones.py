"""Phone numbers in E.164, as Twilio sends them and as everything here stores them.

e164("(415) 555-4345") -> "+14155554345"      # national numbers are read as US
sender_id("MyBrand")  -> "MyBrand"            # what Twilio could not normalise stays raw
"""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "US"


class NotAPhoneNumber(ValueError):
    pass


def e164(text: str, region: str = DEFAULT_REGION) -> str:
    """A number a person typed, in E.164; raises NotAPhoneNumber if it is not a possible one."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise NotAPhoneNumber(f"{text!r} is not a phone number") from error
    if not phonenumbers.is_possible_number(number):
        raise NotAPhoneNumber(f"{text!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def sender_id(raw: str) -> str:
    """The From or To of a webhook: E.164 when Twilio gave a number, else the raw id Twilio
    reports when it cannot normalise the caller (short codes, alphanumeric senders)."""
    raw = raw.strip()
    if raw.startswith("+") and raw[1:].isdigit() and 2 <= len(raw) <= 16:
        return raw  # already E.164: the common case costs no parsing
    if raw.startswith("+"):
        try:
            return e164(raw)
        except NotAPhoneNumber:
            return raw
    return raw
