"""docs/connector.yaml and triage/connector/contract.py describe one contract and cannot drift apart.

Each struct's schema in the document must have exactly the struct's fields, the same required ones,
and the same types, patterns, bounds and enums as msgspec derives from the struct itself (prose
keys aside). A field added, dropped, retyped or made optional on one side fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from triage.connector import contract
from triage.connector.client import IDEMPOTENCY_HEADER
from triage.connector.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER

DOC = Path(__file__).resolve().parents[4] / "docs" / "connector.yaml"
PROSE = {"description", "title", "format", "examples"}
STRUCTS = [value for name in contract.__all__
           if isinstance(value := getattr(contract, name), type) and issubclass(value, msgspec.Struct)]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return yaml.safe_load(DOC.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def derived() -> dict[str, Any]:
    _, components = msgspec.json.schema_components(STRUCTS, ref_template="#/components/schemas/{name}")
    return components


def _shape(schema: Any) -> Any:
    """A schema without its prose, enums in a stable order."""
    if isinstance(schema, dict):
        return {k: sorted(v) if k == "enum" else _shape(v) for k, v in schema.items() if k not in PROSE}
    if isinstance(schema, list):
        return [_shape(item) for item in schema]
    return schema


@pytest.mark.parametrize("struct", STRUCTS, ids=lambda s: s.__name__)
def test_every_contract_struct_has_exactly_its_fields_and_types_in_the_document(struct, document, derived):
    schema = document["components"]["schemas"][struct.__name__]
    fields = msgspec.structs.fields(struct)
    assert set(schema["properties"]) == {f.encode_name for f in fields}
    assert set(schema.get("required", [])) == {f.encode_name for f in fields if f.required}
    assert _shape(schema) == _shape({k: v for k, v in derived[struct.__name__].items() if v != []})


def test_the_document_names_only_contract_schemas_and_every_reference_resolves(document):
    assert set(document["components"]["schemas"]) == {s.__name__ for s in STRUCTS}

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if "$ref" in node else []
            return own + [r for v in node.values() for r in refs(v)]
        return [r for v in node for r in refs(v)] if isinstance(node, list) else []

    for ref in refs(document):
        target: Any = document
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]


def test_the_signing_and_idempotency_headers_are_documented_on_every_call(document):
    parameters = document["components"]["parameters"]
    names = {key: p["name"] for key, p in parameters.items()}
    assert names["Timestamp"] == TIMESTAMP_HEADER and names["Signature"] == SIGNATURE_HEADER
    assert names["IdempotencyKey"] == IDEMPOTENCY_HEADER
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            used = {p["$ref"].rsplit("/", 1)[-1] for p in operation.get("parameters", []) if "$ref" in p}
            if path != "/healthz":
                assert {"Timestamp", "Signature"} <= used, f"{method} {path} does not document the signature"
            if method == "post":
                assert "IdempotencyKey" in used, f"{method} {path} does not document its idempotency key"
