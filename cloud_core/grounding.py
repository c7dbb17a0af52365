"""The grounding guard: a small model invents numbers, so every checkable claim must be in the context.

Claims are order ids, amounts, numbers (with their units), dates, percentages, phone numbers,
e-mail addresses and links. A claim is grounded when the same value appears somewhere in what
the model was given (policies, passages, case context, memory, conversation). An answer with an
ungrounded claim is never sent: it is replaced by a safe template and flagged for a human.
"""

from __future__ import annotations

import re

import msgspec

__all__ = ["GroundingVerdict", "check_grounding", "safe_template"]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# Identifiers mixing letters and digits, or long digit runs: order ids, tracking and phone numbers.
_IDENT = re.compile(r"(?<![\w])(?=[\w-]*\d)[A-Za-z0-9][A-Za-z0-9-]{3,}[A-Za-z0-9](?![\w])")
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?![\w])")
_LIST_MARKER = re.compile(r"^\s*\d+[.)]\s", re.MULTILINE)
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d ()/-]{6,}\d(?![\w])")


class GroundingVerdict(msgspec.Struct, frozen=True):
    grounded: bool
    ungrounded: tuple[str, ...]


def _number_value(token: str) -> str:
    """Canonical value of a number written with either decimal separator (12,50 = 12.50 = 12.5)."""
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", token):  # thousands separators: 1.299 / 1,299
        return token.replace(",", "").replace(".", "")
    decimal_comma = "," in token and "." not in token
    digits = token.replace(",", ".") if decimal_comma else token.replace(",", "")
    try:
        value = float(digits)
    except ValueError:
        return token
    return f"{value:g}"


def _claims(text: str) -> dict[str, str]:
    """Canonical claim -> how it was written."""
    text = _LIST_MARKER.sub(" ", text)
    found: dict[str, str] = {}
    for match in _EMAIL.finditer(text):
        found[f"email:{match.group().lower()}"] = match.group()
    for match in _URL.finditer(text):
        found[f"url:{match.group().rstrip('.,;)').lower()}"] = match.group()
    scrubbed = _URL.sub(" ", _EMAIL.sub(" ", text))
    for match in _PHONE.finditer(scrubbed):
        digits = re.sub(r"\D", "", match.group())
        if len(digits) >= 7:
            found[f"phone:{digits}"] = match.group()
    scrubbed = _PHONE.sub(lambda m: " " if len(re.sub(r"\D", "", m.group())) >= 7 else m.group(), scrubbed)
    for match in _IDENT.finditer(scrubbed):
        if not match.group().isdigit():
            found[f"id:{match.group().upper()}"] = match.group()
    scrubbed = _IDENT.sub(lambda m: m.group() if m.group().isdigit() else " ", scrubbed)
    for match in _NUMBER.finditer(scrubbed):
        found[f"num:{_number_value(match.group())}"] = match.group()
    return found


def check_grounding(answer: str, context: str) -> GroundingVerdict:
    """Every claim of ``answer`` must appear in ``context`` (same canonical value)."""
    known = set(_claims(context))
    context_digits = re.sub(r"\D", "", context)
    missing = []
    for canonical, written in _claims(answer).items():
        if canonical in known:
            continue
        if canonical.startswith("phone:") and canonical[6:] in context_digits:
            continue
        missing.append(written)
    return GroundingVerdict(grounded=not missing, ungrounded=tuple(missing))


_SAFE = {
    "en": "Thank you for your patience. A member of our support team will check the details of your request "
          "and reply here shortly.",
    "de": "Vielen Dank für Ihre Geduld. Ein Mitglied unseres Support-Teams prüft die Details Ihrer Anfrage "
          "und antwortet Ihnen hier in Kürze.",
    "fr": "Merci de votre patience. Un membre de notre équipe d'assistance va vérifier les détails de votre "
          "demande et vous répondra ici très bientôt.",
    "es": "Gracias por su paciencia. Un miembro de nuestro equipo de soporte revisará los detalles de su "
          "solicitud y le responderá aquí en breve.",
    "it": "Grazie per la pazienza. Un membro del nostro team di assistenza verificherà i dettagli della sua "
          "richiesta e le risponderà qui a breve.",
    "pt": "Obrigado pela sua paciência. Um membro da nossa equipa de apoio vai verificar os detalhes do seu "
          "pedido e responderá aqui em breve.",
    "nl": "Bedankt voor uw geduld. Een medewerker van ons supportteam controleert de details van uw verzoek "
          "en antwoordt hier binnenkort.",
    "pl": "Dziękujemy za cierpliwość. Członek naszego zespołu wsparcia sprawdzi szczegóły zgłoszenia "
          "i wkrótce odpowie tutaj.",
}


def safe_template(lang: str) -> str:
    """What the shopper sees instead of an ungrounded answer (English where the language is unknown)."""
    return _SAFE.get(lang, _SAFE["en"])
