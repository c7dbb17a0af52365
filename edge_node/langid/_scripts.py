"""What the characters of a message say about its language, before any statistics."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["NUMBERS", "is_short", "letter_language", "script_language"]

# Unicode script (first word of the character name) -> language, where a script names one.
_SCRIPT_LANG = {
    "HANGUL": "ko",
    "HIRAGANA": "ja",
    "KATAKANA": "ja",
    "THAI": "th",
    "ARABIC": "ar",
    "HEBREW": "he",
    "GREEK": "el",
    "CJK": "zh",
    "CYRILLIC": "ru",
}
# Letters that only one catalog language (of the Latin-script ones we ship) uses.
_LETTER_LANG = {
    "¿": "es", "¡": "es", "ñ": "es",
    "ß": "de",
    "ł": "pl", "ą": "pl", "ę": "pl", "ś": "pl", "ź": "pl", "ż": "pl", "ć": "pl", "ń": "pl",
    "ã": "pt", "õ": "pt",
    "ĳ": "nl",
}
_SHORT_WORDS = 2
_SHORT_CHARS = 12
NUMBERS = re.compile(r"[\d#]+")
"""Digits carry no language and are dropped before scoring ("cancel ordedr 00004587345" looked foreign)."""


def is_short(text: str) -> bool:
    """One or two words, or a few characters: too little for a language guess to be trusted."""
    return len(text.split()) <= _SHORT_WORDS or len(text.strip()) < _SHORT_CHARS


def letter_language(text: str, languages: list[str]) -> str | None:
    """The catalog language whose own letters ``text`` uses most, if it uses any."""
    if text.isascii():  # every telling letter is outside ASCII; most messages are not
        return None
    votes: dict[str, int] = {}
    for ch in text.lower():
        lang = _LETTER_LANG.get(ch)
        if lang in languages:
            votes[lang] = votes.get(lang, 0) + 1
    return max(votes, key=lambda k: votes[k]) if votes else None


def script_language(text: str) -> str | None:
    """The language a non-Latin script implies (kana beats Han: Japanese mixes both)."""
    if text.isascii():
        return None
    counts: dict[str, int] = {}
    for ch in text:
        # Every script in _SCRIPT_LANG starts at Greek (U+0370); below it is Latin, skipped
        # without looking its name up.
        if ch < "\u0370" or not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        lang = _SCRIPT_LANG.get(name.split(" ", 1)[0])
        if lang:
            counts[lang] = counts.get(lang, 0) + 1
    if not counts:
        return None
    if "ja" in counts:
        return "ja"
    return max(counts, key=lambda k: counts[k])
