"""After a crash the booker resumes from its booked seq by reading the journal, and the ledger
equals a clean run's, wherever the crash fell (before or after a snapshot)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from engine.durable.journal import JournalCorrupt, JournalReader, prune_segments
from engine.durable.sequencer import Sequencer
from engine.durable.snapshot import write_snapshot
from engine.exchange import Exchange
from loadtest.bench.engine import generate
from settlement.booker import Booker
from settlement.booking import book
from settlement.ledger import LedgerState
from settlement.resume import steps_after
from settlement.schedule import Schedule
from tests.settlement.conftest import Stores

SCHEDULE = Schedule.load()
T0 = 1_790_000_000 * 10**9


def journal(data: Path, orders: int = 600, **kw: Any) -> None:
    """A seeded session written by the real sequencer, then snapshots at seqs 300 and 450
    written beside it (the sequencer's own snapshots prune the journal before them, which is
    the other test)."""
    clock = itertools.count(T0, 1_000_000)
    with Sequencer(data, now_ns=lambda: next(clock), sync=False, **kw) as sq:
        for cmd in generate(orders, 7):
            sq.submit(cmd)
        sq.commit()
    if kw:
        return
    ex = Exchange()
    for cmd in JournalReader(data / "journal"):
        ex.apply(cmd)
        if cmd.seq in (300, 450):
            write_snapshot(data / "snapshots", cmd.seq, cmd.ts_ns, ex.snapshot())


def no_trace(lot_id: str) -> None:
    return None


@pytest.mark.parametrize("crash_after", [1, 3, 299, 300, 451, 602])
async def test_the_booker_resumes_from_the_journal(stores: Stores, tmp_path: Path, crash_after: int) -> None:
    data = tmp_path / "engine"
    journal(data)
    everything = list(steps_after(data, 0))
    assert [s for s, _ in everything] == list(range(1, 604))
    clean, _ = book(LedgerState(), everything, SCHEDULE, no_trace)
    assert sum(t.kind == "trade" for t in clean.txns()) > 50
    store: Any = await stores.open()
    first = Booker(store, SCHEDULE, no_trace)
    await first.offer(everything[:crash_after])
    await store.close()  # the crash: whatever the booker held in memory is gone
    store = await stores.open()
    again = Booker(store, SCHEDULE, no_trace)
    booked = await again.start()
    resumed = list(steps_after(data, booked))
    assert resumed[0][0] == booked + 1
    await again.offer_all(resumed[i:i + 100] for i in range(0, len(resumed), 100))
    assert again.gaps == 0 and again.duplicates == 0
    assert await store.transactions() == clean.txns()
    assert (await store.load_state()).last_seq == 603


def test_a_journal_pruned_past_the_booked_seq_cannot_resume(tmp_path: Path) -> None:
    """The sequencer prunes segments older than its kept snapshots: a ledger that lags behind
    them cannot be completed (the next slice must hold pruning at the booked seq)."""
    data = tmp_path / "engine"
    journal(data, snapshot_every=150, max_segment_bytes=8192)
    assert not prune_segments(data / "journal", 150)  # the sequencer already did
    with pytest.raises(JournalCorrupt, match="starts at seq 451 but seq 1 is needed"):
        list(steps_after(data, 3))
