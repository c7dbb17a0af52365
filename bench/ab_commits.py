"""Run one benchmark on an earlier commit and on the working tree, one after the other, in one run.

A refactor must not move the figures: this checks out ``--base`` into a temporary git worktree
(outside the checkout), runs the same script with the same arguments in both trees (each tree's own
code: the script runs with the tree as its working directory and first on ``sys.path``), and prints
both outputs one after the other with the CPU line, so the two tables are read side by side.

With ``--rounds N`` the pair runs N times in alternating order (base first, then the tree first, ...):
on a shared 2-core VM the same row drifts between runs minutes apart (edge CPU a message 0.98 to
1.61 ms for one tree in the sixteenth session, docs/benchmarks.md), and alternating puts the drift on
both sides instead of on whichever runs first.

Usage: python bench/ab_commits.py --base d4f089d [--rounds 2] -- bench/edge_load.py --workers 2 --sessions 200
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from triage.cpu import describe  # noqa: E402


def _run(tree: Path, label: str, script: list[str]) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    print(f"--- {label}: {' '.join(script)} (in {tree})", flush=True)
    done = subprocess.run([sys.executable, *script], cwd=tree, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{label} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


_BUILD = ("from pathlib import Path; from triage.bundle.build import build_bundle; "
          "build_bundle(Path('intents/storefront'), Path('var/bundle'))")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True, help="the earlier commit")
    parser.add_argument("--build-bundle", action="store_true",
                        help="first build each tree's own demo bundle into its var/bundle (catalogs may differ)")
    parser.add_argument("--rounds", type=int, default=1, help="run the pair this many times, alternating its order")
    parser.add_argument("script", nargs=argparse.REMAINDER, help="-- bench/script.py [its arguments]")
    args = parser.parse_args()
    script = args.script[1:] if args.script[:1] == ["--"] else args.script
    # Beside the checkout (not in it): the benches find ../shared/data relative to their tree.
    with tempfile.TemporaryDirectory(prefix=".triage-ab-", dir=ROOT.parent) as folder:
        base = Path(folder)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), args.base], check=True,
                       capture_output=True)
        try:
            if args.build_bundle:
                for tree in (base, ROOT):
                    _run(tree, f"bundle of {tree}", ["-c", _BUILD])
            outputs = []
            for round_ in range(1, args.rounds + 1):
                pair = [(f"base {args.base}", base), ("working tree", ROOT)]
                for label, tree in pair if round_ % 2 else pair[::-1]:
                    outputs.append((f"{label}, round {round_} of {args.rounds}", _run(tree, label, script)))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
    print("".join(f"=== {label} ===\n{out}\n" for label, out in outputs) + describe())


if __name__ == "__main__":
    main()
