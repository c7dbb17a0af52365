"""``triage replay`` against a running edge + cloud, and ``triage report`` from the edge's store."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import CLOUD_TOKEN, CloudProcess, EdgeProcess

pytestmark = pytest.mark.slow

TRAFFIC = [
    "Do you ship to the UK?", "How do I reset my password?", "Where is my order?",
    "Was kostet der Versand?", "I was charged twice for my order and I am very angry",
    "Vendez-vous des cartes cadeaux ?",
    "How can I change my delivery address?", "Avete un programma fedeltà?", "I want to speak to a human now",
]


def test_replay_reports_cost_against_all_cloud_and_latencies(demo_bundle, llm_folder, tmp_path):
    cloud = CloudProcess(llm_folder, tmp_path / "memory.db", max_tokens=32).start()
    edge = EdgeProcess(demo_bundle, {"TRIAGE_EDGE__CLOUD_TOKEN": CLOUD_TOKEN}, store=tmp_path / "edge.db",
                       cloud=cloud.address)
    data = tmp_path / "traffic.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in TRAFFIC))
    try:
        done = subprocess.run([sys.executable, "-m", "commands", "replay", "--url", edge.ws_url, "--data", str(data),
                               "--turns", "3", "--json"], capture_output=True, text=True, check=False, timeout=300)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["conversations"] == 3 and report["messages"] == 9
        assert report["escalated"] == 2 and report["edge_share"] == pytest.approx(7 / 9, abs=1e-3)
        assert report["cloud_input_tokens"] > 0 and report["cloud_output_tokens"] > 0
        assert 0 < report["cost_per_1k_conversations"] < report["all_cloud_cost_per_1k_conversations"]
        assert report["savings"] > 0.5
        latency = report["latency_ms"]
        assert latency["edge_answer"]["n"] == 7 and latency["edge_answer"]["p50"] < 1000
        assert latency["first_cloud_token"]["n"] == 2
        stored = subprocess.run([sys.executable, "-m", "commands", "report", "--store", str(tmp_path / "edge.db"),
                                 "--json"], capture_output=True, text=True, check=False)
        assert stored.returncode == 0, stored.stderr
        ledger = json.loads(stored.stdout)
        assert (ledger["messages"], ledger["escalated"], ledger["conversations"]) == (9, 2, 3)
        assert ledger["cost_usd"] == pytest.approx(report["cost_usd"], rel=1e-3)
    finally:
        edge.stop()
        cloud.stop()
