"""The router's trade-off curve: edge share against escalation recall as ``cost_quality`` moves.

Catalog: the demo shop (answers in 8 languages, dispute intents in the cloud tier) with each
intent's English examples extended by Bitext train (a shop importing its labelled history).
Data: ``eval/storefront_mix_dev.jsonl`` (Bitext dev + CLINC out-of-scope); a row should escalate
when its label is a cloud-tier intent of the catalog (complaint, contact_human_agent), the rest
(including out-of-scope) is the edge's. Prints a table, writes JSON and a PNG plot.

Usage: python bench/escalation_curve.py [--out docs/escalation_curve]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402

from edge_node.calibrate import analyse, choose, expected_tiers, sweep  # noqa: E402
from edge_node.evaluate import read_rows  # noqa: E402
from edge_node.knowledge import load_knowledge  # noqa: E402
from edge_node.understanding import Understanding  # noqa: E402
from triage.bundle.build import build_bundle  # noqa: E402
from triage.catalog import load_catalog, write_catalog  # noqa: E402
from triage.cpu import cpu_info, describe  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def demo_with_bitext(work: Path) -> Path:
    catalog = load_catalog(ROOT / "intents" / "storefront")
    extra: dict[str, list[str]] = {}
    with (DATA / "bitext" / "train.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            extra.setdefault(row["intent"], []).append(row["utterance"].strip())
    intents = []
    for intent in catalog.intents:
        examples = dict(intent.examples)
        seen = set(examples.get("en", []))
        examples["en"] = [*examples.get("en", []), *[t for t in extra.get(intent.name, []) if t not in seen]]
        intents.append(msgspec.structs.replace(intent, examples=examples))
    write_catalog(msgspec.structs.replace(catalog, intents=intents), work / "catalog")
    return build_bundle(work / "catalog", work / "bundle")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=None, help="path prefix for .json and .png")
    parser.add_argument("--target", type=float, default=0.98)
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    with tempfile.TemporaryDirectory() as tmp:
        bundle = demo_with_bitext(Path(tmp))
        knowledge = load_knowledge(bundle)
        rows = read_rows(DATA / "eval" / "storefront_mix_dev.jsonl")
        expected = expected_tiers(rows, knowledge.catalog)
        points = sweep(knowledge, analyse(Understanding(knowledge), rows), expected)
    best = choose(points, args.target)
    table = Table(title=f"router trade-off, storefront_mix_dev ({len(rows)} rows, "
                        f"{expected.count('cloud')} should escalate)")
    for col in ("cost_quality", "threshold", "edge share", "escalation recall", "escalation precision"):
        table.add_column(col, justify="right")
    for p in points:
        if p.cost_quality in (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0) or p == best:
            table.add_row(f"{p.cost_quality:.2f}{' <' if p == best else ''}", f"{p.threshold:.3f}",
                          f"{p.edge_share:.3f}", f"{p.escalation_recall:.3f}", f"{p.escalation_precision:.3f}")
    Console(width=140).print(table)
    Console().print(f"calibrated for recall >= {args.target}: cost_quality {best.cost_quality:.2f}, "
                    f"edge share {best.edge_share:.3f}, escalation recall {best.escalation_recall:.3f}")
    print(describe())
    if args.out:
        out = Path(args.out)
        out.with_suffix(".json").write_text(msgspec.json.format(msgspec.json.encode(
            {"cpu": cpu_info(), "target": args.target, "chosen": best, "curve": points})).decode() + "\n")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4.2))
        ax.plot([p.escalation_recall for p in points], [p.edge_share for p in points], marker=".")
        ax.scatter([best.escalation_recall], [best.edge_share], color="red", zorder=3,
                   label=f"calibrated: cost_quality={best.cost_quality:.2f}")
        ax.axvline(args.target, color="grey", linestyle=":", label=f"recall target {args.target:.0%}")
        ax.axhline(0.75, color="grey", linestyle="--", label="edge share bar 75%")
        ax.set_xlabel("escalation recall (disputes sent to the cloud)")
        ax.set_ylabel("edge share (messages answered at the edge)")
        ax.set_title("Router trade-off as cost_quality moves (storefront_mix_dev)")
        ax.legend(loc="lower left", fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out.with_suffix(".png"), dpi=120)


if __name__ == "__main__":
    main()
