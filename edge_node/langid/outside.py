"""Whether a message is in a language the catalog has examples in, enough of them, or none."""

from __future__ import annotations

from typing import Literal

import numpy as np

from edge_node.langid._scripts import NUMBERS, is_short, script_language
from edge_node.langid.py3langid_backend import LanguageProbabilities

__all__ = ["OutsideCatalogLanguages", "ScoringPath"]

ScoringPath = Literal["catalog", "thin", "outside"]
# Below this probability for all catalog languages together a message is in another language.
_OUTSIDE_MAX_CATALOG_PROBABILITY = 0.1


class OutsideCatalogLanguages:
    """Tells whether a message is written in a language the catalog has no examples in.

    Unlike ``LanguageIdentifier`` this weighs every language py3langid knows, not only the
    storefront's: an English-only catalog asked in Dutch must see Dutch, not its closest
    catalog language. It asks how much probability the catalog's languages get together, not
    which language wins: Dutch splits its mass between nl, af, de and fy, so asking for one
    language at p >= 0.9 called only 55% of xSID's Dutch outside an English catalog (this rule:
    95%; Turkish 58% -> 93%), while English falls under 0.1 for 3.3% of xSID's English and 0.7%
    of the storefront mix (0.7% -> 1.9% if the digits of order numbers were kept). Short
    Latin-script messages are never called outside: their language is a guess, and the answer
    for them is the catalog's own path.
    """

    def __init__(self, example_languages: set[str], probabilities: LanguageProbabilities | None = None,
                 thin: set[str] | None = None) -> None:
        self.languages = {lang.split("-")[0] for lang in example_languages}
        self.thin_languages = {lang.split("-")[0] for lang in thin or ()}
        """Catalog languages with too few examples for the regression alone (``thin_language_share``)."""
        self._probabilities = probabilities or LanguageProbabilities()
        self._columns = np.asarray(sorted(self._probabilities.columns(self.languages).values()), dtype=np.intp)

    def catalog_probability(self, text: str) -> float:
        """py3langid's probability, over all its languages, that ``text`` is in a catalog language."""
        return float(self._probabilities.of(text)[self._columns].sum(dtype=np.float64))

    def path(self, text: str, identified: str | None) -> ScoringPath:
        """How to score a message: ``outside`` (a language without examples), ``thin`` (a catalog
        language with too few; ``identified`` is what ``LanguageIdentifier`` said) or ``catalog``.
        Short Latin-script messages are ``catalog``: their language is a guess."""
        script = script_language(text)
        if script is not None:
            return "outside" if script not in self.languages else "thin" if script in self.thin_languages else "catalog"
        if is_short(NUMBERS.sub(" ", text)):
            return "catalog"
        if self.catalog_probability(text) < _OUTSIDE_MAX_CATALOG_PROBABILITY:
            return "outside"
        return "thin" if identified is not None and identified.split("-")[0] in self.thin_languages else "catalog"

    def outside(self, text: str) -> bool:
        return self.path(text, None) == "outside"

    def thin(self, text: str, identified: str) -> bool:
        return self.path(text, identified) == "thin"
