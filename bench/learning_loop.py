"""Two-pass replay with a distill step in between: does the edge get cheaper as it learns?

Start: the demo shop's catalog with only half of its edge intents (each kept intent extended by 60
Bitext train examples), the router at cost_quality 0.5. Traffic: the held-out half of Bitext dev
(odd rows) plus held-out Bitext qa_pairs phrasings (not in train or dev), played through a real edge
and cloud core. Between the passes a simulated agent lists the open escalations over gRPC and
resolves each with the intent it really was (the row's label) and the shop's written answer for it;
`distill` turns the resolutions into catalog changes and a new bundle, which the edge hot-reloads
(the same steps as `triage replay --then-distill --agent-from-labels`). The same traffic is then played
again, and the untouched other half of Bitext dev is played before and after as a generalisation check.

Usage: python bench/learning_loop.py [--out docs/learning_loop]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402

from commands.clients.replay import read_traffic, replay  # noqa: E402
from tests.conftest import CLOUD_ADMIN_TOKEN, CLOUD_TOKEN, CloudProcess, EdgeProcess  # noqa: E402
from triage.bundle.build import build_bundle  # noqa: E402
from triage.catalog import load_catalog  # noqa: E402
from triage.config import CostConfig  # noqa: E402
from triage.cpu import cpu_info, describe  # noqa: E402
from triage.learning.distill import apply_to_folder  # noqa: E402
from triage.learning.loop import distill_and_reload, resolve_from_labels  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "bitext"


def _start_catalog(folder: Path) -> set[str]:
    import shutil

    full = load_catalog(ROOT / "intents" / "storefront")
    train: dict[str, list[str]] = {}
    with (DATA / "train.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            train.setdefault(row["intent"], []).append(row["utterance"].strip())
    names = sorted(i.name for i in full.intents if i.tier == "edge")
    missing = set(names[1::2])
    kept = [msgspec.structs.replace(i, examples={**i.examples,
                                                 "en": i.examples.get("en", []) + train.get(i.name, [])[:60]})
            for i in full.intents if i.name not in missing]
    shutil.copytree(ROOT / "intents" / "storefront", folder)
    for path in (folder / "intents").glob("*.toml"):
        path.unlink()
    apply_to_folder(msgspec.structs.replace(full, intents=kept), folder)
    return missing


def _traffic(path: Path, rows: list[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps({"text": r["text"], "label": r["label"]}) + "\n" for r in rows))


def _rows() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    with (DATA / "dev.csv").open(encoding="utf-8") as fh:
        dev = [{"text": r["utterance"].strip(), "label": r["intent"]} for r in csv.DictReader(fh)]
    with (DATA / "train.csv").open(encoding="utf-8") as fh:
        seen = {r["utterance"].strip() for r in csv.DictReader(fh)} | {r["text"] for r in dev}
    with (DATA / "qa_pairs.csv").open(encoding="utf-8") as fh:
        qa = [{"text": r["instruction"].strip(), "label": r["intent"]} for r in csv.DictReader(fh)
              if r["instruction"].strip() not in seen]
    return dev[1::2] + qa[1::2][:200], dev[0::2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    from cloud_core.llm.build import build_model

    work = Path(tempfile.mkdtemp(prefix="learning-loop-"))
    missing = _start_catalog(work / "catalog")
    traffic_rows, unseen_rows = _rows()
    _traffic(work / "traffic.jsonl", traffic_rows)
    _traffic(work / "unseen.jsonl", unseen_rows)
    labels = {r["text"]: r["label"] for r in traffic_rows}
    cloud = CloudProcess(build_model(), work / "memory.db", max_tokens=8).start()
    edge = EdgeProcess(build_bundle(work / "catalog", work / "bundle-1"),
                       {"TRIAGE_EDGE__CLOUD_TOKEN": CLOUD_TOKEN, "TRIAGE_EDGE__ADMIN_TOKEN": "bench-admin",
                        "TRIAGE_EDGE__RATE_PER_S": "100", "TRIAGE_EDGE__RATE_BURST": "100",
                        "TRIAGE_EDGE__ADDRESS_RATE_PER_S": "100000", "TRIAGE_EDGE__ADDRESS_RATE_BURST": "100000",
                        "TRIAGE_EDGE__CACHE_ENABLED": "false", "TRIAGE_EDGE__COST_QUALITY": "0.5"},
                       store=work / "edge.db", cloud=cloud.address)
    cost = CostConfig()
    passes = {}
    try:
        def play(name: str, file: Path) -> None:
            report, unanswered = asyncio.run(replay(edge.ws_url, read_traffic(file, 1), cost, concurrency=8,
                                                    timeout=300))
            passes[name] = {**msgspec.to_builtins(report), "unanswered": unanswered}
            Console(stderr=True).print(f"{name}: edge share {report.edge_share:.3f}, accuracy {report.accuracy}")

        play("unseen, before", work / "unseen.jsonl")
        play("pass 1", work / "traffic.jsonl")
        resolve_from_labels(cloud.address, CLOUD_ADMIN_TOKEN, "demo", labels,
                            load_catalog(ROOT / "intents" / "storefront"))
        changes = distill_and_reload(cloud.address, CLOUD_ADMIN_TOKEN, work / "catalog", work / "bundle-2", edge.url,
                                     "bench-admin")
        play("pass 2", work / "traffic.jsonl")
        play("unseen, after", work / "unseen.jsonl")
    finally:
        edge.stop()
        cloud.stop()
    kinds = {k: sum(c.kind == k for c in changes) for k in ("example", "answer", "intent", "skipped")}
    table = Table(title=f"learning loop: {len(traffic_rows)} messages, catalog started without {len(missing)} "
                        f"of {len(missing) * 2 + 1} edge intents; distill: {kinds}")
    for col in ("pass", "messages", "edge share", "accuracy", "cost / 1k conv.", "all-cloud / 1k conv."):
        table.add_column(col, justify="right" if col != "pass" else "left")
    for name, r in passes.items():
        table.add_row(name, str(r["messages"]), f"{r['edge_share']:.3f}", f"{r['accuracy']:.3f}",
                      f"${r['cost_per_1k_conversations']:.4f}", f"${r['all_cloud_cost_per_1k_conversations']:.4f}")
    Console(width=140).print(table)
    print(describe())
    if args.out:
        out = Path(args.out)
        out.with_suffix(".json").write_text(json.dumps({"cpu": msgspec.to_builtins(cpu_info()), "passes": passes,
                                                        "distill": kinds, "missing_intents": sorted(missing)},
                                                       indent=2) + "\n")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = list(passes)
        fig, ax = plt.subplots(figsize=(7, 4))
        x = range(len(names))
        ax.bar([i - 0.2 for i in x], [passes[n]["edge_share"] for n in names], width=0.4, label="edge share")
        ax.bar([i + 0.2 for i in x], [passes[n]["accuracy"] for n in names], width=0.4, label="accuracy")
        ax.set_xticks(list(x), names)
        ax.set_ylim(0, 1)
        ax.set_title("Learning loop: before and after one distill step")
        ax.legend(loc="lower right")
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        fig.savefig(out.with_suffix(".png"), dpi=120)


if __name__ == "__main__":
    main()
