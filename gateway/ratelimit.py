"""Per-client token buckets: ``rate_per_s`` sustained, ``burst`` at once.

Owns nothing but the buckets, keyed by participant id (or peer address without a token) and
bounded in number (the oldest idle keys are forgotten). The clock is injected for tests.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self, rate_per_s: float, burst: int, *, max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert rate_per_s > 0 and burst >= 1
        self.rate = rate_per_s
        self.burst = float(burst)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def take(self, key: str) -> float:
        """0.0 if a request may go now, else the seconds to wait before the next one."""
        now = self._clock()
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait
