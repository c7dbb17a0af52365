"""Language id backends side by side on the demo catalog's own texts (8 languages).

Usage: python bench/langid.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from edge_node.langid import LanguageIdentifier  # noqa: E402
from triage.catalog import load_catalog  # noqa: E402
from triage.cpu import describe  # noqa: E402


def main() -> None:
    catalog = load_catalog(ROOT / "intents" / "storefront")
    rows = [(t, lang) for i in catalog.intents for lang, ts in i.examples.items() for t in ts]
    rows += [(t, lang) for f in catalog.faqs for lang, ts in f.questions.items() for t in ts]
    rows += [(a, lang) for f in catalog.faqs for lang, a in f.answers.items()]
    short = [(t, lang) for t, lang in rows if len(t.split()) <= 6]
    table = Table(title=f"Language id, {len(rows)} catalog texts ({len(short)} of <= 6 words)")
    for col in ("backend", "accuracy", "accuracy <= 6 words", "ms / message"):
        table.add_column(col, justify="right")
    for backend in ("py3langid", "langdetect"):
        ident = LanguageIdentifier(catalog.storefront.languages, "en", backend=backend)  # type: ignore[arg-type]
        start = time.perf_counter()
        hits = sum(ident.identify(t) == lang for t, lang in rows)
        per_ms = (time.perf_counter() - start) / len(rows) * 1000
        short_hits = sum(ident.identify(t) == lang for t, lang in short)
        table.add_row(backend, f"{hits / len(rows):.3f}", f"{short_hits / len(short):.3f}", f"{per_ms:.3f}")
    Console().print(table)
    print(describe())


if __name__ == "__main__":
    main()
