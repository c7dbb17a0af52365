"""The end of a checking bench (fuzz, flood, network faults): what broke or that all held, the CPU,
the JSON, and the exit status a script or CI can act on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import msgspec

from triage.cpu import cpu_info, describe

__all__ = ["finish"]


def finish(broken: list[str], held: str, result: dict[str, Any], out: str | None) -> NoReturn:
    print("\n".join(broken) if broken else held)
    print(describe())
    if out:
        Path(out).write_text(json.dumps({"cpu": msgspec.to_builtins(cpu_info()), **result}, indent=2) + "\n")
    raise SystemExit(1 if broken else 0)
