"""The edge service: gateway -> langid -> encoder -> retrieval -> router (-> escalation)."""

from __future__ import annotations

__all__: list[str] = []
