"""The committed gRPC stubs are exactly what grpcio-tools generates from the .proto files."""

from __future__ import annotations

from triage.protogen import ROOT, generate


def test_committed_stubs_match_a_fresh_generation(tmp_path):
    for fresh in generate(tmp_path):
        committed = ROOT / fresh.relative_to(tmp_path)
        assert committed.read_text() == fresh.read_text(), (
            f"{committed.relative_to(ROOT)} is stale: run `python -m triage.protogen` and commit the result")


def test_stubs_import_under_the_protos_package():
    from protos.triage.v1 import escalation_pb2, escalation_pb2_grpc

    assert escalation_pb2.DESCRIPTOR.package == "triage.v1"
    assert hasattr(escalation_pb2_grpc, "EscalationServicer")
