"""Distillation proposals: learn what was resolved for the edge, never what was flagged, guarded or disputed."""

from __future__ import annotations

import shutil

from tests.conftest import DEMO_CATALOG
from triage.catalog import load_catalog
from triage.learning.distill import Resolved, apply_to_folder, catalog_diff, propose


def _r(message, intent, lang="de", answers=None, **flags):
    defaults = {"edge_could_answer": True, "flagged": False, "guarded": False}
    return Resolved("e-" + message[:8], message, lang, intent, answers or {}, resolved_by="agent:maria",
                    **{**defaults, **flags})


def test_resolutions_become_examples_answers_and_new_intents_with_provenance():
    catalog = load_catalog(DEMO_CATALOG)
    after, changes = propose(catalog, [
        _r("Nehmt ihr auch Klarna?", "check_payment_methods"),
        _r("Kann ich Socken einzeln kaufen?", "single_socks", answers={"de": "Ja, Socken gibt es auch einzeln."}),
    ])
    kinds = [(c.kind, c.intent) for c in changes]
    assert ("example", "check_payment_methods") in kinds
    assert ("intent", "single_socks") in kinds and ("answer", "single_socks") in kinds
    assert all("agent:maria" in c.source for c in changes)
    learned = after.intent("single_socks")
    assert learned.examples == {"de": ["Kann ich Socken einzeln kaufen?"]} and learned.tier == "edge"
    assert "Nehmt ihr auch Klarna?" in after.intent("check_payment_methods").examples["de"]


def test_flagged_guarded_cloud_only_and_dispute_cases_are_never_learned():
    catalog = load_catalog(DEMO_CATALOG)
    after, changes = propose(catalog, [
        _r("a", "check_payment_methods", flagged=True),
        _r("b", "check_payment_methods", guarded=True),
        _r("c", "check_payment_methods", edge_could_answer=False),
        _r("d", "chargeback"),
        _r("e", "brand_new", answers={}),
    ])
    assert [c.kind for c in changes] == ["skipped"] * 5
    assert after == catalog


def test_an_answer_a_person_wrote_is_never_overwritten():
    catalog = load_catalog(DEMO_CATALOG)
    written = catalog.intent("check_payment_methods").answers["de"]
    after, _ = propose(catalog, [_r("x", "check_payment_methods", answers={"de": "Nur Bargeld."})])
    assert after.intent("check_payment_methods").answers["de"] == written


def test_apply_keeps_the_shops_files_and_the_diff_shows_only_what_was_learned(tmp_path):
    folder = tmp_path / "catalog"
    shutil.copytree(DEMO_CATALOG, folder)
    before = sorted(p.name for p in (folder / "intents").glob("*.toml"))
    after, _ = propose(load_catalog(folder), [_r("Nehmt ihr auch Klarna?", "check_payment_methods"),
                                              _r("Socken einzeln?", "single_socks", answers={"de": "Ja."})])
    diff = catalog_diff(folder, after)
    assert "+" in diff and "Nehmt ihr auch Klarna?" in diff and "b/intents/learned.toml" in diff
    assert "faq/" not in diff
    apply_to_folder(after, folder)
    assert sorted(p.name for p in (folder / "intents").glob("*.toml")) == sorted([*before, "learned.toml"])
    reloaded = load_catalog(folder)
    assert {i.name: i for i in reloaded.intents} == {i.name: i for i in after.intents}
    assert reloaded.faqs == after.faqs
