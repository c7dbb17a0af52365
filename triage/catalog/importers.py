"""Turn labelled utterances from public datasets into a catalog (``triage import``)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Literal

from triage.catalog.model import Catalog, Intent, Storefront

__all__ = ["ImportFormat", "import_catalog"]

ImportFormat = Literal["bitext-csv", "clinc-json", "jsonl"]
_OOS = "oos"


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
            obj = json.loads(line)
            if "text" not in obj or "label" not in obj:
                raise ValueError(f"{path}:{n}: each row needs 'text' and 'label'")
            rows.append((obj["text"], obj["label"], obj.get("lang", "en")))
    return rows


_READERS = {"bitext-csv": _rows_bitext, "clinc-json": _rows_clinc, "jsonl": _rows_jsonl}


def import_catalog(fmt: ImportFormat, path: Path, storefront_id: str) -> Catalog:
    """Intents from labelled rows; rows labelled ``oos`` become out-of-scope negatives.

    Imported intents carry no answers: they serve evaluation and as a starting point
    for a shop's own catalog, whose answers a person writes.
    """
    examples: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    negatives: dict[str, list[str]] = defaultdict(list)
    for text, label, lang in _READERS[fmt](Path(path)):
        text = text.strip()
        if not text:
            continue
        bucket = negatives[lang] if label == _OOS else examples[label][lang]
        if text not in bucket:
            bucket.append(text)
    languages = sorted({lang for per in examples.values() for lang in per} | set(negatives))
    default = "en" if "en" in languages else languages[0]
    intents = [
        Intent(name=name, examples={lang: list(texts) for lang, texts in per.items()})
        for name, per in sorted(examples.items())
    ]
    storefront = Storefront(
        id=storefront_id,
        name=storefront_id,
        default_language=default,
        languages=languages,
        out_of_scope=dict(negatives),
    )
    return Catalog(storefront=storefront, intents=intents, faqs=[])
