"""Interim driver of the tick writer in ``herbx serve``, until the feed (`gateway.link.feed`)
drives every consumer: then this module goes, and the writer (`gateway.link.ticks`) is one more
consumer of the feed.

Owns turning the published events into whole steps ``(seq, events)``: the pipeline publishes
right after each group commit, before it applies the next group, so the commands of the group
are exactly those after the last seq seen up to the sequencer's ``last_seq`` (those without
events become empty steps). One task offers the steps to the writer in chunks. At start, and
whenever its bounded buffer overflowed or it failed, it reads what the writer lacks from the
journal (`settlement.resume.steps_after`, on a worker thread), up to the last committed seq.
Never blocks the caller of `publish`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from engine.messages import Event
from gateway.link.ticks import live_bars, tick_store
from settlement.booking import Step
from settlement.resume import steps_after
from settlement.ticks.writer import TickWriter

log = logging.getLogger("herbx.ticks")


def _take(steps: Iterator[Step], most: int, upto_seq: int) -> list[Step]:
    out: list[Step] = []
    for step in steps:
        if step[0] > upto_seq:
            break
        out.append(step)
        if len(out) >= most or step[0] == upto_seq:
            break
    return out


class InterimTickFeed:
    def __init__(self, writer: TickWriter, journal_dir: Path, head: Callable[[], int], *,
                 buffer_commands: int = 100_000, chunk: int = 1_000) -> None:
        self.writer = writer
        self.journal_dir = journal_dir
        self.head = head  # the sequencer's last seq (committed when `publish` runs)
        self.seen = head()
        self.buffer: deque[Step] = deque()
        self.limit = buffer_commands
        self.chunk = chunk
        self.wake = asyncio.Event()
        self.closing = False
        self.errors = 0
        self.task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="ticks-catch-up")

    def publish(self, events: list[Event]) -> None:
        head = self.head()
        by_seq: dict[int, list[Event]] = {}
        for ev in events:
            by_seq.setdefault(ev.seq, []).append(ev)
        if head - self.seen + len(self.buffer) > self.limit:
            self.buffer.clear()  # the journal has them: the task catches up from there
        else:
            self.buffer.extend((s, by_seq.get(s, [])) for s in range(self.seen + 1, head + 1))
        self.seen = head
        self.wake.set()

    async def run(self) -> None:
        started = False
        while True:
            try:
                if not started:
                    await self.writer.start()
                    started = True
                buf = self.buffer
                while buf and buf[0][0] <= self.writer.position:
                    buf.popleft()
                if (buf and buf[0][0] > self.writer.position + 1) or (
                        not buf and self.writer.position < self.seen):
                    await self._catch_up(buf[0][0] - 1 if buf else self.seen)
                elif buf:
                    await self.writer.offer([buf.popleft()
                                             for _ in range(min(len(buf), self.chunk))])
                elif self.closing:
                    return
                else:
                    self.wake.clear()
                    await self.wake.wait()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a database down: retry from the journal
                self.errors += 1
                log.exception("tick writer failed at seq %d; retrying", self.writer.position)
                self.buffer.clear()
                started = False
                await asyncio.sleep(min(5.0, 0.1 * 2 ** min(self.errors, 6)))

    async def _catch_up(self, upto: int) -> None:
        loop = asyncio.get_running_loop()
        steps = steps_after(self.journal_dir, self.writer.position)
        while self.writer.position < upto:
            got = await loop.run_in_executor(self._executor, _take, steps, self.chunk, upto)
            if not got:
                raise RuntimeError(f"the journal has nothing after seq {self.writer.position}")
            await self.writer.offer(got)

    def stop(self) -> None:
        """`run` returns once what was published is written."""
        self.closing = True
        self.wake.set()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False)


async def start_ticks(gw: Any, engine_dir: Path, head: Callable[[], int]) -> InterimTickFeed:
    """Open the tick store (`gateway.link.ticks.tick_store`), put it on ``gw.ticks`` for the
    REST readers, and start its writer's task, with live bars."""
    store = tick_store(Path(gw.settings.data_dir), gw.settings.database_url)
    writer = TickWriter(store)
    await writer.start()  # opens the store now, so readers find it open
    gw.ticks = store
    live_bars(writer, gw.hub, gw.market)
    feed = InterimTickFeed(writer, engine_dir, head)
    feed.task = asyncio.create_task(feed.run(), name="herbx-ticks")
    return feed


async def stop_ticks(feed: InterimTickFeed, timeout_s: float = 10.0) -> None:
    """Write what was published (for at most ``timeout_s``), then close the store."""
    feed.stop()
    if feed.task is not None:
        try:
            await asyncio.wait_for(feed.task, timeout_s)
        except (TimeoutError, asyncio.CancelledError):
            log.warning("tick writer stopped at seq %d before the head %d (it resumes from "
                        "the journal)", feed.writer.position, feed.seen)
        except Exception:  # noqa: BLE001 - already logged by the task; the journal has it all
            log.exception("tick writer task failed")
    feed.shutdown()
    await feed.writer.close()
