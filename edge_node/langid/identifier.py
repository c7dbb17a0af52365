"""Which catalog language a message is in: its script and letters first, then a backend, then the session."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge_node.langid._scripts import is_short, letter_language, script_language

if TYPE_CHECKING:
    from edge_node.langid.base import LangIdBackend, LanguageDetector
    from edge_node.langid.py3langid_backend import LanguageProbabilities

__all__ = ["LanguageIdentifier"]


def _open_detector(backend: LangIdBackend, languages: list[str], seed: int,
                   probabilities: LanguageProbabilities | None) -> LanguageDetector:
    """The chosen backend, its module imported only now: langdetect is not loaded unless chosen."""
    if backend == "py3langid":
        from edge_node.langid.py3langid_backend import Py3LangidDetector

        return Py3LangidDetector(languages, probabilities)
    if backend == "langdetect":
        from edge_node.langid.langdetect_backend import LangdetectDetector

        return LangdetectDetector(languages, seed)
    raise ValueError(f"unknown language id backend {backend!r}: choose 'py3langid' or 'langdetect'")


class LanguageIdentifier:
    def __init__(self, languages: list[str], default: str, *, backend: LangIdBackend = "py3langid",
                 seed: int = 0, probabilities: LanguageProbabilities | None = None) -> None:
        """``probabilities``: share one py3langid pass per message with ``OutsideCatalogLanguages``;
        ``seed`` seeds langdetect."""
        self.languages = list(languages)
        self.default = default
        self._detector = _open_detector(backend, self.languages, seed, probabilities)

    def _detect(self, text: str) -> tuple[str | None, float]:
        if len(self.languages) == 1:
            return self.languages[0], 1.0
        return self._detector.detect(text)

    def identify(self, text: str, previous: str | None = None) -> str:
        """Best language among the catalog's for ``text``; ``previous`` is the session's last one."""
        script = script_language(text)
        if script and script in self.languages:
            return script
        letters = letter_language(text, self.languages)
        if letters:
            return letters
        if not any(ch.isalpha() for ch in text):
            return previous if previous in self.languages else self.default
        detected, confidence = self._detect(text)
        if is_short(text) and confidence < self._detector.short_min_confidence:
            if previous in self.languages:
                return previous
            if confidence < self._detector.short_min_guess:
                return self.default
        if detected:
            return detected
        return previous if previous in self.languages else self.default
