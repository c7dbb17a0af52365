"""Client-side tools that speak to a running edge as shoppers do (replay, chat); no server imports them."""

from __future__ import annotations

__all__: list[str] = []
