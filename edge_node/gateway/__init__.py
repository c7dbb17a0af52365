"""The websocket chat gateway and its HTTP endpoints."""

from __future__ import annotations

from edge_node.gateway.app import create_app

__all__ = ["create_app"]
