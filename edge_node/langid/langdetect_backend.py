"""The langdetect backend, seeded: imported only when ``[edge] langid = "langdetect"`` chooses it.

langdetect is random between runs unless seeded, raises on empty or digit-only text and is weak
on one- or two-word messages; its profiles are read from the wheel for the catalog's languages only.
"""

from __future__ import annotations

from pathlib import Path

import langdetect
from langdetect.detector_factory import DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

__all__ = ["LangdetectDetector"]

# langdetect's profile names for our ISO codes.
_PROFILE_ALIASES = {"zh": ("zh-cn", "zh-tw"), "zh-TW": ("zh-tw",), "nb": ("no",)}


class LangdetectDetector:
    """langdetect's best guess among the catalog languages it has profiles for."""

    # langdetect's posteriors on one or two words are confidently wrong ("ok" -> pl at 0.99):
    # never trust them.
    short_min_confidence = 1.01
    short_min_guess = 1.01

    def __init__(self, languages: list[str], seed: int = 0) -> None:
        self._factory: DetectorFactory | None = None
        self._profile_lang: dict[str, str] = {}
        profiles_dir = Path(str(langdetect.__file__)).parent / "profiles"
        profiles = []
        for lang in languages:
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

    def detect(self, text: str) -> tuple[str | None, float]:
        if self._factory is None:
            return None, 0.0
        detector = self._factory.create()
        detector.append(text)
        try:
            best = detector.get_probabilities()[0]
        except (LangDetectException, IndexError):
            return None, 0.0
        return self._profile_lang.get(best.lang), float(best.prob)
