"""Bundle signatures: an HMAC-SHA256 over the manifest, which itself holds every file's sha256.

An edge configured with signing keys refuses a bundle that is unsigned, signed with an unknown
key, or altered after signing (any file: its checksum is in the signed manifest). Keys are named,
so a key can be rotated: edges trust the old and the new name during the change.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import msgspec

from triage.bundle.manifest import MANIFEST_FILE, BundleError

__all__ = ["SIGNATURE_FILE", "Signature", "parse_keys", "sign_bundle", "verify_signature"]

SIGNATURE_FILE = "signature.json"


class Signature(msgspec.Struct, forbid_unknown_fields=True):
    alg: str
    key_id: str
    manifest_sha256: str
    signature: str


def parse_keys(spec: str) -> dict[str, bytes]:
    """``"id=secret,id2=secret2"`` -> {id: secret}; a bad entry names itself."""
    keys: dict[str, bytes] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        key_id, sep, secret = item.partition("=")
        if not sep or not key_id or len(secret) < 16:
            raise ValueError(f"signing key {key_id or item!r}: write it as id=secret with a secret of 16+ characters")
        keys[key_id] = secret.encode()
    return keys


def _mac(key: bytes, manifest: bytes) -> str:
    return hmac.new(key, manifest, hashlib.sha256).hexdigest()


def sign_bundle(bundle: Path, key_id: str, key: bytes) -> Signature:
    manifest = (Path(bundle) / MANIFEST_FILE).read_bytes()
    signature = Signature(alg="hmac-sha256", key_id=key_id, manifest_sha256=hashlib.sha256(manifest).hexdigest(),
                          signature=_mac(key, manifest))
    (Path(bundle) / SIGNATURE_FILE).write_bytes(msgspec.json.format(msgspec.json.encode(signature)))
    return signature


def verify_signature(bundle: Path, keys: dict[str, bytes]) -> Signature:
    path = Path(bundle) / SIGNATURE_FILE
    if not path.is_file():
        raise BundleError(f"{bundle} is not signed ({SIGNATURE_FILE} missing) and this edge requires signed "
                          "bundles: build it with `triage deploy build`, which signs it")
    try:
        signature = msgspec.json.decode(path.read_bytes(), type=Signature)
    except msgspec.DecodeError as exc:
        raise BundleError(f"{path}: unreadable signature ({exc}); rebuild the bundle") from exc
    key = keys.get(signature.key_id)
    if signature.alg != "hmac-sha256" or key is None:
        raise BundleError(f"{path}: signed with {signature.alg} key {signature.key_id!r}, which this edge does not "
                          f"trust (trusted: {', '.join(sorted(keys)) or 'none'})")
    manifest = (Path(bundle) / MANIFEST_FILE).read_bytes()
    if not hmac.compare_digest(_mac(key, manifest), signature.signature):
        raise BundleError(f"{path}: the signature does not match the manifest: the bundle was altered after "
                          "signing; rebuild and re-sign it")
    return signature
