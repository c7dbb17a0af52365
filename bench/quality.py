"""Quality protocols of ../shared/data/README.md, run end to end through import, build and eval.

1. Storefront intents + out of scope: catalog imported from Bitext train, evaluated on
   ``eval/storefront_mix_dev.jsonl`` (Bitext dev + CLINC out-of-scope val).
2. Cross-lingual transfer: catalog from the even rows of ``xsid_en_dev.jsonl`` (English only),
   evaluated on the odd (held-out) rows of every other language's parallel file.

Both intent heads side by side (``--heads linear adapted``), as in bench/fine_intents.py.

Usage: python bench/quality.py [--heads linear adapted] [--out docs/quality.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402

from edge_node.evaluate import EvalReport, evaluate, read_rows  # noqa: E402
from edge_node.knowledge import load_knowledge  # noqa: E402
from edge_node.router import Router  # noqa: E402
from edge_node.understanding import Understanding  # noqa: E402
from triage.bundle.build import build_bundle  # noqa: E402
from triage.catalog import write_catalog  # noqa: E402
from triage.catalog.importers import import_catalog  # noqa: E402
from triage.cpu import cpu_info, describe  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
XSID_TARGETS = ("de", "it", "nl", "tr", "zh", "ar", "da", "id", "ja", "kk", "lt", "sr")
XSID_BAR = ("de", "it", "nl", "tr", "zh", "ja", "ar")
"""The languages #23's bar averages over (the rest have too few rows or too little of the encoder's training)."""
HEADS = {"linear": False, "adapted": True}
"""The head over the encoder's own embedding (before #23), and over its last layers adapted to the catalog."""


def _evaluate(bundle: Path, rows_path: Path) -> EvalReport:
    knowledge = load_knowledge(bundle)
    return evaluate(Understanding(knowledge), Router(knowledge.catalog, knowledge.calibration), read_rows(rows_path))


def storefront_mix(work: Path, adapt: bool = True) -> EvalReport:
    catalog = import_catalog("bitext-csv", DATA / "bitext" / "train.csv", "bitext")
    write_catalog(catalog, work / "bitext")
    bundle = build_bundle(work / "bitext", work / f"bitext-bundle-{adapt}", adapt=adapt)
    return _evaluate(bundle, DATA / "eval" / "storefront_mix_dev.jsonl")


def _rows(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def xsid_cross_lingual(work: Path, targets: tuple[str, ...] = XSID_TARGETS, adapt: bool = True) -> dict[str, float]:
    train = work / "xsid_en_train.jsonl"
    train.write_text("\n".join(_rows(DATA / "eval" / "xsid_en_dev.jsonl")[0::2]) + "\n", encoding="utf-8")
    write_catalog(import_catalog("jsonl", train, "xsid"), work / "xsid")
    bundle = build_bundle(work / "xsid", work / f"xsid-bundle-{adapt}", adapt=adapt)
    knowledge = load_knowledge(bundle)
    understanding, router = Understanding(knowledge), Router(knowledge.catalog, knowledge.calibration)
    out = {}
    for lang in ("en", *targets):
        held_out = work / f"xsid_{lang}_heldout.jsonl"
        held_out.write_text("\n".join(_rows(DATA / "eval" / f"xsid_{lang}_dev.jsonl")[1::2]) + "\n", encoding="utf-8")
        report = evaluate(understanding, router, read_rows(held_out))
        out[lang] = report.per_language.get(lang, report.in_scope_accuracy)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--heads", nargs="+", choices=list(HEADS), default=list(HEADS),
                        help="intent heads side by side: over the embedding (linear) and over adapted layers")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    mixes: dict[str, EvalReport] = {}
    xsids: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for head in args.heads:
            mixes[head] = storefront_mix(Path(tmp), adapt=HEADS[head])
            xsids[head] = xsid_cross_lingual(Path(tmp), adapt=HEADS[head])
    table = Table(title="Storefront mix (Bitext train -> Bitext dev + CLINC oos val)")
    for col in ("head", "in-scope acc", "oos recall", "oos precision", "p50 ms", "p99 ms"):
        table.add_column(col, justify="right")
    for head, mix in mixes.items():
        table.add_row(head, f"{mix.in_scope_accuracy:.4f}", f"{mix.oos_recall:.4f}", f"{mix.oos_precision:.4f}",
                      f"{mix.latency_ms['p50']:.2f}", f"{mix.latency_ms['p99']:.2f}")
    Console().print(table)
    table = Table(title="xSID cross-lingual (English-only catalog, held-out odd rows): intent accuracy")
    table.add_column("language")
    for head in xsids:
        table.add_column(head, justify="right")
    for lang in next(iter(xsids.values())):
        table.add_row(lang, *(f"{x[lang]:.4f}" for x in xsids.values()))
    table.add_row(f"mean of {' '.join(XSID_BAR)}", *(f"{sum(x[lang] for lang in XSID_BAR) / len(XSID_BAR):.4f}"
                                                     for x in xsids.values()))
    Console().print(table)
    print(describe())
    if args.out:
        result = {"cpu": msgspec.to_builtins(cpu_info()),
                  **{head: {"storefront_mix": msgspec.to_builtins(mixes[head]), "xsid": xsids[head]}
                     for head in args.heads}}
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
