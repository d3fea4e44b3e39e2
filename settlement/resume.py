"""Resuming the booker from the journal: the (seq, events) of every command after a seq.

Owns rebuilding the events the ledger has not booked, after a crash of the booker or in
multi-process mode: the engine is restored from the newest snapshot at or before the booked
seq (or from empty), the journal is replayed from there, and the commands after the booked seq
are yielded with their events. Reads files only; never writes the data directory and never
takes its lock (the journal is append-only, and the running sequencer may keep appending).
A journal pruned past the booked seq raises `engine.durable.journal.JournalCorrupt`: the
ledger cannot be completed from this data directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from engine.durable.journal import JournalReader
from engine.durable.snapshot import valid_snapshots
from engine.exchange import Exchange
from settlement.booking import Step


def steps_after(data_dir: Path, after_seq: int) -> Iterator[Step]:
    """Every journaled command after ``after_seq`` with its events, in seq order."""
    base_seq = 0
    exchange = Exchange()
    for snap in valid_snapshots(data_dir / "snapshots"):
        if snap.seq <= after_seq:
            exchange = Exchange.restore(snap.payload)
            base_seq = snap.seq
            break
    for cmd in JournalReader(data_dir / "journal", after_seq=base_seq, repair=False):
        events = exchange.apply(cmd)
        if cmd.seq > after_seq:
            yield cmd.seq, events
