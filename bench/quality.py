"""Quality protocols of ../shared/data/README.md, run end to end through import, build and eval.

1. Storefront intents + out of scope: catalog imported from Bitext train, evaluated on
   ``eval/storefront_mix_dev.jsonl`` (Bitext dev + CLINC out-of-scope val).
2. Cross-lingual transfer: catalog from the even rows of ``xsid_en_dev.jsonl`` (English only),
   evaluated on the odd (held-out) rows of every other language's parallel file.

Usage: python bench/quality.py [--out docs/quality.json]
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


def _evaluate(bundle: Path, rows_path: Path) -> EvalReport:
    knowledge = load_knowledge(bundle)
    return evaluate(Understanding(knowledge), Router(knowledge.catalog, knowledge.calibration), read_rows(rows_path))


def storefront_mix(work: Path) -> EvalReport:
    catalog = import_catalog("bitext-csv", DATA / "bitext" / "train.csv", "bitext")
    write_catalog(catalog, work / "bitext")
    bundle = build_bundle(work / "bitext", work / "bitext-bundle")
    return _evaluate(bundle, DATA / "eval" / "storefront_mix_dev.jsonl")


def _rows(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def xsid_cross_lingual(work: Path, targets: tuple[str, ...] = XSID_TARGETS) -> dict[str, float]:
    train = work / "xsid_en_train.jsonl"
    train.write_text("\n".join(_rows(DATA / "eval" / "xsid_en_dev.jsonl")[0::2]) + "\n", encoding="utf-8")
    write_catalog(import_catalog("jsonl", train, "xsid"), work / "xsid")
    bundle = build_bundle(work / "xsid", work / "xsid-bundle")
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
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    with tempfile.TemporaryDirectory() as tmp:
        mix = storefront_mix(Path(tmp))
        xsid = xsid_cross_lingual(Path(tmp))
    table = Table(title="Storefront mix (Bitext train -> Bitext dev + CLINC oos val)")
    for col in ("in-scope acc", "oos recall", "oos precision", "p50 ms", "p99 ms"):
        table.add_column(col, justify="right")
    table.add_row(f"{mix.in_scope_accuracy:.4f}", f"{mix.oos_recall:.4f}", f"{mix.oos_precision:.4f}",
                  f"{mix.latency_ms['p50']:.2f}", f"{mix.latency_ms['p99']:.2f}")
    Console().print(table)
    table = Table(title="xSID cross-lingual (English-only catalog, held-out odd rows)")
    table.add_column("language")
    table.add_column("intent accuracy", justify="right")
    for lang, acc in xsid.items():
        table.add_row(lang, f"{acc:.4f}")
    Console().print(table)
    print(describe())
    if args.out:
        result = {"cpu": msgspec.to_builtins(cpu_info()), "storefront_mix": msgspec.to_builtins(mix), "xsid": xsid}
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
