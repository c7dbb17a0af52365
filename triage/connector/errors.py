"""What can go wrong when Triage calls a shop, as the three outcomes a caller must handle differently.

``ShopNotFound``: the shop has no such order (tell the shopper, ask again). ``ShopRefused``: the shop
understood and said no under its rules (a shipped order is not cancellable), with the shop's
``Problem``. ``ShopUnavailable``: the shop could not answer usefully (down, slow, broken answer,
circuit open); the shopper gets an honest "we could not check right now" and the case is handed on.
All subclass ``ShopError``, so a caller that only needs "did it work" catches one type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from triage.connector.contract import Problem

__all__ = ["ShopError", "ShopNotFound", "ShopRefused", "ShopUnavailable"]


class ShopError(Exception):
    """Any failed call to the shop."""


class ShopNotFound(ShopError):
    """The shop answered 404: no such order (or customer)."""


class ShopRefused(ShopError):
    """The shop answered 409 or 422 with a problem body: the request was understood and refused."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(f"the shop refused ({problem.status} {problem.code}): {problem.title}"
                         + (f": {problem.detail}" if problem.detail else ""))


class ShopUnavailable(ShopError):
    """The shop gave no usable answer; ``reason`` says what happened and, where it can, the fix."""

    def __init__(self, reason: str, *, retryable: bool = True) -> None:
        self.reason = reason
        self.retryable = retryable
        """False where asking again gets the same answer (a 4xx other than a refusal, an answer that breaks
        the contract, one too large): a caller that would retry for an hour hands the matter on instead."""
        super().__init__(reason)
