"""The exactness guarantees hold on the kernels an AVX2-only CPU picks, checked on every machine with CPUID faulting.

CI and development machines have AVX-512 and VNNI, where ONNX Runtime takes other int8 and int4
kernels than on an AVX2-only CPU (whose u8s8 products saturate in vpmaddubsw). ``tools/cpuid_mask``
hides AVX-512, VNNI and AMX from CPUID, so these tests run again, at native speed, on the AVX2
kernels: k-token verification equals one-token decoding bit for bit, chunked prefill equals one pass,
speculation gives the greedy text over twenty prompts, and the int8 encoder stays on the reference.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from triage.cpu import cpu_info, listed_flags

ROOT = Path(__file__).resolve().parents[2]
EXACTNESS = [
    "tests/unit/test_cloud_core/test_llm/test_graph.py",
    "tests/unit/test_cloud_core/test_llm/test_onnx.py::test_speculation_never_changes_the_greedy_text_over_twenty_prompts",
    "tests/unit/test_cloud_core/test_llm/test_onnx.py::test_speculative_decoding_gives_exactly_the_greedy_text",
    "tests/unit/test_triage/test_encoder.py",
]


@pytest.mark.skipif("cpuid_fault" not in listed_flags(), reason="no CPUID faulting here: `make test-avx2-qemu` instead")
@pytest.mark.skipif(not ({"avx512f", "avx512_vnni", "avx_vnni"} & set(cpu_info().isa)),
                    reason="this CPU already runs the AVX2 kernels: the suite itself checked them")
def test_verification_prefill_speculation_and_encoder_are_exact_on_avx2_kernels() -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"TRIAGE_CPUID_MASK", "LD_PRELOAD", "GLIBC_TUNABLES"}}
    done = subprocess.run([str(ROOT / "tools" / "cpuid_mask" / "run"), "avx2", sys.executable, "-m", "pytest", "-q",
                           "-p", "no:cacheprovider", *EXACTNESS], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=1800, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout and "deselected" not in done.stdout
