"""A guarded semantic cache of cloud answers to generic questions.

A cached answer is reused only when the new question is close in meaning (cosine of the edge's
embeddings) **and** carries the same checkable details: negation, numbers, order ids and other
codes, amounts, dates and month names, and names (capitalised words). Those are exactly what
semantic caches get wrong ("can I return" vs "can't I return", order A-1001 vs A-1002, 50 vs 60 EUR);
an embedding barely moves when they change, a signature does. Entries expire, and the whole cache
is dropped when the bundle's catalog changes. Personal answers are never stored (the caller
checks: the cloud marks them ``personal``).
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections import OrderedDict
from typing import TYPE_CHECKING

import msgspec
import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["CachedAnswer", "SemanticCache", "signature"]

_NEGATIONS = {
    "not", "no", "never", "without", "cannot", "cant", "nor", "none", "nothing",  # en (n't handled below)
    "nicht", "kein", "keine", "keinen", "keinem", "keiner", "nie", "niemals", "ohne",  # de
    "ne", "pas", "jamais", "sans", "aucun", "aucune", "n",  # fr (n' -> n)
    "nunca", "sin", "ningún", "ninguna", "ninguno",  # es (no above)
    "non", "mai", "senza", "nessun", "nessuno", "nessuna",  # it
    "não", "nao", "sem", "nenhum", "nenhuma",  # pt
    "niet", "geen", "nooit", "zonder",  # nl
    "bez", "nigdy", "żaden", "żadna", "żadne",  # pl
}
_MONTHS = [
    ["january", "januar", "janvier", "enero", "gennaio", "janeiro", "januari", "stycz"],
    ["february", "februar", "février", "febrero", "febbraio", "fevereiro", "februari", "lut"],
    ["march", "märz", "mars", "marzo", "março", "maart", "marz"],
    ["april", "avril", "abril", "aprile", "kwie"],
    ["may", "mai", "mayo", "maggio", "maio", "mei", "maj"],
    ["june", "juni", "juin", "junio", "giugno", "junho", "czerw"],
    ["july", "juli", "juillet", "julio", "luglio", "julho", "lip"],
    ["august", "août", "agosto", "augustus", "sierp"],
    ["september", "septembre", "septiembre", "settembre", "setembro", "wrze"],
    ["october", "oktober", "octobre", "octubre", "ottobre", "outubro", "październik", "pazdz"],
    ["november", "novembre", "noviembre", "novembro", "listopad"],
    ["december", "dezember", "décembre", "diciembre", "dicembre", "dezembro", "grud"],
]
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CURRENCY = re.compile(r"[€$£]|\b(?:eur|euro|euros|usd|gbp|chf|pln|zł)\b", re.IGNORECASE)


def _month(token: str) -> int | None:
    for index, names in enumerate(_MONTHS):
        if any(token.startswith(name) for name in names) and len(token) >= 3:
            return index + 1
    return None


def signature(text: str) -> tuple[object, ...]:
    """The details a reused answer must agree on."""
    norm = unicodedata.normalize("NFC", text)
    words = _WORD.findall(norm)
    lowered = [w.lower().replace("’", "'") for w in words]
    negated = any(w.split("'")[0] in _NEGATIONS or w.endswith("n't") or w.startswith("n'") for w in lowered)
    numbers = tuple(sorted(n.replace(",", ".") for n in _NUMBER.findall(norm)))
    codes = tuple(sorted(w.upper() for w in words if re.search(r"\d", w) and re.search(r"[^\W\d_]", w)))
    months = tuple(sorted({m for w in lowered if (m := _month(w)) is not None}))
    names = tuple(sorted({w.lower() for i, w in enumerate(words) if i > 0 and w[:1].isupper()
                          and not (i > 0 and words[i - 1].endswith((".", "!", "?")))}))
    currencies = tuple(sorted({c.lower().replace("euros", "eur").replace("euro", "eur").replace("€", "eur")
                               for c in _CURRENCY.findall(norm)}))
    return (negated, numbers, codes, months, names, currencies)


class CachedAnswer(msgspec.Struct):
    question: str
    answer: str
    lang: str
    signature: tuple[object, ...]
    expires_at: float
    hits: int = 0


class SemanticCache:
    def __init__(self, min_similarity: float = 0.9, ttl_s: float = 86400.0, max_entries: int = 10000) -> None:
        self.min_similarity = min_similarity
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[int, tuple[NDArray[np.float32], CachedAnswer]] = OrderedDict()
        self._next = 0
        self.catalog_hash = ""

    def __len__(self) -> int:
        return len(self._entries)

    def invalidate(self, catalog_hash: str = "") -> None:
        """Drop everything (a new catalog or policy may change what the right answer is)."""
        self._entries.clear()
        self.catalog_hash = catalog_hash

    def store(self, vector: NDArray[np.float32], question: str, answer: str, lang: str,
              now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._entries[self._next] = (np.asarray(vector, dtype=np.float32),
                                     CachedAnswer(question, answer, lang, signature(question), now + self.ttl_s))
        self._next += 1
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def lookup(self, vector: NDArray[np.float32], question: str, lang: str,
               now: float | None = None) -> CachedAnswer | None:
        now = time.time() if now is None else now
        wanted = signature(question)
        best: tuple[float, int] | None = None
        for key, (cached_vector, entry) in list(self._entries.items()):
            if entry.expires_at <= now:
                del self._entries[key]
                continue
            if entry.lang != lang or entry.signature != wanted:
                continue
            similarity = float(cached_vector @ vector)
            if similarity >= self.min_similarity and (best is None or similarity > best[0]):
                best = (similarity, key)
        if best is None:
            return None
        self._entries.move_to_end(best[1])
        entry = self._entries[best[1]][1]
        entry.hits += 1
        return entry
