"""Dispute procedures as data: what the cloud checks in the shop's data and what it does about it.

A shop writes its support policy as ``procedures/*.toml`` in its catalog folder, one procedure per
kind of dispute. A procedure is picked by the shopper's words (``cues``, per language) or by the
edge's intent, and is a list of steps: the first step whose conditions (``when``) all hold decides
the outcome: the shop writes it makes (refund, replacement, return label), whether a person takes
over, and the reply in every storefront language. The engine (``cloud_core.procedures``) runs it;
what no procedure file can change is enforced there: the order must be the shopper's, a refund
above ``limits.max_auto_refund`` is only proposed to a person, a hand-off moves no money, and
every write happens once per case.

``procedures/_common.toml`` holds what all procedures share: the limits, the cues that mean
"I want my money back", and the engine's own replies (a proposal, an order that is not theirs).

Conditions are small on purpose, so a support lead can read and review them: ``fact``,
``not fact``, or ``fact <op> literal`` with ``== != < <= > >=`` and a number, ``'text'``, ``true``
or ``false``. Every fact is typed; a condition that names an unknown fact, compares a number with
text, or names a status the shop never reports fails the catalog's load with the file, the field
and the fix.
"""

from __future__ import annotations

import functools
import re
import string
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import msgspec

from triage.catalog.toml_file import decode_toml

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "COMMON_MESSAGES", "FACTS", "REPLY_FIELDS", "Common", "Condition", "Procedure", "ProcedureError", "Procedures",
    "Step", "cue_pattern", "load_procedures", "parse_condition", "template_error",
]

FactType = Literal["bool", "number", "money", "text"]
WriteKind = Literal["refund", "replacement", "return_label"]
RefundOf = Literal["order.total", "item.price", "duplicate_payment"]

_ORDER_STATUSES = ("processing", "shipped", "delivered", "returned", "cancelled")
_CARRIER_STATUSES = ("", "picked_up", "in_transit", "out_for_delivery", "delivered", "lost", "returned")

FACTS: dict[str, tuple[FactType, str, tuple[str, ...]]] = {
    "order.status": ("text", "the order's state", _ORDER_STATUSES),
    "order.total": ("money", "what the order cost, shipping included", ()),
    "order.all_in_stock": ("bool", "every item of the order can be sent again now", ()),
    "carrier_status": ("text", "the carrier's latest status ('' before shipping)", _CARRIER_STATUSES),
    "days_since_delivery": ("number", "whole days since the carrier delivered (absent before delivery)", ()),
    "days_past_eta": ("number", "whole days since the expected delivery date (negative before it; absent once "
                                "delivered or without a date)", ()),
    "days_stalled_past_eta": ("number", "whole days without tracking movement after the expected date (absent "
                                        "before that date)", ()),
    "item.found": ("bool", "the item the shopper means is known (the order's only item, or named)", ()),
    "item.price": ("money", "the unit price of that item", ()),
    "item.in_stock": ("bool", "that item can be sent again now", ()),
    "payments": ("number", "captured payments of the order", ()),
    "duplicate_charge": ("bool", "two captured payments of the same amount on the same day", ()),
    "refund_exists": ("bool", "the order has a succeeded refund", ()),
    "asks_money_back": ("bool", "the shopper asks for money rather than a replacement (common cues)", ()),
}
"""Every fact a condition may use: type, meaning, and the texts a text fact can take."""

REPLY_FIELDS = ("order_id", "carrier", "tracking_number", "eta:date", "delivered_on:date", "refunded_on:date",
                "amount:money", "replacement_id", "label_url", "item", "case_id")
"""What a step's reply may use; a field without a value for the case is written as an empty string."""

COMMON_MESSAGES: dict[str, tuple[str, ...]] = {
    "proposed": ("order_id", "amount:money", "case_id"),
    "not_verified": (),
    "ask_order_id": (),
    "shop_unavailable": ("case_id",),
    "handed_over": ("order_id", "case_id"),
    "no_reply_yet": ("case_id",),
}
"""The engine's own replies: a refund held for approval (rule 9), an order that is not the shopper's
(rule 1, nothing disclosed), a dispute without an order number, a shop that refuses a write, and a
case a driving model handed to a person, and the follow-up when no person has replied in time."""

_COMPARE = re.compile(r"^\s*([a-z_.]+)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$")
_BARE = re.compile(r"^\s*(not\s+)?([a-z_.]+)\s*$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_RULE = re.compile(r"^[0-9]{1,3}[a-z]?$")


class ProcedureError(ValueError):
    """A procedure file is wrong; the message names the file, the field and the fix."""


class Condition(msgspec.Struct, frozen=True):
    fact: str
    op: Literal["==", "!=", "<", "<=", ">", ">="]
    value: bool | Decimal | str


class Step(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One outcome of a procedure, taken when all its conditions hold."""

    rule: Annotated[str, msgspec.Meta(pattern=_RULE.pattern)]
    """The policy rule this step carries out ("7"), cited in the case summary."""
    reply: dict[str, str]
    """What the shopper reads, per storefront language (fields: ``REPLY_FIELDS``)."""
    when: list[str] = []
    """Conditions that must all hold; a step without any is the procedure's last word."""
    when_any: list[str] = []
    """Conditions of which at least one must hold as well ("lost, or stalled for a week")."""
    writes: list[WriteKind] = []
    """The shop writes this outcome makes, in order."""
    refund: RefundOf | None = None
    """How much a ``refund`` write returns: the order total, the item's price, or the duplicate payment."""
    items: Literal["claimed", "all"] = "claimed"
    """What a replacement or a return label is for: the item the shopper means, or every item."""
    person: bool = False
    """A person takes the case over (carrier investigation, a chargeback); nothing is written."""
    reason: str = ""
    """Why, in a sentence, for the case summary a person reads."""


class Procedure(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: str
    step: list[Step]
    """Tried in order; the first whose conditions hold decides."""
    intents: list[str] = []
    """Edge intents that mean this dispute when no cue decides."""
    cues: dict[str, list[str]] = {}
    """Phrases per language that pick this procedure; ``*`` stands for up to four words between."""
    priority: int = 50
    """Lower is tried first: a chargeback threat outranks the damaged parcel it is about."""
    needs_order: bool = True
    policy: str = ""
    """Where the rules come from, for people reading the file."""


class Limits(msgspec.Struct, forbid_unknown_fields=True):
    max_auto_refund: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,9}\.[0-9]{2}$")]
    """A single refund above this is proposed to a person, never paid by the engine."""
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")] = "EUR"


class Common(msgspec.Struct, forbid_unknown_fields=True):
    limits: Limits
    money_back: dict[str, list[str]]
    """Cues, per language, of a shopper who wants money rather than a replacement (``asks_money_back``)."""
    messages: dict[str, dict[str, str]]
    """The engine's replies per message (``COMMON_MESSAGES``) and language."""


class Procedures(msgspec.Struct, frozen=True):
    common: Common
    procedures: list[Procedure]
    """Sorted by priority."""

    def get(self, name: str) -> Procedure:
        for p in self.procedures:
            if p.name == name:
                return p
        raise KeyError(name)


def _literal(text: str) -> bool | Decimal | str | None:
    if text in ("true", "false"):
        return text == "true"
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


@functools.cache
def parse_condition(text: str) -> Condition:
    """A condition as the engine evaluates it; ``ValueError`` says what is wrong and how to fix it.
    Memoized: a catalog's conditions are a fixed set, parsed once, not on every dispute."""
    bare = _BARE.match(text)
    value: bool | Decimal | str
    if bare:
        fact, op, value = bare.group(2), "==", bare.group(1) is None
    else:
        compare = _COMPARE.match(text)
        if not compare:
            raise ValueError(f"{text!r} is not a condition (fix: write 'fact', 'not fact' or 'fact <op> value' "
                             "with == != < <= > >=)")
        fact, op = compare.group(1), compare.group(2)
        parsed = _literal(compare.group(3))
        if parsed is None:
            raise ValueError(f"{text!r}: {compare.group(3)!r} is not a value (fix: a number, 'quoted text', true "
                             "or false)")
        value = parsed
    if fact not in FACTS:
        raise ValueError(f"{text!r}: unknown fact {fact!r} (fix: use one of {', '.join(sorted(FACTS))})")
    kind, _, texts = FACTS[fact]
    if kind == "bool" and (not isinstance(value, bool) or op not in ("==", "!=")):
        raise ValueError(f"{text!r}: {fact} is true or false (fix: write '{fact}' or 'not {fact}')")
    if kind in ("number", "money") and (isinstance(value, bool) or not isinstance(value, Decimal)):
        raise ValueError(f"{text!r}: {fact} is a number (fix: compare it with a number, e.g. '{fact} >= 50')")
    if kind == "text":
        if not isinstance(value, str) or op not in ("==", "!="):
            raise ValueError(f"{text!r}: {fact} is text (fix: compare it with == or != and a quoted value)")
        if value not in texts:
            raise ValueError(f"{text!r}: {fact} is never {value!r} (fix: use one of "
                             f"{', '.join(repr(t) for t in texts)})")
    return Condition(fact, op, value)  # type: ignore[arg-type]


def cue_pattern(cues: Sequence[str]) -> re.Pattern[str]:
    """One pattern for a list of cues, matched at word starts, case-insensitive (inflections still count).
    Compiled once per list of cues (a procedure's, the money-back ones), not once per message."""
    return _cue_pattern(tuple(cues))


@functools.cache
def _cue_pattern(cues: tuple[str, ...]) -> re.Pattern[str]:
    def one(cue: str) -> str:
        words = [re.escape(w) for w in cue.split()]
        return r"\W+".join(words).replace(r"\W+\*\W+", r"(?:\W+\w+){0,4}?\W+")

    ordered = sorted(cues, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(one(c) for c in ordered) + ")", re.IGNORECASE)


def template_error(template: str, allowed: tuple[str, ...]) -> str:
    """What is wrong with a reply template's fields, with the fix; "" when nothing is (catalog actions
    and procedures share it, so a template never fails in front of a shopper)."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"{exc} (fix: write braces as {{{{ and }}}}, fields as {{name}})"
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        used = f"{name}:{spec}" if spec else name
        if used not in allowed or conversion:
            return (f"{{{used}}} is not a field of this reply (fix: use one of "
                    f"{', '.join('{' + a + '}' for a in allowed) or 'no fields'})")
    return ""


def _check_template(where: str, template: str, allowed: tuple[str, ...]) -> None:
    error = template_error(template, allowed)
    if error:
        raise ProcedureError(f"{where}: {error}")


def _check_languages(where: str, table: dict[str, object], languages: list[str]) -> None:
    for lang in languages:
        if lang not in table:
            raise ProcedureError(f"{where}.{lang} is missing (fix: write it in every storefront language: "
                                 f"{', '.join(languages)})")
    for lang in table:
        if lang not in languages:
            raise ProcedureError(f"{where}.{lang}: {lang!r} is not a storefront language (fix: add it to "
                                 "storefront.languages or remove the entry)")


def _check_step(where: str, step: Step, languages: list[str]) -> None:
    for key, conditions in (("when", step.when), ("when_any", step.when_any)):
        for n, text in enumerate(conditions):
            try:
                parse_condition(text)
            except ValueError as exc:
                raise ProcedureError(f"{where}.{key}[{n}]: {exc}") from exc
    if ("refund" in step.writes) != (step.refund is not None):
        raise ProcedureError(f"{where}: a refund write needs refund = 'order.total' | 'item.price' | "
                             "'duplicate_payment', and refund = ... needs writes = ['refund'] (fix: set both or "
                             "neither)")
    if len(set(step.writes)) != len(step.writes):
        raise ProcedureError(f"{where}.writes names a write twice (fix: name each once)")
    if step.person and step.writes:
        raise ProcedureError(f"{where}: a step that hands the case to a person writes nothing (POLICY: no money "
                             "moves on a hand-off; fix: remove writes or person)")
    _check_languages(f"{where}.reply", dict(step.reply), languages)
    for lang, template in step.reply.items():
        _check_template(f"{where}.reply.{lang}", template, REPLY_FIELDS)


def _check_procedure(path: Path, p: Procedure, languages: list[str], intents: set[str]) -> None:
    where = f"{path}: procedure {p.name!r}"
    if not _NAME.match(p.name):
        raise ProcedureError(f"{where}: name must be lower-case letters, digits and _ (fix: rename it)")
    if not p.step:
        raise ProcedureError(f"{where}: no [[procedure.step]] (fix: add at least one step)")
    if p.step[-1].when or p.step[-1].when_any:
        raise ProcedureError(f"{where}: the last step has conditions, so a case could match no step (fix: end "
                             "with a step without when, e.g. one that hands the case to a person)")
    unknown = [i for i in p.intents if i not in intents]
    if unknown:
        raise ProcedureError(f"{where}: intents names {unknown[0]!r}, which the catalog does not define (fix: use "
                             "an intent name from intents/*.toml)")
    if not p.cues and not p.intents:
        raise ProcedureError(f"{where}: nothing picks it (fix: add cues.<lang> = [...] or intents = [...])")
    for lang, cues in p.cues.items():
        if lang not in languages:
            raise ProcedureError(f"{where}: cues.{lang}: {lang!r} is not a storefront language (fix: add it to "
                                 "storefront.languages or remove the entry)")
        if any(not c.strip() or c.strip().startswith("*") or c.strip().endswith("*") for c in cues):
            raise ProcedureError(f"{where}: cues.{lang} has an empty cue or one that starts or ends with * "
                                 "(fix: * only stands between words)")
    for n, step in enumerate(p.step):
        _check_step(f"{where}: step[{n}]", step, languages)


class _ProcedureFile(msgspec.Struct, forbid_unknown_fields=True):
    procedure: Procedure


def load_procedures(folder: Path, languages: list[str], intents: set[str]) -> Procedures | None:
    """The procedures of a catalog folder, checked; None where the catalog has none."""
    folder = Path(folder) / "procedures"
    files = sorted(p for p in folder.glob("*.toml") if not p.name.startswith("_"))
    if not files:
        return None
    common_path = folder / "_common.toml"
    if not common_path.is_file():
        raise ProcedureError(f"{common_path}: missing (fix: procedures share [limits] max_auto_refund, "
                             "[money_back] cues and [messages]; see intents/storefront/procedures/_common.toml)")
    common = decode_toml(common_path, Common, "[limits] max_auto_refund = '150.00'; [money_back] <lang> = [...]; "
                         "[messages] <message>.<lang> = '...'", ProcedureError)
    for key, fields in COMMON_MESSAGES.items():
        table = common.messages.get(key)
        if table is None:
            raise ProcedureError(f"{common_path}: messages.{key} is missing (fix: write it in every language)")
        _check_languages(f"{common_path}: messages.{key}", dict(table), languages)
        for lang, template in table.items():
            _check_template(f"{common_path}: messages.{key}.{lang}", template, fields)
    for key in common.messages:
        if key not in COMMON_MESSAGES:
            raise ProcedureError(f"{common_path}: messages.{key} is not an engine message (fix: use one of "
                                 f"{', '.join(sorted(COMMON_MESSAGES))})")
    _check_languages(f"{common_path}: money_back", dict(common.money_back), languages)
    procedures: list[Procedure] = []
    hint = ("[procedure] name, intents or cues.<lang>; [[procedure.step]] rule, when = [...], writes, refund, "
            "person, reply.<lang>")
    for path in files:
        found = decode_toml(path, _ProcedureFile, hint, ProcedureError)
        _check_procedure(path, found.procedure, languages, intents)
        if any(p.name == found.procedure.name for p in procedures):
            raise ProcedureError(f"{path}: procedure {found.procedure.name!r} is defined twice (fix: rename one)")
        procedures.append(found.procedure)
    procedures.sort(key=lambda p: (p.priority, p.name))
    return Procedures(common=common, procedures=procedures)
