"""The command journal: an append-only, checksummed, segmented log of stamped commands on disk.

This module owns the journal's file format, the group-commit writer and the reader that
validates the log on recovery (see docs/journal.md). It is part of the engine's I/O shell: the
core (``Exchange`` and the books) never imports it. It must never apply a command, read the
clock, or skip a damaged record silently: a torn tail of the newest segment is cut with a log
line, any other damage raises ``JournalCorrupt``. A record that is whole and whose checksum holds
is never a torn tail, even at the very end: it was written, so it may have been acknowledged.
It must never write a record its own reader would refuse: ``append`` decodes what it encoded
with the reader's decoder (the command types' limits) and refuses the command otherwise.

Layout: ``<dir>/journal-<first seq, 20 digits>.log``. Each segment starts with a 24-byte header
``struct "<8sIQI"``: magic ``HERBXJNL``, format version, first seq, CRC32 of the preceding 20
bytes. Records follow back to back: ``struct "<II"`` (payload length, CRC32 of the payload) and
the payload, a msgpack-encoded ``Command`` already stamped with ``seq`` and ``ts_ns``. Seqs are
consecutive across the whole journal; a segment's first record has its file's first seq.

Durability contract: ``append`` only buffers. A record is durable once a ``flush(wait=True)``
(alias ``commit``) that began after its ``append`` has returned, or once ``durable_seq`` has
reached its seq (pipelined ``flush(wait=False)``); only then may anyone (the gateway, market
data) act on its outcome. ``append`` flushes by itself when the pending group reaches its bounds
*before* adding the new record, so the record just appended is always still pending and can be
taken back with ``discard_last`` (the sequencer uses this when applying it raised).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import struct
import zlib
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import msgspec

from engine.messages import Command, command_msgpack_decoder

log = logging.getLogger("herbx.journal")

MAGIC = b"HERBXJNL"
#: The format version, also the version of the market rules its commands were applied under: a
#: journal replays only under the rules that wrote it. 2: delivery versus payment (a trade moves
#: nothing until it is paid); 3: a failed trade undoes the sale on its lots' records (their goods
#: go back to the lot). An older journal would replay to a state its clients never saw.
VERSION = 3
#: The rule each older version predates, for the refusal at start-up.
OLDER_RULES = {
    1: "delivery versus payment (journal version 1)",
    2: "a failed trade undoing its lots' sales (journal version 2)",
}
FILE_HEADER = struct.Struct("<8sIQI")  # magic, version, first seq, crc32 of the first 20 bytes
RECORD_HEADER = struct.Struct("<II")  # payload length, crc32(payload)
# Part of the format: a reader rejects longer records, so a flipped length byte cannot make it
# allocate or skip gigabytes. Commands are small (bounded strings); this leaves ample room.
MAX_RECORD_BYTES = 64 * 1024
DEFAULT_MAX_PENDING_RECORDS = 8192
DEFAULT_MAX_PENDING_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_SEGMENT_BYTES = 128 * 1024 * 1024

_SEGMENT_RE = re.compile(r"^journal-(\d{20})\.log$")
# The payload is a msgspec Struct encoded as a msgpack map: fixmap (0x80-0x8f) or map16 (0xde).
_MAP_FIRST_BYTES = frozenset(range(0x80, 0x90)) | {0xDE}


class JournalError(Exception):
    """Misuse of the journal or an I/O failure while writing it."""


class RecordRefused(JournalError, ValueError):
    """A command cannot be journaled; nothing was written and the journal is fine. The caller
    refuses that one command (a 4xx for a client) and carries on."""


class RecordTooLarge(RecordRefused):
    """A command encodes to more than the record limit; nothing was written."""


class RecordUnencodable(RecordRefused):
    """A command holds a value msgpack cannot write (an integer beyond 64 bits); nothing was
    written."""


class RecordInvalid(RecordRefused):
    """A command breaks a limit of its own type (a quantity above ``MAX_QTY``, a time before
    1970, an id with a forbidden character), so recovery's decoder could not read it back;
    nothing was written. ``field`` is the path msgspec names (``$.qty``)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field

    @classmethod
    def of(cls, exc: msgspec.ValidationError, what: str = "command") -> RecordInvalid:
        """From the decoder's error: ``Expected `int` <= 1000000000 - at `$.qty```."""
        text = str(exc)
        where = text.rpartition(" - at ")[2].strip("`") if " - at " in text else "$"
        return cls(f"{what} breaks a limit of its type: {text}", where)


class JournalCorrupt(JournalError):
    """The journal is damaged somewhere other than a torn tail; recovery must stop."""

    def __init__(self, path: Path, offset: int, reason: str) -> None:
        super().__init__(f"journal corrupt: {path} at offset {offset}: {reason}")
        self.path = path
        self.offset = offset
        self.reason = reason


class JournalOfOlderRules(JournalCorrupt):
    """The journal was written under older market rules (its segment header's version): it is
    whole, but replaying it today would not give the state its clients saw. Final: waiting or
    retrying changes nothing."""


@dataclass(frozen=True, slots=True)
class Segment:
    first_seq: int
    path: Path


@dataclass(frozen=True, slots=True)
class TailCut:
    """A torn or corrupt tail found at the end of the newest segment."""

    path: Path
    offset: int
    reason: str
    bytes_cut: int
    repaired: bool


def segment_name(first_seq: int) -> str:
    return f"journal-{first_seq:020d}.log"


def list_segments(directory: Path) -> list[Segment]:
    """The journal's segments in seq order (other files in ``directory`` are ignored)."""
    if not directory.is_dir():
        return []
    segments = []
    for entry in directory.iterdir():
        m = _SEGMENT_RE.match(entry.name)
        if m:
            segments.append(Segment(int(m.group(1)), entry))
    segments.sort(key=lambda s: s.first_seq)
    return segments


def encode_file_header(first_seq: int) -> bytes:
    head = MAGIC + struct.pack("<IQ", VERSION, first_seq)
    return head + struct.pack("<I", zlib.crc32(head))


def fsync_dir(directory: Path) -> None:
    """Make a created, renamed or removed directory entry durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fdatasync(fd: int) -> None:
    # fdatasync also flushes the file size, which is all a reader needs; it saves the inode
    # timestamp write that fsync would add to every group commit.
    sync = getattr(os, "fdatasync", os.fsync)
    sync(fd)


def _write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _create_segment(directory: Path, first_seq: int) -> Path:
    path = directory / segment_name(first_seq)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        _write_all(fd, encode_file_header(first_seq))
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(directory)
    return path


# ---------------------------------------------------------------------------------------------
# Writer
# ---------------------------------------------------------------------------------------------


class JournalWriter:
    """Appends stamped commands to the newest segment in groups (one write + fdatasync each).

    Open it only after the journal has been read with ``repair=True`` (``JournalReader``), so
    that it appends after valid data; ``next_seq`` is the seq the next command will carry.
    Not thread-safe: the single sequencer owns it (a pipelined flush uses one helper thread
    that only writes and syncs a group the writer has already let go of). After a failed write
    or sync the writer refuses all further calls; the process must stop and recover from disk,
    because the state of a file after a failed fsync is unknown.
    """

    def __init__(
        self,
        directory: Path,
        next_seq: int,
        *,
        max_pending_records: int = DEFAULT_MAX_PENDING_RECORDS,
        max_pending_bytes: int = DEFAULT_MAX_PENDING_BYTES,
        max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES,
        max_record_bytes: int = MAX_RECORD_BYTES,
        sync: bool = True,
    ) -> None:
        if next_seq < 1:
            raise ValueError(f"next_seq must be >= 1, got {next_seq}")
        if not 1 <= max_pending_records <= 1_000_000:
            raise ValueError(f"max_pending_records out of range: {max_pending_records}")
        if not max_record_bytes <= MAX_RECORD_BYTES:
            raise ValueError(f"max_record_bytes above the format limit {MAX_RECORD_BYTES}")
        if not RECORD_HEADER.size + max_record_bytes <= max_pending_bytes <= 1 << 30:
            raise ValueError(f"max_pending_bytes out of range: {max_pending_bytes}")
        self.directory = directory
        self._max_records = max_pending_records
        self._max_bytes = max_pending_bytes
        self._max_segment_bytes = max_segment_bytes
        self._max_record_bytes = max_record_bytes
        self._sync = sync
        self._encoder = msgspec.msgpack.Encoder()
        self._buf = bytearray()
        self._pending = 0
        self._last_start = -1
        self._next_seq = next_seq
        self._failed: BaseException | None = None
        self._durable_seq = next_seq - 1
        self._executor: ThreadPoolExecutor | None = None
        self._inflight: Future[None] | None = None
        # Figures for benchmarks and monitoring.
        self.records_written = 0
        self.bytes_written = 0
        self.flushes = 0

        directory.mkdir(parents=True, exist_ok=True)
        segments = list_segments(directory)
        if segments and segments[-1].first_seq <= next_seq:
            self._segment = segments[-1]
        else:
            if segments:
                raise JournalError(
                    f"newest segment {segments[-1].path} starts after next seq {next_seq}"
                )
            self._segment = Segment(next_seq, _create_segment(directory, next_seq))
        self._fd = os.open(self._segment.path, os.O_WRONLY | os.O_APPEND)
        self._segment_bytes = os.fstat(self._fd).st_size

    @property
    def next_seq(self) -> int:
        return self._next_seq

    @property
    def pending(self) -> int:
        """Records appended but not yet handed to a flush."""
        return self._pending

    @property
    def segment(self) -> Segment:
        return self._segment

    def append(self, cmd: Command) -> None:
        """Buffer one stamped command; it is durable only after the next ``flush``."""
        if self._failed is not None:
            self._raise_if_failed()
        if cmd.seq != self._next_seq:
            raise JournalError(f"append of seq {cmd.seq}, expected {self._next_seq}")
        try:
            payload = self._encoder.encode(cmd)
        except (OverflowError, TypeError, msgspec.EncodeError) as exc:
            raise RecordUnencodable(f"command seq {cmd.seq} cannot be journaled: {exc}") from None
        try:
            # What is appended must be exactly what recovery can read: the same decoder, the
            # same limits (declared once, in the command types), checked before the write.
            command_msgpack_decoder.decode(payload)
        except msgspec.ValidationError as exc:
            raise RecordInvalid.of(exc, type(cmd).__name__) from None
        size = len(payload)
        if size > self._max_record_bytes:
            raise RecordTooLarge(
                f"command seq {cmd.seq} encodes to {size} bytes, limit {self._max_record_bytes}"
            )
        buf = self._buf
        if self._pending >= self._max_records or len(buf) + 8 + size > self._max_bytes:
            self.flush(wait=False)  # early, so never late; the caller's commit still waits
            buf = self._buf
        self._last_start = len(buf)
        buf += RECORD_HEADER.pack(size, zlib.crc32(payload))
        buf += payload
        self._pending += 1
        self._next_seq += 1

    def discard_last(self) -> None:
        """Take back the record appended last, which must still be pending (not flushed)."""
        if self._pending == 0 or self._last_start < 0:
            raise JournalError("no pending record to discard")
        del self._buf[self._last_start :]
        self._last_start = -1
        self._pending -= 1
        self._next_seq -= 1

    @property
    def durable_seq(self) -> int:
        """Every record with a seq up to this one is on disk and synced."""
        return self._durable_seq

    def flush(self, wait: bool = True) -> int:
        """Hand the pending group to the disk; returns its number of records.

        ``wait=True``: write and fdatasync now; the records are durable when this returns.
        ``wait=False`` (pipelined): a background thread writes and syncs the group while the
        caller goes on; ``durable_seq`` rises when it is done, ``wait_durable`` waits for it.
        At most one group is ever in flight: a second flush first waits for the previous one.
        """
        count = self._hand_off(wait)
        if self._segment_bytes >= self._max_segment_bytes:
            self.roll()  # waits for the group in flight
        elif wait:
            self._wait_inflight()
        return count

    commit = flush

    def _hand_off(self, wait: bool) -> int:
        self._raise_if_failed()
        count = self._pending
        if count:
            self._wait_inflight()
            buf, upto = self._buf, self._next_seq - 1
            self._buf = bytearray()
            self._pending = 0
            self._last_start = -1
            self._segment_bytes += len(buf)
            self.bytes_written += len(buf)
            self.records_written += count
            self.flushes += 1
            if wait:
                self._write_group(buf, upto)
            else:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(1, thread_name_prefix="herbx-journal")
                self._inflight = self._executor.submit(self._write_group, buf, upto)
        return count

    def wait_durable(self) -> int:
        """Wait for the group in flight, if any; returns ``durable_seq``."""
        self._wait_inflight()
        return self._durable_seq

    def _write_group(self, buf: bytearray, upto: int) -> None:
        # Runs on the caller's thread or on the one journal thread, never on both at once:
        # the fd is only touched by whoever holds the single in-flight slot.
        try:
            _write_all(self._fd, buf)
            if self._sync:
                _fdatasync(self._fd)
        except OSError as exc:
            self._failed = exc
            raise JournalError(f"journal write to {self._segment.path} failed: {exc}") from exc
        self._durable_seq = upto

    def _wait_inflight(self) -> None:
        inflight = self._inflight
        if inflight is not None:
            self._inflight = None
            inflight.result()  # re-raises the JournalError of a failed background write

    def _raise_if_failed(self) -> None:
        if self._failed is not None:
            raise JournalError("journal writer failed earlier; recover from disk") from self._failed

    def roll(self) -> Segment:
        """Flush (and wait), then continue in a new segment starting at ``next_seq`` (no-op if
        the current segment holds no record yet)."""
        self._hand_off(wait=True)
        self._wait_inflight()
        if self._segment.first_seq == self._next_seq:
            return self._segment
        path = _create_segment(self.directory, self._next_seq)
        os.close(self._fd)
        self._segment = Segment(self._next_seq, path)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._segment_bytes = os.fstat(self._fd).st_size
        return self._segment

    def close(self) -> None:
        """Flush what is pending, wait for it, close the file and the journal thread."""
        if self._fd < 0:
            return
        try:
            if self._failed is None:
                self.flush(wait=True)
        finally:
            with contextlib.suppress(JournalError):  # already failed: nothing more to save
                self._wait_inflight()
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
            os.close(self._fd)
            self._fd = -1


# ---------------------------------------------------------------------------------------------
# Reader
# ---------------------------------------------------------------------------------------------


def _parse_record(
    data: bytes, pos: int, max_record_bytes: int
) -> tuple[Command | None, int, str, bool]:
    """Decode the record at ``pos``: (command, end offset, "", True) or (None, pos, reason,
    complete), where ``complete`` says the record was whole and its checksum good, so its
    failure to decode is damage of another kind than a torn write."""
    size = len(data)
    if size - pos < RECORD_HEADER.size:
        return None, pos, f"short record header ({size - pos} of {RECORD_HEADER.size} bytes)", False
    length, crc = RECORD_HEADER.unpack_from(data, pos)
    if length == 0 or length > max_record_bytes:
        return None, pos, f"bad record length {length} (limit {max_record_bytes})", False
    start = pos + RECORD_HEADER.size
    end = start + length
    if end > size:
        return None, pos, f"short payload ({size - start} of {length} bytes)", False
    payload = memoryview(data)[start:end]
    if zlib.crc32(payload) != crc:
        return None, pos, "checksum mismatch", False
    try:
        cmd = command_msgpack_decoder.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return None, pos, f"undecodable payload: {exc}", True
    return cmd, end, "", True


def _next_valid_record(data: bytes, after: int) -> int | None:
    """Offset of a well-formed record starting anywhere after ``after``, if there is one.

    Used only when a record is bad, to tell a torn tail (nothing valid follows) from damage in
    the middle (valid data follows). Candidates are narrowed cheaply first: the length field is
    below 64 KiB, so its two high bytes are zero, and the payload opens a msgpack map.
    """
    pos = after + 1
    limit = len(data) - RECORD_HEADER.size - 1  # a record has at least one payload byte
    while pos <= limit:
        zeros = data.find(b"\x00\x00", pos + 2)
        if zeros < 0:
            return None
        cand = zeros - 2
        if cand > limit:
            return None
        if data[cand + RECORD_HEADER.size] in _MAP_FIRST_BYTES:
            cmd, _, _, _ = _parse_record(data, cand, MAX_RECORD_BYTES)
            if cmd is not None:
                return cand
        pos = cand + 1
    return None


class JournalReader:
    """Iterates the journal's commands with ``seq > after_seq``, checking everything.

    Checks: segment headers, every record's length and CRC, that payloads decode, and that seqs
    run consecutively from each segment's first seq and across segments. A bad record at the
    very end of the newest segment with nothing valid after it is a torn tail: it is logged and,
    with ``repair=True``, cut off (the file is truncated and synced) so that appends continue
    after valid data. Anything else raises ``JournalCorrupt``. After iterating, ``last_seq``
    is the seq of the journal's last valid record (``after_seq`` if it has none after that) and
    ``tail_cut`` describes a cut tail; ``end_seq`` is the seq of the journal's last record
    (None without any segment), which may be below ``after_seq`` if the journal is short.
    """

    def __init__(self, directory: Path, *, after_seq: int = 0, repair: bool = True) -> None:
        self.directory = directory
        self.after_seq = after_seq
        self.repair = repair
        self.last_seq = after_seq
        self.end_seq: int | None = None
        self.last_ts_ns = 0
        self.records = 0
        self.tail_cut: TailCut | None = None

    def __iter__(self) -> Iterator[Command]:
        segments = list_segments(self.directory)
        # Start at the newest segment that begins at or before the first seq we need; older
        # segments hold only records the caller already has (they may have been pruned).
        start = 0
        for i, seg in enumerate(segments):
            if seg.first_seq <= self.after_seq + 1:
                start = i
        segments = segments[start:]
        if segments and segments[0].first_seq > self.after_seq + 1:
            raise JournalCorrupt(
                segments[0].path,
                0,
                f"journal starts at seq {segments[0].first_seq} but seq {self.after_seq + 1} "
                "is needed (missing segment)",
            )
        expected = segments[0].first_seq if segments else self.after_seq + 1
        for i, seg in enumerate(segments):
            if seg.first_seq != expected:
                raise JournalCorrupt(
                    seg.path, 0, f"segment starts at seq {seg.first_seq}, expected {expected}"
                )
            expected = yield from self._read_segment(seg, is_last=i == len(segments) - 1)
        if segments:
            self.end_seq = expected - 1
        self.last_seq = max(self.last_seq, expected - 1)

    def _read_segment(self, seg: Segment, *, is_last: bool) -> Generator[Command, None, int]:
        path = seg.path
        data = path.read_bytes()
        head_size = FILE_HEADER.size
        magic, version = (FILE_HEADER.unpack_from(data, 0)[:2] if len(data) >= head_size
                          else (b"", 0))
        if magic == MAGIC and version in OLDER_RULES:
            raise JournalOfOlderRules(path, 0, "written by an engine of the market rules before "
                                 f"{OLDER_RULES[version]}; replayed under today's rules it would "
                                 "not give the state its clients saw: start a new data "
                                 "directory, or run the release that wrote it")
        if len(data) < head_size or not self._header_ok(data, seg.first_seq):
            if is_last and len(data) <= head_size:
                # Crash while the segment was being created: it holds no record yet.
                self._cut(path, 0, "torn segment header", len(data), rewrite_header=seg)
                return seg.first_seq
            raise JournalCorrupt(path, 0, "bad segment header (magic, version, seq or crc)")
        expected = seg.first_seq
        after = self.after_seq
        pos = head_size
        size = len(data)
        while pos < size:
            cmd, end, reason, complete = _parse_record(data, pos, MAX_RECORD_BYTES)
            if cmd is None:
                if complete:
                    # Whole and checksummed: a record that was written in full, so never a torn
                    # tail, wherever it lies. Cutting it would lose an acknowledged command.
                    raise JournalCorrupt(
                        path,
                        pos,
                        f"{reason} (a complete record with a good checksum: written by a "
                        "version without the same limits; restore the data directory from a "
                        "backup or run that version)",
                    )
                if not is_last:
                    raise JournalCorrupt(path, pos, f"{reason} in a closed segment")
                follow = _next_valid_record(data, pos)
                if follow is not None:
                    raise JournalCorrupt(
                        path, pos, f"{reason}; a valid record follows at offset {follow}"
                    )
                self._cut(path, pos, reason, size - pos)
                break
            if cmd.seq != expected:
                raise JournalCorrupt(path, pos, f"record has seq {cmd.seq}, expected {expected}")
            expected += 1
            self.records += 1
            self.last_ts_ns = cmd.ts_ns
            if cmd.seq > after:
                yield cmd
            pos = end
        return expected

    @staticmethod
    def _header_ok(data: bytes, first_seq: int) -> bool:
        magic, version, seq, crc = FILE_HEADER.unpack_from(data, 0)
        return bool(
            magic == MAGIC
            and version == VERSION
            and seq == first_seq
            and crc == zlib.crc32(data[: FILE_HEADER.size - 4])
        )

    def _cut(
        self,
        path: Path,
        offset: int,
        reason: str,
        bytes_cut: int,
        rewrite_header: Segment | None = None,
    ) -> None:
        action = "cutting" if self.repair else "NOT cutting (read-only)"
        log.warning(
            "journal: torn tail in %s at offset %d (%s); %s %d bytes",
            path,
            offset,
            reason,
            action,
            bytes_cut,
        )
        if self.repair:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.ftruncate(fd, offset)
                if rewrite_header is not None:
                    _write_all(fd, encode_file_header(rewrite_header.first_seq))
                os.fsync(fd)
            finally:
                os.close(fd)
        self.tail_cut = TailCut(path, offset, reason, bytes_cut, self.repair)


def prune_segments(directory: Path, upto_seq: int) -> list[Path]:
    """Delete segments whose records all have seq <= ``upto_seq`` (the newest segment is always
    kept, so the writer has a file to append to). Returns the deleted paths."""
    segments = list_segments(directory)
    removed = []
    for seg, nxt in zip(segments, segments[1:], strict=False):
        if nxt.first_seq - 1 <= upto_seq:
            seg.path.unlink()
            removed.append(seg.path)
    if removed:
        fsync_dir(directory)
    return removed


class JournalTail:
    """Follows a journal that another process writes (`herbx consume`): a segment, the offset
    after the last whole record read, and the seq of the record expected there; each `read`
    costs what was appended since. Reads only whole, checksummed records and never cuts
    anything: a partial record at the end (being written, or torn by a crash, then cut and
    rewritten by the writer's recovery) is read again next time. A bad record with valid data
    after it, or a segment ending in a partial record while a newer one exists, is damage:
    `JournalCorrupt` (once the records before it were returned)."""

    READ_BYTES = 4 * 1024 * 1024  # per read: bounded, and far above one record

    def __init__(self, journal_dir: Path, seg: Segment, offset: int, next_seq: int) -> None:
        self.journal_dir = journal_dir
        self.seg = seg
        self.offset = offset
        self.next_seq = next_seq

    @classmethod
    def locate(cls, journal_dir: Path, applied: int) -> JournalTail | None:
        """The place of the record after ``applied`` (scanning its segment once)."""
        segments = [g for g in list_segments(journal_dir) if g.first_seq <= applied + 1]
        if not segments:
            return None
        tail = cls(journal_dir, segments[-1], FILE_HEADER.size, segments[-1].first_seq)
        while tail.next_seq <= applied:
            if not tail.read(applied + 1 - tail.next_seq, skip=True):
                return None  # the segment ends before it: not written yet
        return tail

    def read(self, most: int, *, skip: bool = False) -> list[Command]:
        with open(self.seg.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(self.READ_BYTES)
        out: list[Command] = []
        pos = 0
        while len(out) < most:
            cmd, end, reason, complete = _parse_record(data, pos, MAX_RECORD_BYTES)
            if cmd is None:
                if not out and (complete or _next_valid_record(data, pos) is not None):
                    raise JournalCorrupt(self.seg.path, self.offset + pos, reason)
                break  # partial (read again next time), or damage: raised once those are booked
            if cmd.seq != self.next_seq:
                raise JournalCorrupt(self.seg.path, self.offset + pos,
                                     f"record has seq {cmd.seq}, expected {self.next_seq}")
            self.next_seq += 1
            pos = end
            out.append(cmd)
        self.offset += pos
        return [] if skip and not out else out

    def successor(self) -> JournalTail | None:
        """The next segment, when this one is read to its end and the next one exists."""
        for seg in list_segments(self.journal_dir):
            if seg.first_seq == self.next_seq and seg.path != self.seg.path:
                with open(self.seg.path, "rb") as f:
                    size = f.seek(0, 2)
                if size != self.offset:
                    raise JournalCorrupt(self.seg.path, self.offset,
                                         "a partial record before the next segment")
                return JournalTail(self.journal_dir, seg, FILE_HEADER.size, seg.first_seq)
        return None
