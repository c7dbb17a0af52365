"""Configuration: one TOML file plus ``TRIAGE_<SECTION>__<FIELD>`` environment variables.

Environment wins over the file, the file over the defaults; a bad value fails at load with
the field's name, not later at the first message.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "AgentCredential", "CloudConfig", "Config", "ConfigError", "ConsoleConfig", "CostConfig", "DeployConfig",
    "EdgeConfig", "ModelPrice", "ShopConfig", "is_postgres_url",
    "load_config",
]


class EdgeConfig(msgspec.Struct, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    """Interface the gateway listens on."""
    port: int = 8080
    bundle: str = "var/bundle"
    """Directory of the edge bundle built by ``triage build``."""
    max_frame_bytes: int = 4096
    """Largest client frame answered normally; larger ones get a ``too_large`` error."""
    max_text_chars: int = 1000
    """Longest message text accepted."""
    rate_per_s: float = 5.0
    """Sustained messages per second per session."""
    rate_burst: int = 10
    """Frames (hello, message, ping) a connection may send at once before ``rate_limited`` starts."""
    max_connections: Annotated[int, msgspec.Meta(ge=1)] = 12000
    """Open chat websockets one edge process holds; past it, a new one's handshake is refused before any
    work, so a connection flood cannot exhaust memory or file descriptors."""
    hello_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    """A websocket that has not said hello this long after opening is closed (code 4408)."""
    address_rate_per_s: Annotated[float, msgspec.Meta(gt=0)] = 50.0
    """Sustained hellos, messages and pings per second from one client address over all its
    connections, and from one signed-in customer over all theirs: reconnecting resets neither (a hello
    flood is refused, not turned into session rows)."""
    address_rate_burst: Annotated[int, msgspec.Meta(ge=1)] = 200
    """Frames one address (or customer) may send at once; generous, as shoppers behind one NAT share it."""
    trusted_proxies: str = ""
    """Comma-separated addresses of reverse proxies whose ``X-Forwarded-For`` names the client; without
    it every shopper behind a proxy shares the proxy's address (and its limit)."""
    max_sessions: int = 10000
    """Shopper sessions one edge process serves at once; a hello for another one beyond this gets
    an ``overloaded`` error frame (a bound on the memory open connections hold)."""
    encoder_threads: int = 1
    langid: Literal["py3langid", "langdetect"] = "py3langid"
    """Language identifier backend; see ``edge_node/langid/__init__.py`` for why py3langid is the default."""
    workers: int = 1
    """Processes serving the port, one per core on a dedicated node. They share the store, so a
    session resumes on any of them, and a bundle swapped on one is followed by all within
    ``bundle_poll_s``."""
    bundle_poll_s: float = 1.0
    """How often a worker checks the store for a bundle another worker swapped in."""
    retention_days: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    """Sessions idle longer than this are erased with their messages and frames (the cost ledger
    stays: it holds neither text nor customer). The store keeps messages redacted (no card numbers
    or IBANs) either way."""
    retention_check_s: Annotated[float, msgspec.Meta(gt=0)] = 3600.0
    """How often the running edge erases what ``retention_days`` no longer keeps."""
    ws_compression: bool = False
    """Negotiate permessage-deflate with clients. Off by default: chat frames are a few hundred
    bytes, so deflate saves little bandwidth, while every connection would hold a zlib context
    each way. CPU per message measured the same either way (docs/benchmarks.md)."""
    store: Annotated[str, msgspec.Meta(pattern=r"^((postgresql|postgres)://\S+|(?![A-Za-z][A-Za-z0-9+.-]*://).+)$")] = (
        "var/edge.db")
    """Where accepted messages, numbered frames, the escalation outbox and the cost ledger live: a
    SQLite file path (processes of one host share it), or ``postgresql://...`` (edge hosts of a region
    share it: any replica resumes any session and drains any outbox item). Another URL is refused."""
    cloud: Annotated[str, msgspec.Meta(pattern=r"^([^/\s]+:[0-9]+)?$")] = ""
    """``host:port`` of the cloud core (no scheme); empty keeps escalations queued in the outbox."""
    cloud_token: str = ""
    """Bearer token for the cloud core."""
    cloud_tls_ca: str = ""
    """PEM CA to verify the cloud core's certificate; empty speaks plaintext, which is refused at load
    for a cloud beyond loopback unless ``cloud_allow_plaintext``."""
    cloud_tls_cert: str = ""
    """PEM client certificate this edge presents to the cloud (mTLS, with ``[cloud] tls_client_ca``)."""
    cloud_tls_key: str = ""
    cloud_allow_plaintext: bool = False
    """Speak plaintext to a cloud beyond loopback: only where a service mesh or a private link encrypts it."""
    node_id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{0,64}$")] = ""
    """This edge's name toward the cloud: people's replies to its shoppers are delivered to it. Edge
    processes sharing one store share the name; empty: the host name."""
    escalation_timeout_s: float = 60.0
    """Deadline of one escalation attempt (whole answer stream)."""
    queued_after_s: float = 4.0
    """Without a cloud answer after this long, the shopper is told the question is queued."""
    outbox_retry_s: float = 0.5
    """First retry delay of a failed escalation; doubles per attempt up to ``outbox_max_backoff_s``."""
    outbox_max_backoff_s: float = 10.0
    outbox_max_attempts: Annotated[int, msgspec.Meta(ge=1)] = 40
    """Attempts after which an escalation is given up (dead-lettered): the shopper then gets an honest
    final answer in their language instead of waiting for ever, and ``/metrics`` and ``triage report``
    count it."""
    outbox_max_age_s: Annotated[float, msgspec.Meta(gt=0)] = 86400.0
    """An escalation still unanswered this long after it was accepted is given up the same way."""
    outbox_keep_done_s: Annotated[float, msgspec.Meta(gt=0)] = 7 * 86400.0
    """Answered outbox rows older than this are deleted (the answer itself stays in the frames)."""
    breaker_failures: int = 3
    """Consecutive cloud failures that open the circuit (escalations are queued at once)."""
    breaker_reset_s: float = 5.0
    """Time the circuit stays open before one trial call."""
    conversation_turns: int = 8
    """Earlier shopper messages sent to the cloud with an escalation."""
    session_secret: Annotated[str, msgspec.Meta(pattern=r"^(|.{16,})$")] = ""
    """HMAC secret shared with the shop's backend for customer session tokens (``triage token``);
    empty: every shopper is anonymous (no customer memory). At least 16 characters: a shorter one is
    refused at load, not at the first token."""
    allowed_origins: str = ""
    """Comma-separated page origins allowed to open the chat (``https://shop.example``); empty: any."""
    bundle_keys: str = ""
    """Trusted bundle signing keys, ``id=ed25519:<public key>`` (``triage deploy keygen``) or a shared
    ``id=secret``, comma-separated; when set, unsigned, altered or older (downgraded) bundles are
    refused at start and on reload. Never a private key: an edge must not be able to sign."""
    admin_token: str = ""
    """Bearer token for ``POST /admin/bundle`` (hot bundle reload); empty disables the endpoint."""
    request_deadline_s: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    """Time a connection has to deliver a whole HTTP request (or its websocket upgrade); a half-sent
    request is closed after it (uvicorn's keep-alive timer is reset by every byte: a slow trickle
    held a connection for ever)."""
    status_token: str = ""
    """Bearer token for ``/metrics`` and the details of ``/readyz`` (bundle, build, cloud, circuit,
    outbox) from other hosts (Prometheus, the fleet); loopback needs none. Without it another host
    gets ``/readyz``'s status only (enough for a probe) and no metrics."""
    admin_allow_plaintext: bool = False
    """Take ``POST /admin/bundle`` over plain HTTP from another host. Off: the admin token travels only
    over loopback or HTTPS (a trusted proxy that sets ``X-Forwarded-Proto: https``); turn it on only
    on a private network."""
    cache_enabled: bool = True
    """Reuse cloud answers to generic questions (never personal ones) through the guarded semantic cache."""
    cache_min_similarity: float = 0.8
    cache_ttl_s: float = 86400.0
    cache_entries: int = 10000
    cost_quality: float = -1.0
    """The router's trade-off knob in [0, 1] (0 cheapest, 1 safest); negative uses the bundle's
    calibrated value (``triage calibrate``)."""

    def proxies(self) -> frozenset[str]:
        """``trusted_proxies`` as a set of addresses."""
        return _comma_list(self.trusted_proxies)

    def __post_init__(self) -> None:
        if bool(self.cloud_tls_cert) != bool(self.cloud_tls_key):
            raise ValueError("edge.cloud_tls_cert and edge.cloud_tls_key go together (the client certificate and "
                             "its key)")
        if self.cloud_tls_cert and not self.cloud_tls_ca:
            raise ValueError("edge.cloud_tls_cert is set but edge.cloud_tls_ca is empty: a client certificate is "
                             "presented over TLS only; set TRIAGE_EDGE__CLOUD_TLS_CA")
        host = self.cloud.rpartition(":")[0]
        if self.cloud and not self.cloud_tls_ca and not self.cloud_allow_plaintext and not is_loopback_host(host):
            raise ValueError(f"edge.cloud is {self.cloud!r} beyond loopback but edge.cloud_tls_ca is empty: the "
                             "cloud token and shoppers' messages would cross the network in the clear. Set "
                             "TRIAGE_EDGE__CLOUD_TLS_CA (and CLOUD_TLS_CERT/KEY for mTLS), or "
                             "TRIAGE_EDGE__CLOUD_ALLOW_PLAINTEXT=true behind a mesh that encrypts it")


class ModelPrice(msgspec.Struct, forbid_unknown_fields=True):
    input_per_1m: float = 0.15
    cached_input_per_1m: float = 0.075
    output_per_1m: float = 0.60


class CostConfig(msgspec.Struct, forbid_unknown_fields=True):
    """Prices for the cost ledger (USD)."""

    edge_per_1k_messages: float = 0.002
    """Edge compute per 1,000 messages (a CPU core's share)."""
    default_model: ModelPrice = msgspec.field(default_factory=ModelPrice)
    models: dict[str, ModelPrice] = msgspec.field(default_factory=dict)
    """Per-model prices by the cloud's model id; others use ``default_model``."""
    all_cloud_input_tokens: int = 700
    """Prompt tokens assumed per message for the all-cloud baseline when none was measured."""
    all_cloud_output_tokens: int = 90

    def cloud_cost(self, model: str, input_tokens: int, cached_tokens: int, output_tokens: int) -> float:
        price = self.models.get(model, self.default_model)
        return ((input_tokens - cached_tokens) * price.input_per_1m + cached_tokens * price.cached_input_per_1m
                + output_tokens * price.output_per_1m) / 1e6

    def edge_cost(self, messages: int = 1) -> float:
        return self.edge_per_1k_messages * messages / 1000


_AGENT = r"[a-z0-9_-]+:[A-Za-z0-9_.@-]+:[^,:=]+=[^,\s]{16,}"
_AGENT_TOKENS = rf"^(|{_AGENT}(\s*,\s*{_AGENT})*)$"
_SERVICE = r"([a-z0-9_-]+(\|[a-z0-9_-]+)*=)?[^,\s=]+"
_SERVICE_TOKENS = rf"^(|{_SERVICE}(\s*,\s*{_SERVICE})*)$"
ALL_TENANTS = "*"


class ServiceCredential(msgspec.Struct, frozen=True):
    """What a service or admin token may do: its role, and the tenants it may name (``*``: all)."""

    role: Literal["service", "admin"]
    tenants: frozenset[str]

    def covers(self, tenant: str) -> bool:
        return ALL_TENANTS in self.tenants or tenant in self.tenants


def _service_credentials(spec: str, role: Literal["service", "admin"]) -> dict[str, ServiceCredential]:
    found: dict[str, ServiceCredential] = {}
    for item in _comma_list(spec):
        tenants, _, token = item.rpartition("=")
        found[token] = ServiceCredential(role, frozenset(tenants.split("|")) if tenants else frozenset({ALL_TENANTS}))
    return found


class AgentCredential(msgspec.Struct, frozen=True):
    tenant: str
    agent_id: str
    display_name: str


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name or an address, without port) stays on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_postgres_url(location: str) -> bool:
    """Whether a store location (``[edge] store``, ``[cloud] memory``, the demo shop's ``--db``) names
    PostgreSQL rather than SQLite."""
    return location.startswith(("postgresql://", "postgres://"))


def _comma_list(value: str) -> frozenset[str]:
    return frozenset(item.strip() for item in value.split(",") if item.strip())


class CloudConfig(msgspec.Struct, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 50051
    memory: str = "sqlite:///var/memory.db"
    """``sqlite:///path`` for one replica, ``postgresql://...`` when several replicas share memory."""
    auth_tokens: Annotated[str, msgspec.Meta(pattern=_SERVICE_TOKENS)] = ""
    """Service tokens (edges, internal services), comma-separated, each ``token`` (every tenant) or
    ``tenant|tenant2=token`` (only those): they open ``Escalate`` and the delivery stream of the
    tenants they name, and nothing else (no memory, export, forget, resolve or listing). Empty
    disables auth (loopback development only: ``triage cloud`` refuses a non-loopback host without
    tokens)."""
    admin_tokens: Annotated[str, msgspec.Meta(pattern=_SERVICE_TOKENS)] = ""
    """Admin tokens, same form: every ``triage.v1.Escalation`` method for the tenants they name,
    including customer memory, export, erasure, resolutions and the escalation inbox (``triage
    learn``, ``triage distill``, a data-protection officer's tools). Keep them off the edges."""
    tls_cert: str = ""
    """PEM server certificate; with ``tls_key`` the port speaks TLS."""
    tls_key: str = ""
    tls_client_ca: str = ""
    """PEM CA bundle; when set, clients must present a certificate it signed (mTLS)."""
    health_port: int = 0
    """A plaintext port serving only ``grpc.health.v1`` (for kubelet probes, which cannot speak TLS);
    0: off. Health also answers on ``port``."""
    allow_plaintext: bool = False
    """Listen beyond loopback without TLS: only where a service mesh or a private link encrypts the
    traffic; otherwise ``triage cloud`` refuses to start there without ``tls_cert``."""
    backend: Literal["onnx", "openai"] = "onnx"
    model_dir: str = ""
    """Folder of the int4 ONNX model; empty builds (or reuses) ``triage cloud build-model``'s cached one."""
    openai_url: str = ""
    """Base URL of an OpenAI-compatible server (vLLM, TGI, llama.cpp) for ``backend = "openai"``."""
    openai_model: str = ""
    openai_api_key: str = ""
    threads: int = 0
    """ONNX Runtime intra-op threads per generation; 0 lets it use every core."""
    max_concurrent: int = 2
    """Generations running at once; more are queued."""
    max_queue: int = 16
    """Escalations waiting for a slot; past this the call fails with RESOURCE_EXHAUSTED."""
    max_open_calls: int = 32
    """Health and reflection calls (no token needed) open at once; one more gets RESOURCE_EXHAUSTED, so
    unauthenticated streams can never take the places of authenticated calls."""
    max_tokens: int = 200
    """Answer length when a request does not say."""
    answer_languages: str = "en"
    """Comma-separated languages the model writes acceptably, or ``*``. An escalation in another
    language gets the safe template in that language and is flagged for a human, without generating.
    The built-in SmolLM2-135M writes English only: 22 of 22 non-English escalations of the demo
    shop came back in English, as an echo of the question, or as gibberish (docs/benchmarks.md).
    Set ``*`` (or the list) for a larger model behind ``backend = "openai"``."""
    prefix_cache_mb: int = 256
    memory_turns: int = 12
    """Recent turns of customer memory put into the prompt."""
    retention_days: int = 365
    """Customer rows older than this are purged: turns, answers, escalations and their resolutions,
    cases, hand-offs with their events and deliveries."""
    retention_check_s: Annotated[float, msgspec.Meta(gt=0)] = 3600.0
    """How often the running core purges what ``retention_days`` no longer keeps."""
    grace_s: float = 10.0
    """Time running calls get to finish on shutdown."""
    metrics_port: int = 0
    """Port of the Prometheus endpoint; 0 turns it off."""
    catalog: Annotated[str, msgspec.Meta(pattern=r"^(?![A-Za-z][A-Za-z0-9+.-]*://).*$")] = ""
    """Catalog folder whose ``procedures/`` decide that storefront's disputes against the shop of
    ``[shop]`` (e.g. ``intents/storefront``); empty: every escalation is answered by the model. A path,
    never a URL."""

    agent_tokens: Annotated[str, msgspec.Meta(pattern=_AGENT_TOKENS)] = ""
    """Credentials of people and helpdesks on the ``triage.v1.Cases`` API (and the agent console):
    comma-separated ``tenant:agent_id:Display Name=token``, token at least 16 characters. Each opens
    only that service and only that tenant's cases; the display name is what the shopper sees beside
    a reply. Empty: no one can answer hand-offs."""
    follow_up_after_s: Annotated[float, msgspec.Meta(gt=0)] = 900.0
    """A handed-off case no person has replied to within this long sends the shopper an honest
    follow-up with the case number, in their language (once per case)."""
    cases_poll_s: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    """How often watch and delivery streams look for changes another cloud replica made (changes on
    this replica wake them at once), and how often due follow-ups are looked for."""

    procedure_driver: Literal["engine", "model"] = "engine"
    """Who walks a dispute through its procedure: the engine alone, or the model behind ``backend =
    "openai"`` through tool calls that the engine checks against the same plan before any reaches the
    shop (``cloud_core.procedures.tools``)."""

    def tokens(self) -> frozenset[str]:
        """Every service and admin token."""
        return frozenset(self.credentials())

    def credentials(self) -> dict[str, ServiceCredential]:
        """Service or admin token -> what it may do (a token in both lists is an admin token)."""
        return {**_service_credentials(self.auth_tokens, "service"), **_service_credentials(self.admin_tokens, "admin")}

    def agents(self) -> dict[str, AgentCredential]:
        """Agent token -> whom it names (``agent_tokens``)."""
        found: dict[str, AgentCredential] = {}
        for item in _comma_list(self.agent_tokens):
            who, _, token = item.rpartition("=")
            tenant, agent_id, name = who.split(":", 2)
            found[token] = AgentCredential(tenant, agent_id, name.strip())
        return found

    def writes(self, lang: str) -> bool:
        """Whether the model may answer in ``lang`` (see ``answer_languages``)."""
        allowed = _comma_list(self.answer_languages)
        return "*" in allowed or lang in allowed or lang.split("-")[0] in allowed


class ConsoleConfig(msgspec.Struct, forbid_unknown_fields=True):
    """``triage agent``: the reference agent console, a web page on the cloud's Cases API."""

    host: str = "127.0.0.1"
    port: int = 8081
    cloud: Annotated[str, msgspec.Meta(pattern=r"^[^/\s]+:[0-9]+$")] = "127.0.0.1:50051"
    """``host:port`` of the cloud core (no scheme)."""
    cloud_tls_ca: str = ""
    """PEM CA to verify the cloud core's certificate; empty speaks plaintext (loopback only)."""
    secure_cookies: bool = False
    """Mark the login cookie ``Secure`` (set it when the console is served over HTTPS)."""


class DeployConfig(msgspec.Struct, forbid_unknown_fields=True):
    signing_key: str = ""
    """``id=ed25519-private:<key>`` (``triage deploy keygen``) or a shared ``id=secret`` with which
    ``triage deploy build`` and ``sign`` sign bundles; the edges trust its public half via bundle_keys.
    Empty: a local fleet generates an Ed25519 pair in its state folder."""
    regions: str = "deploy/regions.toml"


class ShopConfig(msgspec.Struct, forbid_unknown_fields=True):
    """The shop's own API behind the connector contract (docs/connector.yaml), which actions call."""

    url: Annotated[str, msgspec.Meta(pattern=r"^(https?://\S+)?$")] = ""
    """Base URL, ``http://127.0.0.1:8090``; empty: no action calls a shop, and an action intent
    answers with the catalog's written text (how to track or cancel an order yourself)."""
    secret: str = ""
    """HMAC-SHA256 key that signs every request (``X-Triage-Timestamp`` + ``X-Triage-Signature``)."""
    timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 3.0
    """Deadline of one HTTP call."""
    retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 2
    """Extra attempts, with backoff, of a call that is safe to repeat (reads; writes with an idempotency key)."""
    breaker_failures: Annotated[int, msgspec.Meta(ge=1)] = 3
    """Consecutive failed calls that open the circuit: then the shop is not called for ``breaker_reset_s``."""
    breaker_reset_s: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    max_response_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 1 << 20
    """A larger response is refused as malformed (nothing the contract returns comes near it)."""


class Config(msgspec.Struct, forbid_unknown_fields=True):
    edge: EdgeConfig = msgspec.field(default_factory=EdgeConfig)
    shop: ShopConfig = msgspec.field(default_factory=ShopConfig)
    cloud: CloudConfig = msgspec.field(default_factory=CloudConfig)
    cost: CostConfig = msgspec.field(default_factory=CostConfig)
    console: ConsoleConfig = msgspec.field(default_factory=ConsoleConfig)
    deploy: DeployConfig = msgspec.field(default_factory=DeployConfig)


class ConfigError(ValueError):
    pass


def _env_overrides(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, value in env.items():
        if not key.startswith("TRIAGE_") or "__" not in key:
            continue
        section, _, field = key[len("TRIAGE_"):].lower().partition("__")
        out.setdefault(section, {})[field] = value
    return out


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    path = path or (Path(env["TRIAGE_CONFIG"]) if "TRIAGE_CONFIG" in env else None)
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = msgspec.toml.decode(Path(path).read_bytes())
        except (OSError, msgspec.DecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config ({exc})") from exc
    for section, fields in _env_overrides(env).items():
        raw.setdefault(section, {}).update(fields)
    try:
        return msgspec.convert(raw, Config, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"configuration {path or '(environment)'}: {exc}") from exc
