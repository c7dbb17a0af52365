"""An escalation the cloud never answers is not retried for ever: past `[edge] outbox_max_attempts` it is
given up, the shopper gets one honest final answer in their language instead of silence, and `/metrics`
and `triage report` count it (issue #22, finding 7: the outbox retried permanent failures for ever)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import EdgeProcess, free_port
from tests.e2e.shoppers import Shopper

pytestmark = pytest.mark.slow


async def test_an_escalation_past_its_attempts_is_given_up_with_an_honest_answer(demo_bundle, tmp_path):
    nowhere = f"127.0.0.1:{free_port()}"  # no cloud core listens here
    edge = EdgeProcess(demo_bundle, {"TRIAGE_EDGE__OUTBOX_MAX_ATTEMPTS": "2", "TRIAGE_EDGE__QUEUED_AFTER_S": "1",
                                     "TRIAGE_EDGE__ESCALATION_TIMEOUT_S": "1"}, store=tmp_path / "edge.db",
                       cloud=nowhere)
    try:
        shopper = await Shopper.connect(edge.ws_url, lang="de")
        frames = await shopper.say("Mein Paket ist nie angekommen und die Sendungsverfolgung steht seit zwei Wochen")
        assert frames[-1]["source"] == "queued"
        final = None
        deadline = time.monotonic() + 60
        while final is None and time.monotonic() < deadline:
            frame = json.loads(await shopper.ws.recv())
            if frame["type"] == "answer" and frame["source"] == "edge":
                final = frame
        assert final is not None and final["lang"] == "de" and "Es tut mir leid" in final["text"]
        metrics = httpx.get(edge.url + "/metrics", timeout=5).text
        assert "triage_edge_outbox_dead 1.0" in metrics
    finally:
        edge.stop()
    report = subprocess.run([sys.executable, "-m", "commands", "report", "--store", str(edge.store), "--json"],
                            capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(report.stdout)["escalations_given_up"] == 1
