"""The KV cache we control: per-layer key/value tensors as ONNX Runtime values, and a prefix cache.

Tensors stay as ``OrtValue``s between decode steps (no numpy round trip). Two layouts:

- **in place** (our fused graph): each layer's keys and values live in a buffer of ``capacity``
  positions that GroupQueryAttention reads and appends to in place (the past and present outputs
  are bound to the same buffer), so a step costs no copy of the past and dropping rejected draft
  tokens is just a shorter ``length``. Such a cache belongs to one sequence; the prefix cache keeps
  frozen copies and every request starts from its own thawed buffer.
- **append** (optimum's graph): every step returns new tensors holding past and new positions.

The cache also remembers its token ids: a forward pass can then re-feed the last one (see
``OnnxLM.forward``).
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

    from onnxruntime import SessionIOBinding

__all__ = ["KVCache", "PrefixCache", "prefix_key"]


class KVCache:
    """Keys and values of every layer for the first ``length`` tokens of a sequence."""

    def __init__(self, layers: list[tuple[OrtValue, OrtValue]], tokens: list[int], *, in_place: bool,
                 binding: SessionIOBinding | None = None) -> None:
        self.layers = layers
        self.tokens = tokens
        self.in_place = in_place
        self.binding = binding
        """In place: the session binding with these buffers bound as past and present, reused by
        every step of the sequence (binding 60 buffers costs about as much as a small layer)."""

    @property
    def length(self) -> int:
        return len(self.tokens)

    @property
    def capacity(self) -> int:
        """Positions the buffers hold (in place); the length itself for the append layout."""
        return int(self.layers[0][0].shape()[2]) if self.layers else 0

    @classmethod
    def empty(cls, num_layers: int, kv_heads: int, head_dim: int, *, capacity: int = 0,
              in_place: bool = False) -> KVCache:
        return cls([(_zeros(kv_heads, capacity if in_place else 0, head_dim),
                     _zeros(kv_heads, capacity if in_place else 0, head_dim)) for _ in range(num_layers)],
                   [], in_place=in_place)

    @property
    def nbytes(self) -> int:
        if not self.layers:
            return 0
        heads, dim = _heads_dim(self)
        return 2 * len(self.layers) * heads * self.length * dim * 4

    def cropped(self, length: int) -> KVCache:
        """The first ``length`` tokens (drops rejected draft tokens): free in place, a copy otherwise."""
        if length == self.length:
            return self
        if self.in_place:  # later positions are overwritten before anything reads them
            return KVCache(self.layers, self.tokens[:length], in_place=True, binding=self.binding)
        return KVCache([(_copy(k, length), _copy(v, length)) for k, v in self.layers], self.tokens[:length],
                       in_place=False)

    def with_capacity(self, needed: int) -> KVCache:
        """In place: this cache, or a copy into larger buffers when ``needed`` positions do not fit."""
        if not self.in_place or needed <= self.capacity:
            return self
        return self._copied_into(max(needed, 2 * self.capacity, 256))

    def frozen(self) -> KVCache:
        """A copy nobody writes to, for the prefix cache (the append layout is never written to)."""
        if not self.in_place:
            return self
        return KVCache([(_copy(k, self.length), _copy(v, self.length)) for k, v in self.layers],
                       list(self.tokens), in_place=False)

    def thawed(self, capacity: int) -> KVCache:
        """A frozen prefix copied into fresh in-place buffers of ``capacity`` positions."""
        return self._copied_into(max(capacity, self.length + 1))

    def _copied_into(self, capacity: int) -> KVCache:
        layers = []
        for key, value in self.layers:
            pair = []
            for tensor in (key, value):
                _, heads, _, dim = tensor.shape()
                buffer = np.zeros((1, heads, capacity, dim), dtype=np.float32)
                buffer[:, :, :self.length] = tensor.numpy()[:, :, :self.length]
                pair.append(OrtValue.ortvalue_from_numpy(buffer))
            layers.append((pair[0], pair[1]))
        return KVCache(layers, list(self.tokens), in_place=True)


def _zeros(heads: int, length: int, dim: int) -> OrtValue:
    return OrtValue.ortvalue_from_numpy(np.zeros((1, heads, length, dim), dtype=np.float32))


def _copy(tensor: OrtValue, length: int) -> OrtValue:
    return OrtValue.ortvalue_from_numpy(np.ascontiguousarray(tensor.numpy()[:, :, :length]))


def _heads_dim(cache: KVCache) -> tuple[int, int]:
    _, heads, _, dim = cache.layers[0][0].shape()
    return int(heads), int(dim)


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
