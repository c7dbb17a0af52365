"""The edge's /metrics names the CPU it runs on, in one process and across workers."""

from __future__ import annotations

import os
import subprocess
import sys

from edge_node.metrics import EdgeMetrics
from triage.cpu import isa_class


def test_metrics_carry_the_cpu_line() -> None:
    text = EdgeMetrics().render().decode()
    assert "triage_edge_cpu{" in text
    assert f'isa_class="{isa_class()}"' in text


def test_the_cpu_gauge_survives_multiprocess_mode(tmp_path) -> None:
    # prometheus_client picks its multiprocess value class at import, so this needs a fresh process.
    code = "from edge_node.metrics import EdgeMetrics; print(EdgeMetrics().render().decode())"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("triage_edge_cpu{"))
    assert line.endswith(" 1.0")
