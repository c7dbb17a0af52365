"""The default backend: py3langid's naive Bayes over byte n-grams, its model shipped in the wheel."""

from __future__ import annotations

from edge_node.langid._scripts import NUMBERS

__all__ = ["LanguageProbabilities", "Py3LangidDetector"]


class LanguageProbabilities:
    """py3langid's probability for every language it knows, from one naive-Bayes pass.

    Both questions asked of a message (which catalog language is it in, and is it in one at
    all) come from the same probabilities: a softmax restricted to the catalog's languages is
    the full softmax renormalised over them. One model per worker instead of two, and one pass
    per message: the last text's answer is kept because Understanding asks twice in a row
    (identify + outside on the edge-load questions: 110 -> 92 us). Digits carry no language
    and are dropped first ("cancel ordedr 00004587345" looked foreign).
    """

    def __init__(self) -> None:
        from py3langid.langid import MODEL_FILE
        from py3langid.langid import LanguageIdentifier as NaiveBayes

        self._model = NaiveBayes.from_model_file(MODEL_FILE, norm_probs=True)
        self._last: tuple[str, dict[str, float]] | None = None

    def of(self, text: str) -> dict[str, float]:
        """Language code -> probability, best first; do not modify the returned dict."""
        last = self._last  # one read: another thread may replace it, never half-way
        if last is not None and last[0] == text:
            return last[1]
        probs = {lang: float(p) for lang, p in self._model.rank(NUMBERS.sub(" ", text))}
        self._last = (text, probs)
        return probs


class Py3LangidDetector:
    """py3langid's best catalog language, its probability renormalised over the catalog's languages."""

    short_min_confidence = 0.9
    # An 8-language catalog's uniform posterior is 0.125: "hi", "ok", "no", "hello", "help",
    # "refund" scored pt/pt/pt/it/nl/de at 0.12-0.26 and now get the storefront default; of 37
    # one- or two-word greetings and shop words in 7 other languages, one right pick falls
    # below ("ciao", 0.28).
    short_min_guess = 0.3

    def __init__(self, languages: list[str], probabilities: LanguageProbabilities | None = None) -> None:
        """``probabilities``: share one py3langid pass per message with ``OutsideCatalogLanguages``."""
        # py3langid's code for each catalog language ("zh-TW" -> "zh"); the first one wins.
        self._codes: dict[str, str] = {}
        for lang in languages:
            self._codes.setdefault(lang.split("-")[0], lang)
        # A catalog in one language needs no model: the identifier answers it without asking.
        self._probabilities = (probabilities or LanguageProbabilities()) if len(languages) > 1 else None

    def detect(self, text: str) -> tuple[str | None, float]:
        if self._probabilities is None:
            return None, 0.0
        probs = self._probabilities.of(text)
        catalog = [(p, code) for code, p in probs.items() if code in self._codes]
        total = sum(p for p, _ in catalog)
        if total <= 0.0:  # every catalog language underflowed: clearly none of them
            return None, 0.0
        best, code = max(catalog)
        return self._codes[code], best / total
