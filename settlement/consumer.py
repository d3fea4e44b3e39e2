"""The contract of every downstream consumer of the engine's event stream.

Owns the `Consumer` protocol that the settlement booker and the tick writer both keep, so that
one feed (in `herbx serve`, or in `herbx engine` in multi-process mode) can drive any of them:
each remembers the last seq it consumed, durably and in the same database transaction as what it
wrote, and is offered whole commands ``(seq, events)`` in seq order (empty event lists
included, so that a gap is visible). Never does I/O itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from settlement.booking import Step

__all__ = ["Consumer", "Step"]


class Consumer(Protocol):
    #: a short name for logs, health and metrics (``ledger``, ``ticks``)
    name: str

    async def start(self) -> int:
        """Open what it writes to and load its position; returns the last consumed seq (0:
        nothing yet). The feed then offers the commands after it."""

    @property
    def position(self) -> int:
        """The last seq consumed and durably written."""

    async def offer(self, steps: Sequence[Step]) -> int:
        """Consume the steps after `position` in one durable write, skipping those at or below
        it (duplicates); returns how many commands were consumed. Raises on a failed write,
        leaving `position` unchanged, so the same steps can be offered again."""

    async def close(self) -> None: ...
