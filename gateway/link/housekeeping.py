"""When to forget done orders: the schedule behind the clock's `PurgeOrders` commands.

The engine keeps every order until told to forget the done ones (`engine.messages.PurgeOrders`),
so that a resent client order id is answered and any order's status can be queried. This
schedule bounds that memory: every ``every_s`` seconds it notes the engine's last seq, and once
a note is ``retention_s`` old it says "purge up to that seq" (order ids are seqs). So an order is
forgotten between ``retention_s`` and ``retention_s + every_s`` after it was placed, and only if
it is done; client order ids are unique within that window. Pure bookkeeping: the caller reads
the clock and submits the command.

Never reads the clock or submits anything itself.
"""

from __future__ import annotations

from collections import deque


class PurgeSchedule:
    def __init__(self, retention_s: float, every_s: float) -> None:
        assert retention_s > 0 and every_s > 0
        self.retention_s = retention_s
        self.every_s = every_s
        self._marks: deque[tuple[float, int]] = deque()  # (monotonic seconds, last seq)
        self._next_mark = 0.0

    def due(self, now: float, last_seq: int) -> int | None:
        """The order id to purge up to now, or None."""
        if now >= self._next_mark:
            self._next_mark = now + self.every_s
            self._marks.append((now, last_seq))
        upto = None
        while self._marks and now - self._marks[0][0] >= self.retention_s:
            upto = self._marks.popleft()[1]
        return upto if upto else None
