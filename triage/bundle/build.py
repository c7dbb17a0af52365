"""``triage build``: catalog -> edge bundle, cached by the hash of every input."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import numpy as np

from triage.artifacts import ArtifactCache, sha256_file, sha256_files
from triage.bundle.adapter import AdapterTraining, apply_layers, held_out_rows, tune_adapter
from triage.bundle.head import (
    OOS_LABEL,
    HeldOut,
    fit_calibration,
    held_out_confidence,
    reads_density,
    reads_ngrams,
    train_intent_head,
)
from triage.bundle.layout import (
    CALIBRATION_FILE,
    CATALOG_FILE,
    EXEMPLARS_FILE,
    HEAD_FILE,
    INDEX_FILE,
    Exemplar,
)
from triage.bundle.manifest import FORMAT_VERSION, MANIFEST_FILE, Manifest
from triage.catalog import Catalog, load_catalog
from triage.encoder.build import ENCODER_FILE, TOKENIZER_FILE, build_encoder, cached_encoder
from triage.encoder.graph import ADAPTED_OUTPUT, FEATURES_OUTPUT, HEAD_LAYERS
from triage.encoder.runtime import Encoder
from triage.progress import progress_bar

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["build_bundle", "catalog_exemplars"]

_RECIPE = (f"bundle-v{FORMAT_VERSION};logreg-C10;transfer-balanced-C100+class-mean-logits;"
           "loo-calibration-floors-0.1-0.2;knob-0.2")
_ADAPTED_RECIPE = ("adapted-int8-per-column-output;head-reads-served-output;held-out-fifth-calibration;"
                   "ngrams-nfkc-word12-char35-df2-from-30-an-intent;"
                   "density-shared-cov-shrink0.1-rank64-from-4-a-dim;scope-score-prob+distance-q0.01")
_VERSIONED = ("triage", "onnxruntime", "faiss-cpu", "numpy", "sentencepiece", "scikit-learn", "scipy", "autograd")


def catalog_exemplars(catalog: Catalog) -> list[Exemplar]:
    rows: list[Exemplar] = []
    for intent in catalog.intents:
        for lang, texts in intent.examples.items():
            rows.extend(Exemplar("intent", intent.name, lang, t) for t in texts)
    for entry in catalog.faqs:
        for lang, texts in entry.questions.items():
            rows.extend(Exemplar("faq", entry.id, lang, t) for t in texts)
    for lang, texts in catalog.storefront.out_of_scope.items():
        rows.extend(Exemplar("oos", OOS_LABEL, lang, t) for t in texts)
    return rows


def _embed(encoder: Encoder, texts: list[str], output: str,
           what: str) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Embeddings of ``texts`` and the encoder's ``output`` for them."""
    out = np.empty((len(texts), 512), dtype=np.float32)
    other = np.empty((len(texts), 512), dtype=np.float32)
    with progress_bar() as progress:
        task = progress.add_task(what, total=len(texts))
        for i, text in enumerate(texts):
            out[i], other[i] = encoder.encode_with(text, output)
            if i % 64 == 0:
                progress.update(task, completed=i + 1)
        progress.update(task, completed=len(texts))
    return out, other


def _encoder_layers() -> dict[str, NDArray[np.float32]]:
    """The encoder's own last layers, where the adaptation starts."""
    from triage.encoder.build import reference_resources

    with np.load(reference_resources()[0], allow_pickle=False) as weights:
        return {name: np.asarray(weights[name], dtype=np.float32) for name in HEAD_LAYERS}


def _adapted_confidence(features: NDArray[np.float32], labels: list[str], texts: list[str] | None,
                        start: dict[str, NDArray[np.float32]], training: AdapterTraining, *,
                        density: bool = False) -> HeldOut | None:
    """The adapted head's confidence on examples neither it nor its layers saw: a second adapter
    trained on four fifths of each intent's examples (and its regression on their n-grams, its
    class density with ``density``), scored on the fifth it did not see. Through
    the float layers: the served int8 copy is within cosine 0.999 of them, and a quantile of
    confidences does not move by that."""
    held = held_out_rows(labels)
    if held is None:
        return None
    y = np.asarray(labels)
    kept = None if texts is None else [t for t, h in zip(texts, held, strict=True) if not h]
    held_texts = None if texts is None else [t for t, h in zip(texts, held, strict=True) if h]
    layers = tune_adapter(features[~held], list(y[~held]), start, training,
                          what="adapting a copy without a fifth of the examples, for calibration")
    return held_out_confidence(apply_layers(layers, features[~held]), list(y[~held]),
                               apply_layers(layers, features[held]), list(y[held]),
                               train_texts=kept, held_texts=held_texts, density=density)


def _versions() -> dict[str, str]:
    out = {}
    for dist in _VERSIONED:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def _write_bundle(catalog: Catalog, encoder_dir: Path, build_key: str, work: Path,
                  training: AdapterTraining | None) -> None:
    import faiss

    for name in (ENCODER_FILE, TOKENIZER_FILE):
        shutil.copyfile(encoder_dir / name, work / name)
    encoder = Encoder(work / ENCODER_FILE, work / TOKENIZER_FILE)
    exemplars = catalog_exemplars(catalog)
    vectors, features = _embed(encoder, [e.text for e in exemplars], FEATURES_OUTPUT, "embedding catalog examples")

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    faiss.write_index(index, str(work / INDEX_FILE))
    (work / EXEMPLARS_FILE).write_bytes(msgspec.json.encode(exemplars))

    is_head = np.asarray([e.kind in ("intent", "oos") for e in exemplars], dtype=bool)
    head_labels = [e.target for e in exemplars if e.kind in ("intent", "oos")]
    head_texts = [e.text for e in exemplars if e.kind in ("intent", "oos")]
    adapted_x: NDArray[np.float32] | None = None
    ngram_texts: list[str] | None = None
    held_out: HeldOut | None = None
    density = False
    if training is not None and len(set(head_labels)) > 1:
        start = _encoder_layers()
        # Decided once for the catalog, so the held-out copy and the served head read the same features.
        ngram_texts = head_texts if reads_ngrams(head_labels) else None
        density = reads_density(head_labels, features.shape[1])
        held_out = _adapted_confidence(features[is_head], head_labels, ngram_texts, start, training, density=density)
        layers = tune_adapter(features[is_head], head_labels, start, training)
        build_encoder(work, adapted=layers)  # the served encoder, with the adapted copy as its third output
        # The regression is fitted on what the edge will compute: the served copy's int8 output
        # (within cosine 0.999 of the float layers, tests/unit/test_triage/test_adapter.py).
        served = Encoder(work / ENCODER_FILE, work / TOKENIZER_FILE)
        adapted_x = _embed(served, head_texts, ADAPTED_OUTPUT, "encoding the examples with the adapted layers")[1]
    head = train_intent_head(vectors[is_head], head_labels, adapted_x, ngram_texts, density=density)
    np.savez(work / HEAD_FILE, **head.to_arrays())  # type: ignore[arg-type]

    is_faq = ~is_head
    faq_ids = [e.target for e in exemplars if e.kind == "faq"]
    # Without a held-out measure (no intent with five examples) the threshold is the linear head's:
    # out-of-fold regressions over layers that saw every example would be too sure.
    calibration = fit_calibration(vectors[is_head], head_labels, vectors[is_faq], faq_ids, held_out=held_out)
    (work / CALIBRATION_FILE).write_bytes(msgspec.json.format(msgspec.json.encode(calibration)))
    (work / CATALOG_FILE).write_bytes(msgspec.json.encode(catalog))

    files = {p.name: sha256_file(p) for p in sorted(work.iterdir()) if p.name != MANIFEST_FILE}
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        storefront=catalog.storefront.id,
        languages=catalog.storefront.languages,
        catalog_hash=catalog.content_hash(),
        build_key=build_key,
        versions=_versions(),
        files=files,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    (work / MANIFEST_FILE).write_bytes(msgspec.json.format(msgspec.json.encode(manifest)))


def build_bundle(catalog_dir: Path, out: Path, cache: ArtifactCache | None = None, *,
                 adapt: bool = True) -> Path:
    """Build (or reuse from the cache) the bundle of a catalog and copy it to ``out``.

    ``adapt``: train the encoder's last layers on the catalog's intents for the head
    (``triage.bundle.adapter``); without it the head reads the encoder's own embedding.
    """
    cache = cache or ArtifactCache()
    catalog = load_catalog(catalog_dir)
    encoder_dir = cached_encoder(cache)
    training = AdapterTraining() if adapt else None
    recipe = f"{_RECIPE};{f'{_ADAPTED_RECIPE};{training.describe()}' if training else 'no-adapter'}"
    key = sha256_files([encoder_dir / ENCODER_FILE], catalog.content_hash(), recipe)
    built = cache.get_or_build("bundle", key,
                               lambda work: _write_bundle(catalog, encoder_dir, key, work, training))
    out = Path(out)
    staging = out.with_name(out.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(built, staging)
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return out
