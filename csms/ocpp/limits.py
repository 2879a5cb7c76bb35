"""Connection rate limits: a station that reconnects abusively is slowed down, others never notice.

A handshake costs the node database work (admission, connection bookkeeping). A station stuck in a
reconnect loop — or someone replaying its identity — must not turn that into a storm: each
chargeBoxId (and, when configured, each remote address) gets a token bucket, checked before any
database work; a refused handshake is answered HTTP 429 at once. Buckets live in the node process:
a station spreading its reconnects over several nodes gets each node's allowance, which is still
bounded (docs/adr/0080-surviving-outages.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimit:
    """`burst` attempts at once, then one every `1/rate` seconds; rate 0 disables the limit."""

    def __init__(self, *, burst: int, per_minute: float, max_keys: int = 100_000):
        self.burst = max(1, burst)
        self.rate = per_minute / 60.0
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def allow(self, key: str, now: float | None = None) -> bool:
        if not self.enabled:
            return True
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def blocked(self, key: str, now: float | None = None) -> bool:
        """Whether `key` has no attempt left, without spending one (failures are spent afterwards)."""
        if not self.enabled or key not in self._buckets:
            return False
        now = time.monotonic() if now is None else now
        bucket = self._buckets[key]
        return min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate) < 1

    def spend(self, key: str, now: float | None = None) -> None:
        """Count one attempt against `key` (a failure), whether or not it had any left."""
        if self.enabled and not self.allow(key, now):
            self._buckets[key].tokens = 0

    def retry_after(self, key: str) -> int:
        """Seconds until `key` may try again (for the Retry-After header)."""
        bucket = self._buckets.get(key)
        if bucket is None or not self.enabled or bucket.tokens >= 1:
            return 0
        return max(1, int((1 - bucket.tokens) / self.rate + 0.999))

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: they carry no memory worth keeping."""
        refill = self.burst / self.rate if self.rate else 0
        self._buckets = {key: b for key, b in self._buckets.items() if now - b.stamp < refill}
