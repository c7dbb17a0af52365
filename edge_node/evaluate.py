"""``triage eval``: accuracy, out-of-scope detection, language coverage and latency of a bundle."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TYPE_CHECKING

import msgspec
import numpy as np

from triage.bundle.head import OOS_LABEL
from triage.jsonl import read_jsonl
from triage.progress import progress_bar

if TYPE_CHECKING:
    from pathlib import Path

    from edge_node.router import Router
    from edge_node.understanding import Understanding

__all__ = ["EvalReport", "EvalRow", "evaluate", "read_rows"]


class EvalRow(msgspec.Struct):
    text: str
    label: str
    lang: str | None = None
    expect: str | None = None


class EvalReport(msgspec.Struct):
    rows: int
    in_scope_accuracy: float
    oos_recall: float | None
    oos_precision: float | None
    per_language: dict[str, float]
    latency_ms: dict[str, float]
    edge_share: float | None = None
    escalation_recall: float | None = None
    decisions: dict[str, int] = {}
    scoring_paths: dict[str, int] = {}
    """Rows by how their intent was scored (catalog, thin, outside): which languages lean on the vote."""


def read_rows(path: Path) -> list[EvalRow]:
    return read_jsonl(path, EvalRow, 'rows are {"text", "label"} JSON objects')


def _ratio(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def evaluate(understanding: Understanding, router: Router, rows: list[EvalRow]) -> EvalReport:
    per_lang: dict[str, list[bool]] = defaultdict(list)
    latencies: list[float] = []
    decisions: dict[str, int] = defaultdict(int)
    paths: dict[str, int] = defaultdict(int)
    oos_hit = oos_total = predicted_oos = 0
    # An imported intent whose source label is no valid name keeps that label: rows carry it.
    labels = {intent.name: intent.label or intent.name for intent in understanding.knowledge.catalog.intents}
    edge = expect_rows = cloud_total = cloud_escalated = 0
    with progress_bar() as progress:
        task = progress.add_task("evaluating", total=len(rows))
        for row in rows:
            analysis = understanding.analyze(row.text)
            decision = router.decide(analysis)
            latencies.append(analysis.elapsed_ms)
            decisions[decision.kind] += 1
            paths[analysis.path] += 1
            predicted = labels.get(analysis.intent, analysis.intent) if analysis.intent else OOS_LABEL
            predicted_oos += predicted == OOS_LABEL
            if row.label == OOS_LABEL:
                oos_total += 1
                oos_hit += predicted == OOS_LABEL
            else:
                per_lang[row.lang or analysis.lang].append(predicted == row.label)
            if row.expect is not None:
                expect_rows += 1
                escalated = decision.kind == "escalate"
                edge += not escalated
                if row.expect == "cloud":
                    cloud_total += 1
                    cloud_escalated += escalated
            progress.advance(task)
    in_scope = [hit for hits in per_lang.values() for hit in hits]
    lat = np.asarray(latencies) if latencies else np.zeros(1)
    return EvalReport(
        rows=len(rows),
        in_scope_accuracy=_ratio(sum(in_scope), len(in_scope)) or 0.0,
        oos_recall=_ratio(oos_hit, oos_total),
        oos_precision=_ratio(oos_hit, predicted_oos),
        per_language={lang: round(sum(h) / len(h), 4) for lang, h in sorted(per_lang.items())},
        latency_ms={"p50": round(float(np.percentile(lat, 50)), 3), "p99": round(float(np.percentile(lat, 99)), 3)},
        edge_share=_ratio(edge, expect_rows),
        escalation_recall=_ratio(cloud_escalated, cloud_total),
        decisions=dict(decisions),
        scoring_paths=dict(paths),
    )


def format_report(report: EvalReport) -> str:
    return json.dumps(msgspec.to_builtins(report), indent=2)
