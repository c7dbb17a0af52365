"""Reply templates filled with the shop's facts, written the way the shopper's locale writes them.

Fields are typed in the catalog (``{eta:date}``, ``{total:money}``; checked at load), and dates and
money are formatted by Babel from CLDR data: "3. Dezember 2026" and "54,75 €" in German,
"December 3, 2026" and "€54.75" in English. Nothing here formats a date or an amount by hand.
"""

from __future__ import annotations

import string
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["Money", "day_of", "render"]


class Money:
    """An amount in a currency, as the shop's API writes it (a decimal string, never a float)."""

    def __init__(self, amount: str, currency: str) -> None:
        self.amount = Decimal(amount)
        self.currency = currency


def day_of(timestamp: str) -> date:
    """The calendar day of an ISO 8601 timestamp from the shop."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).date()


def _locale(lang: str) -> Locale:
    try:
        return Locale.parse(lang.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


class _Formatter(string.Formatter):
    def __init__(self, locale: Locale) -> None:
        self.locale = locale

    def format_field(self, value: object, format_spec: str) -> str:
        if value == "":  # a field without a value for this case (no tracking number before shipping)
            return ""
        if format_spec == "date" and isinstance(value, date):
            return format_date(value, format="long", locale=self.locale)
        if format_spec == "money" and isinstance(value, Money):
            return format_currency(value.amount, value.currency, locale=self.locale)
        if format_spec:
            raise ValueError(f"a {type(value).__name__} cannot be written as {format_spec!r}")
        return str(value)


def render(template: str, lang: str, facts: Mapping[str, object]) -> str:
    """``template`` with its fields filled from ``facts`` for the shopper's language."""
    return _Formatter(_locale(lang)).vformat(template, (), dict(facts))
