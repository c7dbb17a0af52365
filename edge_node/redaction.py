"""Redact payment cards, IBANs and e-mail addresses before anything leaves the edge.

The raw text stays in the edge's own store; the cloud, its model and its logs see placeholders.
Card numbers are recognised by the Luhn checksum and IBANs by their ISO 7064 mod-97 check, so
order numbers and phone numbers (which fail those checks) are left alone for the model to use.

Cards: digit groups joined by at most three separator characters (any white space, NBSP and narrow
NBSP included, hyphens and dashes, ``.``, ``/``) form a run. Every window of consecutive groups in a
run that holds 13 to 19 digits is Luhn-checked, and only the groups of a passing window are replaced,
so a neighbouring expiry date, CVV or quantity (``qty 2 4111 … 12/25 123``) is kept when it is not
part of a passing window. Letters glued to the digits (``cc4111…``) do not hide them. A run of digits
with no separator at all is one number: it is checked whole (a 20-digit tracking number is no card).

IBANs: two letters of a country that issues IBANs, two check digits, then exactly as many letters and
digits as that country's IBANs have, in any case, with up to three separator characters between any
two of them after the first four, glued to words or not; only those passing mod 97 are replaced.
The fixed length per country keeps the words after an IBAN (``… 0130 00 bitte``) and keeps product
codes and phrases like ``it 12 days`` from being tried at every length.
"""

from __future__ import annotations

import re

__all__ = ["redact"]

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

# What people (and their keyboards) put between the groups of a card number or an IBAN.
_SEP = r"[\s\-\u2010-\u2015\u2212./]"
_MAX_SEP = 3
_DIGIT_RUN = re.compile(rf"\d+(?:{_SEP}{{1,{_MAX_SEP}}}\d+)*")
_DIGITS = re.compile(r"\d+")
_CARD_MIN, _CARD_MAX = 13, 19

# IBAN lengths by country: the SWIFT registry, and the countries (mostly in Africa) that use the format
# outside it.
_IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
    "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
    "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
    "AO": 25, "BF": 28, "BJ": 28, "CF": 27, "CG": 27, "CI": 28, "CM": 27, "CV": 25, "DZ": 26, "GA": 27,
    "GQ": 27, "GW": 25, "HN": 28, "IR": 26, "KM": 27, "MA": 28, "MG": 27, "ML": 28, "MZ": 25, "NE": 28,
    "SN": 28, "TD": 27, "TG": 28,
}
_IBAN_HEAD = re.compile(r"[A-Za-z]{2}[0-9]{2}")
# The rest of an IBAN of each length, after its first four characters.
_IBAN_BODY = {
    length: re.compile(rf"(?:{_SEP}{{0,{_MAX_SEP}}}[A-Za-z0-9]){{{length - 4}}}")
    for length in set(_IBAN_LENGTHS.values())
}
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


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


def _iban_valid(compact: str) -> bool:
    """ISO 7064 mod 97-10 over an IBAN without separators."""
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _iban_end(text: str, start: int) -> int | None:
    """Where the valid IBAN starting at ``start`` ends, if one does."""
    length = _IBAN_LENGTHS.get(text[start:start + 2].upper())
    if length is None:
        return None
    body = _IBAN_BODY[length].match(text, start + 4)
    if body is None:
        return None
    compact = (text[start:start + 4] + _NOT_ALNUM.sub("", body.group())).upper()
    return body.end() if _iban_valid(compact) else None


def _iban_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    search = 0
    while (head := _IBAN_HEAD.search(text, search)) is not None:
        end = _iban_end(text, head.start())
        if end is None:
            search = head.start() + 1
        else:
            spans.append((head.start(), end))
            search = end
    return spans


def _card_spans(text: str) -> list[tuple[int, int]]:
    """The stretches covered by Luhn-valid windows of 13-19 digits in each run of digit groups."""
    hits: list[tuple[int, int]] = []
    for run in _DIGIT_RUN.finditer(text):
        groups = [(g.start(), g.end()) for g in _DIGITS.finditer(text, run.start(), run.end())]
        for first in range(len(groups)):
            digits = ""
            for last in range(first, len(groups)):
                digits += text[groups[last][0]:groups[last][1]]
                if len(digits) > _CARD_MAX:
                    break
                if len(digits) >= _CARD_MIN and _luhn(digits):
                    hits.append((groups[first][0], groups[last][1]))
    return hits


def _clusters(spans: list[tuple[int, int, bool]]) -> list[list[tuple[int, int, bool]]]:
    """Overlapping spans, gathered."""
    clusters: list[list[tuple[int, int, bool]]] = []
    end = -1
    for span in sorted(spans):
        if clusters and span[0] < end:
            clusters[-1].append(span)
            end = max(end, span[1])
        else:
            clusters.append([span])
            end = span[1]
    return clusters


def _marker(cluster: list[tuple[int, int, bool]]) -> str:
    ibans = [(start, end) for start, end, is_card in cluster if not is_card]
    cards = [(start, end) for start, end, is_card in cluster if is_card]
    inside = all(any(i_start <= start and end <= i_end for i_start, i_end in ibans) for start, end in cards)
    return "[IBAN]" if ibans and inside else "[card number]"


def redact(text: str) -> str:
    """E-mail addresses first; then cards and IBANs, both looked for in the same text so that neither
    hides the other (an IBAN's digits may hold a Luhn-valid window; letters glued before a card may
    start something that passes as an IBAN). Overlapping finds become one placeholder: ``[IBAN]``
    when its IBANs cover all its cards, ``[card number]`` otherwise."""
    text = _EMAIL.sub("[e-mail]", text)
    spans = [(start, end, False) for start, end in _iban_spans(text)]
    spans += [(start, end, True) for start, end in _card_spans(text)]
    pieces: list[str] = []
    kept = 0
    for cluster in _clusters(spans):
        pieces += [text[kept:cluster[0][0]], _marker(cluster)]
        kept = max(end for _, end, _ in cluster)
    return "".join([*pieces, text[kept:]])
