"""``python -m commands``: the ``triage`` command where no console script is installed (child processes)."""

from __future__ import annotations

import sys

from commands.main import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
