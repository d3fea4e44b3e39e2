"""The journal, snapshot files and the sequencer, against a stand-in engine.

The stand-in (``FakeEngine``) folds every command it applies into a hash, so recovering it
proves that exactly the right commands were replayed, in order. tests/test_recovery.py runs
the same journeys with the real Exchange.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import struct
import zlib
from pathlib import Path

import msgspec
import pytest

from engine.durable import journal as jr
from engine.durable.journal import (
    FILE_HEADER,
    RECORD_HEADER,
    JournalCorrupt,
    JournalError,
    JournalReader,
    JournalWriter,
    RecordTooLarge,
    encode_file_header,
    list_segments,
    segment_name,
)
from engine.durable.sequencer import RecoveryError, Sequencer, SequencerFailed, drive, recover
from engine.durable.snapshot import (
    SnapshotCorrupt,
    latest_valid_snapshot,
    list_snapshots,
    prune_snapshots,
    read_snapshot,
    write_snapshot,
)
from engine.messages import Command, Deposit, Event, PlaceOrder

_enc = msgspec.msgpack.Encoder()


class FakeEngine:
    """Applies nothing but remembers, as a hash chain, every command it was given."""

    def __init__(self) -> None:
        self.last_seq = 0
        self.digest = b"\x00" * 32
        self.fail_on_seq = -1  # apply raises for this seq (a simulated engine bug)

    def apply(self, cmd: Command) -> list[Event]:
        assert cmd.seq == self.last_seq + 1, (cmd.seq, self.last_seq)
        if cmd.seq == self.fail_on_seq:
            raise RuntimeError("simulated engine bug")
        self.digest = hashlib.sha256(self.digest + _enc.encode(cmd)).digest()
        self.last_seq = cmd.seq
        return []

    def snapshot(self) -> bytes:
        return _enc.encode({"last_seq": self.last_seq, "digest": self.digest})

    @classmethod
    def restore(cls, data: bytes) -> FakeEngine:
        state = msgspec.msgpack.decode(data)
        ex = cls()
        ex.last_seq = state["last_seq"]
        ex.digest = state["digest"]
        return ex

    def state_hash(self) -> str:
        return hashlib.sha256(self.snapshot()).hexdigest()


def deposit(seq: int, amount: int = 1000) -> Deposit:
    return Deposit(
        seq=seq,
        ts_ns=1_700_000_000_000_000_000 + seq,
        account=f"T{seq % 7}",
        amount_vnd=amount * seq,
    )


def raw_record(cmd: Command) -> bytes:
    payload = _enc.encode(cmd)
    return RECORD_HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def write_journal(directory: Path, n: int, first: int = 1) -> list[Command]:
    cmds: list[Command] = [deposit(s) for s in range(first, first + n)]
    w = JournalWriter(directory, first)
    for c in cmds:
        w.append(c)
    w.close()
    return cmds


def read_all(directory: Path, **kw: object) -> tuple[list[Command], JournalReader]:
    reader = JournalReader(directory, **kw)  # type: ignore[arg-type]
    return list(reader), reader


def seg_path(directory: Path, first_seq: int = 1) -> Path:
    return directory / segment_name(first_seq)


def record_offsets(directory: Path, first_seq: int = 1) -> list[int]:
    """Start offsets of every record of a segment, plus the file size at the end."""
    data = seg_path(directory, first_seq).read_bytes()
    pos, out = FILE_HEADER.size, []
    while pos < len(data):
        out.append(pos)
        (length, _) = RECORD_HEADER.unpack_from(data, pos)
        pos += RECORD_HEADER.size + length
    return out + [len(data)]


# ---------------------------------------------------------------------------------------------
# Records and segments
# ---------------------------------------------------------------------------------------------


def test_round_trip(tmp_path: Path) -> None:
    cmds = write_journal(tmp_path, 50)
    got, reader = read_all(tmp_path)
    assert got == cmds
    assert reader.last_seq == reader.end_seq == 50
    assert reader.tail_cut is None
    head = seg_path(tmp_path).read_bytes()[: FILE_HEADER.size]
    assert head == encode_file_header(1) and head.startswith(b"HERBXJNL")


def test_after_seq_skips_records_already_in_a_snapshot(tmp_path: Path) -> None:
    cmds = write_journal(tmp_path, 20)
    got, reader = read_all(tmp_path, after_seq=12)
    assert got == cmds[12:]
    assert reader.last_seq == 20


def test_empty_directory_reads_as_empty_journal(tmp_path: Path) -> None:
    got, reader = read_all(tmp_path / "nothing")
    assert got == [] and reader.end_seq is None and reader.last_seq == 0


@pytest.mark.parametrize("n", [1, 5])
def test_torn_tail_at_every_byte_of_the_last_record(
    tmp_path: Path, n: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Kill in the middle of a write: every prefix of the last record is cut, the rest is kept,
    and appending afterwards continues after the valid data."""
    src = tmp_path / "src"
    cmds = write_journal(src, n)
    offsets = record_offsets(src)
    start, end = offsets[-2], offsets[-1]
    for cut in range(start, end):
        work = tmp_path / f"cut{cut}"
        shutil.copytree(src, work)
        with open(seg_path(work), "r+b") as f:
            f.truncate(cut)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="herbx.journal"):
            got, reader = read_all(work)
        assert got == cmds[:-1], cut
        assert reader.last_seq == n - 1
        if cut == start:
            assert reader.tail_cut is None  # the file simply ends at a record boundary
        else:
            assert reader.tail_cut is not None
            assert reader.tail_cut.offset == start and reader.tail_cut.bytes_cut == cut - start
            (msg,) = [r.getMessage() for r in caplog.records]
            assert "torn tail" in msg and segment_name(1) in msg and f"offset {start}" in msg
        assert seg_path(work).stat().st_size == start  # cut off on disk
        w = JournalWriter(work, n)
        w.append(cmds[-1])
        w.append(deposit(n + 1))
        w.close()
        got, reader = read_all(work)
        assert got == cmds + [deposit(n + 1)] and reader.tail_cut is None
        shutil.rmtree(work)


def test_read_only_reader_reports_but_does_not_cut(tmp_path: Path) -> None:
    write_journal(tmp_path, 3)
    size = seg_path(tmp_path).stat().st_size
    with open(seg_path(tmp_path), "r+b") as f:
        f.truncate(size - 3)
    got, reader = read_all(tmp_path, repair=False)
    assert len(got) == 2
    assert reader.tail_cut is not None and not reader.tail_cut.repaired
    assert seg_path(tmp_path).stat().st_size == size - 3


def flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x5A]))


def test_flipped_byte_anywhere_in_the_last_record_is_cut(tmp_path: Path) -> None:
    src = tmp_path / "src"
    cmds = write_journal(src, 4)
    start, end = record_offsets(src)[-2:]
    for pos in range(start, end):
        work = tmp_path / f"flip{pos}"
        shutil.copytree(src, work)
        flip(seg_path(work), pos)
        got, reader = read_all(work)
        assert got == cmds[:-1], pos
        assert reader.tail_cut is not None and reader.tail_cut.offset == start
        shutil.rmtree(work)


def test_flipped_byte_anywhere_in_a_middle_record_raises(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_journal(src, 5)
    offsets = record_offsets(src)
    start, end = offsets[2], offsets[3]
    for pos in range(start, end):
        work = tmp_path / f"flip{pos}"
        shutil.copytree(src, work)
        before = work.joinpath(segment_name(1)).read_bytes()
        flip(seg_path(work), pos)
        with pytest.raises(JournalCorrupt) as info:
            read_all(work)
        assert info.value.offset == start and info.value.path == seg_path(work), pos
        assert "valid record follows" in str(info.value)
        assert len(seg_path(work).read_bytes()) == len(before)  # nothing was cut
        shutil.rmtree(work)


def test_damage_in_a_closed_segment_raises(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, 1)
    for s in range(1, 4):
        w.append(deposit(s))
    w.roll()
    w.append(deposit(4))
    w.close()
    assert [s.first_seq for s in list_segments(tmp_path)] == [1, 4]
    first = seg_path(tmp_path, 1)
    with open(first, "r+b") as f:
        f.truncate(first.stat().st_size - 1)  # torn, but not the newest segment
    with pytest.raises(JournalCorrupt, match="closed segment"):
        read_all(tmp_path)


def undecodable_record() -> bytes:
    payload = _enc.encode({"type": "no_such_command", "seq": 3})
    return RECORD_HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def test_complete_undecodable_record_is_never_a_torn_tail(tmp_path: Path) -> None:
    # Issue 8 item 2: a whole record with a good checksum was written, so it may have been
    # acknowledged; cutting it as a torn tail would silently lose it. Recovery stops instead,
    # and the file is left as it was.
    good = [raw_record(deposit(s)) for s in (1, 2)]
    data = encode_file_header(1) + b"".join(good) + undecodable_record()
    seg_path(tmp_path).write_bytes(data)
    with pytest.raises(JournalCorrupt, match="complete record with a good checksum"):
        read_all(tmp_path)
    assert seg_path(tmp_path).read_bytes() == data

    other = tmp_path / "mid"
    other.mkdir()
    seg_path(other).write_bytes(
        encode_file_header(1) + b"".join(good) + undecodable_record() + raw_record(deposit(3))
    )
    with pytest.raises(JournalCorrupt, match="undecodable"):
        read_all(other)


@pytest.mark.parametrize(
    ("seqs", "expected"),
    [
        ((1, 2, 4), "seq 4, expected 3"),
        ((1, 2, 2), "seq 2, expected 3"),
        ((2,), "seq 2, expected 1"),
    ],
)
def test_seq_gaps_and_repeats_raise(tmp_path: Path, seqs: tuple[int, ...], expected: str) -> None:
    body = b"".join(raw_record(deposit(s)) for s in seqs)
    seg_path(tmp_path).write_bytes(encode_file_header(1) + body)
    with pytest.raises(JournalCorrupt, match=expected):
        read_all(tmp_path)


def test_gap_between_segments_raises(tmp_path: Path) -> None:
    seg_path(tmp_path, 1).write_bytes(encode_file_header(1) + raw_record(deposit(1)))
    seg_path(tmp_path, 3).write_bytes(encode_file_header(3) + raw_record(deposit(3)))
    with pytest.raises(JournalCorrupt, match="segment starts at seq 3, expected 2"):
        read_all(tmp_path)


def test_missing_first_segment_raises(tmp_path: Path) -> None:
    write_journal(tmp_path, 3, first=5)
    with pytest.raises(JournalCorrupt, match="missing segment"):
        read_all(tmp_path)
    got, _ = read_all(tmp_path, after_seq=4)  # fine when a snapshot covers seqs 1..4
    assert [c.seq for c in got] == [5, 6, 7]


def test_bad_segment_header_raises_torn_header_of_new_segment_is_repaired(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_journal(tmp_path, 3)
    flip(seg_path(tmp_path), 2)
    with pytest.raises(JournalCorrupt, match="bad segment header"):
        read_all(tmp_path)

    fresh = tmp_path / "fresh"
    write_journal(fresh, 3)
    seg_path(fresh, 4).write_bytes(encode_file_header(4)[:10])  # crash while rolling
    with caplog.at_level(logging.WARNING, logger="herbx.journal"):
        got, reader = read_all(fresh)
    assert len(got) == 3 and reader.tail_cut is not None
    assert "torn segment header" in caplog.text
    assert seg_path(fresh, 4).read_bytes() == encode_file_header(4)
    w = JournalWriter(fresh, 4)
    w.append(deposit(4))
    w.close()
    assert [c.seq for c in read_all(fresh)[0]] == [1, 2, 3, 4]


def test_zero_filled_tail_is_cut(tmp_path: Path) -> None:
    cmds = write_journal(tmp_path, 3)
    with open(seg_path(tmp_path), "ab") as f:
        f.write(b"\x00" * 4096)  # the size reached the disk, the data did not
    got, reader = read_all(tmp_path)
    assert got == cmds and reader.tail_cut is not None


# ---------------------------------------------------------------------------------------------
# Writer: group commit, bounds, rolling
# ---------------------------------------------------------------------------------------------


def test_append_buffers_until_flush(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, 1)
    for s in range(1, 11):
        w.append(deposit(s))
    assert w.pending == 10
    assert seg_path(tmp_path).stat().st_size == FILE_HEADER.size  # nothing durable yet
    assert w.flush() == 10 and w.pending == 0
    assert len(read_all(tmp_path)[0]) == 10
    assert w.flush() == 0
    w.close()


def test_group_bound_flushes_early_and_keeps_the_newest_record_pending(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, 1, max_pending_records=4)
    for s in range(1, 10):
        w.append(deposit(s))
        assert 1 <= w.pending <= 4
    assert w.flushes == 2 and w.records_written == 8
    w.discard_last()
    assert w.next_seq == 9
    w.close()
    assert [c.seq for c in read_all(tmp_path)[0]] == list(range(1, 9))


def test_byte_bound(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, 1, max_pending_bytes=1024, max_record_bytes=512)
    for s in range(1, 200):
        w.append(deposit(s))
        assert len(w._buf) <= 1024
    w.close()
    assert len(read_all(tmp_path)[0]) == 199


def test_oversized_record_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, 1, max_record_bytes=100)
    w.append(deposit(1))
    big = PlaceOrder(
        seq=2,
        ts_ns=5,
        account="A" * 64,
        client_order_id="C" * 64,
        symbol="QUE-BARK-A",
        side="buy",
        price_vnd=100,
        qty=1,
    )
    with pytest.raises(RecordTooLarge, match="limit 100"):
        w.append(big)
    assert w.next_seq == 2 and w.pending == 1
    w.append(deposit(2))
    w.close()
    assert [c.seq for c in read_all(tmp_path)[0]] == [1, 2]
    with pytest.raises(ValueError, match="format limit"):
        JournalWriter(tmp_path, 3, max_record_bytes=jr.MAX_RECORD_BYTES + 1)


def test_append_checks_seq(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, 1)
    with pytest.raises(JournalError, match="expected 1"):
        w.append(deposit(2))
    w.close()


def test_oversized_length_field_on_disk_is_rejected_without_reading_it(tmp_path: Path) -> None:
    body = raw_record(deposit(1)) + struct.pack("<II", 1 << 31, 0) + b"x" * 10
    seg_path(tmp_path).write_bytes(encode_file_header(1) + body)
    got, reader = read_all(tmp_path)
    assert len(got) == 1 and reader.tail_cut is not None
    assert "bad record length" in reader.tail_cut.reason


def test_segments_roll_by_size(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, 1, max_segment_bytes=300, max_pending_records=3)
    for s in range(1, 31):
        w.append(deposit(s))
    w.close()
    segs = list_segments(tmp_path)
    assert len(segs) > 3
    assert [c.seq for c in read_all(tmp_path)[0]] == list(range(1, 31))
    middle = segs[2].first_seq
    assert [c.seq for c in read_all(tmp_path, after_seq=middle)[0]] == list(range(middle + 1, 31))
    removed = jr.prune_segments(tmp_path, middle - 1)
    assert len(removed) == 2
    assert [c.seq for c in read_all(tmp_path, after_seq=middle - 1)[0]][0] == middle


# ---------------------------------------------------------------------------------------------
# Snapshot files
# ---------------------------------------------------------------------------------------------


def test_snapshot_round_trip_and_fallback(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p1 = write_snapshot(tmp_path, 10, 111, b"state-10")
    p2 = write_snapshot(tmp_path, 20, 222, b"state-20")
    snap = latest_valid_snapshot(tmp_path)
    assert snap is not None and (snap.seq, snap.ts_ns, snap.payload) == (20, 222, b"state-20")
    assert not list(tmp_path.glob("*.tmp"))

    flip(p2, p2.stat().st_size - 1)
    with caplog.at_level(logging.ERROR, logger="herbx.snapshot"):
        snap = latest_valid_snapshot(tmp_path)
    assert snap is not None and snap.seq == 10 and snap.path == p1
    assert p2.name in caplog.text and "payload checksum mismatch" in caplog.text

    with open(p1, "r+b") as f:
        f.truncate(30)
    assert latest_valid_snapshot(tmp_path) is None
    with pytest.raises(SnapshotCorrupt, match="short header"):
        read_snapshot(p1)


def test_snapshot_header_damage_and_wrong_name(tmp_path: Path) -> None:
    p = write_snapshot(tmp_path, 7, 1, b"abc")
    flip(p, 12)
    with pytest.raises(SnapshotCorrupt, match="header checksum"):
        read_snapshot(p)
    q = write_snapshot(tmp_path, 8, 1, b"abc")
    renamed = q.with_name("snapshot-00000000000000000009.snap")
    q.rename(renamed)
    with pytest.raises(SnapshotCorrupt, match="does not match the file name"):
        read_snapshot(renamed, expected_seq=9)


def test_prune_snapshots_keeps_the_newest_valid_ones(tmp_path: Path) -> None:
    for seq in (5, 10, 15, 20):
        write_snapshot(tmp_path, seq, seq, b"s")
    (tmp_path / "snapshot-00000000000000000025.snap.tmp").write_bytes(b"partial")
    oldest, removed = prune_snapshots(tmp_path, keep=2)
    assert oldest == 15 and len(removed) == 3
    assert [s for s, _ in list_snapshots(tmp_path)] == [15, 20]


# ---------------------------------------------------------------------------------------------
# Sequencer and recovery (with the stand-in engine)
# ---------------------------------------------------------------------------------------------


class Clock:
    def __init__(self, times: list[int]) -> None:
        self.times = times

    def __call__(self) -> int:
        return self.times.pop(0) if len(self.times) > 1 else self.times[0]


def open_seq(path: Path, **kw: object) -> Sequencer:
    return Sequencer(path, exchange_cls=FakeEngine, **kw)  # type: ignore[arg-type]


def test_sequencer_stamps_seq_and_non_decreasing_time(tmp_path: Path) -> None:
    with open_seq(tmp_path, now_ns=Clock([100, 90, 120, 110])) as sq:
        cmds = [deposit(0) for _ in range(4)]
        for c in cmds:
            sq.submit(c)
        assert [c.seq for c in cmds] == [1, 2, 3, 4]
        assert [c.ts_ns for c in cmds] == [100, 100, 120, 120]
        sq.commit()
    got, _ = read_all(tmp_path / "journal")
    assert got == cmds


def test_uncommitted_commands_are_lost_committed_ones_survive(tmp_path: Path) -> None:
    sq = open_seq(tmp_path)
    for _ in range(5):
        sq.submit(deposit(0))
    sq.commit()
    hash_at_5 = sq.exchange.state_hash()
    for _ in range(3):
        sq.submit(deposit(0))
    sq._lock.close()  # simulate a crash: no commit, no close
    ex, info = recover(tmp_path, exchange_cls=FakeEngine)
    assert info.last_seq == 5 and ex.state_hash() == hash_at_5


def test_snapshot_plus_replay_equals_live_state(tmp_path: Path) -> None:
    sq = open_seq(tmp_path, snapshot_every=25, max_pending_records=7)
    for i in range(110):
        sq.submit(deposit(0, amount=i + 1))
        if i % 10 == 9:
            sq.commit()
    sq.close()
    live = sq.exchange.state_hash()
    snaps = [s for s, _ in list_snapshots(tmp_path / "snapshots")]
    assert snaps == [75, 100]  # two kept, older ones pruned
    assert list_segments(tmp_path / "journal")[0].first_seq == 76  # journal before 75 pruned
    with open_seq(tmp_path) as again:
        assert again.recovery.snapshot_seq == 100 and again.recovery.replayed == 10
        assert again.exchange.state_hash() == live
        assert again.submit(deposit(0)) == [] and again.last_seq == 111


def test_corrupt_newest_snapshot_falls_back_and_replays_more(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with open_seq(tmp_path, snapshot_every=0) as sq:
        for i in range(30):
            sq.submit(deposit(0, amount=i + 1))
            if i in (9, 19):
                sq.snapshot()
        live = sq.exchange.state_hash()
    newest = tmp_path / "snapshots" / "snapshot-00000000000000000020.snap"
    flip(newest, 50)
    with caplog.at_level(logging.ERROR):
        ex, info = recover(tmp_path, exchange_cls=FakeEngine)
    assert info.snapshot_seq == 10 and info.replayed == 20 and info.skipped_snapshots == (newest,)
    assert ex.state_hash() == live
    assert "falling back" in caplog.text and newest.name in caplog.text


def test_torn_tail_then_restart_and_continue(tmp_path: Path) -> None:
    with open_seq(tmp_path) as sq:
        for _ in range(6):
            sq.submit(deposit(0))
    seg = list_segments(tmp_path / "journal")[-1].path
    with open(seg, "r+b") as f:
        f.truncate(seg.stat().st_size - 5)
    with open_seq(tmp_path) as sq:
        assert sq.recovery.tail_cut is not None and sq.last_seq == 5
        sq.submit(deposit(0))
        assert sq.last_seq == 6
    with open_seq(tmp_path) as sq:
        assert sq.recovery.tail_cut is None and sq.last_seq == 6


def test_engine_bug_stops_the_sequencer_and_keeps_the_poison_out(tmp_path: Path) -> None:
    sq = open_seq(tmp_path)
    for _ in range(3):
        sq.submit(deposit(0))
    sq.exchange.fail_on_seq = 4  # type: ignore[attr-defined]
    with pytest.raises(SequencerFailed, match="seq 4"):
        sq.submit(deposit(0))
    with pytest.raises(SequencerFailed):
        sq.submit(deposit(0))
    sq.close()
    with open_seq(tmp_path) as again:
        assert again.last_seq == 3  # the three good commands were committed, seq 4 never was


def test_one_sequencer_per_directory(tmp_path: Path) -> None:
    with open_seq(tmp_path), pytest.raises(JournalError, match="in use"):
        open_seq(tmp_path)
    open_seq(tmp_path).close()  # released


def test_journal_behind_snapshot_is_an_error(tmp_path: Path) -> None:
    with open_seq(tmp_path) as sq:
        for _ in range(4):
            sq.submit(deposit(0))
        sq.commit()
        payload = sq.exchange.snapshot()
    state = msgspec.msgpack.decode(payload)
    state["last_seq"] = 9
    write_snapshot(tmp_path / "snapshots", 9, 0, _enc.encode(state))
    with pytest.raises(RecoveryError, match="journal ends at seq 4"):
        recover(tmp_path, exchange_cls=FakeEngine)


def test_drive_commits_in_groups(tmp_path: Path) -> None:
    with open_seq(tmp_path) as sq:
        assert drive(sq, (deposit(0) for _ in range(25)), commit_every=10) == 0
        assert sq.journal.flushes == 3 and sq.journal.pending == 0
    assert len(read_all(tmp_path / "journal")[0]) == 25


def test_failed_periodic_snapshot_does_not_lose_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def disk_full(*args: object) -> Path:
        raise OSError(28, "No space left on device")

    import engine.durable.sequencer as sequencer_module

    with open_seq(tmp_path, snapshot_every=5) as sq:
        monkeypatch.setattr(sequencer_module, "write_snapshot", disk_full)
        for _ in range(5):
            sq.submit(deposit(0))
        assert "periodic snapshot at seq 5 failed" in caplog.text
        monkeypatch.undo()
        for _ in range(5):
            sq.submit(deposit(0))
        sq.commit()
    assert [s for s, _ in list_snapshots(tmp_path / "snapshots")] == [10]
    _, info = recover(tmp_path, exchange_cls=FakeEngine)
    assert info.last_seq == 10 and info.snapshot_seq == 10


def test_lost_journal_directory_is_an_error_not_a_silent_rewind(tmp_path: Path) -> None:
    with open_seq(tmp_path) as sq:
        for _ in range(5):
            sq.submit(deposit(0))
        sq.snapshot()
        sq.submit(deposit(0))
    shutil.rmtree(tmp_path / "journal")
    with pytest.raises(RecoveryError, match="journal has no segment"):
        open_seq(tmp_path)
    open_seq(tmp_path / "fresh").close()  # an empty directory is simply a new market


def test_snapshot_on_an_empty_market_and_reopen(tmp_path: Path) -> None:
    with open_seq(tmp_path) as sq:
        sq.snapshot()
        sq.snapshot()  # no new segment: the current one holds no record yet
    assert [s.first_seq for s in list_segments(tmp_path / "journal")] == [1]
    with open_seq(tmp_path) as sq:
        assert sq.recovery.snapshot_seq == 0
        sq.submit(deposit(0))
    with open_seq(tmp_path) as sq:
        assert sq.last_seq == 1


def test_pipelined_commit_becomes_durable_in_the_background(tmp_path: Path) -> None:
    with open_seq(tmp_path) as sq:
        assert sq.durable_seq == 0
        for _ in range(10):
            sq.submit(deposit(0))
        assert sq.commit(wait=False) == 10
        for _ in range(5):
            sq.submit(deposit(0))  # the next group fills while the first one syncs
        assert sq.wait_durable() == 10
        assert len(read_all(tmp_path / "journal")[0]) == 10
        sq.commit(wait=False)
        sq.commit(wait=False)  # nothing new: no second group
        assert sq.wait_durable() == 15
    with open_seq(tmp_path) as sq:
        assert drive(sq, (deposit(0) for _ in range(30)), 7, pipelined=True) == 0
        assert sq.durable_seq == 45
    _, info = recover(tmp_path, exchange_cls=FakeEngine)
    assert info.last_seq == 45


def test_failed_background_sync_stops_the_sequencer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    sq = open_seq(tmp_path)
    sq.submit(deposit(0))
    sq.commit()
    monkeypatch.setattr(jr, "_fdatasync", broken)
    sq.submit(deposit(0))
    sq.commit(wait=False)
    with pytest.raises(JournalError, match="Input/output error"):
        sq.wait_durable()
    assert sq.durable_seq == 1
    with pytest.raises(SequencerFailed):
        sq.submit(deposit(0))
    with pytest.raises(SequencerFailed):
        sq.commit()
    sq.close()


def test_a_lot_id_longer_than_a_trace_code_takes_is_never_journaled(tmp_path: Path) -> None:
    # The lot record (grading) and the commands share one LotId (at most 20: GS1 AI (10)); a
    # longer one from a script used to be journaled and then break the snapshot's decode.
    from engine.durable.journal import RecordInvalid
    from engine.messages import ReceiveLot

    w = JournalWriter(tmp_path, 1)
    with pytest.raises(RecordInvalid) as info:
        w.append(ReceiveLot(seq=1, ts_ns=1, lot_id="L" * 21, account="C1", symbol="QUE-BARK-A",
                            qty=10))
    assert info.value.field == "$.lot_id" and w.next_seq == 1
    w.close()


def test_a_journal_of_the_rules_before_delivery_versus_payment_is_refused(tmp_path: Path) -> None:
    """Version 1 segments were applied under the rules where a trade moved cash and goods at
    once: replaying them today would give a state their clients never saw, so recovery refuses
    them with that reason instead of replaying."""
    head = jr.MAGIC + struct.pack("<IQ", 1, 1)
    (tmp_path / f"journal-{1:020d}.log").write_bytes(
        head + struct.pack("<I", zlib.crc32(head)))
    with pytest.raises(jr.JournalCorrupt, match="before delivery versus payment"):
        list(jr.JournalReader(tmp_path, repair=True))


def test_a_journal_of_the_rules_before_failed_trades_undid_lot_sales_is_refused(
        tmp_path: Path) -> None:
    """Version 2 segments were applied under the rules where a failed trade left its lots'
    records sold: replayed today, the lots would get their goods back, and a later command that
    used them could be answered differently from the first time."""
    head = jr.MAGIC + struct.pack("<IQ", 2, 1)
    (tmp_path / f"journal-{1:020d}.log").write_bytes(
        head + struct.pack("<I", zlib.crc32(head)))
    with pytest.raises(jr.JournalCorrupt, match="failed trade undoing its lots' sales"):
        list(jr.JournalReader(tmp_path, repair=True))
