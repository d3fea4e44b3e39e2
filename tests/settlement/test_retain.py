"""Journal pruning never removes what a downstream consumer has not consumed: the sequencer's
snapshot step keeps the snapshot at or before the feed's lowest consumer position and every
journal segment after it (`Sequencer.retain_from`, `gateway.link.feed.Feed.retain_seq`)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from engine.durable.journal import JournalCorrupt, list_segments
from engine.durable.sequencer import Sequencer
from engine.durable.snapshot import list_snapshots
from loadtest.bench.engine import generate
from settlement.resume import steps_after

T0 = 1_790_000_000 * 10**9


def run(data: Path, retain: list[int], orders: int = 600) -> None:
    """A seeded session with a snapshot every 150 commands and small segments."""
    clock = itertools.count(T0, 1_000_000)
    with Sequencer(data, now_ns=lambda: next(clock), sync=False, snapshot_every=150,
                   max_segment_bytes=8192, retain_from=lambda: retain[0]) as sq:
        for cmd in generate(orders, 7):
            sq.submit(cmd)
        sq.commit()


def test_pruning_waits_for_the_slowest_consumer(tmp_path: Path) -> None:
    clean = list(steps_after(_unpruned(tmp_path / "clean"), 0))
    assert [s for s, _ in clean] == list(range(1, 604))

    data = tmp_path / "engine"
    retain = [3]  # a consumer that booked 3 commands, then stalled
    run(data, retain)
    assert [s for s, _ in list_snapshots(data / "snapshots")] == [150, 300, 450, 600]
    assert list_segments(data / "journal")[0].first_seq == 1
    assert list(steps_after(data, 3)) == clean[3:]

    # the consumer moves on to 451: the next snapshot gives up what nobody needs any more
    retain[0] = 451
    with Sequencer(data, sync=False, keep_snapshots=2, retain_from=lambda: retain[0]) as sq:
        sq.snapshot()
    assert [s for s, _ in list_snapshots(data / "snapshots")] == [450, 600, 603]
    assert 1 < list_segments(data / "journal")[0].first_seq <= 451
    assert list(steps_after(data, 451)) == clean[451:]
    with pytest.raises(JournalCorrupt, match="but seq 1 is needed"):
        list(steps_after(data, 3))


def test_without_a_consumer_behind_pruning_keeps_only_the_newest_snapshots(
        tmp_path: Path) -> None:
    data = tmp_path / "engine"
    run(data, [603])
    assert [s for s, _ in list_snapshots(data / "snapshots")] == [450, 600]
    assert list_segments(data / "journal")[0].first_seq > 300


def _unpruned(data: Path) -> Path:
    clock = itertools.count(T0, 1_000_000)
    with Sequencer(data, now_ns=lambda: next(clock), sync=False) as sq:
        for cmd in generate(600, 7):
            sq.submit(cmd)
        sq.commit()
    return data
