"""What this CPU can do for int8 and float inference, read once from ``/proc/cpuinfo`` and CPUID.

Encoder and LLM timings differ by several times between an AVX2-only core and one with VNNI or
AMX, so every benchmark prints :func:`describe` beside its table and both tiers export it on
``/metrics``: figures from two machines are never compared blind.

``/proc/cpuinfo`` says what the kernel lets processes use; the CPUID instruction says what this
process is told, which is what ONNX Runtime, numpy and FAISS pick their kernels from. The two differ
under a CPUID mask (``tools/cpuid_mask``, which runs the AVX2 kernels on an AVX-512 machine) or a
hypervisor's CPU model, so a flag counts only where both report it, and a hidden one is named.
"""

from __future__ import annotations

import ctypes
import functools
import mmap
import os
import platform
from pathlib import Path
from typing import Literal

import msgspec

__all__ = ["ISA_FLAGS", "CpuInfo", "IsaClass", "cpu_info", "cpuid_flags", "describe", "int8_kernel", "isa_class",
           "listed_flags", "parse_cpuinfo", "visible_flags"]

ISA_FLAGS = frozenset({
    "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni", "avx512_bf16",
    "amx_tile", "amx_int8", "amx_bf16",
})
"""The ``/proc/cpuinfo`` flags that change which inference kernels run."""

IsaClass = Literal["amx", "avx512-vnni", "avx-vnni", "avx512", "avx2", "older"]

_CPUINFO = Path("/proc/cpuinfo")

CPUID_BITS: dict[str, tuple[int, int, int, int]] = {
    # flag: (leaf, subleaf, register index eax=0 ebx=1 ecx=2 edx=3, bit), per Intel SDM vol. 2A, CPUID
    "fma": (1, 0, 2, 12), "avx": (1, 0, 2, 28), "f16c": (1, 0, 2, 29),
    "avx2": (7, 0, 1, 5), "bmi2": (7, 0, 1, 8), "avx512f": (7, 0, 1, 16), "avx512dq": (7, 0, 1, 17),
    "avx512ifma": (7, 0, 1, 21), "avx512cd": (7, 0, 1, 28), "avx512bw": (7, 0, 1, 30), "avx512vl": (7, 0, 1, 31),
    "avx512vbmi": (7, 0, 2, 1), "avx512_vbmi2": (7, 0, 2, 6), "gfni": (7, 0, 2, 8), "vaes": (7, 0, 2, 9),
    "vpclmulqdq": (7, 0, 2, 10), "avx512_vnni": (7, 0, 2, 11), "avx512_bitalg": (7, 0, 2, 12),
    "avx512_vpopcntdq": (7, 0, 2, 14), "amx_bf16": (7, 0, 3, 22), "avx512_fp16": (7, 0, 3, 23),
    "amx_tile": (7, 0, 3, 24), "amx_int8": (7, 0, 3, 25), "avx_vnni": (7, 1, 0, 4), "avx512_bf16": (7, 1, 0, 5),
}
"""Where CPUID reports each ``/proc/cpuinfo`` flag that picks a kernel (ours or a peer's build)."""

# cpuid(leaf=edi, subleaf=esi, out=rdx) for the System V x86-64 ABI: push rbx; mov eax, edi;
# mov ecx, esi; mov r8, rdx; cpuid; mov [r8], eax; mov [r8+4], ebx; mov [r8+8], ecx;
# mov [r8+12], edx; pop rbx; ret
_CPUID_CODE = bytes.fromhex("53 89f8 89f1 4989d0 0fa2 418900 41895804 41894808 4189500c 5b c3")
_CpuidFn = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32 * 4))


class CpuInfo(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    model: str
    """The ``model name`` of the first processor, as the kernel reports it."""
    cores: int
    """Logical CPUs the OS reports (``os.cpu_count()``)."""
    isa: list[str]
    """The flags of :data:`ISA_FLAGS` this CPU has and this process is shown, sorted."""
    hidden: list[str] = msgspec.field(default_factory=list)
    """Flags of :data:`ISA_FLAGS` the kernel lists but CPUID hides from this process (a mask), sorted."""


def _first_processor(text: str) -> tuple[str, set[str]]:
    """The ``model name`` and ``flags`` of the first processor in a ``/proc/cpuinfo`` text."""
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
    return model, flags


def parse_cpuinfo(text: str, cores: int | None = None) -> CpuInfo:
    """The first processor's model name and ISA flags in a ``/proc/cpuinfo`` text."""
    model, flags = _first_processor(text)
    return CpuInfo(model=model or platform.processor() or "unknown", cores=cores or os.cpu_count() or 1,
                   isa=sorted(flags & ISA_FLAGS))


@functools.cache
def cpuid_flags() -> frozenset[str] | None:
    """The flags of :data:`CPUID_BITS` the CPUID instruction reports to this process.

    None where CPUID cannot run here: not x86-64, or a system that refuses executable memory.
    """
    if platform.machine().lower() not in {"x86_64", "amd64"}:
        return None
    try:
        page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except (OSError, AttributeError):
        return None
    try:
        page.write(_CPUID_CODE)
        code = ctypes.c_char.from_buffer(page)
        cpuid = _CpuidFn(ctypes.addressof(code))
        out = (ctypes.c_uint32 * 4)()
        cpuid(0, 0, ctypes.pointer(out))
        max_leaf, regs = out[0], {}
        for leaf, sub in {(leaf, sub) for leaf, sub, _, _ in CPUID_BITS.values()}:
            if leaf <= max_leaf:
                cpuid(leaf, sub, ctypes.pointer(out))
                regs[leaf, sub] = tuple(out)
        del cpuid, code  # the buffer export must go before the page can close
    finally:
        page.close()
    return frozenset(flag for flag, (leaf, sub, reg, bit) in CPUID_BITS.items()
                     if (leaf, sub) in regs and regs[leaf, sub][reg] >> bit & 1)


@functools.cache
def _read_cpuinfo() -> str:
    try:
        return _CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux: the model from platform, no flags
        return ""


@functools.cache
def listed_flags() -> frozenset[str]:
    """Every ``/proc/cpuinfo`` flag of the first processor: what the kernel lets processes use."""
    return frozenset(_first_processor(_read_cpuinfo())[1])


@functools.cache
def visible_flags() -> frozenset[str]:
    """Every ``/proc/cpuinfo`` flag of the first processor, less those CPUID hides from this process.

    Peers compiled for this CPU (llama.cpp) take their ``-m`` switches from these, so a masked run
    builds and measures the peer for the same level as our own kernels.
    """
    flags = listed_flags()
    shown = cpuid_flags()
    if shown is None:
        return flags
    return frozenset(flag for flag in flags if flag not in CPUID_BITS or flag in shown)


@functools.cache
def cpu_info() -> CpuInfo:
    """This machine's :class:`CpuInfo` (read once per process; the CPU does not change under us)."""
    info, shown = parse_cpuinfo(_read_cpuinfo()), visible_flags()
    return CpuInfo(model=info.model, cores=info.cores, isa=[flag for flag in info.isa if flag in shown],
                   hidden=[flag for flag in info.isa if flag not in shown])


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
    hidden = f"; hidden by CPUID: {' '.join(info.hidden)}" if info.hidden else ""
    return (f"CPU: {info.model} ({info.cores} cores), ISA class {isa_class(info)}: "
            f"{' '.join(info.isa) or 'none'}; int8 kernel {int8_kernel(info)}{hidden}")
