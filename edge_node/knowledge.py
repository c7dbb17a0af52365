"""A verified bundle loaded into memory: encoder, FAISS index, intent head, calibration, catalog."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import numpy as np

from triage.bundle import BundleError, Manifest, verify_bundle
from triage.bundle.head import IntentHead
from triage.bundle.layout import (
    CALIBRATION_FILE,
    CATALOG_FILE,
    EXEMPLARS_FILE,
    HEAD_FILE,
    INDEX_FILE,
    Calibration,
    Exemplar,
)
from triage.catalog import Catalog
from triage.encoder import Encoder
from triage.encoder.build import ENCODER_FILE, TOKENIZER_FILE
from triage.encoder.graph import ADAPTED_OUTPUT

if TYPE_CHECKING:
    from triage.bundle.signing import TrustedKey

__all__ = ["Knowledge", "load_knowledge"]


@dataclass(frozen=True)
class Knowledge:
    manifest: Manifest
    catalog: Catalog
    encoder: Encoder
    index: object  # faiss.Index (untyped library)
    exemplars: list[Exemplar]
    head: IntentHead
    calibration: Calibration
    path: Path
    release: int = 0
    """The signed release (``triage.bundle.signing``); 0 for a bundle loaded without trusted keys."""


def load_knowledge(bundle: Path, *, threads: int = 1, keys: dict[str, TrustedKey] | None = None) -> Knowledge:
    """Load a bundle after checking every checksum (and its signature when ``keys`` are given);
    raises ``BundleError`` when it is not intact or not signed by a trusted key."""
    import faiss

    bundle = Path(bundle)
    release = 0
    if keys:
        from triage.bundle.signing import verify_signature

        release = verify_signature(bundle, keys).release
    manifest = verify_bundle(bundle)
    with np.load(bundle / HEAD_FILE, allow_pickle=False) as arrays:
        head = IntentHead.from_arrays(dict(arrays))
    encoder = Encoder(bundle / ENCODER_FILE, bundle / TOKENIZER_FILE, threads=threads)
    if head.adapted and ADAPTED_OUTPUT not in encoder.outputs:
        raise BundleError(f"{bundle}: the intent head reads the encoder's adapted layers, which this encoder "
                          "lacks; rebuild the bundle with `triage build`")
    return Knowledge(
        manifest=manifest,
        catalog=msgspec.json.decode((bundle / CATALOG_FILE).read_bytes(), type=Catalog),
        encoder=encoder,
        index=faiss.read_index(str(bundle / INDEX_FILE)),
        exemplars=msgspec.json.decode((bundle / EXEMPLARS_FILE).read_bytes(), type=list[Exemplar]),
        head=head,
        calibration=msgspec.json.decode((bundle / CALIBRATION_FILE).read_bytes(), type=Calibration),
        path=bundle,
        release=release,
    )
