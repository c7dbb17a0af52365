"""Read and write a catalog folder; every error names the file, the field and the fix.

Layout of a catalog folder::

    storefront.toml      [storefront] id, name, default_language, languages, out_of_scope, fallback
    intents/*.toml       [[intent]] name, tier, examples.<lang>, answers.<lang>, action
    faq/*.toml           [[faq]] id, topic, questions.<lang>, answers.<lang>
    actions.toml         [prompts] <prompt>.<lang>; [[action]] name, kind, replies.<outcome>.<lang>
    procedures/*.toml    [procedure] name, cues.<lang>, intents; [[procedure.step]] (``triage.catalog.procedures``)

The cloud core runs the procedures; the edge's bundle does not carry them, but a catalog whose
procedures are wrong does not build, so a shop learns of the mistake before anything is deployed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import msgspec

from triage.catalog.model import ACTION_REPLIES, PROMPTS, Action, Catalog, FaqEntry, Intent, Storefront
from triage.catalog.procedures import ProcedureError, Procedures, load_procedures, template_error
from triage.catalog.toml_file import decode_toml

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["CatalogError", "load_catalog", "load_catalog_procedures", "write_catalog"]

_T = TypeVar("_T")

_NAME = re.compile(r"^[A-Za-z0-9_./-]{1,64}$")
_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")


class CatalogError(ValueError):
    """A catalog file is malformed; the message says where and how to fix it."""


class _StorefrontFile(msgspec.Struct, forbid_unknown_fields=True):
    storefront: Storefront


class _IntentFile(msgspec.Struct, forbid_unknown_fields=True):
    intent: list[Intent] = []


class _FaqFile(msgspec.Struct, forbid_unknown_fields=True):
    faq: list[FaqEntry] = []


class _ActionsFile(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    prompts: dict[str, dict[str, str]] = {}
    action: list[Action] = []


def _decode(path: Path, kind: type[_T], hint: str) -> _T:
    return decode_toml(path, kind, hint, CatalogError)


def load_catalog(folder: Path) -> Catalog:
    folder = Path(folder)
    head = folder / "storefront.toml"
    if not head.is_file():
        raise CatalogError(f"{head}: missing (fix: every catalog folder starts with a storefront.toml)")
    storefront = _decode(head, _StorefrontFile, "see intents/storefront/storefront.toml").storefront
    intents: list[Intent] = []
    for path in sorted((folder / "intents").glob("*.toml")):
        hint = "each [[intent]] needs name and examples.<lang> = [...]; tier is 'edge' or 'cloud'"
        intents.extend(_decode(path, _IntentFile, hint).intent)
    faqs: list[FaqEntry] = []
    for path in sorted((folder / "faq").glob("*.toml")):
        hint = "each [[faq]] needs id, questions.<lang> = [...] and answers.<lang> = '...'"
        faqs.extend(_decode(path, _FaqFile, hint).faq)
    actions = _ActionsFile()
    if (folder / "actions.toml").is_file():
        hint = "[prompts] <prompt>.<lang> = '...'; each [[action]] needs name, kind and replies.<outcome>.<lang>"
        actions = _decode(folder / "actions.toml", _ActionsFile, hint)
    catalog = Catalog(storefront=storefront, intents=intents, faqs=faqs, actions=actions.action,
                      prompts=actions.prompts)
    _validate(folder, catalog)
    _validate_actions(folder / "actions.toml", catalog)
    _procedures(folder, catalog)
    return catalog


def _procedures(folder: Path, catalog: Catalog) -> Procedures | None:
    try:
        return load_procedures(folder, catalog.storefront.languages, {i.name for i in catalog.intents})
    except ProcedureError as exc:
        raise CatalogError(str(exc)) from exc


def load_catalog_procedures(folder: Path) -> tuple[Catalog, Procedures | None]:
    """A catalog and its dispute procedures, for the cloud core that runs them."""
    catalog = load_catalog(folder)
    return catalog, _procedures(Path(folder), catalog)


def _validate(folder: Path, catalog: Catalog) -> None:
    sf = catalog.storefront
    where = folder / "storefront.toml"
    for lang in sf.languages:
        if not _LANG.match(lang):
            raise CatalogError(f"{where}: storefront.languages has {lang!r} (fix: use ISO 639-1 codes like 'de')")
    if sf.default_language not in sf.languages:
        raise CatalogError(
            f"{where}: storefront.default_language {sf.default_language!r} is not in storefront.languages "
            "(fix: add it to languages)"
        )
    if not catalog.intents and not catalog.faqs:
        raise CatalogError(f"{folder}: no intents/*.toml or faq/*.toml entries (fix: add at least one)")
    seen: set[str] = set()
    for intent in catalog.intents:
        field = f"{folder}/intents: intent {intent.name!r}"
        if not _NAME.match(intent.name):
            raise CatalogError(f"{field}: name must be 1-64 characters of letters, digits, _ . / -")
        if intent.name in seen or intent.name == "oos":
            raise CatalogError(f"{field}: name is duplicated or reserved (fix: rename it)")
        seen.add(intent.name)
        if not any(intent.examples.values()):
            raise CatalogError(f"{field}: examples is empty (fix: add examples.en = ['...'])")
        _check_langs(field, "examples", intent.examples, sf.languages)
        _check_langs(field, "answers", intent.answers, sf.languages)
    faq_ids: set[str] = set()
    for entry in catalog.faqs:
        field = f"{folder}/faq: faq {entry.id!r}"
        if entry.id in faq_ids:
            raise CatalogError(f"{field}: id is duplicated (fix: rename it)")
        faq_ids.add(entry.id)
        if not any(entry.questions.values()):
            raise CatalogError(f"{field}: questions is empty (fix: add questions.en = ['...'])")
        if not entry.answers:
            raise CatalogError(f"{field}: answers is empty (fix: add answers.en = '...')")
        _check_langs(field, "questions", entry.questions, sf.languages)
        _check_langs(field, "answers", entry.answers, sf.languages)


def _validate_actions(where: Path, catalog: Catalog) -> None:
    """Every action an intent names exists; every reply exists in every language and uses only the
    typed fields its outcome has, so a template never fails in front of a shopper."""
    defined = {a.name for a in catalog.actions}
    for intent in catalog.intents:
        if intent.action is not None and intent.action not in defined:
            raise CatalogError(f"{where.parent}/intents: intent {intent.name!r}: action {intent.action!r} is not "
                               f"defined (fix: add an [[action]] named {intent.action!r} to {where.name}, or remove "
                               "the intent's action)")
    if not catalog.actions:
        return
    languages = catalog.storefront.languages
    _check_replies(where, "prompts", catalog.prompts, PROMPTS, languages)
    for action in catalog.actions:
        _check_replies(where, f"action {action.name!r}: replies", action.replies, ACTION_REPLIES[action.kind],
                       languages)


def _check_replies(where: Path, field: str, replies: Mapping[str, Mapping[str, str]],
                   spec: Mapping[str, tuple[str, ...]], languages: list[str]) -> None:
    for key in replies:
        if key not in spec:
            raise CatalogError(f"{where}: {field}.{key} is not an outcome here (fix: use one of {sorted(spec)})")
    for key, fields in spec.items():
        for lang in languages:
            template = replies.get(key, {}).get(lang)
            if template is None:
                raise CatalogError(f"{where}: {field}.{key}.{lang} is missing (fix: write the reply in every "
                                   "storefront language)")
            _check_fields(f"{where}: {field}.{key}.{lang}", template, fields)


def _check_fields(field: str, template: str, allowed: tuple[str, ...]) -> None:
    error = template_error(template, allowed)
    if error:
        raise CatalogError(f"{field}: {error}")


def _check_langs(field: str, key: str, table: Mapping[str, object], languages: list[str]) -> None:
    for lang in table:
        if lang not in languages:
            raise CatalogError(
                f"{field}: {key}.{lang} is not a storefront language (fix: add {lang!r} to "
                "storefront.languages or remove the entry)"
            )


def write_catalog(catalog: Catalog, folder: Path) -> None:
    """Write a catalog in the folder layout ``load_catalog`` reads."""
    folder = Path(folder)
    (folder / "intents").mkdir(parents=True, exist_ok=True)
    (folder / "faq").mkdir(parents=True, exist_ok=True)
    (folder / "storefront.toml").write_bytes(msgspec.toml.encode(_StorefrontFile(catalog.storefront)))
    if catalog.intents:
        (folder / "intents" / "intents.toml").write_bytes(msgspec.toml.encode(_IntentFile(catalog.intents)))
    if catalog.faqs:
        (folder / "faq" / "faq.toml").write_bytes(msgspec.toml.encode(_FaqFile(catalog.faqs)))
    if catalog.actions or catalog.prompts:
        (folder / "actions.toml").write_bytes(msgspec.toml.encode(_ActionsFile(catalog.prompts, catalog.actions)))
