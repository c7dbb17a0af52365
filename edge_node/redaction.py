"""Redact payment cards, IBANs and e-mail addresses before anything leaves the edge.

The raw text stays in the edge's own store; the cloud, its model and its logs see placeholders.
Card numbers are recognised by the Luhn checksum and IBANs by their ISO 7064 mod-97 check, so
order numbers and phone numbers (which fail those checks) are left alone for the model to use.
"""

from __future__ import annotations

import re

__all__ = ["redact"]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_CARD = re.compile(r"(?<![\w])(?:\d[ -]?){12,18}\d(?![\w])")
_IBAN = re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}(?![\w])")


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _iban_valid(text: str) -> bool:
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[card number]" if 13 <= len(digits) <= 19 and _luhn(digits) else match.group()


def _iban(match: re.Match[str]) -> str:
    """The longest valid IBAN at the start of the match (it may have run into a following word)."""
    words = match.group().split(" ")
    for end in range(len(words), 0, -1):
        candidate = " ".join(words[:end])
        if _iban_valid(candidate):
            rest = " ".join(words[end:])
            return "[IBAN]" + (f" {rest}" if rest else "")
    return match.group()


def redact(text: str) -> str:
    text = _EMAIL.sub("[e-mail]", text)
    text = _IBAN.sub(_iban, text)
    return _CARD.sub(_card, text)
