"""A torn journal tail, at every byte offset of the last record, through the whole recovery
stack (issue 15): tests/test_journal.py proves the reader cuts every prefix; here a real market
(snapshots, trades) is torn inside its last record, a trade, and for every cut:

- an external ledger booker following the journal (`herbx consume`'s `Follower`) books up to
  the record before it, never the torn one, and does not fail;
- the sequencer recovers to the record before it (the tail is cut), the command is submitted
  again, and the booker then books it: the ledger equals the ledger of the untorn market, trade
  for trade, and its trial balance is zero.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec

from engine.durable.journal import JournalReader, list_segments
from engine.durable.sequencer import Sequencer
from engine.messages import PlaceOrder, TradeExecuted
from gateway.link.consume import Follower
from settlement.booker import Booker
from settlement.schedule import Schedule
from settlement.sqlite_store import SqliteStore
from tests.test_journal import record_offsets
from tests.test_recovery import SELLERS, StepClock, command_stream

N = 160


def market(src: Path) -> PlaceOrder:
    """A journaled market of N commands whose last one is a trade; returns that command."""
    cmds = command_stream(21, N - 2)
    cmds.append(PlaceOrder(account=SELLERS[0], client_order_id="torn-s", symbol="QUE-BARK-A",
                           side="sell", price_vnd=100, qty=1))
    last = PlaceOrder(account="T1", client_order_id="torn-b", symbol="QUE-BARK-A",
                      side="buy", price_vnd=10**6, qty=1)
    # pruning off, as in `herbx serve --no-consumers`: the booker starts from seq 0
    with Sequencer(src / "engine", now_ns=StepClock(5), snapshot_every=60,
                   retain_from=lambda: 0) as sq:
        for cmd in cmds:
            sq.submit(cmd)
        sq.commit()
        events = sq.submit(msgspec.structs.replace(last))
        sq.commit()
    assert any(type(e) is TradeExecuted for e in events)
    return last


def booker_of(data: Path) -> Any:
    return lambda exchange_of: Booker(SqliteStore(data / "ledger.sqlite"), Schedule.load(),
                                      lambda _: None, owns_store=True)


async def book(data: Path) -> tuple[int, list[Any]]:
    """Book everything whole in ``data``'s journal with a fresh follower; the position and the
    ledger's transactions."""
    follower = Follower(data, booker_of(data))
    consumer = follower.make(lambda: follower.exchange)
    await follower.begin(consumer)
    while await follower.step(consumer):
        pass
    try:
        balances = await consumer.store.balances()
        nets: Counter[str] = Counter()
        for (_, unit), amount in balances.items():
            nets[unit] += amount
        assert not +nets and not -nets, nets  # the trial balance is zero per unit
        return consumer.position, await consumer.store.transactions()
    finally:
        await consumer.close()


async def test_a_torn_last_record_at_every_byte_offset(tmp_path: Path) -> None:
    src = tmp_path / "src"
    last = market(src)
    clean = tmp_path / "clean"
    shutil.copytree(src, clean)
    position, want = await book(clean)
    assert position == N and any(t.seq == N and t.kind == "trade" for t in want)
    (last_journaled,) = list(JournalReader(src / "engine" / "journal", after_seq=N - 1,
                                           repair=False))
    journal = src / "engine" / "journal"
    seg = list_segments(journal)[-1]
    start, end = record_offsets(journal, seg.first_seq)[-2:]
    assert end - start > 20  # a whole PlaceOrder record: many offsets to tear it at
    for cut in range(start, end):  # every prefix of the last record, the empty one included
        work = tmp_path / "work"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(src, work)
        with open(work / "engine" / "journal" / seg.path.name, "r+b") as f:
            f.truncate(cut)
        # the booker follows the torn journal: up to the record before, not the torn one
        position, _ = await book(work)
        assert position == N - 1, cut
        # the market restarts (the tail is cut), the client sends the order again
        with Sequencer(work / "engine", now_ns=lambda: last_journaled.ts_ns,
                       retain_from=lambda: 0) as sq:
            assert sq.last_seq == N - 1, cut
            assert (sq.recovery.tail_cut is None) == (cut == start), cut
            sq.submit(msgspec.structs.replace(last))
            sq.commit()
        position, got = await book(work)
        assert position == N, cut
        assert got == want, cut
