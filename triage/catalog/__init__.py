"""Storefront catalogs: intents and FAQ entries, per language, as TOML."""

from __future__ import annotations

from triage.catalog.load import CatalogError, load_catalog, write_catalog
from triage.catalog.model import Catalog, FaqEntry, Intent, Storefront

__all__ = ["Catalog", "CatalogError", "FaqEntry", "Intent", "Storefront", "load_catalog", "write_catalog"]
