"""Signals that make a message hard, beyond what the intent head sees: disputes and the conversation.

Lexicons cover every language of the demo catalog (en de fr es it pt nl pl). They are matched on
word starts after lower-casing, so inflections ("chargebacks", "Anwalts", "avocats") still count.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["ConversationSignals", "DisputeSignals", "conversation_signals", "dispute_signals"]

_DISPUTE_WORDS = {
    "en": ["chargeback", "charge back", "lawyer", "attorney", "sue", "court", "legal action", "fraud", "scam",
           "police", "consumer protection", "stolen", "charged twice", "double charge", "never arrived", "damaged",
           "broken", "torn", "dispute", "fell apart", "came off", "was charged", "were charged",
           "been charged", "charged me"],
    "de": ["rückbuchung", "rücklastschrift", "anwalt", "klage", "gericht", "betrug", "polizei",
           "verbraucherschutz", "gestohlen", "doppelt belastet", "doppelt abgebucht", "nie angekommen",
           "beschädigt", "kaputt", "zerrissen", "abgebucht", "nicht erhalten"],
    "fr": ["rétrofacturation", "opposition bancaire", "avocat", "tribunal", "plainte", "fraude", "arnaque",
           "police", "volé", "débité", "prélevé", "jamais arrivé", "jamais reçu", "endommagé", "cassé", "déchiré"],
    "es": ["contracargo", "abogado", "demanda", "tribunal", "fraude", "estafa", "policía", "robado",
           "cobrado dos veces", "me cobraron", "nunca llegó", "dañado", "roto"],
    "it": ["chargeback", "storno", "avvocato", "denuncia", "tribunale", "truffa", "frode", "polizia", "rubato",
           "addebitato", "addebitati", "mai arrivato", "smarrito", "danneggiato", "rotto", "strappato"],
    "pt": ["estorno", "advogado", "processo", "tribunal", "fraude", "burla", "golpe", "polícia", "roubado",
           "cobrado duas vezes", "cobraram", "nunca chegou", "extraviad", "danificado", "partido", "rasgado"],
    "nl": ["terugboeking", "advocaat", "rechter", "rechtszaak", "fraude", "oplichting", "politie", "gestolen",
           "afgeschreven", "nooit aangekomen", "niets ontvangen", "beschadigd", "kapot", "gescheurd"],
    "pl": ["obciążenie zwrotne", "chargeback", "prawnik", "adwokat", "sąd", "pozew", "oszustwo", "policja",
           "skradzion", "pobrano", "podwójnie obciąż", "nie dotarł", "uszkodzon", "zepsut", "rozdart"],
}
_HUMAN_WORDS = ["human", "real person", "agent", "someone real", "speak to a person", "talk to a person",
                "mensch", "mitarbeiter", "echte person", "humain", "conseiller", "vraie personne", "persona real",
                "agente", "operatore", "persona vera", "pessoa real", "atendente", "medewerker", "echt persoon",
                "człowiek", "konsultant"]
_FRUSTRATION_WORDS = ["ridiculous", "unacceptable", "worst", "terrible", "useless", "angry", "fed up", "again",
                      "still", "lächerlich", "inakzeptabel", "unverschämt", "schon wieder", "immer noch",
                      "inacceptable", "scandaleux", "encore", "inaceptable", "vergonzoso", "otra vez",
                      "inaccettabile", "vergognoso", "ancora", "inaceitável", "vergonhoso", "outra vez",
                      "belachelijk", "onacceptabel", "alweer", "nog steeds", "skandal", "niedopuszczaln", "znowu"]
_FOLLOW_UP = re.compile(
    r"^(and|what about|how about|the other|und|was ist mit|und die|et|quid|et l'autre|y|¿y|e|e o|e a|en|"
    r"en de|i|a co z)\b.{0,40}\b(other|one|it|that|those|andere|anderen|das|autre|celui|otro|otra|altro|"
    r"altra|outro|outra|andere|ander|drugi|drug)\b", re.IGNORECASE)
_AMOUNT = re.compile(r"(?:[€$£]\s?\d[\d.,]*|\d[\d.,]*\s?(?:€|eur|euro|usd|\$|gbp|£|zł|pln|chf))", re.IGNORECASE)
_ORDER_ID = re.compile(r"(?:#\s?\d{4,}|\b[A-Z]{1,4}-?\d{4,}\b|\b\d{6,}\b)")


def _compile(words: Sequence[str]) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")",
                      re.IGNORECASE)


_DISPUTE = _compile([w for words in _DISPUTE_WORDS.values() for w in words])
_HUMAN = _compile(_HUMAN_WORDS)
_FRUSTRATION = _compile(_FRUSTRATION_WORDS)


class DisputeSignals(msgspec.Struct, frozen=True):
    words: tuple[str, ...]
    amount: bool
    order_id: bool

    @property
    def any(self) -> bool:
        return bool(self.words) or (self.amount and self.order_id)


class ConversationSignals(msgspec.Struct, frozen=True):
    repeated: bool
    """The shopper asks (nearly) the same thing again: the last answer did not help."""
    wants_human: bool
    frustration: int
    """Frustration markers in this message (words, !!!, shouting)."""
    rising_frustration: bool
    follow_up: bool
    """Makes sense only with the previous turn ("and the other one?")."""


def dispute_signals(text: str) -> DisputeSignals:
    return DisputeSignals(words=tuple(m.group().lower() for m in _DISPUTE.finditer(text)),
                          amount=bool(_AMOUNT.search(text)), order_id=bool(_ORDER_ID.search(text)))


def _frustration(text: str) -> int:
    letters = [c for c in text if c.isalpha()]
    shouting = len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7
    return len(_FRUSTRATION.findall(text)) + (text.count("!") >= 2) + shouting


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _overlap(a: set[str], b: set[str]) -> float:
    """Jaccard similarity of two word sets."""
    return len(a & b) / len(a | b)


def conversation_signals(text: str, earlier: Sequence[str]) -> ConversationSignals:
    """Signals from this message and the shopper's earlier messages (oldest first)."""
    now = _words(text)
    repeated = len(now) >= 3 and any(_overlap(now, _words(e)) >= 0.7 for e in earlier[-3:])
    frustration = _frustration(text)
    before = _frustration(earlier[-1]) if earlier else 0
    return ConversationSignals(
        repeated=repeated, wants_human=bool(_HUMAN.search(text)), frustration=frustration,
        rising_frustration=frustration >= 1 and frustration > before and len(earlier) >= 1,
        follow_up=bool(earlier) and len(text) <= 60 and bool(_FOLLOW_UP.search(text.strip())))
