"""The fuzzing bench on a short budget: hypothesis-made websocket frames against a real edge and
protobufs against a real cloud, with every check of ``bench/fuzz.py`` (the full run: 100k of each,
docs/benchmarks.md)."""

from __future__ import annotations

import pytest

from bench.fuzz import failures, run

pytestmark = pytest.mark.slow


def test_fuzzed_frames_and_protobufs_crash_nothing_and_leave_both_tiers_usable(demo_bundle, llm_folder, tmp_path):
    result = run(frames=1500, protobufs=1500, work=tmp_path, bundle=demo_bundle, model_dir=llm_folder, seeds=500)
    assert failures(result) == []
    assert result["edge"]["sent"] == 1500 and result["edge"]["answers"] > 0, "the pipeline itself was fuzzed"
    assert result["cloud"]["calls"] == 1500 and result["cloud"]["codes"].get("INVALID_ARGUMENT", 0) > 0
