"""``triage calibrate``: fit the router's one knob on labelled traffic and write it into the bundle.

Every row is analysed once; the router is then replayed over a grid of ``cost_quality`` values
(cheap: a comparison per row). The chosen value is the cheapest (most edge answers) whose
escalation recall reaches the target. Rows may say ``"expect": "edge"|"cloud"``; otherwise the
label's tier in the bundle's catalog decides (``oos`` is the edge's to handle).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from edge_node.router import Router, escalation_threshold
from triage.artifacts import sha256_file
from triage.bundle.layout import CALIBRATION_FILE
from triage.bundle.manifest import MANIFEST_FILE, read_manifest
from triage.progress import progress_bar

if TYPE_CHECKING:
    from edge_node.evaluate import EvalRow
    from edge_node.knowledge import Knowledge
    from edge_node.understanding import Analysis, Understanding
    from triage.catalog import Catalog

__all__ = ["CurvePoint", "calibrate_bundle", "choose", "expected_tiers", "sweep"]

GRID = tuple(round(i / 50, 2) for i in range(51))


class CurvePoint(msgspec.Struct, frozen=True):
    cost_quality: float
    threshold: float
    edge_share: float
    escalation_recall: float
    escalation_precision: float


def expected_tiers(rows: list[EvalRow], catalog: Catalog) -> list[str]:
    tiers = {intent.name: intent.tier for intent in catalog.intents}
    return [row.expect or tiers.get(row.label, "edge") for row in rows]


def analyse(understanding: Understanding, rows: list[EvalRow]) -> list[Analysis]:
    out = []
    with progress_bar() as progress:
        task = progress.add_task("analysing", total=len(rows))
        for row in rows:
            out.append(understanding.analyze(row.text))
            progress.advance(task)
    return out


def sweep(knowledge: Knowledge, analyses: list[Analysis], expected: list[str],
          grid: tuple[float, ...] = GRID) -> list[CurvePoint]:
    points = []
    cloud_total = sum(e == "cloud" for e in expected)
    for q in grid:
        router = Router(knowledge.catalog, knowledge.calibration, q)
        escalated = [router.decide(a).kind == "escalate" for a in analyses]
        hits = sum(esc and e == "cloud" for esc, e in zip(escalated, expected, strict=True))
        points.append(CurvePoint(
            cost_quality=q, threshold=round(escalation_threshold(q), 4),
            edge_share=round(1 - sum(escalated) / len(escalated), 4),
            escalation_recall=round(hits / cloud_total, 4) if cloud_total else 1.0,
            escalation_precision=round(hits / sum(escalated), 4) if sum(escalated) else 1.0))
    return points


def choose(points: list[CurvePoint], target_recall: float) -> CurvePoint:
    """The cheapest point that reaches the recall target (the safest one if none does)."""
    meeting = [p for p in points if p.escalation_recall >= target_recall]
    if not meeting:
        return max(points, key=lambda p: (p.escalation_recall, p.edge_share))
    return max(meeting, key=lambda p: (p.edge_share, -p.cost_quality))


def calibrate_bundle(bundle: Path, knowledge: Knowledge, cost_quality: float) -> None:
    """Write the knob into the bundle's calibration and re-sign that file in the manifest."""
    calibration = msgspec.structs.replace(knowledge.calibration, cost_quality=cost_quality)
    path = Path(bundle) / CALIBRATION_FILE
    path.write_bytes(msgspec.json.format(msgspec.json.encode(calibration)))
    manifest = read_manifest(bundle)
    files = {**manifest.files, CALIBRATION_FILE: sha256_file(path)}
    updated = msgspec.structs.replace(manifest, files=files)
    (Path(bundle) / MANIFEST_FILE).write_bytes(msgspec.json.format(msgspec.json.encode(updated)))
