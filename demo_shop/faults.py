"""Fault injection (only with ``--allow-faults``): the next N contract requests misbehave on purpose.

The connector's promises (a timeout, a 500, malformed, mistyped or oversized JSON, a shop that is
down, a write committed whose answer is lost) are tested against a real process over real HTTP,
so the shop itself must be able to misbehave in each of these ways, on request and for a bounded
number of requests, then recover without a restart.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

__all__ = ["AFTER_COMMIT", "WRITES_ONLY", "FaultPlan", "FaultStatus", "Faults", "Mode"]

Mode = Literal["none", "slow", "error", "malformed", "wrong_types", "oversized", "commit_then_500",
               "slow_after_commit", "down", "write_400"]
AFTER_COMMIT: frozenset[Mode] = frozenset({"commit_then_500", "slow_after_commit"})
"""Modes that let a write commit and then spoil its answer; they count writes only."""
WRITES_ONLY: frozenset[Mode] = AFTER_COMMIT | {"write_400"}
"""Modes that count writes only: ``write_400`` answers a write 400 and commits nothing (a request the
shop cannot take, not a refusal under its rules: asking again gets the same)."""


class FaultPlan(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``POST /_faults`` body."""

    mode: Mode
    delay_s: Annotated[float, msgspec.Meta(ge=0, le=60)] = 5.0
    """``slow``: how long each affected request waits before it is served; ``slow_after_commit``: how long a
    committed write waits before it is answered."""
    count: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 1
    """Requests affected; then the shop is back to normal. The after-commit modes count writes only."""
    size_bytes: Annotated[int, msgspec.Meta(ge=1, le=1 << 30)] = 8 << 20
    """``oversized``: how much the streamed answer would be (it stops when the client hangs up)."""


class FaultStatus(msgspec.Struct, frozen=True):
    """``GET /_faults``: the plan, what is left of it, and how many contract requests were served."""

    plan: FaultPlan
    remaining: int
    requests: int


class Faults:
    """The plan in force for this process (one per app; nothing global)."""

    def __init__(self) -> None:
        self.plan = FaultPlan(mode="none", count=0)
        self.remaining = 0
        self.requests = 0

    def set(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.remaining = plan.count if plan.mode != "none" else 0

    def status(self) -> FaultStatus:
        return FaultStatus(self.plan, self.remaining, self.requests)

    def take(self, write: bool) -> Mode:
        """Count a contract request and say which fault, if any, it gets."""
        self.requests += 1
        mode = self.plan.mode
        if mode == "none" or self.remaining <= 0 or (mode in WRITES_ONLY and not write):
            return "none"
        self.remaining -= 1
        return mode
