"""Snapshot files: the engine's full state at one seq, written atomically and checksummed.

This module owns the snapshot file format and directory (see docs/journal.md). It is part of
the engine's I/O shell; the core never imports it. It treats the state as opaque bytes (what
``Exchange.snapshot()`` returns): it must never interpret them, and never hand back a snapshot
whose checksum does not match. A damaged newest snapshot is passed over with a log line and the
previous one is used; recovery then replays more of the journal.

File ``<dir>/snapshot-<seq, 20 digits>.snap``: a 40-byte header ``struct "<8sIQQQI"`` (magic
``HERBXSNP``, format version, seq, ts_ns of the command at seq, payload length, CRC32 of the
payload) followed by a CRC32 of those 36 bytes (4 bytes), then the payload. Written to a
``.tmp`` file, fsynced, renamed into place, and the directory fsynced, so a reader sees either
the whole file or none of it.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.durable.journal import fsync_dir

log = logging.getLogger("herbx.snapshot")

MAGIC = b"HERBXSNP"
VERSION = 1
_HEAD = struct.Struct("<8sIQQQI")  # magic, version, seq, ts_ns, payload length, payload crc
_HEAD_CRC = struct.Struct("<I")
HEADER_SIZE = _HEAD.size + _HEAD_CRC.size
MAX_SNAPSHOT_BYTES = 4 * 1024 * 1024 * 1024
_SNAPSHOT_RE = re.compile(r"^snapshot-(\d{20})\.snap$")


class SnapshotCorrupt(Exception):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"snapshot corrupt: {path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Snapshot:
    seq: int
    ts_ns: int
    payload: bytes
    path: Path


def snapshot_name(seq: int) -> str:
    return f"snapshot-{seq:020d}.snap"


def list_snapshots(directory: Path) -> list[tuple[int, Path]]:
    """(seq, path) of every snapshot file, oldest first; temporary files are ignored."""
    if not directory.is_dir():
        return []
    found = []
    for entry in directory.iterdir():
        m = _SNAPSHOT_RE.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry))
    found.sort()
    return found


def write_snapshot(directory: Path, seq: int, ts_ns: int, payload: bytes) -> Path:
    """Write the state at ``seq`` atomically; returns the final path."""
    if len(payload) > MAX_SNAPSHOT_BYTES:
        raise ValueError(f"snapshot of {len(payload)} bytes exceeds {MAX_SNAPSHOT_BYTES}")
    directory.mkdir(parents=True, exist_ok=True)
    head = _HEAD.pack(MAGIC, VERSION, seq, ts_ns, len(payload), zlib.crc32(payload))
    head += _HEAD_CRC.pack(zlib.crc32(head))
    final = directory / snapshot_name(seq)
    tmp = directory / (final.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(head)
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)
    fsync_dir(directory)
    return final


def read_snapshot(path: Path, expected_seq: int | None = None) -> Snapshot:
    """Read and verify one snapshot file; raises ``SnapshotCorrupt``."""
    size = path.stat().st_size
    if size < HEADER_SIZE:
        raise SnapshotCorrupt(path, f"short header ({size} bytes)")
    if size > HEADER_SIZE + MAX_SNAPSHOT_BYTES:
        raise SnapshotCorrupt(path, f"file of {size} bytes exceeds the snapshot limit")
    data = path.read_bytes()
    (head_crc,) = _HEAD_CRC.unpack_from(data, _HEAD.size)
    if zlib.crc32(data[: _HEAD.size]) != head_crc:
        raise SnapshotCorrupt(path, "header checksum mismatch")
    magic, version, seq, ts_ns, length, crc = _HEAD.unpack_from(data, 0)
    if magic != MAGIC or version != VERSION:
        raise SnapshotCorrupt(path, f"bad magic or version {version}")
    if expected_seq is not None and seq != expected_seq:
        raise SnapshotCorrupt(path, f"header seq {seq} does not match the file name")
    if len(data) != HEADER_SIZE + length:
        raise SnapshotCorrupt(
            path, f"payload is {len(data) - HEADER_SIZE} bytes, header says {length}"
        )
    payload = data[HEADER_SIZE:]
    if zlib.crc32(payload) != crc:
        raise SnapshotCorrupt(path, "payload checksum mismatch")
    return Snapshot(seq, ts_ns, payload, path)


def valid_snapshots(
    directory: Path, skipped: list[Path] | None = None, *, at_most_seq: int | None = None
) -> Iterator[Snapshot]:
    """Verified snapshots, newest first; each damaged one is logged, added to ``skipped`` and
    passed over. ``at_most_seq``: only those at or before that seq (newer files are not read)."""
    for seq, path in reversed(list_snapshots(directory)):
        if at_most_seq is not None and seq > at_most_seq:
            continue
        try:
            yield read_snapshot(path, expected_seq=seq)
        except (SnapshotCorrupt, OSError) as exc:
            log.error("snapshot: skipping %s: %s; falling back to an older snapshot", path, exc)
            if skipped is not None:
                skipped.append(path)


def latest_valid_snapshot(directory: Path) -> Snapshot | None:
    return next(valid_snapshots(directory), None)


def prune_snapshots(
    directory: Path, keep: int, retain_seq: int | None = None
) -> tuple[int, list[Path]]:
    """Keep the ``keep`` newest valid snapshots, delete older files and stale ``.tmp`` files.
    Returns the seq of the oldest kept snapshot (0 if none) and the deleted paths. The journal
    from that seq on must be kept, so that recovery can fall back to it.

    ``retain_seq``: a reader of the journal (a downstream consumer) still needs the commands
    after that seq, rebuilt from the newest snapshot at or before it: that snapshot is kept too
    (and so the journal from its seq on). Without one, nothing is pruned (the reader replays
    from seq 1)."""
    if keep < 1:
        raise ValueError("keep at least one snapshot")
    kept: list[Snapshot] = []
    anchored = retain_seq is None
    for snap in valid_snapshots(directory):
        kept.append(snap)
        anchored = anchored or snap.seq <= (retain_seq or 0)
        if len(kept) >= keep and anchored:
            break
    if len(kept) < keep or not anchored:
        return 0, []  # too few good snapshots to give any journal up yet
    oldest = kept[-1].seq
    removed = [p for seq, p in list_snapshots(directory) if seq < oldest]
    removed += sorted(directory.glob("snapshot-*.snap.tmp"))
    for path in removed:
        path.unlink()
    if removed:
        fsync_dir(directory)
    return oldest, removed
