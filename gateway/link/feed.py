"""The feed: drives the downstream consumers (the ledger, the tick writer) from the market.

Owns getting every committed command to every `settlement.consumer.Consumer` exactly once, in
seq order, without ever making the market wait. The pipeline (or, in multi-process mode, the
engine process) calls `Feed.publish` after each group commit with the group's steps
``(seq, events)``, one per journaled command, empty event lists included. Each consumer runs in
its own task (a `_Lane`) with a bounded buffer:

- live: it takes steps from its buffer and offers them to the consumer;
- catching up: its position is behind the buffer (a restart, a dropped buffer): it reads the
  journal after its position (`settlement.resume.steps_after`, replayed on a worker thread, in
  chunks of at most ``chunk_commands``) until the buffer joins on, then it is live again;
- retrying: a consumer call failed (database down) or the consumer could not start; the buffer
  is dropped (the journal has it all), and the consumer is started again after a capped
  exponential backoff, which reloads its durable position, then it catches up.

A buffer that would pass ``buffer_commands`` is dropped at once (counted in ``overflows``): the
journal is the backlog, never memory. `Feed.retain_seq` is the lowest consumer position, which
the sequencer's pruning keeps (`Sequencer.retain_from`). `Feed.stop` drains what is committed
(up to ``drain_timeout_s``), then closes the consumers.

Never blocks or fails the caller of `publish`, and never writes the data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from settlement.consumer import Consumer, Step
from settlement.resume import steps_after

log = logging.getLogger("herbx.feed")

STARTING, LIVE, CATCHING_UP, RETRYING, STOPPED = (
    "starting", "live", "catching_up", "retrying", "stopped")


@dataclass(frozen=True, slots=True)
class FeedLimits:
    buffer_commands: int = 100_000  # steps held per consumer; over it the buffer is dropped
    chunk_commands: int = 1_000  # steps per consumer call (live and catching up)
    retry_min_s: float = 0.05  # first backoff after a failure; doubles up to retry_max_s
    retry_max_s: float = 5.0
    drain_timeout_s: float = 10.0  # at stop, how long consumers may take to reach the head
    marks: int = 10_000  # (seq, commit time) marks kept for the lag in seconds

    def __post_init__(self) -> None:
        assert self.buffer_commands > 0 and self.chunk_commands > 0 and self.marks > 0
        assert 0 < self.retry_min_s <= self.retry_max_s and self.drain_timeout_s >= 0


def _take(steps: Iterator[Step], most: int, upto_seq: int) -> list[Step]:
    """Up to ``most`` steps, stopping after ``upto_seq`` (the last committed seq): the reader
    never parses a record the sequencer may be writing. Runs on a worker thread."""
    out: list[Step] = []
    for step in steps:
        out.append(step)
        if len(out) >= most or step[0] >= upto_seq:
            break
    return out


class _Lane:
    """One consumer's task, buffer, state and counters."""

    def __init__(self, feed: Feed, consumer: Consumer) -> None:
        self.feed = feed
        self.consumer = consumer
        self.state = STARTING
        self.buffer: deque[Step] = deque()
        self.wake = asyncio.Event()
        self.started = False  # started since the last failure: its position is the store's
        self.ever_started = False
        self.last_error: str | None = None
        self.errors = 0
        self.overflows = 0
        self.catch_ups = 0
        self.delay_s = feed.limits.retry_min_s
        self.task: asyncio.Task[None] | None = None

    @property
    def position(self) -> int:
        return self.consumer.position if self.ever_started else 0

    def push(self, steps: Sequence[Step]) -> None:
        if self.state in (STARTING, RETRYING, STOPPED):
            return  # it reads the journal when it is back
        if len(self.buffer) + len(steps) > self.feed.limits.buffer_commands:
            self.buffer.clear()
            self.overflows += 1
            log.warning("feed: %s fell %d commands behind; dropping its buffer, it catches up "
                        "from the journal", self.consumer.name, self.feed.head_seq - self.position)
        else:
            self.buffer.extend(steps)
        self.wake.set()

    def behind(self) -> bool:
        """True when the buffer does not join on the position: the journal must fill the gap."""
        pos = self.consumer.position
        buf = self.buffer
        while buf and buf[0][0] <= pos:  # consumed already (read from the journal meanwhile)
            buf.popleft()
        if buf:
            return buf[0][0] > pos + 1
        return pos < self.feed.head_seq

    async def run(self) -> None:
        while True:
            try:
                if not self.started:
                    self.state = STARTING
                    position = await self.consumer.start()
                    if position > self.feed.head_seq:
                        raise RuntimeError(
                            f"{self.consumer.name} is at seq {position}, after the journal's "
                            f"{self.feed.head_seq}: a database of another data directory?")
                    self.started = self.ever_started = True
                if await self._pump():
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: drop, back off, resume
                self._failed(exc)
                await asyncio.sleep(self.delay_s)
                self.delay_s = min(self.delay_s * 2, self.feed.limits.retry_max_s)

    def _failed(self, exc: Exception) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:500]
        self.state = RETRYING
        self.buffer.clear()
        self.started = False
        log.error("feed: %s failed at position %d (%s); retrying in %.2fs from the journal",
                  self.consumer.name, self.consumer.position, self.last_error, self.delay_s)

    async def _pump(self) -> bool:
        """Feed the consumer until the feed closes and it holds everything; True then."""
        chunk = self.feed.limits.chunk_commands
        while True:
            if self.behind():
                await self._catch_up()
                continue
            self.state = LIVE
            if self.buffer:
                n = min(len(self.buffer), chunk)
                await self._offer([self.buffer.popleft() for _ in range(n)])
                continue
            if self.feed.closing:
                return True
            self.wake.clear()
            await self.wake.wait()

    async def _offer(self, steps: list[Step]) -> None:
        await self.consumer.offer(steps)
        self.delay_s = self.feed.limits.retry_min_s  # it works again

    async def _catch_up(self) -> None:
        self.state = CATCHING_UP
        self.catch_ups += 1
        start = self.consumer.position
        log.info("feed: %s catching up from the journal after seq %d (head %d)",
                 self.consumer.name, start, self.feed.head_seq)
        loop = asyncio.get_running_loop()
        # a generator holds no open file (each segment is read whole), so one left unfinished
        # needs no closing
        steps = steps_after(self.feed.journal_dir, start)
        while self.behind():
            got = await loop.run_in_executor(
                self.feed.executor, _take, steps, self.feed.limits.chunk_commands,
                self.feed.head_seq)
            if not got:  # the journal read ended (a segment read while it was written)
                break
            await self._offer(got)
        if self.consumer.position == start and self.behind():
            raise RuntimeError(f"the journal has nothing after seq {start}, but the market "
                               f"is at seq {self.feed.head_seq}")

    def status(self, now: float) -> dict[str, Any]:
        pos = self.position
        head = self.feed.head_seq
        return {
            "state": self.state,
            "position": pos,
            "lag_commands": max(0, head - pos),
            "lag_s": round(self.feed.lag_s(pos, now), 3),
            "gaps": int(getattr(self.consumer, "gaps", 0)),
            "duplicates": int(getattr(self.consumer, "duplicates", 0)),
            "buffered": len(self.buffer),
            "overflows": self.overflows,
            "catch_ups": self.catch_ups,
            "errors": self.errors,
            "last_error": self.last_error,
        }


class Feed:
    """``journal_dir``: the sequencer's data directory (``<data-dir>/engine``); ``head_seq``:
    the market's last committed seq at start (the consumers catch up to it from the journal).
    ``clock``: monotonic seconds (the lag in seconds; tests inject one)."""

    def __init__(self, journal_dir: Path, consumers: Sequence[Consumer], *, head_seq: int,
                 limits: FeedLimits | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        names = [c.name for c in consumers]
        assert len(set(names)) == len(names), f"consumer names must differ: {names}"
        self.journal_dir = journal_dir
        self.limits = limits or FeedLimits()
        self.head_seq = head_seq
        self.closing = False
        self._clock = clock
        # (last seq of a commit group, when it was handed over): the lag in seconds of a
        # position is the age of the first group after it. The first mark stands for
        # everything committed before the feed started (a lower bound of its age).
        self._marks: deque[tuple[int, float]] = deque([(head_seq, clock())])
        self.lanes = [_Lane(self, c) for c in consumers]
        self.executor = ThreadPoolExecutor(max(1, len(consumers)),
                                           thread_name_prefix="herbx-feed")

    def start(self) -> None:
        for lane in self.lanes:
            lane.task = asyncio.create_task(lane.run(), name=f"herbx-feed-{lane.consumer.name}")

    def publish(self, steps: Sequence[Step]) -> None:
        """The steps of one committed group, in seq order (called by the pipeline)."""
        if not steps:
            return
        assert steps[0][0] > self.head_seq, (steps[0][0], self.head_seq)
        self.head_seq = steps[-1][0]
        marks = self._marks
        marks.append((self.head_seq, self._clock()))
        low = self.retain_seq()
        while len(marks) > 1 and (marks[1][0] <= low or len(marks) > self.limits.marks):
            marks.popleft()
        for lane in self.lanes:
            lane.push(steps)

    def retain_seq(self) -> int:
        """The lowest consumer position: the journal after it must be kept (0: everything)."""
        return min((lane.position for lane in self.lanes), default=self.head_seq)

    def lag_s(self, position: int, now: float) -> float:
        """Seconds since the oldest command after ``position`` was committed (0 if none)."""
        if position >= self.head_seq:
            return 0.0
        for seq, t in self._marks:
            if seq > position:
                return max(0.0, now - t)
        return 0.0

    def status(self) -> dict[str, dict[str, Any]]:
        now = self._clock()
        return {lane.consumer.name: lane.status(now) for lane in self.lanes}

    def consumer(self, name: str) -> Consumer:
        return next(lane.consumer for lane in self.lanes if lane.consumer.name == name)

    async def stop(self) -> None:
        """Let the consumers reach the head (at most ``drain_timeout_s``), then close them.
        One still behind then resumes from the journal at the next start."""
        self.closing = True
        tasks = [lane.task for lane in self.lanes if lane.task is not None]
        for lane in self.lanes:
            lane.wake.set()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.limits.drain_timeout_s)
            for t in pending:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        for lane in self.lanes:
            if lane.position < self.head_seq:
                log.warning("feed: %s stopped at seq %d of %d; it catches up from the journal "
                            "at the next start", lane.consumer.name, lane.position,
                            self.head_seq)
            lane.state = STOPPED
            try:
                await lane.consumer.close()
            except Exception:  # noqa: BLE001 - closing the others matters more
                log.exception("feed: closing %s failed", lane.consumer.name)
        self.executor.shutdown(wait=True)
