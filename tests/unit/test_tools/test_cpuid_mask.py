"""tools/cpuid_mask: a process is shown a lesser CPU's CPUID and picks that CPU's kernels, and nothing else changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from triage.cpu import listed_flags

ROOT = Path(__file__).resolve().parents[3]
RUN = ROOT / "tools" / "cpuid_mask" / "run"

pytestmark = pytest.mark.skipif("cpuid_fault" not in listed_flags(),
                                reason="this CPU or hypervisor cannot fault on CPUID (no cpuid_fault flag)")

_SHOW = ("import json; from triage.cpu import cpu_info, isa_class, visible_flags\n"
         "try:\n    from numpy._core._multiarray_umath import __cpu_features__ as f\n"
         "except ImportError:\n    from numpy.core._multiarray_umath import __cpu_features__ as f\n"
         "info = cpu_info()\n"
         "print(json.dumps({'isa': info.isa, 'hidden': info.hidden, 'class': isa_class(info),\n"
         "                  'visible': sorted(visible_flags()), 'numpy': {k: bool(v) for k, v in f.items()}}))")


def _masked(level: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"TRIAGE_CPUID_MASK", "LD_PRELOAD", "GLIBC_TUNABLES"}}
    return subprocess.run([str(RUN), level, *args], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env=env, check=False)


def _shown(level: str) -> dict[str, object]:
    result = _masked(level, sys.executable, "-c", _SHOW)
    assert result.returncode == 0, result.stderr
    shown: dict[str, object] = json.loads(result.stdout)
    return shown


def test_under_the_avx2_level_no_avx512_vnni_or_amx_is_shown_and_numpy_agrees() -> None:
    shown = _shown("avx2")
    assert shown["class"] == "avx2"
    assert shown["isa"] == ["avx2", "fma"]
    host = listed_flags()
    assert set(shown["hidden"]) == host & {"avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",  # type: ignore[arg-type]
                                           "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16"}
    visible = set(shown["visible"])  # type: ignore[arg-type]
    assert not {flag for flag in visible if flag.startswith(("avx512", "amx")) or flag == "avx_vnni"}
    assert {"avx2", "fma", "sse4_2"} <= visible  # what is not an extension of the mask stays
    numpy = shown["numpy"]
    assert isinstance(numpy, dict)
    assert numpy["AVX2"] and numpy["FMA3"] and not numpy["AVX512F"] and not numpy["AVX512VNNI"]


def test_the_avx512_level_keeps_avx512_but_hides_every_vnni() -> None:
    host = listed_flags()
    if not {"avx512f", "avx512bw", "avx512vl"} <= host:
        pytest.skip("the host has no AVX-512 to keep")
    shown = _shown("avx512")
    assert shown["class"] == "avx512"
    assert "avx512_vnni" not in shown["isa"] and "avx_vnni" not in shown["isa"]  # type: ignore[operator]
    numpy = shown["numpy"]
    assert isinstance(numpy, dict)
    assert numpy["AVX512F"] and numpy["AVX512BW"] and not numpy["AVX512VNNI"]


def test_a_real_segmentation_fault_still_reaches_faulthandler_and_kills_the_process() -> None:
    crash = "import ctypes; ctypes.string_at(0)"
    with_handler = _masked("avx2", sys.executable, "-X", "faulthandler", "-c", crash)
    assert with_handler.returncode == -11
    assert "Segmentation fault" in with_handler.stderr and "line 1" in with_handler.stderr
    plain = _masked("avx2", sys.executable, "-c", crash)
    assert plain.returncode == -11


def test_threads_and_child_processes_inherit_the_mask() -> None:
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {_SHOW!r}], check=True)"
    result = _masked("avx2", sys.executable, "-c", child)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["class"] == "avx2"
    in_thread = ("import threading; from triage.cpu import cpuid_flags; seen = []\n"
                 "t = threading.Thread(target=lambda: seen.append(cpuid_flags.__wrapped__())); t.start(); t.join()\n"
                 "print(sorted(seen[0]))")
    result = _masked("avx2", sys.executable, "-c", in_thread)
    assert result.returncode == 0, result.stderr
    assert "'avx2'" in result.stdout and "avx512" not in result.stdout


def test_a_level_that_does_not_exist_is_refused_with_the_usage() -> None:
    result = _masked("sse2", sys.executable, "-c", "print('ran')")
    assert result.returncode == 2
    assert "usage: tools/cpuid_mask/run avx2|avx512" in result.stderr and "ran" not in result.stdout


def test_preloaded_without_a_level_the_library_changes_nothing() -> None:
    crash = "import ctypes; ctypes.string_at(0)"
    unset = f"TRIAGE_CPUID_MASK= exec {sys.executable} -X faulthandler -c '{crash}'"
    result = _masked("avx2", "sh", "-c", unset)
    assert result.returncode == -11
    assert "Segmentation fault" in result.stderr and "line 1" in result.stderr  # faulthandler's own handler ran
    shown = _masked("avx2", "sh", "-c", f"TRIAGE_CPUID_MASK= exec {sys.executable} -c \"{_SHOW}\"")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["hidden"] == []
