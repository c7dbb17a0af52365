"""The default backend: py3langid's naive Bayes over byte n-grams, its model shipped in the wheel."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from edge_node.langid._scripts import NUMBERS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from numpy.typing import NDArray

__all__ = ["LanguageProbabilities", "Py3LangidDetector"]


class LanguageProbabilities:
    """py3langid's probability for every language it knows, from one naive-Bayes pass.

    Both questions asked of a message (which catalog language is it in, and is it in one at
    all) come from the same probabilities: a softmax restricted to the catalog's languages is
    the full softmax renormalised over them. One model per worker instead of two, and one pass
    per message: the last text's answer is kept because Understanding asks twice in a row
    (identify + outside on the edge-load questions: 110 -> 92 us). Digits carry no language
    and are dropped first ("cancel ordedr 00004587345" looked foreign).

    The probabilities stay py3langid's own vector, read by column: its public ``rank`` turns
    the 142 columns into a sorted list of pairs per message (33 us of the 51 us of a pass on a
    Xeon, more where the encoder has just evicted the caches), which both questions then only
    filtered and summed. ``_decide`` is the score ``rank`` sorts (aliased labels folded into
    their first column), hence the pin to py3langid 0.4; the tests hold the two equal.
    """

    def __init__(self) -> None:
        from py3langid.langid import MODEL_FILE
        from py3langid.langid import LanguageIdentifier as NaiveBayes

        self._model = NaiveBayes.from_model_file(MODEL_FILE, norm_probs=True)
        self._column: dict[str, int] = {}
        for i, code in enumerate(self._model.nb_classes):
            self._column.setdefault(str(code), i)  # an aliased label's mass is folded into its first column
        self._last: tuple[str, NDArray[np.float32]] | None = None

    def columns(self, codes: Iterable[str]) -> dict[str, int]:
        """``of``'s column for each of ``codes`` py3langid knows (the others have no probability)."""
        return {code: self._column[code] for code in codes if code in self._column}

    def of(self, text: str) -> NDArray[np.float32]:
        """Probability of each language, by ``columns``; do not modify the returned array."""
        last = self._last  # one read: another thread may replace it, never half-way
        if last is not None and last[0] == text:
            return last[1]
        probs: NDArray[np.float32] = self._model._decide(NUMBERS.sub(" ", text))
        self._last = (text, probs)
        return probs

    def ranked(self, text: str) -> list[tuple[str, float]]:
        """Every language py3langid knows, best first (diagnostics and tests; serving reads ``of``)."""
        probs = self.of(text)
        return sorted(((code, float(probs[i])) for code, i in self._column.items()), key=lambda cp: -cp[1])


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
        codes: dict[str, str] = {}
        for lang in languages:
            codes.setdefault(lang.split("-")[0], lang)
        # A catalog in one language needs no model: the identifier answers it without asking.
        self._probabilities = (probabilities or LanguageProbabilities()) if len(languages) > 1 else None
        columns = self._probabilities.columns(codes) if self._probabilities is not None else {}
        # Codes in descending order, so that arg-max breaks a tie for the greater code, as the
        # ``max`` over (probability, code) pairs this replaced did.
        order = sorted(columns, reverse=True)
        self._languages = [codes[code] for code in order]
        self._columns = np.asarray([columns[code] for code in order], dtype=np.intp)

    def detect(self, text: str) -> tuple[str | None, float]:
        if self._probabilities is None or not len(self._columns):
            return None, 0.0
        catalog = self._probabilities.of(text)[self._columns]
        total = float(catalog.sum(dtype=np.float64))
        if total <= 0.0:  # every catalog language underflowed: clearly none of them
            return None, 0.0
        best = int(np.argmax(catalog))
        return self._languages[best], float(catalog[best]) / total
