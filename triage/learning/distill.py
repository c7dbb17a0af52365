"""``triage distill``: resolved escalations become edge knowledge, as a reviewable catalog diff.

What a human agent or an internal service resolved (the intent it really was, the approved answer,
"the edge could have answered this") is proposed as new intent examples, new answers in languages
the catalog lacked, or new intents. Never learned from: exchanges a human flagged, answers the
grounding guard blocked, and cases the resolver says need the cloud. Nothing changes until
``--apply``; the new bundle (intent head retrained, thresholds recalibrated) is then built for
``triage deploy rollout``.
"""

from __future__ import annotations

import difflib
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from triage.catalog import Catalog, Intent
from triage.catalog.load import _IntentFile

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Change", "Resolved", "apply_to_folder", "catalog_diff", "fetch_resolutions", "propose"]


class Resolved(msgspec.Struct, frozen=True):
    escalation_id: str
    message: str
    lang: str
    intent: str
    answers: dict[str, str]
    edge_could_answer: bool
    flagged: bool
    guarded: bool
    resolved_by: str


class Change(msgspec.Struct, frozen=True):
    kind: str
    """``example``, ``answer``, ``intent`` or ``skipped``."""
    intent: str
    lang: str
    text: str
    source: str
    """Provenance: the escalation id and who resolved it."""


def fetch_resolutions(target: str, token: str, tenant: str, since: float = 0.0) -> list[Resolved]:
    import grpc

    from protos.triage.v1 import escalation_pb2 as pb
    from protos.triage.v1 import escalation_pb2_grpc as pb_grpc

    request = pb.ListResolutionsRequest(tenant=tenant)
    if since:
        request.since.FromNanoseconds(int(since * 1e9))
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    with grpc.insecure_channel(target) as channel:
        stream = pb_grpc.EscalationStub(channel).ListResolutions(request, metadata=metadata, timeout=30)
        return [Resolved(r.escalation_id, r.message, r.lang, r.intent, dict(r.answers), r.edge_could_answer,
                         r.flagged, r.guarded, r.resolved_by) for r in stream]


def propose(catalog: Catalog, resolutions: Iterable[Resolved]) -> tuple[Catalog, list[Change]]:
    intents = {intent.name: intent for intent in catalog.intents}
    order = [intent.name for intent in catalog.intents]
    changes: list[Change] = []
    languages = set(catalog.storefront.languages)
    for r in resolutions:
        source = f"escalation:{r.escalation_id} by {r.resolved_by}"
        reason = ("flagged by a human" if r.flagged else "answer blocked by the grounding guard" if r.guarded
                  else "needs the cloud" if not r.edge_could_answer else "language not in the catalog"
                  if r.lang not in languages else "")
        if reason:
            changes.append(Change("skipped", r.intent, r.lang, reason, source))
            continue
        intent = intents.get(r.intent)
        if intent is None:
            if not r.answers:
                changes.append(Change("skipped", r.intent, r.lang, "new intent without an approved answer", source))
                continue
            intent = Intent(name=r.intent, examples={}, answers={}, description=f"learned from {source}")
            intents[r.intent] = intent
            order.append(r.intent)
            changes.append(Change("intent", r.intent, r.lang, r.intent, source))
        if intent.tier == "cloud":
            changes.append(Change("skipped", r.intent, r.lang, "cloud-tier intent (disputes stay in the cloud)",
                                  source))
            continue
        examples = {lang: list(texts) for lang, texts in intent.examples.items()}
        known = {t.casefold() for t in examples.get(r.lang, [])}
        if r.message.casefold() not in known:
            examples.setdefault(r.lang, []).append(r.message)
            changes.append(Change("example", r.intent, r.lang, r.message, source))
        answers = dict(intent.answers)
        for lang, text in r.answers.items():
            if lang in languages and lang not in answers:  # never overwrite an answer a person wrote
                answers[lang] = text
                changes.append(Change("answer", r.intent, lang, text, source))
        intents[r.intent] = msgspec.structs.replace(intent, examples=examples, answers=answers)
    return msgspec.structs.replace(catalog, intents=[intents[name] for name in order]), changes


def apply_to_folder(after: Catalog, folder: Path) -> None:
    """Write the changed intents back into the files they came from; new ones go to intents/learned.toml.

    The shop's own file layout and its FAQ files stay as they are, so the diff shows only what was
    learned.
    """
    by_name = {intent.name: intent for intent in after.intents}
    placed: set[str] = set()
    for path in sorted((Path(folder) / "intents").glob("*.toml")):
        current = msgspec.toml.decode(path.read_bytes(), type=_IntentFile)
        names = [intent.name for intent in current.intent]
        placed.update(names)
        updated = _IntentFile([by_name.get(name, intent) for name, intent in zip(names, current.intent, strict=True)])
        if updated != current:
            path.write_bytes(msgspec.toml.encode(updated))
    new = [intent for intent in after.intents if intent.name not in placed]
    if new:
        learned = Path(folder) / "intents" / "learned.toml"
        existing = msgspec.toml.decode(learned.read_bytes(), type=_IntentFile).intent if learned.exists() else []
        learned.write_bytes(msgspec.toml.encode(_IntentFile([*existing, *new])))


def catalog_diff(folder: Path, after: Catalog) -> str:
    """A unified diff of the catalog folder before and after ``apply_to_folder``."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "catalog"
        shutil.copytree(folder, copy)
        apply_to_folder(after, copy)
        names = sorted({p.relative_to(folder) for p in Path(folder).rglob("*.toml")}
                       | {p.relative_to(copy) for p in copy.rglob("*.toml")})
        out: list[str] = []
        for name in names:
            a = (Path(folder) / name).read_text().splitlines(keepends=True) if (Path(folder) / name).exists() else []
            b = (copy / name).read_text().splitlines(keepends=True) if (copy / name).exists() else []
            out += difflib.unified_diff(a, b, f"a/{name}", f"b/{name}")
        return "".join(out)
