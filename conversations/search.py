"""Finding homes by the words a guest texts (LIST beach cabin): every word must appear in the
home's title, place or description, as part of a word or whole, in any case.

    search = HomeSearch(homes)
    search.matching(["beach", "cabin"])  -> the homes with both, in the order given

All the homes' words are one string, so a word is found by str.find over it at C speed and only
the homes it occurs in are looked at, instead of testing every home in Python.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence

from conversations.gsm7 import clean
from conversations.model import Property


def searchable(home: Property) -> str:
    """The text a home is found by: GSM-7 like what guests can text, casefolded, one line."""
    return " ".join(clean(f"{home.title} {home.place} {home.description}").casefold().split())


class HomeSearch:
    def __init__(self, homes: Iterable[Property]) -> None:
        self.homes: list[Property] = list(homes)
        texts = [searchable(home) for home in self.homes]
        # One home a line: a search word has no line break, so a match never spans two homes.
        self._text = "\n".join(texts)
        self._starts: list[int] = []
        at = 0
        for text in texts:
            self._starts.append(at)
            at += len(text) + 1

    def matching(self, terms: Sequence[str]) -> list[Property]:
        """The homes whose text contains every term (casefolded, no whitespace), in order."""
        found: set[int] | None = None
        for term in terms:
            hits = self._homes_with(term)
            found = hits if found is None else found & hits
            if not found:
                return []
        if found is None:
            return list(self.homes)
        return [self.homes[n] for n in sorted(found)]

    def _homes_with(self, term: str) -> set[int]:
        hits: set[int] = set()
        text, starts = self._text, self._starts
        at = text.find(term)
        while at != -1:
            home = bisect_right(starts, at) - 1
            hits.add(home)
            if home + 1 == len(starts):
                break
            at = text.find(term, starts[home + 1])  # the next home's text on
        return hits
