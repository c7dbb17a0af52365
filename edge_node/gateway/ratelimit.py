"""Token buckets: per connection, per client address and per customer, so a flood gets ``rate_limited``
errors, not a closed socket, and reconnecting does not refill what an address or a customer spent."""

from __future__ import annotations

import time
from collections import OrderedDict

__all__ = ["KeyedBuckets", "TokenBucket"]


class TokenBucket:
    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate = rate_per_s
        self.capacity = float(burst)
        self.tokens = float(burst)
        self._stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class KeyedBuckets:
    """One bucket per key (a client address, a customer id); the least recently seen key is dropped past
    ``max_keys``, so a flood from many addresses holds bounded memory (a dropped key starts again full)."""

    def __init__(self, rate_per_s: float, burst: int, max_keys: int = 65536) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def take(self, key: str) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.take()

    def __len__(self) -> int:
        return len(self._buckets)
