"""The CPU line every benchmark prints and both tiers export: parsed from ``/proc/cpuinfo`` text."""

from __future__ import annotations

import os

import msgspec
import pytest

from triage.cpu import (
    CpuInfo,
    cpu_info,
    cpuid_flags,
    describe,
    int8_kernel,
    isa_class,
    listed_flags,
    parse_cpuinfo,
    visible_flags,
)

_COMMON = ("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht "
           "syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology cpuid pni pclmulqdq ssse3")


def _processor(index: int, model: str, flags: str) -> str:
    return (f"processor\t: {index}\nvendor_id\t: x\ncpu family\t: 23\nmodel\t\t: 49\nmodel name\t: {model}\n"
            f"stepping\t: 0\ncpu MHz\t\t: 2249.998\nflags\t\t: {_COMMON} {flags}\nbugs\t\t: sysret_ss_attrs\n"
            "power management:\n\n")


EPYC_AVX2 = "".join(_processor(i, "AMD EPYC 7B12 64-Core Processor",
                               "fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand avx2 bmi1 bmi2 sha_ni")
                    for i in range(2))
XEON_VNNI = _processor(0, "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz",
                       "fma sse4_1 sse4_2 avx f16c avx2 bmi2 avx512f avx512dq avx512cd avx512bw avx512vl "
                       "avx512_vnni")
XEON_AMX = _processor(0, "Intel(R) Xeon(R) Platinum 8480+",
                      "fma avx avx2 avx512f avx512bw avx512vl avx512_vnni avx_vnni avx512_bf16 amx_bf16 "
                      "amx_tile amx_int8")
XEON_SKYLAKE = _processor(0, "Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", "fma avx avx2 avx512f avx512bw avx512vl")
CORE_ALDER = _processor(0, "12th Gen Intel(R) Core(TM) i7-12700", "fma avx avx2 avx_vnni")
OLD_ATOM = _processor(0, "Intel(R) Atom(TM) CPU C2750 @ 2.40GHz", "sse4_1 sse4_2 popcnt")


def test_an_avx2_only_epyc_reads_as_avx2_with_the_saturating_int8_kernel() -> None:
    info = parse_cpuinfo(EPYC_AVX2, cores=2)
    assert info == CpuInfo(model="AMD EPYC 7B12 64-Core Processor", cores=2, isa=["avx2", "fma"])
    assert isa_class(info) == "avx2"
    assert int8_kernel(info) == "avx2 (u8s8 vpmaddubsw, no VNNI)"
    assert describe(info) == ("CPU: AMD EPYC 7B12 64-Core Processor (2 cores), ISA class avx2: avx2 fma; "
                              "int8 kernel avx2 (u8s8 vpmaddubsw, no VNNI)")


def test_an_avx512_vnni_xeon_takes_the_vnni_kernel() -> None:
    info = parse_cpuinfo(XEON_VNNI, cores=8)
    assert info.model == "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz"
    assert info.isa == ["avx2", "avx512_vnni", "avx512bw", "avx512f", "avx512vl", "fma"]
    assert isa_class(info) == "avx512-vnni"
    assert int8_kernel(info) == "avx512-vnni"


def test_the_best_class_wins_and_matches_the_mlas_dispatch() -> None:
    cases = {
        XEON_AMX: ("amx", "amx"),
        XEON_SKYLAKE: ("avx512", "avx512bw (u8s8 vpmaddubsw, no VNNI)"),
        CORE_ALDER: ("avx-vnni", "avx-vnni"),
        OLD_ATOM: ("older", "sse4.1 or non-x86 (no AVX2)"),
    }
    for text, (klass, kernel) in cases.items():
        info = parse_cpuinfo(text, cores=4)
        assert (isa_class(info), int8_kernel(info)) == (klass, kernel), info.model


def test_only_inference_flags_are_kept_and_an_empty_text_still_gives_a_line() -> None:
    assert "sse4_1" not in parse_cpuinfo(XEON_AMX).isa
    empty = parse_cpuinfo("", cores=1)
    assert empty.isa == [] and empty.model
    assert "ISA class older: none" in describe(empty)


def test_this_machine_is_described_and_serialises_for_bench_json() -> None:
    info = cpu_info()
    assert info is cpu_info()
    assert info.cores == (os.cpu_count() or 1)
    assert describe().startswith(f"CPU: {info.model} ({info.cores} cores), ISA class {isa_class()}")
    assert msgspec.convert(msgspec.to_builtins(info), CpuInfo) == info


def test_a_flag_cpuid_hides_from_this_process_is_not_counted_and_is_named() -> None:
    masked = CpuInfo(model="AMD EPYC", cores=2, isa=["avx2", "fma"], hidden=["avx512_vnni", "avx512f"])
    assert isa_class(masked) == "avx2"
    assert int8_kernel(masked) == "avx2 (u8s8 vpmaddubsw, no VNNI)"
    assert describe(masked).endswith("(u8s8 vpmaddubsw, no VNNI); hidden by CPUID: avx512_vnni avx512f")


def test_cpuid_and_the_kernel_agree_on_this_machine_unless_a_mask_is_on() -> None:
    shown = cpuid_flags()
    if shown is None:
        pytest.skip("CPUID cannot run here (not x86-64)")
    assert "avx2" in shown  # every CPU the project supports has AVX2
    listed = listed_flags()
    masked = bool(os.environ.get("TRIAGE_CPUID_MASK"))
    assert bool(cpu_info().hidden) == (masked and bool(listed & {"avx512f", "avx512_vnni", "avx_vnni"}))
    assert visible_flags() <= listed
