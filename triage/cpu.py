"""What this CPU can do for int8 and float inference, read once from ``/proc/cpuinfo``.

Encoder and LLM timings differ by several times between an AVX2-only core and one with VNNI or
AMX, so every benchmark prints :func:`describe` beside its table and both tiers export it on
``/metrics``: figures from two machines are never compared blind.
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path
from typing import Literal

import msgspec

__all__ = ["ISA_FLAGS", "CpuInfo", "IsaClass", "cpu_info", "describe", "int8_kernel", "isa_class", "parse_cpuinfo"]

ISA_FLAGS = frozenset({
    "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni", "avx512_bf16",
    "amx_tile", "amx_int8", "amx_bf16",
})
"""The ``/proc/cpuinfo`` flags that change which inference kernels run."""

IsaClass = Literal["amx", "avx512-vnni", "avx-vnni", "avx512", "avx2", "older"]

_CPUINFO = Path("/proc/cpuinfo")


class CpuInfo(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    model: str
    """The ``model name`` of the first processor, as the kernel reports it."""
    cores: int
    """Logical CPUs the OS reports (``os.cpu_count()``)."""
    isa: list[str]
    """The flags of :data:`ISA_FLAGS` this CPU has, sorted."""


def parse_cpuinfo(text: str, cores: int | None = None) -> CpuInfo:
    """The first processor's model name and ISA flags in a ``/proc/cpuinfo`` text."""
    model, flags = "", set[str]()
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    return CpuInfo(model=model or platform.processor() or "unknown", cores=cores or os.cpu_count() or 1,
                   isa=sorted(flags & ISA_FLAGS))


@functools.cache
def cpu_info() -> CpuInfo:
    """This machine's :class:`CpuInfo` (read once per process; the CPU does not change under us)."""
    try:
        text = _CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux: the model from platform, no flags
        text = ""
    return parse_cpuinfo(text)


def _has(info: CpuInfo, *flags: str) -> bool:
    return all(flag in info.isa for flag in flags)


def isa_class(info: CpuInfo | None = None) -> IsaClass:
    """The best inference-relevant ISA level the CPU has."""
    info = info or cpu_info()
    if _has(info, "amx_tile", "amx_int8"):
        return "amx"
    if _has(info, "avx512f", "avx512_vnni"):
        return "avx512-vnni"
    if _has(info, "avx2", "avx_vnni"):
        return "avx-vnni"
    if _has(info, "avx512f"):
        return "avx512"
    if _has(info, "avx2"):
        return "avx2"
    return "older"


def int8_kernel(info: CpuInfo | None = None) -> str:
    """The u8s8 GEMM path ONNX Runtime's MLAS takes here (its ``platform.cpp`` dispatch order).

    MLAS starts from AVX2 (needs FMA too), lets AVX-VNNI replace the kernel, then AVX-512 core
    (BW and VL), then AVX-512 VNNI, and finally swaps in the AMX dispatch when AMX-TILE and
    AMX-INT8 are present (and the kernel grants the tile state). Without VNNI the kernel multiplies
    with ``vpmaddubsw``, whose 16-bit sums saturate: slower, and not bit-exact with VNNI.
    """
    info = info or cpu_info()
    if not _has(info, "avx2", "fma"):
        return "sse4.1 or non-x86 (no AVX2)"
    if _has(info, "amx_tile", "amx_int8"):
        return "amx"
    if _has(info, "avx512f", "avx512bw", "avx512vl"):
        if _has(info, "avx512_vnni"):
            return "avx512-vnni"
        return "avx512bw (u8s8 vpmaddubsw, no VNNI)"
    if _has(info, "avx_vnni"):
        return "avx-vnni"
    return "avx2 (u8s8 vpmaddubsw, no VNNI)"


def cpu_labels(info: CpuInfo | None = None) -> dict[str, str]:
    """The labels of the ``triage_edge_cpu`` / ``triage_cloud_cpu`` gauges."""
    info = info or cpu_info()
    return {"model": info.model, "isa_class": isa_class(info), "int8_kernel": int8_kernel(info)}


def describe(info: CpuInfo | None = None) -> str:
    """One line for a benchmark's output: model, cores, ISA class and flags, the int8 kernel."""
    info = info or cpu_info()
    return (f"CPU: {info.model} ({info.cores} cores), ISA class {isa_class(info)}: "
            f"{' '.join(info.isa) or 'none'}; int8 kernel {int8_kernel(info)}")
