"""`triage eval` reports, beside accuracy, how each row's intent was scored."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge_node.evaluate import EvalRow, evaluate
from edge_node.knowledge import load_knowledge
from edge_node.router import Router
from edge_node.understanding import Understanding

if TYPE_CHECKING:
    from pathlib import Path


def test_the_report_counts_rows_by_scoring_path(demo_bundle: Path) -> None:
    knowledge = load_knowledge(demo_bundle)
    rows = [EvalRow("I would like to cancel my order please", "cancel_order", "en"),
            EvalRow("Ich möchte meine Bestellung stornieren", "cancel_order", "de"),
            EvalRow("Siparişimi iptal etmek istiyorum lütfen", "cancel_order", "tr")]
    report = evaluate(Understanding(knowledge), Router(knowledge.catalog, knowledge.calibration), rows)
    assert report.scoring_paths == {"catalog": 1, "thin": 1, "outside": 1}
    assert report.per_language["en"] == report.per_language["de"] == 1.0
