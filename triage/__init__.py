"""Triage: the small shared core (CLI, config, catalog, bundle, encoder runtime)."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
