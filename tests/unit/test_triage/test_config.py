"""Configuration comes from one TOML file, overridden by TRIAGE_* variables, validated at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage.config import ConfigError, load_config


def test_defaults_without_file_or_environment() -> None:
    config = load_config(env={})
    assert config.edge.port == 8080 and config.edge.max_frame_bytes == 4096


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "triage.toml"
    path.write_text("[edge]\nport = 9000\nrate_per_s = 2.5\n")
    config = load_config(path, env={"TRIAGE_EDGE__PORT": "9100"})
    assert config.edge.port == 9100
    assert config.edge.rate_per_s == 2.5


def test_bad_value_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"edge\.port"):
        load_config(env={"TRIAGE_EDGE__PORT": "eighty"})


def test_unknown_field_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "triage.toml"
    path.write_text("[edge]\nprot = 9000\n")
    with pytest.raises(ConfigError, match="prot"):
        load_config(path, env={})


def test_the_cloud_answers_only_in_the_languages_its_model_writes() -> None:
    from triage.config import CloudConfig

    assert CloudConfig().writes("en") and not CloudConfig().writes("de")  # the built-in 135M model
    assert CloudConfig(answer_languages="*").writes("pl")
    listed = CloudConfig(answer_languages="en, de")
    assert listed.writes("de") and listed.writes("de-AT") and not listed.writes("nl")


def test_a_session_secret_under_16_characters_is_refused_at_load() -> None:
    # Before: accepted at load, refused only when the first token was minted.
    with pytest.raises(ConfigError, match=r"edge\.session_secret"):
        load_config(env={"TRIAGE_EDGE__SESSION_SECRET": "short"})
    assert load_config(env={"TRIAGE_EDGE__SESSION_SECRET": "0123456789abcdef"}).edge.session_secret
    assert load_config(env={}).edge.session_secret == ""


def test_agent_credentials_name_a_tenant_and_a_person_and_a_malformed_one_is_refused_at_load() -> None:
    config = load_config(env={"TRIAGE_CLOUD__AGENT_TOKENS": "demo:anna:Anna K.=anna-token-0123456789, "
                                                           "other:bob:Bob=bob-token-0123456789"})
    agents = config.cloud.agents()
    assert agents["anna-token-0123456789"].tenant == "demo"
    assert agents["anna-token-0123456789"].display_name == "Anna K."
    assert agents["bob-token-0123456789"].agent_id == "bob"
    for bad in ("demo:anna=short", "anna=anna-token-0123456789", "demo:anna:Anna=short-token"):
        with pytest.raises(ConfigError, match="agent_tokens"):
            load_config(env={"TRIAGE_CLOUD__AGENT_TOKENS": bad})


def test_service_and_admin_tokens_name_their_tenants_and_a_malformed_one_is_refused_at_load() -> None:
    cloud = load_config(env={"TRIAGE_CLOUD__AUTH_TOKENS": "edge-everywhere, demo|shop-b=edge-two-shops",
                             "TRIAGE_CLOUD__ADMIN_TOKENS": "demo=dpo-of-demo"}).cloud
    found = cloud.credentials()
    assert found["edge-everywhere"].role == "service" and found["edge-everywhere"].covers("any-shop")
    assert found["edge-two-shops"].tenants == {"demo", "shop-b"} and not found["edge-two-shops"].covers("shop-c")
    assert found["dpo-of-demo"].role == "admin" and not found["dpo-of-demo"].covers("shop-b")
    for bad in ("demo=", "a=b=c", "Demo Shop=token"):
        with pytest.raises(ConfigError, match="auth_tokens"):
            load_config(env={"TRIAGE_CLOUD__AUTH_TOKENS": bad})


def test_the_console_takes_the_cloud_as_host_and_port_not_a_url() -> None:
    assert load_config(env={"TRIAGE_CONSOLE__CLOUD": "cloud.internal:50051"}).console.cloud == "cloud.internal:50051"
    with pytest.raises(ConfigError, match=r"console\.cloud"):
        load_config(env={"TRIAGE_CONSOLE__CLOUD": "http://cloud.internal:50051"})


def test_an_edge_refuses_a_plaintext_cloud_beyond_loopback_at_load() -> None:
    # The old config took a remote cloud without TLS: the cloud token and shoppers' messages in the clear.
    with pytest.raises(ConfigError, match="cloud_tls_ca is empty"):
        load_config(env={"TRIAGE_EDGE__CLOUD": "cloud.internal:50051"})
    assert load_config(env={"TRIAGE_EDGE__CLOUD": "127.0.0.1:50051"}).edge.cloud == "127.0.0.1:50051"
    assert load_config(env={"TRIAGE_EDGE__CLOUD": "cloud.internal:50051", "TRIAGE_EDGE__CLOUD_TLS_CA": "/ca.pem"})
    assert load_config(env={"TRIAGE_EDGE__CLOUD": "10.0.0.2:50051", "TRIAGE_EDGE__CLOUD_ALLOW_PLAINTEXT": "true"})
    with pytest.raises(ConfigError, match="go together"):
        load_config(env={"TRIAGE_EDGE__CLOUD_TLS_CERT": "/client.pem"})
    with pytest.raises(ConfigError, match="presented over TLS only"):
        load_config(env={"TRIAGE_EDGE__CLOUD_TLS_CERT": "/client.pem", "TRIAGE_EDGE__CLOUD_TLS_KEY": "/client.key"})
    with pytest.raises(ConfigError, match=r"edge\.cloud"):
        load_config(env={"TRIAGE_EDGE__CLOUD": "https://cloud.internal:50051"})
