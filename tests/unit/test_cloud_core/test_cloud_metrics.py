"""The cloud's /metrics names the CPU it runs on."""

from __future__ import annotations

from prometheus_client import generate_latest

from cloud_core.metrics import CloudMetrics
from triage.cpu import int8_kernel


def test_metrics_carry_the_cpu_line() -> None:
    text = generate_latest(CloudMetrics().registry).decode()
    assert "triage_cloud_cpu{" in text
    assert f'int8_kernel="{int8_kernel()}"' in text
