"""Actions: intents bound to the shop's API through the connector (order status, cancellation, refunds)."""

from __future__ import annotations

from edge_node.actions.runner import ActionRequest, ActionResult, ActionRunner

__all__ = ["ActionRequest", "ActionResult", "ActionRunner"]
