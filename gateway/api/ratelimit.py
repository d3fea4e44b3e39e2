"""Per-client token buckets: ``rate_per_s`` sustained, ``burst`` at once.

Owns nothing but the buckets, keyed by participant id (or peer address without a token) and
bounded in number (the oldest idle keys are forgotten). A request costs what it asks for: one
token for most, more for a message that names many things (a WebSocket subscribe pays one per
channel), so the limit bounds work, not messages. The clock is injected for tests.
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

    def take(self, key: str, cost: float = 1.0) -> float:
        """0.0 if a request costing ``cost`` tokens may go now (they are taken), else the
        seconds to wait before it could (nothing is taken). A cost above the burst is charged
        as the burst, so that every request can pass some day."""
        assert cost >= 0
        cost = min(cost, self.burst)
        now = self._clock()
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= cost:
            tokens -= cost
        else:
            wait = (cost - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait
