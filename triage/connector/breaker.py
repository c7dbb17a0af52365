"""A circuit breaker: after repeated failures, stop calling a dependency for a while and fail at once.

Without it, every shopper message during an outage would wait for its own deadline (and its
retries) before being told the answer is delayed; with it, the first few pay that price and the rest
are answered immediately. The edge's escalation relay uses one for the cloud core, the shop client
one for the shop; it lives in the shared core because both tiers call the shop.
"""

from __future__ import annotations

import time
from typing import Literal

__all__ = ["CircuitBreaker", "State"]

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(self, failures_to_open: int = 3, reset_after_s: float = 5.0) -> None:
        self.failures_to_open = failures_to_open
        self.reset_after_s = reset_after_s
        self._failures = 0
        self._opened_at = 0.0
        self._trial_running = False

    @property
    def state(self) -> State:
        if self._failures < self.failures_to_open:
            return "closed"
        if time.monotonic() - self._opened_at >= self.reset_after_s:
            return "half_open"
        return "open"

    @property
    def retry_in_s(self) -> float:
        """Seconds until an open circuit lets a trial call through (0 when it is not open)."""
        if self.state != "open":
            return 0.0
        return max(0.0, self.reset_after_s - (time.monotonic() - self._opened_at))

    def allow(self) -> bool:
        """May a call go out now? In half-open state exactly one trial call goes out."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._trial_running = False

    def failure(self) -> None:
        self._trial_running = False
        self._failures += 1
        if self._failures >= self.failures_to_open:
            self._opened_at = time.monotonic()

    def abandon(self) -> None:
        """A call that ended with no verdict (cancelled) gives back the trial slot it may hold.

        Without this, a half-open trial whose caller went away would keep every later call out for good.
        """
        self._trial_running = False
