"""Bundle signatures: who built a bundle, and which release of the region it is.

A signature covers the manifest's sha256 (which holds every file's sha256) and a **release**
number, so an edge configured with trusted keys refuses a bundle that is unsigned, signed with an
unknown key, altered after signing, or older than the release it serves (a downgrade: a signed
bundle from last month swapped back in through the admin endpoint or the shared store). A
rollback is a new release of an older build: ``triage deploy sign --bundle OLD`` signs it again.

Two algorithms, each key named so it can be rotated (edges trust the old and the new name during
the change):

- ``ed25519`` (recommended off a single host): the signer holds the private key
  (``id=ed25519-private:<base64>``), edges hold only the public one (``id=ed25519:<base64>``), so
  an edge that is broken into cannot sign a bundle for the others. ``triage deploy keygen`` makes a pair.
- ``hmac-sha256``: one shared secret (``id=secret``, 16+ characters) on the signer and every edge;
  simple for one host, where signer and edge are the same machine anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from pathlib import Path
from typing import Literal, NamedTuple

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from triage.bundle.manifest import MANIFEST_FILE, BundleError

__all__ = ["SIGNATURE_FILE", "Signature", "SigningKey", "TrustedKey", "generate_ed25519", "parse_keys",
           "parse_signing_key", "sign_bundle", "trusted_spec", "verify_signature"]

SIGNATURE_FILE = "signature.json"
Algorithm = Literal["hmac-sha256", "ed25519"]
_PUBLIC, _PRIVATE = "ed25519:", "ed25519-private:"


class Signature(msgspec.Struct, forbid_unknown_fields=True):
    alg: Algorithm
    key_id: str
    manifest_sha256: str
    release: int
    """Signing time in milliseconds unless given: later signatures of a region's bundles are higher."""
    signature: str


class SigningKey(NamedTuple):
    key_id: str
    alg: Algorithm
    material: bytes
    """The shared secret, or the raw 32-byte Ed25519 private key."""


class TrustedKey(NamedTuple):
    key_id: str
    alg: Algorithm
    material: bytes
    """The shared secret, or the raw 32-byte Ed25519 public key."""


def _ed25519_raw(key_id: str, text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ValueError(f"signing key {key_id!r}: an Ed25519 key is 32 bytes in base64 (make a pair with "
                         "`triage deploy keygen`)")
    return raw


def _split(item: str) -> tuple[str, str]:
    key_id, sep, value = item.partition("=")
    if not sep or not key_id:
        raise ValueError(f"signing key {item[:12]!r}...: write it as id=secret (16+ characters), "
                         "id=ed25519:<public key> or id=ed25519-private:<private key>")
    return key_id.strip(), value.strip()


def _hmac_secret(key_id: str, value: str) -> bytes:
    if len(value) < 16:
        raise ValueError(f"signing key {key_id!r}: write it as id=secret with a secret of 16+ characters")
    return value.encode()


def parse_keys(spec: str) -> dict[str, TrustedKey]:
    """An edge's trusted keys, ``"id=secret,id2=ed25519:<public>"``; a bad entry names itself, and a
    private key is refused: an edge that can sign can forge bundles for every other edge."""
    keys: dict[str, TrustedKey] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        key_id, value = _split(item)
        if value.startswith(_PRIVATE):
            raise ValueError(f"signing key {key_id!r}: an edge trusts public keys only; give it "
                             f"{key_id}=ed25519:<public key> (`triage deploy keygen` prints both)")
        if value.startswith(_PUBLIC):
            keys[key_id] = TrustedKey(key_id, "ed25519", _ed25519_raw(key_id, value[len(_PUBLIC):]))
        else:
            keys[key_id] = TrustedKey(key_id, "hmac-sha256", _hmac_secret(key_id, value))
    return keys


def parse_signing_key(spec: str) -> SigningKey:
    """The signer's one key: ``id=secret`` or ``id=ed25519-private:<base64>``."""
    key_id, value = _split(spec.strip())
    if value.startswith(_PUBLIC):
        raise ValueError(f"signing key {key_id!r}: a public key cannot sign; give the signer "
                         f"{key_id}=ed25519-private:<private key>")
    if value.startswith(_PRIVATE):
        return SigningKey(key_id, "ed25519", _ed25519_raw(key_id, value[len(_PRIVATE):]))
    return SigningKey(key_id, "hmac-sha256", _hmac_secret(key_id, value))


def generate_ed25519(key_id: str) -> tuple[str, str]:
    """A new pair as (signer's spec, edges' spec)."""
    private = Ed25519PrivateKey.generate()
    return (f"{key_id}={_PRIVATE}{base64.b64encode(private.private_bytes_raw()).decode()}",
            f"{key_id}={_PUBLIC}{base64.b64encode(private.public_key().public_bytes_raw()).decode()}")


def trusted_spec(key: SigningKey) -> str:
    """What the edges trust for this signer: the public half, or the same shared secret."""
    if key.alg == "hmac-sha256":
        return f"{key.key_id}={key.material.decode()}"
    public = Ed25519PrivateKey.from_private_bytes(key.material).public_key().public_bytes_raw()
    return f"{key.key_id}={_PUBLIC}{base64.b64encode(public).decode()}"


def _payload(alg: str, key_id: str, manifest_sha256: str, release: int) -> bytes:
    return f"triage-bundle-signature/2\n{alg}\n{key_id}\n{manifest_sha256}\n{release}".encode()


def sign_bundle(bundle: Path, key: SigningKey, release: int | None = None) -> Signature:
    """Sign (or sign again, as a new release) the bundle in place."""
    manifest_sha256 = hashlib.sha256((Path(bundle) / MANIFEST_FILE).read_bytes()).hexdigest()
    release = time.time_ns() // 1_000_000 if release is None else release
    payload = _payload(key.alg, key.key_id, manifest_sha256, release)
    if key.alg == "ed25519":
        value = Ed25519PrivateKey.from_private_bytes(key.material).sign(payload).hex()
    else:
        value = hmac.new(key.material, payload, hashlib.sha256).hexdigest()
    signature = Signature(alg=key.alg, key_id=key.key_id, manifest_sha256=manifest_sha256, release=release,
                          signature=value)
    (Path(bundle) / SIGNATURE_FILE).write_bytes(msgspec.json.format(msgspec.json.encode(signature)))
    return signature


def _valid(key: TrustedKey, payload: bytes, value: str) -> bool:
    if key.alg == "hmac-sha256":
        return hmac.compare_digest(hmac.new(key.material, payload, hashlib.sha256).hexdigest(), value)
    try:
        Ed25519PublicKey.from_public_bytes(key.material).verify(bytes.fromhex(value), payload)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_signature(bundle: Path, keys: dict[str, TrustedKey]) -> Signature:
    path = Path(bundle) / SIGNATURE_FILE
    if not path.is_file():
        raise BundleError(f"{bundle} is not signed ({SIGNATURE_FILE} missing) and this edge requires signed "
                          "bundles: build it with `triage deploy build`, which signs it")
    try:
        signature = msgspec.json.decode(path.read_bytes(), type=Signature)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BundleError(f"{path}: unreadable signature ({exc}); sign it again with `triage deploy sign`") from exc
    key = keys.get(signature.key_id)
    if key is None or key.alg != signature.alg:
        raise BundleError(f"{path}: signed with {signature.alg} key {signature.key_id!r}, which this edge does not "
                          f"trust (trusted: {', '.join(sorted(keys)) or 'none'})")
    manifest_sha256 = hashlib.sha256((Path(bundle) / MANIFEST_FILE).read_bytes()).hexdigest()
    payload = _payload(signature.alg, signature.key_id, manifest_sha256, signature.release)
    if not _valid(key, payload, signature.signature):
        raise BundleError(f"{path}: the signature does not match the manifest: the bundle was altered after "
                          "signing; rebuild and re-sign it")
    return signature

