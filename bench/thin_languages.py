"""Catalog languages with a few examples: the regression alone against the vote checked by it.

Catalog: the even rows of ``xsid_en_dev.jsonl`` (English) plus ``--k`` random even rows of one target
language; optionally ``--left-out`` intents removed from the catalog entirely. Evaluated on the
target language's odd rows (their parallel English rows are not in the catalog), through the real
build, head, calibration and router-facing analysis. Peers in one run, on the same bundle:
``thin_language_share = 0`` (every language with an example is scored by the regression fitted on
the examples: the rule before the sixth session) and the shipped default (a language under 0.75x
English's example count is scored by the class-mean vote, whose pick must also top the regression).

"right": a known-intent message gets its intent; "wrong": it gets another intent; "unknown
escalated": a message of a left-out intent is rejected (clarify or escalate) instead of answered.

Usage: python bench/thin_languages.py [--langs nl de tr it zh] [--k 10] [--draws 3] [--left-out 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.quality import DATA  # noqa: E402
from edge_node.evaluate import EvalRow, read_rows  # noqa: E402
from edge_node.knowledge import Knowledge, load_knowledge  # noqa: E402
from edge_node.understanding import Understanding  # noqa: E402
from triage.bundle.build import build_bundle  # noqa: E402
from triage.catalog import write_catalog  # noqa: E402
from triage.catalog.importers import import_catalog  # noqa: E402
from triage.cpu import cpu_info, describe  # noqa: E402
from triage.progress import progress_bar  # noqa: E402

PEERS = {"regression alone (share 0)": 0.0, "vote + check (shipped, 0.75)": None}


def _rows(lang: str) -> list[EvalRow]:
    return read_rows(DATA / "eval" / f"xsid_{lang}_dev.jsonl")


def _with_share(knowledge: Knowledge, share: float | None) -> Knowledge:
    if share is None:
        return knowledge
    storefront = msgspec.structs.replace(knowledge.catalog.storefront, thin_language_share=share)
    return dataclasses.replace(knowledge, catalog=msgspec.structs.replace(knowledge.catalog, storefront=storefront))


def _draw(lang: str, k: int, left_out: int, seed: int, work: Path) -> dict[str, dict[str, float]]:
    english, target = _rows("en"), _rows(lang)
    rng = random.Random(seed)
    counts = Counter(r.label for r in english[0::2])
    frequent = sorted(label for label, count in counts.items() if count >= 3)
    missing = set(rng.sample(frequent, left_out)) if left_out else set()
    train = [r for r in english[0::2] + rng.sample(target[0::2], k) if r.label not in missing]
    rows = work / "train.jsonl"  # the catalog comes through the importer, as a shop's would
    rows.write_bytes(b"\n".join(msgspec.json.encode(r) for r in train) + b"\n")
    write_catalog(import_catalog("jsonl", rows, "xsid"), work / "catalog")
    knowledge = load_knowledge(build_bundle(work / "catalog", work / "bundle"))
    known = [r for r in target[1::2] if r.label not in missing]
    unknown = [r for r in target[1::2] if r.label in missing]
    out = {}
    for peer, share in PEERS.items():
        understanding = Understanding(_with_share(knowledge, share))
        pairs = [(understanding.analyze(r.text).intent, r.label) for r in known]
        scores = {"right": statistics.fmean(pick == label for pick, label in pairs),
                  "wrong": statistics.fmean(pick is not None and pick != label for pick, label in pairs)}
        if unknown:
            rejected = [understanding.analyze(r.text).intent is None for r in unknown]
            scores["unknown escalated"] = statistics.fmean(rejected)
        out[peer] = scores
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--langs", nargs="+", default=["nl", "de", "tr", "it", "zh"])
    parser.add_argument("--k", type=int, default=10, help="target-language examples in the catalog")
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--left-out", type=int, default=0, help="intents removed from the catalog")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    results: dict[str, list[dict[str, dict[str, float]]]] = {}
    with progress_bar() as progress:
        task = progress.add_task("catalogs built and scored", total=len(args.langs) * args.draws)
        for lang in args.langs:
            for seed in range(args.draws):
                with tempfile.TemporaryDirectory() as tmp:
                    results.setdefault(lang, []).append(_draw(lang, args.k, args.left_out, seed, Path(tmp)))
                progress.advance(task)
    metrics = ["right", "wrong"] + (["unknown escalated"] if args.left_out else [])
    table = Table(title=f"xSID: English catalog + {args.k} target examples, {args.left_out} intents left out, "
                        f"{args.draws} draws (min-max)")
    table.add_column("language")
    for peer in PEERS:
        for metric in metrics:
            table.add_column(f"{peer}: {metric}", justify="right")
    for lang, draws in results.items():
        cells = []
        for peer in PEERS:
            for metric in metrics:
                values = [d[peer][metric] for d in draws]
                cells.append(f"{min(values):.3f}-{max(values):.3f}")
        table.add_row(lang, *cells)
    Console().print(table)
    print(describe())
    if args.out:
        Path(args.out).write_text(json.dumps({"cpu": msgspec.to_builtins(cpu_info()), "k": args.k,
                                              "left_out": args.left_out, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
