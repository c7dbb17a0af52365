"""Language identification for short chat messages.

Two statistical backends, both restricted to the catalog's languages, one file each:
- ``py3langid`` (default, ``py3langid_backend``): naive Bayes over byte n-grams, its model ships
  in the wheel; on the demo catalog's own texts it is right far more often than langdetect
  (``bench/langid.py``) and ~50x faster.
- ``langdetect`` (``langdetect_backend``): random between runs unless seeded, raises on empty or
  digit-only text and weak on one- or two-word messages; kept as a private, seeded detector,
  imported only when chosen.
Around either (``identifier``): script detection for scripts that name their language, letters
only one catalog language uses, and for very short text the session's previous language, then
the storefront default. ``outside`` tells whether a message is in a catalog language at all.
"""

from __future__ import annotations

from edge_node.langid.base import LangIdBackend, LanguageDetector
from edge_node.langid.identifier import LanguageIdentifier
from edge_node.langid.outside import OutsideCatalogLanguages, ScoringPath
from edge_node.langid.py3langid_backend import LanguageProbabilities

__all__ = [
    "LangIdBackend", "LanguageDetector", "LanguageIdentifier", "LanguageProbabilities", "OutsideCatalogLanguages",
    "ScoringPath",
]
