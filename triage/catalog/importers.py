"""Turn labelled utterances from public datasets into a catalog (``triage import``)."""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Literal

from triage.catalog.model import Catalog, Intent, Storefront

__all__ = ["CatalogImportError", "ImportFormat", "import_catalog"]

ImportFormat = Literal["bitext-csv", "clinc-json", "jsonl"]
_OOS = "oos"
_NOT_IN_A_NAME = re.compile(r"[^A-Za-z0-9_./-]+")
_LANG = re.compile(r"^([a-z]{2,3})(?:[-_]([a-z]{2,4}))?$")


class CatalogImportError(ValueError):
    """Rows that cannot become a catalog at all; the message says which row and what to change."""


def _name_for(label: str, taken: set[str]) -> str:
    """A catalog name for a dataset label: invalid characters become ``_``, at most 64 characters,
    never ``oos``, and distinct from every name given before (a ``_2`` suffix where two collide)."""
    base = _NOT_IN_A_NAME.sub("_", label).strip("_") or "intent"
    base = base[:61]
    name, n = base, 1
    while name in taken or name == _OOS:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def _language(code: str, where: str) -> str:
    """``EN`` -> ``en``, ``pt_BR`` -> ``pt-BR``; a code that is no language code is refused here, not at build."""
    match = _LANG.match(code.strip().lower())
    if match is None:
        raise CatalogImportError(f"{where}: lang {code!r} is not a language code (fix: use ISO 639-1 codes like 'de')")
    primary, region = match.groups()
    return primary if region is None else f"{primary}-{region.upper() if len(region) == 2 else region.title()}"


def _rows_bitext(path: Path) -> list[tuple[str, str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [(row["utterance"], row["intent"], "en") for row in csv.DictReader(fh)]


def _rows_clinc(path: Path) -> list[tuple[str, str, str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = [(text, label, "en") for text, label in data.get("train", [])]
    rows += [(text, _OOS, "en") for text, _ in data.get("oos_train", [])]
    return rows


def _rows_jsonl(path: Path) -> list[tuple[str, str, str]]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CatalogImportError(f"{path}:{n}: not a JSON object ({exc.msg})") from exc
            label = obj.get("label") if isinstance(obj, dict) else None
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or not isinstance(label, (str, int)):
                raise CatalogImportError(f"{path}:{n}: each row needs a 'text' string and a 'label' (a string or "
                                         "a number)")
            rows.append((obj["text"], str(label), _language(str(obj.get("lang") or "en"), f"{path}:{n}")))
    return rows


_READERS = {"bitext-csv": _rows_bitext, "clinc-json": _rows_clinc, "jsonl": _rows_jsonl}


def import_catalog(fmt: ImportFormat, path: Path, storefront_id: str) -> Catalog:
    """Intents from labelled rows; rows labelled ``oos`` become out-of-scope negatives.

    The catalog always builds: a label that is no valid intent name gets one (kept as the intent's
    ``label``, which evaluation compares with), and what cannot become a catalog (no in-scope rows,
    a row without text) is refused here with the row to fix. Imported intents carry no answers:
    they serve evaluation and as a starting point for a shop's own catalog, whose answers a person
    writes.
    """
    examples: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    negatives: dict[str, list[str]] = defaultdict(list)
    for text, label, lang in _READERS[fmt](Path(path)):
        text = text.strip()
        label = label.strip()
        if not text or not label:
            continue
        bucket = negatives[lang] if label == _OOS else examples[label][lang]
        if text not in bucket:
            bucket.append(text)
    if not examples:
        raise CatalogImportError(f"{path}: no rows with a label other than {_OOS!r} (fix: label the in-scope rows)")
    languages = sorted({lang for per in examples.values() for lang in per} | set(negatives))
    default = "en" if "en" in languages else languages[0]
    taken: set[str] = set()
    intents = []
    for label, per in sorted(examples.items()):
        name = _name_for(label, taken)
        intents.append(Intent(name=name, examples={lang: list(texts) for lang, texts in per.items()},
                              label="" if name == label else label))
    storefront = Storefront(
        id=storefront_id,
        name=storefront_id,
        default_language=default,
        languages=languages,
        out_of_scope=dict(negatives),
    )
    return Catalog(storefront=storefront, intents=intents, faqs=[])
