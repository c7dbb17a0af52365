"""The app factory a gateway worker process calls: configuration comes from triage.toml and TRIAGE_* variables.

``triage edge`` sets ``TRIAGE_EDGE__BUNDLE`` (and ``__CLOUD``) before it starts the workers, so
every process of a node serves the same bundle with the same configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from edge_node.gateway.app import create_app
from edge_node.service import EdgeService
from triage.config import load_config

if TYPE_CHECKING:
    from litestar import Litestar

__all__ = ["create_worker_app", "edge_from_config"]


def edge_from_config() -> EdgeService:
    config = load_config()
    return EdgeService.from_bundle(Path(config.edge.bundle), config.edge, config.cost, config.shop)


def create_worker_app() -> Litestar:
    return create_app(edge_from_config())
