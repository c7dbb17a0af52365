"""What an action needs, found in the shopper's words: an order number and an e-mail address.

Numbers that are money ("49,85", "273.90"), dates ("12.03.2026") or longer digit runs (card
numbers, phone numbers) are not order numbers, in any language: an order number stands alone.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["SlotFinder"]

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


class SlotFinder:
    def __init__(self, order_id_pattern: str) -> None:
        # Not part of a longer number, a decimal, a date, a word or a run of digit groups (a card
        # number); "#10234" still counts.
        self._order = re.compile(rf"(?<![\w.,/-])(?<!\d )#?({order_id_pattern})(?!\w|[.,/-]\d| \d)")

    def order_ids(self, text: str) -> list[str]:
        found = [m.group(1) for m in self._order.finditer(_EMAIL.sub(" ", text))]
        return list(dict.fromkeys(found))

    def order_id(self, texts: Iterable[str]) -> str:
        """The order the shopper means: the last one named, newest message first."""
        for text in reversed(list(texts)):
            ids = self.order_ids(text)
            if ids:
                return ids[-1]
        return ""

    def email_free(self, text: str) -> str:
        """The text without its order numbers and e-mail addresses: what else the shopper said."""
        return self._order.sub(" ", _EMAIL.sub(" ", text))

    @staticmethod
    def email(texts: Iterable[str]) -> str:
        for text in reversed(list(texts)):
            found = _EMAIL.findall(text)
            if found:
                return str(found[-1]).strip(".")
        return ""
