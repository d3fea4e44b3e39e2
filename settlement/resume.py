"""Resuming a downstream consumer from the journal: the (seq, events) of every command after
a seq.

Owns rebuilding the events a consumer (the ledger, the tick writer) has not consumed, after a
crash, an outage or a dropped buffer (`gateway.link.feed`): the engine is restored from the
newest snapshot at or before that seq (or from empty), chosen by the sequencer's own rule with
its fallbacks (`engine.durable.sequencer.restore_newest`), the journal is replayed from there
and the commands after the seq are yielded with their events. Reads files only; never writes
the data directory and never takes its lock (the journal is append-only, and the running
sequencer may keep appending; a record being written at the tail is logged and ends the
iteration). A journal pruned past the seq raises `engine.durable.journal.JournalCorrupt`: the
consumer cannot be completed from this data directory (the running sequencer never prunes what
the feed's consumers still need, `Sequencer.retain_from`). `engine_at` rebuilds the engine as it
stood at a seq, for `herbx reconcile`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import cast

from engine.durable.journal import JournalReader
from engine.durable.sequencer import restore_newest
from engine.exchange import Exchange
from settlement.booking import Step


def steps_after(data_dir: Path, after_seq: int) -> Iterator[Step]:
    """Every journaled command after ``after_seq`` with its events, in seq order."""
    restored = restore_newest(data_dir, at_most_seq=after_seq)
    exchange = restored.engine
    for cmd in JournalReader(data_dir / "journal", after_seq=restored.seq, repair=False):
        events = exchange.apply(cmd)
        if cmd.seq > after_seq:
            yield cmd.seq, events


def engine_at(data_dir: Path, seq: int) -> tuple[Exchange, int]:
    """The engine as it stood after command ``seq`` (what a ledger booked up to ``seq`` must
    agree with), and the journal's last seq. The commands after ``seq`` are read (checked) but
    not applied. Reads only, like `steps_after`."""
    restored = restore_newest(data_dir, at_most_seq=seq)
    exchange = cast(Exchange, restored.engine)  # the default factory builds an `Exchange`
    reader = JournalReader(data_dir / "journal", after_seq=restored.seq, repair=False)
    for cmd in reader:
        if cmd.seq <= seq:
            exchange.apply(cmd)
    return exchange, reader.last_seq
