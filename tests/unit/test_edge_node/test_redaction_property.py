"""Generated cards and IBANs, formatted as people type them and set among other digits, never survive redaction."""

from __future__ import annotations

import re
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from edge_node.redaction import redact

SETTINGS = settings(max_examples=200, deadline=None)

# Between the groups of a card or an IBAN: space, NBSP, narrow NBSP, hyphen, dot, slash, or two of them.
SEPARATORS = st.one_of(
    st.text(alphabet=" \u00a0\u202f-./", min_size=1, max_size=2),
    st.sampled_from([" - ", " / "]),
)


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def luhn_check_digit(payload: str) -> str:
    return next(d for d in "0123456789" if luhn_valid(payload + d))


def mod97(text: str) -> int:
    return int("".join(str(int(c, 36)) for c in text)) % 97


@st.composite
def cards(draw: st.DrawFn) -> str:
    length = draw(st.integers(13, 19))
    payload = draw(st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1))
    return payload + luhn_check_digit(payload)


@st.composite
def grouped(draw: st.DrawFn, compact: str, first_cut: int = 1) -> str:
    """``compact`` cut anywhere (4-4-4-4 and the like, or at random) with a separator at each cut."""
    cuts = draw(st.one_of(
        st.just(list(range(4, len(compact), 4))),
        st.lists(st.integers(first_cut, len(compact) - 1), unique=True, max_size=8).map(sorted),
    ))
    cuts = [c for c in cuts if c >= first_cut]
    bounds = [0, *cuts, len(compact)]
    parts = [compact[a:b] for a, b in pairwise(bounds)]
    return "".join(part + draw(SEPARATORS) for part in parts[:-1]) + parts[-1]


def month_year(draw: st.DrawFn) -> str:
    month = draw(st.integers(1, 12))
    year = draw(st.sampled_from([f"{draw(st.integers(24, 35))}", f"20{draw(st.integers(24, 35))}"]))
    return f"{month:02d}/{year}"


@st.composite
def neighbours_before(draw: st.DrawFn) -> str:
    """What comes just before the card: a word (perhaps glued to it) or a short number."""
    return draw(st.one_of(
        st.sampled_from(["", "cc", "card:", "my card ", "Karte ", "Visa"]),
        st.integers(1, 99).map(lambda n: f"qty {n} "),
        st.integers(1, 99).map(str),
        st.integers(10000, 99999).map(str),
    ))


@st.composite
def neighbours_after(draw: st.DrawFn) -> list[str]:
    """Digit groups after the card: expiry date, CVV, a quantity."""
    options = [
        month_year(draw),
        f"{draw(st.integers(0, 9999)):0{draw(st.integers(3, 4))}d}",  # CVV
        str(draw(st.integers(1, 99))),
    ]
    return draw(st.lists(st.sampled_from(options), max_size=2))


@st.composite
def card_messages(draw: st.DrawFn) -> tuple[str, str]:
    card = draw(cards())
    before = draw(neighbours_before())
    if before and before[-1].isdigit():
        before += draw(SEPARATORS)
    text = before + draw(grouped(card))
    for group in draw(neighbours_after()):
        text += draw(SEPARATORS) + group
    text += draw(st.sampled_from(["", " thanks", "?", " was charged twice"]))
    return card, text


def digit_runs(text: str) -> list[str]:
    """Digits joined by anything but letters, digits and the markers' brackets: wider than the redactor."""
    return [re.sub(r"\D", "", run) for run in re.findall(r"\d(?:[^\w\[\]]*\d)*", text)]


def luhn_windows(digits: str) -> list[str]:
    return [digits[i:j] for i in range(len(digits)) for j in range(i + 13, min(i + 19, len(digits)) + 1)
            if luhn_valid(digits[i:j])]


@SETTINGS
@given(card_messages())
def test_no_generated_card_survives_among_other_digits(message):
    card, text = message
    redacted = redact(text)
    assert "[card number]" in redacted or "[IBAN]" in redacted  # letters glued before it may start an IBAN
    assert card not in re.sub(r"\D", "", redacted), (text, redacted)
    assert not [w for run in digit_runs(redacted) for w in luhn_windows(run)], (text, redacted)
    assert redact(redacted) == redacted


# (country, BBAN pattern): n digits, a upper-case letters, c letters or digits.
IBAN_FORMATS = {
    "DE": "18n", "FR": "10n 11c 2n", "NL": "4a 10n", "PL": "24n", "GB": "4a 14n", "NO": "11n", "MT": "4a 5n 18c",
}
CHARSETS = {"n": "0123456789", "a": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "c": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country = draw(st.sampled_from(sorted(IBAN_FORMATS)))
    bban = "".join(
        draw(st.text(alphabet=CHARSETS[part[-1]], min_size=int(part[:-1]), max_size=int(part[:-1])))
        for part in IBAN_FORMATS[country].split()
    )
    check = 98 - mod97(bban + country + "00")
    iban = f"{country}{check:02d}{bban}"
    assert mod97(iban[4:] + iban[:4]) == 1
    return iban


@st.composite
def iban_messages(draw: st.DrawFn) -> tuple[str, str]:
    iban = draw(ibans())
    # Separators after the first four characters (``DE89 3704 …``), letters in any case.
    printed = draw(grouped(iban, first_cut=4))
    printed = "".join(c.lower() if draw(st.booleans()) else c for c in printed)
    before = draw(st.sampled_from(["", "IBAN ", "iban:", "Konto ", "rembourser sur ", "refund to IBAN\u00a0"]))
    after = draw(st.sampled_from(["", " bitte", " merci", ", order 10234", " 49,85 EUR", " 12.03.2026", "."]))
    return iban, before + printed + after


@SETTINGS
@given(iban_messages())
def test_no_generated_iban_survives_in_any_case_or_format(message):
    iban, text = message
    redacted = redact(text)
    compact = re.sub(r"[^0-9A-Za-z]", "", redacted).upper()
    assert "[IBAN]" in redacted or "[card number]" in redacted  # its digits and the next may pass Luhn
    assert iban not in compact, (text, redacted)
    survivors = [compact[i:i + len(iban)] for i in range(len(compact) - len(iban) + 1)
                 if compact.startswith(iban[:2], i) and compact[i + 2:i + 4].isdigit()
                 and mod97(compact[i + 4:i + len(iban)] + compact[i:i + 4]) == 1]
    assert not survivors, (text, redacted)
    assert redact(redacted) == redacted


def _at_most_12_digits(text: str) -> str:
    digits = iter(range(len(text)))
    return "".join(c if not c.isdigit() or next(digits) < 12 else "x" for c in text)


@SETTINGS
@given(st.text(alphabet="abcXYZ 0123456789.,/-:\u00a0", max_size=60).map(_at_most_12_digits))
def test_text_with_fewer_than_13_digits_has_no_card(text):
    assert "[card number]" not in redact(text)
