"""`herbx consume`'s journal follower (`gateway.link.consume.Follower`): it reads on from where
it stopped, across segment rotations, while the market keeps writing; the ledger it books
equals a clean booking of the journal; damage in the middle of the journal stops it loudly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.durable.journal import JournalCorrupt, list_segments
from engine.durable.sequencer import Sequencer
from gateway.link.consume import Follower
from settlement.booker import Booker
from settlement.resume import steps_after
from settlement.schedule import Schedule
from settlement.sqlite_store import SqliteStore
from tests.test_journal import record_offsets
from tests.test_recovery import StepClock, command_stream


def make(data: Path) -> Any:
    return lambda exchange_of: Booker(SqliteStore(data / "ledger.sqlite"), Schedule.load(),
                                      lambda _: None, owns_store=True)


async def drain(follower: Follower, booker: Any) -> None:
    while await follower.step(booker):
        pass


async def test_the_follower_reads_on_across_segments_while_the_market_writes(
        tmp_path: Path) -> None:
    cmds = command_stream(31, 400)
    follower = Follower(tmp_path, make(tmp_path), chunk_commands=7)
    booker = follower.make(lambda: follower.exchange)
    with Sequencer(tmp_path / "engine", now_ns=StepClock(2), max_segment_bytes=4_000,
                   retain_from=lambda: 0) as sq:
        for cmd in cmds[:30]:
            sq.submit(cmd)
        sq.commit()
        assert await follower.begin(booker) == 0
        for i in range(30, 400, 37):  # the market writes on between the polls
            await drain(follower, booker)
            assert booker.position == follower.applied == sq.last_seq
            for cmd in cmds[i:i + 37]:
                sq.submit(cmd)
            sq.commit()
        await drain(follower, booker)
        assert booker.position == 400
    assert len(list_segments(tmp_path / "engine" / "journal")) > 5
    try:
        got = await booker.store.transactions()
    finally:
        await booker.close()
    clean = Booker(SqliteStore(tmp_path / "clean.sqlite"), Schedule.load(), lambda _: None,
                   owns_store=True)
    await clean.start()
    try:
        await clean.offer(list(steps_after(tmp_path / "engine", 0)))
        assert got == await clean.store.transactions() and any(t.kind == "trade" for t in got)
    finally:
        await clean.close()


async def test_a_damaged_record_with_valid_records_after_it_stops_the_follower(
        tmp_path: Path) -> None:
    cmds = command_stream(32, 60)
    with Sequencer(tmp_path / "engine", now_ns=StepClock(2), retain_from=lambda: 0) as sq:
        for cmd in cmds[:40]:
            sq.submit(cmd)
        sq.commit()
    follower = Follower(tmp_path, make(tmp_path))
    booker = follower.make(lambda: follower.exchange)
    await follower.begin(booker)
    try:
        await drain(follower, booker)
        assert booker.position == 40
        with Sequencer(tmp_path / "engine", now_ns=StepClock(3), retain_from=lambda: 0) as sq:
            for cmd in cmds[40:]:
                sq.submit(cmd)
            sq.commit()
        journal = tmp_path / "engine" / "journal"
        seg = list_segments(journal)[-1]
        offsets = record_offsets(journal, seg.first_seq)
        damaged = offsets[42 - seg.first_seq] + 10  # inside record 42's payload
        with open(seg.path, "r+b") as f:
            f.seek(damaged)
            byte = f.read(1)
            f.seek(damaged)
            f.write(bytes([byte[0] ^ 0xFF]))
        with pytest.raises(JournalCorrupt):
            await drain(follower, booker)
        assert booker.position == 41  # the record before the damage is booked, nothing after
    finally:
        await booker.close()
