"""Triage: the small shared core (config, catalog, bundle, encoder runtime, session tokens); it imports neither tier."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
