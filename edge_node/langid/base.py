"""What a language id backend answers: the catalog language a message is most likely in."""

from __future__ import annotations

from typing import Literal, Protocol

__all__ = ["LangIdBackend", "LanguageDetector"]

LangIdBackend = Literal["py3langid", "langdetect"]


class LanguageDetector(Protocol):
    """One statistical backend, restricted to the catalog's languages (two or more of them)."""

    short_min_confidence: float
    """Below this posterior a short message keeps the session's language."""
    short_min_guess: float
    """With no session language either, a short message below this gets the storefront default."""

    def detect(self, text: str) -> tuple[str | None, float]:
        """The catalog language ``text`` is most likely in and its posterior; ``(None, 0.0)`` if none."""
        ...
