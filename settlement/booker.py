"""The booker: feeds a store with batches from the booking function, exactly once.

Owns the in-memory mirror of the store's booking state and the alarms: commands at or below the
booked position are skipped (counted as duplicates), a gap in seqs is logged and counted, and a
failed batch leaves the state as it was so that the same commands can be offered again. Keeps
the `settlement.consumer.Consumer` contract (``name`` ``ledger``), so the feed
(`gateway.link.feed`) drives it beside the pipeline. Must never block the market
(docs/settlement.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence

from settlement.booking import Step, TraceResolver, book
from settlement.ledger import Batch, LedgerState
from settlement.schedule import Schedule
from settlement.store import ApplyResult, Store, StoreError

log = logging.getLogger("herbx.settlement")
#: commands booked on the event loop; a longer offer (catching up from the journal) is booked on
#: a worker thread, so that the market keeps answering while the ledger catches up
BOOK_INLINE = 64


class Booker:
    """``owns_store``: `start` opens the store (again after a failure, until it opens) and
    `close` closes it; otherwise the caller opened it and closes it."""

    name = "ledger"

    def __init__(self, store: Store, schedule: Schedule, trace: TraceResolver, *,
                 owns_store: bool = False) -> None:
        self.store = store
        self.owns_store = owns_store
        self._opened = False
        self.schedule = schedule
        self.trace = trace
        self.state = LedgerState()
        self.duplicates = 0  # commands offered again after they were booked
        self.gaps = 0  # alarms: seqs missing before a batch
        self.batches = 0

    async def start(self) -> int:
        """Load the booked position from the store (opening it first if the booker owns it);
        returns it (resume from the seq after). Called again after a failed batch, it takes
        the store's position: a batch whose commit was lost with the connection is booked."""
        if self.owns_store and not self._opened:
            await self.store.open()  # migrations
            self._opened = True
        self.state = await self.store.load_state()
        return self.state.last_seq

    @property
    def booked_seq(self) -> int:
        return self.state.last_seq

    @property
    def position(self) -> int:
        return self.state.last_seq

    async def close(self) -> None:
        if self.owns_store:
            self._opened = False
            await self.store.close()

    async def offer(self, steps: Sequence[Step]) -> int:
        """Book the steps not yet booked, in one database transaction; returns how many
        commands were booked. Raises what the store raises (the state is then unchanged)."""
        fresh = [s for s in steps if s[0] > self.state.last_seq]
        self.duplicates += len(steps) - len(fresh)
        if not fresh:
            return 0
        if len(fresh) <= BOOK_INLINE:
            batch, after = book(self.state, fresh, self.schedule, self.trace)
        else:  # a catch-up chunk: booking it would hold the market's event loop for ms
            batch, after = await asyncio.get_running_loop().run_in_executor(
                None, book, self.state, fresh, self.schedule, self.trace)
        return await self._settle(await self.store.apply(batch), batch, after, len(fresh))

    async def offer_all(self, chunks: Iterable[Sequence[Step]]) -> int:
        """Book chunk after chunk, one database transaction each, with one batch in flight:
        the next batch is built on a worker thread while the store writes the previous one (the
        event loop stays free, and the database works while Python books). The ledger is the
        one `offer` would write chunk by chunk; on an error the state is the last batch the
        store confirmed."""
        loop = asyncio.get_running_loop()
        planned = self.state
        inflight: tuple[asyncio.Task[ApplyResult], Batch, LedgerState, int] | None = None
        booked = 0
        try:
            for steps in chunks:
                fresh = [s for s in steps if s[0] > planned.last_seq]
                self.duplicates += len(steps) - len(fresh)
                if not fresh:
                    continue
                batch, after = await loop.run_in_executor(
                    None, book, planned, fresh, self.schedule, self.trace)
                if inflight is not None:
                    task, done, done_after, count = inflight
                    inflight = None
                    booked += await self._settle(await task, done, done_after, count)
                inflight = (asyncio.create_task(self.store.apply(batch)), batch, after,
                            len(fresh))
                planned = after
            if inflight is not None:
                task, done, done_after, count = inflight
                inflight = None
                booked += await self._settle(await task, done, done_after, count)
        finally:
            if inflight is not None:  # an error while booking: let the write finish or fail
                task, done, done_after, count = inflight
                try:
                    result = await task
                except Exception:  # noqa: BLE001 - the first error is the one raised
                    log.exception("settlement batch failed while another error unwound")
                else:
                    await self._settle(result, done, done_after, count)
        return booked

    async def _settle(self, result: ApplyResult, batch: Batch, after: LedgerState,
                      commands: int) -> int:
        if not result.booked:  # another booker got there first: take its position
            self.duplicates += commands
            self.state = await self.store.load_state()
            if self.state.last_seq < batch.last_seq:
                raise StoreError("the store is behind a batch it refused as booked")
            return 0
        if result.gap is not None:
            self.gaps += 1
            log.error("settlement gap: seqs %d..%d were never offered to the booker",
                      *result.gap)
        self.state = after
        self.batches += 1
        return commands
