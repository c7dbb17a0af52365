"""Regions files, region bundles and bundle signatures."""

from __future__ import annotations

import shutil

import pytest

from edge_node.knowledge import load_knowledge
from tests.conftest import DEMO_CATALOG
from triage.bundle.manifest import BundleError
from triage.bundle.signing import parse_keys, sign_bundle, verify_signature
from triage.catalog import load_catalog
from triage.deploy.bundles import restrict_catalog
from triage.deploy.regions import RegionsError, load_regions

KEY = ("k1", b"a-long-enough-test-secret")


def _write(tmp_path, text):
    path = tmp_path / "regions.toml"
    path.write_text(text)
    return path


def test_the_shipped_regions_file_is_valid():
    fleet = load_regions(DEMO_CATALOG.parents[1] / "deploy" / "regions.toml")
    assert fleet.region("eu-west").ports() == [8100, 8101]
    assert "us-east" in fleet.regions


@pytest.mark.parametrize(("body", "message"), [
    ('[regions.EU]\nlanguages = ["en"]\n', "lower-case"),
    ('[regions.eu]\nlanguages = []\n', "languages is empty"),
    ('[regions.eu]\nlanguages = ["english"]\n', "two-letter"),
    ('[regions.eu]\nlanguages = ["en"]\nreplicas = 0\n', "replicas = 0"),
    ('[regions.eu]\nlanguages = ["en"]\ncloud = ["nowhere"]\n', "host:port"),
    ('[regions.a]\nlanguages = ["en"]\nbase_port = 9000\nreplicas = 2\n'
     '[regions.b]\nlanguages = ["de"]\nbase_port = 9001\n', "port 9001 is also used by region a"),
    ('[cloud]\nreplicas = 2\n[regions.eu]\nlanguages = ["en"]\n', "postgresql"),
    ('[regions.eu]\nlanguages = ["en"]\ncolour = "blue"\n', "colour"),
])
def test_a_bad_regions_file_names_region_field_and_fix(tmp_path, body, message):
    with pytest.raises(RegionsError, match=message):
        load_regions(_write(tmp_path, body))


def test_a_region_catalog_keeps_only_its_languages_with_the_same_answers():
    catalog = load_catalog(DEMO_CATALOG)
    region = restrict_catalog(catalog, ["de", "fr"])
    assert region.storefront.languages == ["de", "fr"] and region.storefront.default_language == "de"
    for full, kept in zip(catalog.faqs, region.faqs, strict=True):
        assert set(kept.answers) <= {"de", "fr"}
        assert all(kept.answers[lang] == full.answers[lang] for lang in kept.answers)
    assert all(set(i.examples) <= {"de", "fr"} or set(i.examples) == {"en"} for i in region.intents)
    with pytest.raises(RegionsError, match="not in catalog"):
        restrict_catalog(catalog, ["ja"])


def test_signing_keys_are_parsed_with_a_clear_error():
    assert parse_keys("a=0123456789abcdef, b=fedcba9876543210") == {"a": b"0123456789abcdef",
                                                                      "b": b"fedcba9876543210"}
    with pytest.raises(ValueError, match="id=secret"):
        parse_keys("short=abc")


def test_an_edge_with_keys_refuses_unsigned_foreign_and_altered_bundles(demo_bundle, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(demo_bundle, bundle)
    keys = dict([KEY])
    with pytest.raises(BundleError, match="not signed"):
        load_knowledge(bundle, keys=keys)
    sign_bundle(bundle, "other", b"another-long-enough-secret")
    with pytest.raises(BundleError, match="does not trust"):
        load_knowledge(bundle, keys=keys)
    sign_bundle(bundle, *KEY)
    assert verify_signature(bundle, keys).key_id == "k1"
    assert load_knowledge(bundle, keys=keys).manifest.storefront == "demo"
    manifest = bundle / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"demo"', '"evil"', 1))
    with pytest.raises(BundleError, match="altered after signing"):
        load_knowledge(bundle, keys=keys)
