"""The single sequencer: stamps commands, journals them, applies them, snapshots, recovers.

This module owns the order in which commands reach the exchange. It is the engine's imperative
shell around the pure ``Exchange``: it holds the only clock (``now_ns``, injected), the journal
writer and the snapshot schedule, and it takes an exclusive lock on its data directory so that
two processes never write one journal. It must never change a command after journaling it,
apply a command that is not in the journal, or let events escape as final before ``commit``.

Durability contract (see docs/journal.md): ``submit`` journals the command (buffered) *before*
applying it and returns its events at once; they become final only when ``commit()`` returns
(or, with pipelined ``commit(wait=False)``, when ``durable_seq`` reaches the command's seq).
The gateway acknowledges clients, and publishes market data, only after that commit. A crash
before the commit may lose the uncommitted commands and their events, never anything else.

Layout of a data directory: ``journal/`` (segments) and ``snapshots/``, plus a ``LOCK`` file.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from engine.durable.journal import (
    DEFAULT_MAX_PENDING_BYTES,
    DEFAULT_MAX_PENDING_RECORDS,
    DEFAULT_MAX_SEGMENT_BYTES,
    JournalError,
    JournalReader,
    JournalWriter,
    RecordRefused,
    TailCut,
    prune_segments,
)
from engine.durable.snapshot import prune_snapshots, valid_snapshots, write_snapshot
from engine.messages import Command, Event

log = logging.getLogger("herbx.sequencer")

DEFAULT_SNAPSHOT_EVERY = 1_000_000
DEFAULT_KEEP_SNAPSHOTS = 2


class Engine(Protocol):
    """What the sequencer needs from ``engine.exchange.Exchange``."""

    @property
    def last_seq(self) -> int: ...

    def apply(self, cmd: Command) -> list[Event]: ...

    def snapshot(self) -> bytes: ...

    def state_hash(self) -> str: ...


class EngineFactory(Protocol):
    """``Exchange`` itself: ``Exchange()`` and ``Exchange.restore(data)``."""

    def __call__(self) -> Engine: ...

    def restore(self, data: bytes) -> Engine: ...


class RecoveryError(JournalError):
    """Snapshots and journal disagree; recovery cannot produce a trustworthy state."""


class SequencerFailed(RuntimeError):
    """Applying a command raised (a bug in the engine) or the journal failed: the sequencer
    refuses further commands; restart the process to recover from disk."""


@dataclass(frozen=True, slots=True)
class RecoveryInfo:
    snapshot_seq: int  # 0 when recovery started from an empty exchange
    snapshot_path: Path | None
    skipped_snapshots: tuple[Path, ...]  # newer snapshots that were damaged or would not load
    replayed: int  # journal records applied on top of the snapshot
    last_seq: int
    last_ts_ns: int
    tail_cut: TailCut | None


def _default_factory() -> EngineFactory:
    from engine.exchange import Exchange

    factory: EngineFactory = Exchange
    return factory


class DataDirLocked(JournalError, OSError):
    """Another process holds the data directory. An `OSError` too, so the command line's
    handlers print it as one line (``herbx serve: ...``) instead of a traceback."""


class _DirLock:
    """An exclusive ``flock`` on ``<data_dir>/LOCK``, released on close or process exit. The
    holder writes its pid into the file, so a second process can say who holds it (the pid
    left by a process that has exited is harmless: the lock is the flock, not the file)."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(data_dir / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode("ascii", "replace").strip()
            os.close(self._fd)
            who = f"process {holder}" if holder.isdigit() else "another process"
            stop = f"stop it (kill {holder})" if holder.isdigit() else "stop it"
            raise DataDirLocked(
                f"{data_dir} is in use by HerbX {who}: {stop}, or give this one another "
                "data directory (--data-dir / HERBX_DATA_DIR)"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def recover(
    data_dir: Path,
    *,
    exchange_cls: EngineFactory | None = None,
    repair: bool = True,
    on_events: Callable[[list[Event]], None] | None = None,
) -> tuple[Engine, RecoveryInfo]:
    """Rebuild the exchange: the newest valid snapshot, then the journal records after it.

    ``on_events`` receives the events of every replayed command (for consumers that resume
    from a seq). With ``repair=True`` a torn journal tail is cut; other damage raises
    ``JournalCorrupt`` or ``RecoveryError``.
    """
    lock = _DirLock(data_dir)
    try:
        return _recover(data_dir, exchange_cls or _default_factory(), repair, on_events)
    finally:
        lock.close()


@dataclass(frozen=True, slots=True)
class Restored:
    """An exchange restored from a snapshot (``seq`` 0, ``path`` None: from empty)."""

    engine: Engine
    seq: int
    ts_ns: int
    path: Path | None


def restore_newest(
    data_dir: Path,
    factory: EngineFactory | None = None,
    *,
    at_most_seq: int | None = None,
    skipped: list[Path] | None = None,
) -> Restored:
    """The newest snapshot of ``data_dir`` (at or before ``at_most_seq``) that verifies *and*
    restores to the seq its header names; an empty exchange if there is none. Damaged or
    unloadable snapshots are logged, added to ``skipped`` and passed over. Recovery and the
    downstream consumers' resume (`settlement.resume`) choose their snapshot with this one
    rule. Reads files only; takes no lock."""
    factory = factory or _default_factory()
    skipped = skipped if skipped is not None else []
    for snap in valid_snapshots(data_dir / "snapshots", skipped, at_most_seq=at_most_seq):
        try:
            candidate = factory.restore(snap.payload)
        except Exception as exc:  # the checksum held, so this is a bug or a format change
            log.error("snapshot: %s does not restore (%r); falling back", snap.path, exc)
            skipped.append(snap.path)
            continue
        if candidate.last_seq != snap.seq:
            log.error(
                "snapshot: %s restores to seq %d, header says %d; falling back",
                snap.path,
                candidate.last_seq,
                snap.seq,
            )
            skipped.append(snap.path)
            continue
        return Restored(candidate, snap.seq, snap.ts_ns, snap.path)
    return Restored(factory(), 0, 0, None)


def _recover(
    data_dir: Path,
    factory: EngineFactory,
    repair: bool,
    on_events: Callable[[list[Event]], None] | None,
) -> tuple[Engine, RecoveryInfo]:
    skipped: list[Path] = []
    restored = restore_newest(data_dir, factory, skipped=skipped)
    exchange = restored.engine
    snap_seq, snap_ts, snap_path = restored.seq, restored.ts_ns, restored.path

    reader = JournalReader(data_dir / "journal", after_seq=snap_seq, repair=repair)
    replayed = 0
    for cmd in reader:
        try:
            events = exchange.apply(cmd)
        except Exception as exc:  # an engine bug, or a journal written by another engine version
            raise RecoveryError(f"replaying seq {cmd.seq} raised {exc!r}") from exc
        replayed += 1
        if on_events is not None:
            on_events(events)
    if reader.end_seq is None and snap_seq > 0:
        # A snapshot is always written after its journal segment exists, so this directory
        # lost its journal: commands after the snapshot may be gone.
        raise RecoveryError(f"snapshot {snap_path} exists but the journal has no segment")
    if reader.end_seq is not None and reader.end_seq < snap_seq:
        raise RecoveryError(
            f"journal ends at seq {reader.end_seq} but snapshot {snap_path} is at {snap_seq}"
        )
    if exchange.last_seq != reader.last_seq:
        raise RecoveryError(
            f"exchange is at seq {exchange.last_seq} after replay, journal at {reader.last_seq}"
        )
    info = RecoveryInfo(
        snapshot_seq=snap_seq,
        snapshot_path=snap_path,
        skipped_snapshots=tuple(skipped),
        replayed=replayed,
        last_seq=exchange.last_seq,
        last_ts_ns=max(snap_ts, reader.last_ts_ns),
        tail_cut=reader.tail_cut,
    )
    log.info(
        "recovered %s: snapshot seq %d, %d journal records replayed, now at seq %d",
        data_dir,
        snap_seq,
        replayed,
        info.last_seq,
    )
    return exchange, info


class Sequencer:
    """Owns the exchange of one data directory; opening it recovers first.

    ``snapshot_every``: write a snapshot after that many commands (0: only on ``snapshot()``).
    ``max_pending_records`` / ``max_pending_bytes`` bound the group that ``commit`` makes
    durable; reaching a bound commits early (never late). ``sync=False`` skips fdatasync (tests
    and benchmarks of the CPU path only; it voids the durability contract). ``on_events``
    receives the events of every command replayed while opening (as `recover`'s does), so a
    consumer that rebuilds from the journal needs no second pass.

    ``retain_from`` (also settable later, as ``retain_from``): the seq after which downstream
    consumers still read the journal (the feed's lowest consumer position, `gateway.link.feed`);
    pruning keeps the snapshot at or before it and every journal segment from there on.
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        now_ns: Callable[[], int] = time.time_ns,
        exchange_cls: EngineFactory | None = None,
        snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
        keep_snapshots: int = DEFAULT_KEEP_SNAPSHOTS,
        max_pending_records: int = DEFAULT_MAX_PENDING_RECORDS,
        max_pending_bytes: int = DEFAULT_MAX_PENDING_BYTES,
        max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES,
        sync: bool = True,
        on_events: Callable[[list[Event]], None] | None = None,
        retain_from: Callable[[], int] | None = None,
    ) -> None:
        if snapshot_every < 0 or keep_snapshots < 1:
            raise ValueError("snapshot_every must be >= 0 and keep_snapshots >= 1")
        self.data_dir = Path(data_dir)
        self._lock = _DirLock(self.data_dir)
        try:
            exchange, info = _recover(
                self.data_dir, exchange_cls or _default_factory(), True, on_events
            )
            self._writer = JournalWriter(
                self.data_dir / "journal",
                exchange.last_seq + 1,
                max_pending_records=max_pending_records,
                max_pending_bytes=max_pending_bytes,
                max_segment_bytes=max_segment_bytes,
                sync=sync,
            )
        except BaseException:
            self._lock.close()
            raise
        self.recovery = info
        self._exchange = exchange
        self._now_ns = now_ns
        self._last_seq = exchange.last_seq
        self._last_ts_ns = info.last_ts_ns
        self._snapshot_every = snapshot_every
        self._keep_snapshots = keep_snapshots
        self._next_snapshot_seq = self._last_seq + snapshot_every
        self._failed: BaseException | None = None
        self.retain_from = retain_from

    @property
    def exchange(self) -> Engine:
        """The live exchange, for queries only: every change must go through ``submit``."""
        return self._exchange

    @property
    def last_seq(self) -> int:
        return self._last_seq

    @property
    def journal(self) -> JournalWriter:
        return self._writer

    def submit(self, cmd: Command) -> list[Event]:
        """Stamp, journal (buffered) and apply one command; its events are final only after
        the next ``commit``. A ``RecordRefused`` (too large, or a number msgpack cannot write)
        leaves everything unchanged."""
        if self._failed is not None:
            raise SequencerFailed("sequencer failed earlier; restart") from self._failed
        seq = self._last_seq + 1
        ts = self._now_ns()
        if ts < self._last_ts_ns:  # the wall clock stepped back: time never does in the engine
            ts = self._last_ts_ns
        cmd.seq = seq
        cmd.ts_ns = ts
        try:
            self._writer.append(cmd)
        except RecordRefused:
            raise
        except JournalError as exc:  # an early group commit failed: nothing can be trusted now
            self._failed = exc
            raise
        try:
            events = self._exchange.apply(cmd)
        except BaseException as exc:
            self._fail(exc)
            raise SequencerFailed(f"applying seq {seq} raised: {exc!r}") from exc
        self._last_seq = seq
        self._last_ts_ns = ts
        if seq == self._next_snapshot_seq and self._snapshot_every:
            self._periodic_snapshot()
        return events

    def _periodic_snapshot(self) -> None:
        # The command is applied already, so its events must reach the caller: a snapshot that
        # fails here is logged and tried again after the next interval. The journal still holds
        # everything, so recovery only replays more. A failed journal roll stops the sequencer.
        try:
            self.snapshot()
        except JournalError as exc:  # commit() will raise SequencerFailed: nothing is acked
            self._failed = exc
            log.exception("journal roll for the snapshot at seq %d failed", self._last_seq)
        except Exception:
            log.exception("periodic snapshot at seq %d failed; retrying later", self._last_seq)
            self._next_snapshot_seq = self._last_seq + self._snapshot_every

    def _fail(self, exc: BaseException) -> None:
        # The exchange may be half-changed, so stop. The poison command is still pending (the
        # writer never flushes the record it just appended), so keep it out of the journal:
        # a restart then recovers the state before it. Commit the good commands before it.
        self._failed = exc
        log.critical("sequencer stopped at seq %d: %r", self._last_seq + 1, exc)
        self._writer.discard_last()
        try:
            self._writer.flush()
        except JournalError:
            log.exception("journal flush after the failure failed too")

    def commit(self, wait: bool = True) -> int:
        """Make every submitted command durable (one write + fdatasync); returns how many
        records the group holds.

        ``wait=False`` pipelines the commit: a helper thread writes and syncs the group while
        the caller submits the next one; a command is durable once ``durable_seq`` reaches its
        seq (``wait_durable()`` blocks until the group in flight is done). A failure of that
        background write surfaces at the next commit and stops the sequencer."""
        if self._failed is not None:
            raise SequencerFailed("sequencer failed earlier; restart") from self._failed
        try:
            return self._writer.flush(wait)
        except JournalError as exc:
            self._failed = exc
            raise

    @property
    def durable_seq(self) -> int:
        """Every command up to this seq is on disk and synced."""
        return self._writer.durable_seq

    def wait_durable(self) -> int:
        """Wait for a pipelined commit in flight; returns ``durable_seq``."""
        try:
            return self._writer.wait_durable()
        except JournalError as exc:
            self._failed = exc
            raise

    def snapshot(self) -> Path:
        """Commit, start a new journal segment at the next seq, write a snapshot of the state at
        the current seq, then prune snapshots and segments no longer needed: neither by
        recovery nor by a downstream consumer still behind (``retain_from``)."""
        if self._failed is not None:
            raise SequencerFailed("sequencer failed earlier; restart") from self._failed
        self._writer.roll()
        snap_dir = self.data_dir / "snapshots"
        path = write_snapshot(snap_dir, self._last_seq, self._last_ts_ns, self._exchange.snapshot())
        retain = self.retain_from() if self.retain_from is not None else None
        oldest, removed = prune_snapshots(snap_dir, self._keep_snapshots, retain)
        if oldest:
            removed += prune_segments(self.data_dir / "journal", oldest)
        if self._snapshot_every:
            self._next_snapshot_seq = self._last_seq + self._snapshot_every
        log.info("snapshot at seq %d: %s (pruned %d files)", self._last_seq, path, len(removed))
        return path

    def close(self) -> None:
        """Commit what is pending, close the journal, release the directory."""
        try:
            self._writer.close()
        finally:
            self._lock.close()

    def __enter__(self) -> Sequencer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def drive(
    sequencer: Sequencer, commands: Iterable[Command], commit_every: int, *, pipelined: bool = False
) -> int:
    """Submit ``commands`` in order, committing after every ``commit_every`` of them, and wait
    at the end until all are durable; returns the number of events. A lean loop for benchmarks
    and bulk loads. ``pipelined`` overlaps each group's fdatasync with the next group's work
    (``commit(wait=False)``); ``pipelined=False`` waits for every group's sync in turn."""
    if commit_every < 1:
        raise ValueError("commit_every must be >= 1")
    submit = sequencer.submit
    commit = sequencer.commit
    wait = not pipelined
    events = 0
    n = 0
    for cmd in commands:
        events += len(submit(cmd))
        n += 1
        if n == commit_every:
            commit(wait)
            n = 0
    commit(True)
    return events
