"""The ``triage`` commands, the local fleet and the client tools: everything that drives the tiers.

It sits above both tiers so that neither the shared core (``triage``) nor a tier has to import the
other to be started, deployed or talked to; ``edge_node`` and ``cloud_core`` never import it.
"""

from __future__ import annotations

__all__: list[str] = []
