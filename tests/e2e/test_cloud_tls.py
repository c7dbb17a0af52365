"""TLS and mutual TLS from config, with certificates made by openssl for the test."""

from __future__ import annotations

import shutil
import subprocess

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cloud_core.llm.onnx import OnnxBackend
from cloud_core.memory import open_store
from cloud_core.server import CloudServer
from tests.conftest import free_port
from triage.config import CloudConfig

pytestmark = pytest.mark.slow


def _openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.fail("the TLS tests need the openssl command (Debian package openssl)")
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=triage test CA", cwd=d)
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=d)
        (d / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    return d


async def _serve(llm, config):
    server = CloudServer(config, OnnxBackend(llm), open_store("sqlite:///:memory:"))
    await server.start()
    return server


async def _health(port: int, credentials) -> int:
    async with grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        return reply.status


async def test_tls_serves_clients_that_trust_the_ca(llm, pki):
    config = CloudConfig(port=free_port(), tls_cert=str(pki / "server.pem"), tls_key=str(pki / "server.key"))
    server = await _serve(llm, config)
    try:
        trusted = grpc.ssl_channel_credentials(root_certificates=(pki / "ca.pem").read_bytes())
        assert await _health(server.port, trusted) == health_pb2.HealthCheckResponse.SERVING
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as plain:
            with pytest.raises(grpc.aio.AioRpcError):
                await health_pb2_grpc.HealthStub(plain).Check(health_pb2.HealthCheckRequest(), timeout=3)
    finally:
        await server.stop()


async def test_mtls_refuses_a_client_without_a_certificate(llm, pki):
    config = CloudConfig(port=free_port(), tls_cert=str(pki / "server.pem"), tls_key=str(pki / "server.key"),
                         tls_client_ca=str(pki / "ca.pem"))
    server = await _serve(llm, config)
    try:
        ca = (pki / "ca.pem").read_bytes()
        with_cert = grpc.ssl_channel_credentials(root_certificates=ca, private_key=(pki / "client.key").read_bytes(),
                                                 certificate_chain=(pki / "client.pem").read_bytes())
        assert await _health(server.port, with_cert) == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _health(server.port, grpc.ssl_channel_credentials(root_certificates=ca))
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop()


def test_a_certificate_without_its_key_is_a_config_error(llm, pki):
    from cloud_core.server import ServerConfigError

    with pytest.raises(ServerConfigError, match=r"tls_cert and cloud\.tls_key"):
        CloudServer(CloudConfig(port=free_port(), tls_cert=str(pki / "server.pem")), OnnxBackend(llm),
                    open_store("sqlite:///:memory:"))


async def test_listening_beyond_loopback_without_tls_is_refused_unless_allowed(llm):
    from cloud_core.server import ServerConfigError

    # The old server refused a missing token beyond loopback but served plaintext there.
    with pytest.raises(ServerConfigError, match="tls_cert is empty"):
        CloudServer(CloudConfig(host="0.0.0.0", port=free_port(), auth_tokens="a-token-of-the-edges"),
                    OnnxBackend(llm), open_store("sqlite:///:memory:"))
    CloudServer(CloudConfig(host="0.0.0.0", port=free_port(), auth_tokens="a-token-of-the-edges",
                            allow_plaintext=True), OnnxBackend(llm), open_store("sqlite:///:memory:"))


async def test_the_edge_client_presents_its_certificate_to_a_cloud_that_requires_one(llm, pki):
    from edge_node.escalation.client import CloudClient
    from protos.triage.v1 import escalation_pb2 as pb

    config = CloudConfig(port=free_port(), tls_cert=str(pki / "server.pem"), tls_key=str(pki / "server.key"),
                         tls_client_ca=str(pki / "ca.pem"), max_tokens=8, health_port=free_port())
    server = await _serve(llm, config)
    request = pb.EscalateRequest(idempotency_key="mtls-1", customer=pb.CustomerRef(tenant="demo"), lang="en",
                                 message="Do you ship to Norway?")
    with_cert = CloudClient(f"127.0.0.1:{server.port}", "", str(pki / "ca.pem"), str(pki / "client.pem"),
                            str(pki / "client.key"))
    without = CloudClient(f"127.0.0.1:{server.port}", "", str(pki / "ca.pem"))
    try:
        events = [event async for event in with_cert.escalate(request, timeout_s=60)]
        assert events[-1].HasField("final")  # the old client could not present a certificate at all
        with pytest.raises(grpc.aio.AioRpcError) as info:
            _ = [event async for event in without.escalate(request, timeout_s=10)]
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.health_port}") as plain:  # kubelet's probe
            reply = await health_pb2_grpc.HealthStub(plain).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await with_cert.close()
        await without.close()
        await server.stop()
