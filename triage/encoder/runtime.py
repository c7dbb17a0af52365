"""Serving-side encoder: sentencepiece + onnxruntime, nothing from the reference package."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort
import sentencepiece as spm

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from numpy.typing import NDArray

__all__ = ["EMBEDDING_DIM", "Encoder", "EncoderMissingError"]

EMBEDDING_DIM = 512
_UNK = 0
_BOS = 1
_EOS = 2
# Long messages add little meaning after this many pieces and cost linear time.
MAX_TOKENS = 256


class EncoderMissingError(FileNotFoundError):
    """The encoder files are not where the bundle says they are."""


class Encoder:
    """Embeds texts into L2-normalised 512-d vectors.

    One text per ``run`` by default: dynamic int8 quantization picks its activation scale
    per call, so batching would make an embedding depend on its batch neighbours, and
    the index and the live path must agree exactly.
    """

    def __init__(self, model_path: Path, tokenizer_path: Path, *, threads: int = 1) -> None:
        for path in (model_path, tokenizer_path):
            if not path.is_file():
                raise EncoderMissingError(f"{path} not found: rebuild the bundle with `triage build`")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self._sp = spm.SentencePieceProcessor(model_file=str(tokenizer_path))
        self.outputs = frozenset(o.name for o in self._session.get_outputs())
        """``embedding`` and ``features`` (the pooled features below the last layers); ``adapted``
        where the bundle's build adapted those layers to the catalog's intents."""

    def tokenize(self, text: str) -> list[int]:
        """Piece ids with bos/eos, matching the reference tokenizer.

        The C++ library returns ``[bos, eos]`` for empty text and merges a run of unknown
        characters (emoji) into one unk, where the reference has one unk per character.
        """
        if not text.strip():
            return [_BOS, _UNK, _EOS]
        ids: list[int] = self._sp.encode(text, add_bos=True, add_eos=True)
        if _UNK in ids:
            ids = [_BOS]
            for piece in self._sp.encode(text, return_type="proto").pieces:
                if piece.id == _UNK:
                    ids.extend([_UNK] * max(1, len(piece.surface)))
                else:
                    ids.append(piece.id)
            ids.append(_EOS)
        if len(ids) > MAX_TOKENS:
            ids = [*ids[:MAX_TOKENS - 1], _EOS]
        return ids

    def _inputs(self, text: str) -> dict[str, NDArray[np.int64]]:
        ids = np.asarray([self.tokenize(text)], dtype=np.int64)
        return {"ids": ids, "lengths": np.asarray([ids.shape[1]], dtype=np.int64)}

    def encode_one(self, text: str) -> NDArray[np.float32]:
        out: NDArray[np.float32] = self._session.run(["embedding"], self._inputs(text))[0][0]
        return out

    def encode_with(self, text: str, output: str) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """The embedding and another output (``features``, ``adapted``) from one run."""
        if output not in self.outputs:
            raise EncoderMissingError(f"this encoder has no {output!r} output: rebuild the bundle with `triage build`")
        embedding, other = self._session.run(["embedding", output], self._inputs(text))
        return embedding[0], other[0]

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        out = np.empty((len(texts), EMBEDDING_DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self.encode_one(text)
        return out

    def encode_batch(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Throughput path (benchmarks): one padded run for the whole batch."""
        token_lists = [self.tokenize(t) for t in texts]
        width = max(map(len, token_lists))
        ids = np.zeros((len(texts), width), dtype=np.int64)
        for i, toks in enumerate(token_lists):
            ids[i, : len(toks)] = toks
        lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(texts))
        out: NDArray[np.float32] = self._session.run(["embedding"], {"ids": ids, "lengths": lengths})[0]
        return out
