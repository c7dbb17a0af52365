"""Dispute procedures run in the cloud core: the shop's policy over the shop's data (``triage.catalog.procedures``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cloud_core.procedures.runner import ProcedureRunner, ShopDown, case_id_of, case_summary, escalation_digest
from triage.catalog.load import load_catalog_procedures
from triage.connector.client import ShopClient

if TYPE_CHECKING:
    from pathlib import Path

    from triage.config import ShopConfig

__all__ = ["ProcedureRunner", "ShopDown", "case_id_of", "case_summary", "escalation_digest", "open_procedures"]


def open_procedures(catalog: Path, shop: ShopConfig) -> tuple[str, ProcedureRunner]:
    """(tenant, runner) for a catalog folder with ``procedures/``, calling the shop of ``[shop]``."""
    loaded, procedures = load_catalog_procedures(catalog)
    if procedures is None:
        raise ValueError(f"{catalog}/procedures: no procedure files (fix: add procedures/*.toml, or leave "
                         "[cloud] catalog empty to answer every escalation with the model)")
    if not shop.url:
        raise ValueError("[cloud] catalog has procedures but [shop] url is empty (fix: set TRIAGE_SHOP__URL to the "
                         "shop's API, the one the edge's actions call)")
    sf = loaded.storefront
    disputes = frozenset(i.name for i in loaded.intents if i.tier == "cloud")
    answers = {i.name: dict(i.answers) for i in loaded.intents if i.answers}
    runner = ProcedureRunner(procedures, ShopClient(shop), sf.languages, sf.default_language, sf.order_id_pattern,
                             disputes, answers)
    return sf.id, runner
