"""The shop connector: the contract a shop's API implements, and the client both tiers call it with."""

from __future__ import annotations

__all__: list[str] = []
