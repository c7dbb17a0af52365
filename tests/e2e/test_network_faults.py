"""A bad network between an edge host and the cloud (its own network namespace): 30% packet loss,
500 ms latency each way, a 60 s partition and a link flapping every 2 s. Every escalated message
gets exactly one final answer, the outbox ends empty and the breaker opens and closes
(``bench/network_faults.py``; nftables drops and a delaying relay, as this kernel has no netem)."""

from __future__ import annotations

import pytest

from bench.network_faults import failures, run

pytestmark = pytest.mark.slow


def test_loss_latency_a_partition_and_a_flapping_link_each_end_with_one_final_answer_per_message(
        llm_folder, demo_bundle, tmp_path):
    result = run(llm_folder, demo_bundle, tmp_path, partition_s=60.0)
    assert failures(result) == []
    partition = next(p for p in result["phases"] if p["name"] == "partition-60s")
    assert min(partition["seconds_to_final"]) >= 55, "answered only once the partition healed"
