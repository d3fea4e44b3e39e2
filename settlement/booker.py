"""The booker: feeds a store with batches from the booking function, exactly once.

Owns the in-memory mirror of the store's booking state and the alarms: commands at or below the
booked position are skipped (counted as duplicates), a gap in seqs is logged and counted, and a
failed batch leaves the state as it was so that the same commands can be offered again. Must
never block the market: callers run it beside the pipeline (docs/settlement.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from settlement.booking import Step, TraceResolver, book
from settlement.ledger import LedgerState
from settlement.schedule import Schedule
from settlement.store import Store

log = logging.getLogger("herbx.settlement")


class Booker:
    def __init__(self, store: Store, schedule: Schedule, trace: TraceResolver) -> None:
        self.store = store
        self.schedule = schedule
        self.trace = trace
        self.state = LedgerState()
        self.duplicates = 0  # commands offered again after they were booked
        self.gaps = 0  # alarms: seqs missing before a batch
        self.batches = 0

    async def start(self) -> int:
        """Load the booked position from the store; returns it (resume from the seq after)."""
        self.state = await self.store.load_state()
        return self.state.last_seq

    @property
    def booked_seq(self) -> int:
        return self.state.last_seq

    async def offer(self, steps: Sequence[Step]) -> int:
        """Book the steps not yet booked, in one database transaction; returns how many
        commands were booked. Raises what the store raises (the state is then unchanged)."""
        fresh = [s for s in steps if s[0] > self.state.last_seq]
        self.duplicates += len(steps) - len(fresh)
        if not fresh:
            return 0
        batch, after = book(self.state, fresh, self.schedule, self.trace)
        result = await self.store.apply(batch)
        if not result.booked:  # another booker got there first: take its position
            self.duplicates += len(fresh)
            self.state = await self.store.load_state()
            return 0
        if result.gap is not None:
            self.gaps += 1
            log.error("settlement gap: seqs %d..%d were never offered to the booker",
                      *result.gap)
        self.state = after
        self.batches += 1
        return len(fresh)
