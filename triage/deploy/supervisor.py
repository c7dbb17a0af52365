"""The local fleet's supervisor: starts every process of the plan and restarts any that dies.

Runs detached (``triage deploy up`` starts it). The plan file is re-read before each restart,
so a rollout that moved a replica to a new bundle is what a restarted replica comes back with.
SIGTERM stops the children gracefully (SIGKILL after a grace period) and removes the state file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["main"]


class _Child:
    def __init__(self, name: str) -> None:
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.next_start = 0.0


def _spec(plan_path: Path, name: str) -> dict[str, object]:
    plan = json.loads(plan_path.read_text())
    return next(c for c in plan["children"] if c["name"] == name)


def main(plan_path: Path) -> int:
    plan = json.loads(plan_path.read_text())
    state_path = plan_path.with_name("state.json")
    logs = plan_path.parent / "logs"
    logs.mkdir(exist_ok=True)
    children = [_Child(c["name"]) for c in plan["children"]]
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        now = time.monotonic()
        for child in children:
            if child.proc is not None and child.proc.poll() is None:
                continue
            if child.proc is not None:  # it died: back off, then start it again
                child.restarts += 1
                child.next_start = now + min(10.0, 0.5 * 2 ** min(child.restarts, 5))
                child.proc = None
            if now >= child.next_start:
                spec = _spec(plan_path, child.name)
                env = {**os.environ, **{k: str(v) for k, v in dict(spec["env"]).items()}}  # type: ignore[call-overload]
                with (logs / f"{child.name}.log").open("ab") as log:
                    child.proc = subprocess.Popen(list(spec["argv"]), env=env, stdout=log,  # type: ignore[call-overload]
                                                  stderr=subprocess.STDOUT, start_new_session=True)
        state = {"supervisor_pid": os.getpid(), "children": {
            c.name: {"pid": c.proc.pid if c.proc else None, "restarts": c.restarts} for c in children}}
        tmp = state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(state_path)
        time.sleep(0.3)
    for child in children:
        if child.proc is not None and child.proc.poll() is None:
            child.proc.terminate()
    deadline = time.monotonic() + 15
    for child in children:
        if child.proc is not None:
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
    state_path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
