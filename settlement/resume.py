"""Resuming the booker from the journal: the (seq, events) of every command after a seq.

Owns rebuilding the events the ledger has not booked, after a crash of the booker or in
multi-process mode: the engine is restored from the newest snapshot at or before the booked
seq (or from empty), the journal is replayed from there, and the commands after the booked seq
are yielded with their events. Reads files only; never writes the data directory and never
takes its lock (the journal is append-only, and the running sequencer may keep appending).
A journal pruned past the booked seq raises `engine.durable.journal.JournalCorrupt`: the
ledger cannot be completed from this data directory. `engine_at` rebuilds the engine as it
stood at a seq, for `herbx reconcile`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from engine.durable.journal import JournalReader
from engine.durable.snapshot import valid_snapshots
from engine.exchange import Exchange
from settlement.booking import Step


def _restored(data_dir: Path, seq: int) -> tuple[Exchange, int]:
    """The engine of the newest snapshot at or before ``seq`` (or an empty one) and its seq."""
    for snap in valid_snapshots(data_dir / "snapshots"):
        if snap.seq <= seq:
            return Exchange.restore(snap.payload), snap.seq
    return Exchange(), 0


def steps_after(data_dir: Path, after_seq: int) -> Iterator[Step]:
    """Every journaled command after ``after_seq`` with its events, in seq order."""
    exchange, base_seq = _restored(data_dir, after_seq)
    for cmd in JournalReader(data_dir / "journal", after_seq=base_seq, repair=False):
        events = exchange.apply(cmd)
        if cmd.seq > after_seq:
            yield cmd.seq, events


def engine_at(data_dir: Path, seq: int) -> tuple[Exchange, int]:
    """The engine as it stood after command ``seq`` (what a ledger booked up to ``seq`` must
    agree with), and the journal's last seq. The commands after ``seq`` are read (checked) but
    not applied. Reads only, like `steps_after`."""
    exchange, base_seq = _restored(data_dir, seq)
    reader = JournalReader(data_dir / "journal", after_seq=base_seq, repair=False)
    for cmd in reader:
        if cmd.seq <= seq:
            exchange.apply(cmd)
    return exchange, reader.last_seq
