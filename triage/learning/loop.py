"""The measured learning loop: replay, let agents resolve the escalations, distill, reload, replay.

Used by ``triage replay --then-distill`` and ``bench/learning_loop.py``. ``resolve_from_labels``
stands in for the human agents of a measurement run: it closes each open escalation whose message
is a labelled row of the traffic file with that label and the shop's written answer for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import httpx

from protos.triage.v1 import escalation_pb2 as pb
from protos.triage.v1 import escalation_pb2_grpc as pb_grpc
from triage.bundle.build import build_bundle
from triage.catalog import load_catalog
from triage.learning.distill import Change, apply_to_folder, fetch_resolutions, propose

if TYPE_CHECKING:
    from triage.catalog import Catalog

__all__ = ["distill_and_reload", "resolve_from_labels"]


def resolve_from_labels(cloud: str, token: str, tenant: str, labels: dict[str, str], answers: Catalog,
                        resolved_by: str = "agent:replay-labels") -> int:
    """Resolve the tenant's open escalations whose message has a label; returns how many."""
    written = {i.name: i.answers for i in answers.intents}
    tiers = {i.name: i.tier for i in answers.intents}
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    count = 0
    with grpc.insecure_channel(cloud) as channel:
        stub = pb_grpc.EscalationStub(channel)
        open_cases = list(stub.ListEscalations(pb.ListEscalationsRequest(tenant=tenant, unresolved_only=True),
                                               metadata=metadata, timeout=30))
        for case in open_cases:
            label = labels.get(case.message)
            if label is None:
                continue
            stub.Resolve(pb.ResolveRequest(tenant=tenant, escalation_id=case.escalation_id, intent=label,
                                           answers=written.get(label, {}), edge_could_answer=tiers.get(label) == "edge",
                                           resolved_by=resolved_by), metadata=metadata, timeout=10)
            count += 1
    return count


def distill_and_reload(cloud: str, token: str, catalog_dir: Path, bundle_out: Path, edge_http: str,
                       admin_token: str) -> list[Change]:
    """Distill every resolution into the catalog, build the bundle, and hot-reload it into the edge."""
    catalog = load_catalog(catalog_dir)
    learned, changes = propose(catalog, fetch_resolutions(cloud, token, catalog.storefront.id))
    apply_to_folder(learned, catalog_dir)
    bundle = build_bundle(catalog_dir, bundle_out)
    response = httpx.post(f"{edge_http}/admin/bundle", json={"path": str(Path(bundle).resolve())},
                          headers={"Authorization": f"Bearer {admin_token}"}, timeout=300)
    if response.status_code != 200:
        raise RuntimeError(f"the edge refused the distilled bundle: {response.text}")
    return changes
