"""Language identification for short chat messages.

langdetect alone is random between runs unless seeded, raises on empty or digit-only
text and is weak on one- or two-word messages, so: a private, seeded detector that only
knows the catalog's languages, script detection for scripts that name their language,
and for very short text the session's previous language, then the storefront default.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from langdetect.detector_factory import DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

__all__ = ["LanguageIdentifier"]

# langdetect's profile names for our ISO codes.
_PROFILE_ALIASES = {"zh": ("zh-cn", "zh-tw"), "zh-TW": ("zh-tw",), "nb": ("no",)}
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
_SHORT_WORDS = 2
_SHORT_CHARS = 12


def _script_language(text: str) -> str | None:
    """The language a non-Latin script implies (kana beats Han: Japanese mixes both)."""
    counts: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
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


class LanguageIdentifier:
    def __init__(self, languages: list[str], default: str, *, seed: int = 0) -> None:
        self.languages = list(languages)
        self.default = default
        self._factory: DetectorFactory | None = None
        self._profile_lang: dict[str, str] = {}
        profiles_dir = Path(__import__("langdetect").__file__).parent / "profiles"
        profiles = []
        for lang in self.languages:
            for name in _PROFILE_ALIASES.get(lang, (lang,)):
                path = profiles_dir / name
                if path.is_file():
                    profiles.append(path.read_text(encoding="utf-8"))
                    self._profile_lang[name] = lang
        if len(profiles) >= 2:
            factory = DetectorFactory()
            factory.load_json_profile(profiles)
            factory.set_seed(seed)
            self._factory = factory

    def _detect(self, text: str) -> str | None:
        if self._factory is None:
            return self.languages[0] if len(self.languages) == 1 else None
        detector = self._factory.create()
        detector.append(text)
        try:
            best = detector.get_probabilities()[0].lang
        except (LangDetectException, IndexError):
            return None
        return self._profile_lang.get(best)

    def identify(self, text: str, previous: str | None = None) -> str:
        """Best language among the catalog's for ``text``; ``previous`` is the session's last one."""
        script = _script_language(text)
        if script and script in self.languages:
            return script
        words = text.split()
        short = len(words) <= _SHORT_WORDS or len(text.strip()) < _SHORT_CHARS
        if short and previous in self.languages:
            return previous  # type: ignore[return-value]
        detected = self._detect(text)
        if detected:
            return detected
        return previous if previous in self.languages else self.default  # type: ignore[return-value]
