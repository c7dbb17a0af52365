"""The KV cache we control: per-layer key/value tensors as ONNX Runtime values, and a prefix cache.

Tensors stay as ``OrtValue``s between decode steps (no numpy round trip). A cached prefix is
never written to: decoding appends by producing new tensors, so many requests can start from
the same prefix at once.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np
from onnxruntime import OrtValue

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["KVCache", "PrefixCache", "prefix_key"]


class KVCache:
    """Keys and values of every layer for the first ``length`` tokens of a sequence."""

    def __init__(self, layers: list[tuple[OrtValue, OrtValue]], length: int) -> None:
        self.layers = layers
        self.length = length

    @classmethod
    def empty(cls, num_layers: int, kv_heads: int, head_dim: int) -> KVCache:
        zero = np.zeros((1, kv_heads, 0, head_dim), dtype=np.float32)
        return cls([(OrtValue.ortvalue_from_numpy(zero), OrtValue.ortvalue_from_numpy(zero))
                    for _ in range(num_layers)], 0)

    @property
    def nbytes(self) -> int:
        return sum(2 * int(np.prod(k.shape())) * 4 for k, _ in self.layers)

    def cropped(self, length: int) -> KVCache:
        """The first ``length`` tokens (drops rejected draft tokens)."""
        if length == self.length:
            return self
        return KVCache([(OrtValue.ortvalue_from_numpy(np.ascontiguousarray(k.numpy()[:, :, :length])),
                         OrtValue.ortvalue_from_numpy(np.ascontiguousarray(v.numpy()[:, :, :length])))
                        for k, v in self.layers], length)


def prefix_key(model_id: str, token_ids: Sequence[int]) -> str:
    digest = hashlib.sha256(model_id.encode())
    digest.update(np.asarray(token_ids, dtype=np.int64).tobytes())
    return digest.hexdigest()


class PrefixCache:
    """LRU of computed prefixes keyed by token-prefix hash, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, KVCache] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> KVCache | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: str, cache: KVCache) -> None:
        size = cache.nbytes
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = cache
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes
