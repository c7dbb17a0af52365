"""``triage build | import | eval | calibrate``: from labelled utterances to a bundle, and how well it routes.

The four commands a shop runs on its own data before serving anything: import utterances into a
catalog, build the edge bundle, measure it, and fit the router's cost/quality knob into it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from commands._console import Subcommands, err
from commands.tables import print_metrics, print_table

if TYPE_CHECKING:
    import argparse

    from edge_node.calibrate import CurvePoint
    from triage.catalog.model import Catalog

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    """Add build, import, eval and calibrate to the ``triage`` parser."""
    p = sub.add_parser("build", help="build an edge bundle from a catalog")
    p.add_argument("--catalog", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--no-adapt", dest="adapt", action="store_false",
                   help="keep the encoder's last layers as they are (faster build, less accurate on fine intents)")
    p.set_defaults(run=_cmd_build)

    p = sub.add_parser("import", help="turn labelled utterances into a catalog")
    p.add_argument("--format", required=True, choices=["bitext-csv", "clinc-json", "jsonl"])
    p.add_argument("file")
    p.add_argument("--out", required=True)
    p.add_argument("--storefront", default=None)
    p.set_defaults(run=_cmd_import)

    p = sub.add_parser("eval", help="evaluate a bundle on a labelled JSONL file")
    p.add_argument("--bundle", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_cmd_eval)

    p = sub.add_parser("calibrate", help="fit the router's cost_quality knob on labelled data into a bundle")
    p.add_argument("--bundle", required=True)
    p.add_argument("--data", required=True, help="JSONL rows {text, label[, expect]}")
    p.add_argument("--target-escalation-recall", type=float, default=0.98)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_cmd_calibrate)


def _cmd_build(args: argparse.Namespace) -> int:
    from triage.bundle.build import build_bundle
    from triage.catalog import load_catalog

    out = build_bundle(Path(args.catalog), Path(args.out), adapt=args.adapt)
    err.print(f"[green]bundle ready[/green] at {out}")
    err.print(_coverage(load_catalog(Path(args.catalog))))
    return 0


def _coverage(catalog: Catalog) -> str:
    """Which languages the regression scores on its own, so a shop sees what more examples would buy."""
    counts = catalog.example_counts()
    own = catalog.well_covered_languages()
    most = max(counts.values(), default=0)
    thin = [f"{lang} {count}" for lang, count in counts.items() if lang not in own]
    line = "intent examples: " + ", ".join(f"{lang} {counts[lang]}" for lang in counts if lang in own)
    if thin:
        line += (f"; scored by the class-mean vote, checked by the regression (under "
                 f"{catalog.storefront.thin_language_share:g}x of {most}): " + ", ".join(thin))
    return line


def _cmd_import(args: argparse.Namespace) -> int:
    from triage.catalog import write_catalog
    from triage.catalog.importers import import_catalog

    catalog = import_catalog(args.format, Path(args.file), args.storefront or Path(args.out).name)
    write_catalog(catalog, Path(args.out))
    n_examples = sum(len(v) for i in catalog.intents for v in i.examples.values())
    err.print(f"[green]imported[/green] {len(catalog.intents)} intents, {n_examples} examples into {args.out}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from edge_node.evaluate import evaluate, format_report, read_rows
    from edge_node.knowledge import load_knowledge
    from edge_node.router import Router
    from edge_node.understanding import Understanding

    knowledge = load_knowledge(Path(args.bundle))
    report = evaluate(Understanding(knowledge), Router(knowledge.catalog, knowledge.calibration),
                      read_rows(Path(args.data)))
    if args.json:
        print(format_report(report))
    else:
        print_metrics(f"triage eval {args.data}", json.loads(format_report(report)))
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from edge_node.calibrate import analyse, calibrate_bundle, choose, expected_tiers, sweep
    from edge_node.evaluate import read_rows
    from edge_node.knowledge import load_knowledge
    from edge_node.understanding import Understanding

    bundle = Path(args.bundle)
    knowledge = load_knowledge(bundle)
    rows = read_rows(Path(args.data))
    expected = expected_tiers(rows, knowledge.catalog)
    if "cloud" not in expected:
        raise ValueError(f"{args.data} has no row that should escalate: add \"expect\": \"cloud\" rows or use "
                         "labels of the catalog's cloud-tier intents")
    points = sweep(knowledge, analyse(Understanding(knowledge), rows), expected)
    best = choose(points, args.target_escalation_recall)
    calibrate_bundle(bundle, knowledge, best.cost_quality)
    if args.json:
        import msgspec

        print(msgspec.json.encode({"chosen": best, "curve": points}).decode())
    else:
        _print_curve(f"router trade-off on {args.data} ({len(rows)} rows)", points, best)
    met = best.escalation_recall >= args.target_escalation_recall
    err.print(f"[{'green' if met else 'yellow'}]cost_quality = {best.cost_quality:.2f}[/] written into {bundle}: "
              f"edge share {best.edge_share:.1%}, escalation recall {best.escalation_recall:.1%}"
              + ("" if met else f" (target {args.target_escalation_recall:.0%} not reachable)"))
    return 0


def _print_curve(title: str, points: list[CurvePoint], best: CurvePoint) -> None:
    """Every fifth point of the sweep, and the chosen one (marked) even where it falls between them."""
    columns = ("cost_quality", "threshold", "edge share", "escalation recall", "escalation precision")
    shown = points[::5] if best in points[::5] else [*points[::5], best]
    print_table(title, columns, ((f"{p.cost_quality:.2f}{' <' if p == best else ''}", f"{p.threshold:.3f}",
                                  f"{p.edge_share:.3f}", f"{p.escalation_recall:.3f}",
                                  f"{p.escalation_precision:.3f}") for p in shown), right=columns)
