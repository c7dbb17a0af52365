"""Regenerate the Python stubs of ``protos/`` with grpcio-tools.

The stubs are committed so that serving needs no code generator; a test regenerates them into a
temporary directory and compares, so an edited ``.proto`` without fresh stubs fails CI.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

__all__ = ["PROTO_FILES", "generate"]

ROOT = Path(__file__).resolve().parent.parent
PROTO_FILES = ("protos/triage/v1/escalation.proto", "protos/triage/v1/cases.proto")


def generate(out: Path, root: Path = ROOT) -> list[Path]:
    """Write ``*_pb2.py``, ``*_pb2.pyi`` and ``*_pb2_grpc.py`` for every proto under ``out``."""
    import grpc_tools
    from grpc_tools import protoc

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = ["grpc_tools.protoc", f"-I{root}", f"-I{well_known}", f"--python_out={out}", f"--pyi_out={out}",
            f"--grpc_python_out={out}", *(str(root / p) for p in PROTO_FILES)]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {', '.join(PROTO_FILES)}; run it by hand to see the error")
    written = []
    for proto in PROTO_FILES:
        stem = proto.removesuffix(".proto")
        written += [out / f"{stem}_pb2.py", out / f"{stem}_pb2.pyi", out / f"{stem}_pb2_grpc.py"]
    return written


def main() -> int:
    """Regenerate in place (``python -m triage.protogen``)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for path in generate(Path(tmp)):
            target = ROOT / path.relative_to(tmp)
            shutil.copyfile(path, target)
            print(f"wrote {target.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
