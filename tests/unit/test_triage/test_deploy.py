"""Regions files, region bundles and bundle signatures."""

from __future__ import annotations

import shutil

import pytest

from edge_node.knowledge import load_knowledge
from tests.conftest import DEMO_CATALOG
from triage.bundle.manifest import BundleError
from triage.bundle.signing import (
    TrustedKey,
    generate_ed25519,
    parse_keys,
    parse_signing_key,
    sign_bundle,
    trusted_spec,
    verify_signature,
)
from triage.catalog import load_catalog
from triage.deploy.bundles import restrict_catalog
from triage.deploy.regions import RegionsError, load_regions


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
    assert parse_keys("a=0123456789abcdef, b=fedcba9876543210") == {
        "a": TrustedKey("a", "hmac-sha256", b"0123456789abcdef"),
        "b": TrustedKey("b", "hmac-sha256", b"fedcba9876543210")}
    with pytest.raises(ValueError, match="id=secret"):
        parse_keys("short=abc")
    with pytest.raises(ValueError, match="32 bytes"):
        parse_keys("k=ed25519:bm90LWEta2V5")


def test_an_edge_refuses_a_private_key_and_a_signer_a_public_one():
    private, public = generate_ed25519("release")
    assert set(parse_keys(public)) == {"release"}
    with pytest.raises(ValueError, match="public keys only"):
        parse_keys(private)
    with pytest.raises(ValueError, match="cannot sign"):
        parse_signing_key(public)
    assert trusted_spec(parse_signing_key(private)) == public


@pytest.mark.parametrize("scheme", ["ed25519", "hmac-sha256"])
def test_an_edge_with_keys_refuses_unsigned_foreign_and_altered_bundles(demo_bundle, tmp_path, scheme):
    bundle = tmp_path / "bundle"
    shutil.copytree(demo_bundle, bundle)
    signer = parse_signing_key(generate_ed25519("k1")[0] if scheme == "ed25519" else "k1=a-long-enough-test-secret")
    keys = parse_keys(trusted_spec(signer))
    with pytest.raises(BundleError, match="not signed"):
        load_knowledge(bundle, keys=keys)
    sign_bundle(bundle, parse_signing_key(generate_ed25519("other")[0]))
    with pytest.raises(BundleError, match="does not trust"):
        load_knowledge(bundle, keys=keys)
    sign_bundle(bundle, parse_signing_key(generate_ed25519("k1")[0]))  # the right name, another key
    with pytest.raises(BundleError, match="does not trust" if scheme == "hmac-sha256" else "does not match"):
        load_knowledge(bundle, keys=keys)
    signed = sign_bundle(bundle, signer, release=7)
    assert verify_signature(bundle, keys) == signed
    assert load_knowledge(bundle, keys=keys).release == 7
    signature = bundle / "signature.json"
    original = signature.read_text()
    signature.write_text(original.replace('"release": 7', '"release": 8'))
    with pytest.raises(BundleError, match="does not match"):  # the release is signed too
        load_knowledge(bundle, keys=keys)
    signature.write_text(original)
    manifest = bundle / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"demo"', '"evil"', 1))
    with pytest.raises(BundleError, match="altered after signing"):
        load_knowledge(bundle, keys=keys)


def test_deploy_keygen_prints_a_pair_the_signer_and_the_edges_accept():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "commands", "deploy", "keygen", "--key-id", "prod-2"],
                         capture_output=True, text=True, check=True).stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if line.startswith("TRIAGE_"))
    signer = parse_signing_key(values["TRIAGE_DEPLOY__SIGNING_KEY"].strip("'"))
    assert signer.alg == "ed25519" and signer.key_id == "prod-2"
    assert parse_keys(values["TRIAGE_EDGE__BUNDLE_KEYS"].strip("'")) == parse_keys(trusted_spec(signer))
