"""``triage calibrate`` fits the one knob on labelled rows and writes it into a bundle that still verifies."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from edge_node.calibrate import analyse, choose, expected_tiers, sweep
from edge_node.evaluate import EvalRow
from edge_node.knowledge import load_knowledge
from edge_node.understanding import Understanding
from triage.bundle.manifest import verify_bundle

ROWS = [
    ("Do you ship to the UK?", "edge"), ("Was kostet der Versand?", "edge"), ("How do I reset my password?", "edge"),
    ("Where is my order?", "edge"), ("Vendez-vous des cartes cadeaux ?", "edge"),
    ("I was charged twice for the same order", "cloud"), ("My lawyer will contact you about this", "cloud"),
    ("The parcel never arrived and I want my money back", "cloud"), ("I want to talk to a human", "cloud"),
]


def _rows():
    return [EvalRow(text=t, label="x", expect=e) for t, e in ROWS]


def test_moving_the_knob_trades_edge_share_for_escalation_recall(demo_bundle):
    knowledge = load_knowledge(demo_bundle)
    rows = _rows()
    points = sweep(knowledge, analyse(Understanding(knowledge), rows), expected_tiers(rows, knowledge.catalog))
    shares = [p.edge_share for p in points]
    recalls = [p.escalation_recall for p in points]
    assert shares == sorted(shares, reverse=True), "more quality must never mean more edge answers"
    assert recalls == sorted(recalls)
    assert recalls[-1] == 1.0
    best = choose(points, 0.98)
    assert best.escalation_recall >= 0.98
    assert all(p.edge_share <= best.edge_share for p in points if p.escalation_recall >= 0.98)


def test_triage_calibrate_writes_the_knob_and_the_bundle_still_verifies(demo_bundle, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(demo_bundle, bundle)
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": "x", "expect": e}) + "\n" for t, e in ROWS))
    done = subprocess.run([sys.executable, "-m", "commands", "calibrate", "--bundle", str(bundle), "--data",
                           str(data), "--target-escalation-recall", "0.98", "--json"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    chosen = json.loads(done.stdout)["chosen"]
    verify_bundle(bundle)
    assert load_knowledge(bundle).calibration.cost_quality == chosen["cost_quality"]
    assert chosen["escalation_recall"] >= 0.98


def test_calibrating_on_rows_that_never_escalate_is_refused_with_the_fix(demo_bundle, tmp_path):
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({"text": "Do you ship to the UK?", "label": "x", "expect": "edge"}) + "\n")
    done = subprocess.run([sys.executable, "-m", "commands", "calibrate", "--bundle", str(demo_bundle), "--data",
                           str(data)], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "expect" in done.stderr
