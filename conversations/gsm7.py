"""Keeping replies in GSM-7, so a message costs 160-character segments rather than 70 (UCS-2).

clean("Ana’s “cabin” 🙂")  -> 'Ana\'s "cabin" '
segments("x" * 161)        -> 2
"""

from __future__ import annotations

import re
import unicodedata

# The GSM 03.38 default alphabet and its extension table (the extension costs two septets).
BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENDED = set("^{}\\[~]|€")
_NOT_BASIC = re.compile("[^" + re.escape("".join(sorted(BASIC))) + "]")

# What people paste from phones and word processors, said in GSM-7.
_SUBSTITUTES = {
    "‘": "'",
    "’": "'",
    "‚": "'",
    "′": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "″": '"',
    "–": "-",
    "—": "-",
    "−": "-",
    "…": "...",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\t": " ",
    "•": "*",
    "×": "x",
}


def clean(text: str) -> str:
    """Text with every character sayable in GSM-7: look-alikes replaced, accents dropped where
    the alphabet lacks them, anything else (emoji, control characters) removed."""
    if _NOT_BASIC.search(text) is None:
        return text
    out: list[str] = []
    for char in text:
        if char in BASIC or char in EXTENDED:
            out.append(char)
        elif char in _SUBSTITUTES:
            out.append(_SUBSTITUTES[char])
        else:
            plain = unicodedata.normalize("NFKD", char)
            out.extend(c for c in plain if c in BASIC)
    return "".join(out)


def is_gsm7(text: str) -> bool:
    return all(c in BASIC or c in EXTENDED for c in text)


def segments(text: str) -> int:
    """How many SMS segments Twilio bills for this text."""
    if not is_gsm7(text):
        units = len(text)
        return 1 if units <= 70 else -(-units // 67)
    septets = sum(2 if c in EXTENDED else 1 for c in text)
    return 1 if septets <= 160 else -(-septets // 153)
