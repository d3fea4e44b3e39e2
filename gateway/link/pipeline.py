"""The single-writer pipeline: a bounded command queue drained by one sequencer task.

Owns the only path from a request to the engine. A handler calls `Pipeline.submit(cmd)`; the
sequencer task takes every command waiting (up to ``batch_size``), stamps, journals and applies
each one (`Sequencer.submit`), makes the group durable with one ``commit()`` (its fdatasync runs
in a helper thread, so the event loop keeps serving), and only then answers each request with its
events and hands all events to the fan-out. A full queue raises `Overloaded` at once (503), never
an unbounded backlog.

After the commit it also hands the downstream feed (`gateway.link.feed`) the group's steps
``(seq, events)``: one per journaled command, empty event lists included, so seq ranges are
explicit. The feed never blocks this task.

Book checksums are taken right after each command is applied, from the exchange itself, so every
published book update carries the CRC32 of the true top of the book at its ``book_seq``.

Must never: answer or publish before the commit returns; submit from anywhere but its own task;
touch the exchange except through ``Sequencer.submit`` and read-only queries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from engine.durable.journal import RecordRefused
from engine.durable.sequencer import Sequencer
from engine.messages import BookUpdated, Command, Event
from gateway.stream.checksum import book_checksum

log = logging.getLogger("herbx.pipeline")

#: (symbol, book_seq) -> CRC32 of the top 10 levels right after that update
Checksums = dict[tuple[str, int], int]
Publisher = Callable[[list[Event], Checksums], None]
#: the committed group's (seq, events), one per journaled command (`gateway.link.feed.Feed`)
StepsSink = Callable[[list[tuple[int, list[Event]]]], None]


class Overloaded(Exception):
    """The command queue is full (or the pipeline is stopping): try again later."""


class PipelineFailed(Exception):
    """The sequencer stopped (journal or engine failure); the process must restart."""


class _Item:
    __slots__ = ("cmd", "future")

    def __init__(self, cmd: Command, future: asyncio.Future[list[Event]]) -> None:
        self.cmd = cmd
        self.future = future


class Pipeline:
    def __init__(
        self, sequencer: Sequencer, publish: Publisher, *, queue_size: int, batch_size: int,
        on_steps: StepsSink | None = None,
    ) -> None:
        assert queue_size > 0 and batch_size > 0
        self.sequencer = sequencer
        self._publish = publish
        self._queue_size = queue_size
        self._batch_size = batch_size
        # Unbounded on purpose: the bound is enforced in `submit`, so the stop sentinel always
        # fits even when the queue is full.
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue()
        self._accepting = True
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="herbx-commit")
        self.on_steps = on_steps
        self.failed: BaseException | None = None
        self.batches = 0
        self.commands = 0

    # -- handlers' side -------------------------------------------------------------------------

    def submit_nowait(self, cmd: Command) -> asyncio.Future[list[Event]]:
        if self.failed is not None:
            raise PipelineFailed(str(self.failed))
        if not self._accepting or self._queue.qsize() >= self._queue_size:
            raise Overloaded("command queue full" if self._accepting else "shutting down")
        future: asyncio.Future[list[Event]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(cmd, future))
        return future

    async def submit(self, cmd: Command) -> list[Event]:
        """The events of ``cmd``, once it is durable. A cancelled caller does not withdraw the
        command: once queued it is applied (a retry with the same client order id is safe)."""
        return await asyncio.shield(self.submit_nowait(cmd))

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    @property
    def ready(self) -> bool:
        return self._accepting and self.failed is None and self._task is not None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        assert self._task is None
        self._task = asyncio.create_task(self._run(), name="herbx-sequencer")

    async def stop(self) -> None:
        """Stop accepting, apply and commit what is queued, answer it, then end the task."""
        self._accepting = False
        if self._task is not None:
            self._queue.put_nowait(None)
            await self._task
            self._task = None
        self._executor.shutdown(wait=True)

    # -- the sequencer task ---------------------------------------------------------------------

    async def _run(self) -> None:
        queue = self._queue
        while True:
            item = await queue.get()
            if item is None:
                return
            batch = [item]
            stop = False
            while len(batch) < self._batch_size and not queue.empty():
                nxt = queue.get_nowait()
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            await self._process(batch)
            if stop:
                return

    async def _process(self, batch: list[_Item]) -> None:
        if self.failed is not None:
            for item in batch:
                _fail(item, PipelineFailed(str(self.failed)))
            return
        seq = self.sequencer
        exchange = seq.exchange
        results: list[list[Event] | BaseException] = []
        steps: list[tuple[int, list[Event]]] = []
        checksums: Checksums = {}
        for item in batch:
            try:
                events = seq.submit(item.cmd)
            except RecordRefused as exc:
                results.append(exc)
                continue
            except Exception as exc:
                log.critical("sequencer failed: %r", exc)
                self.failed = exc
                results.append(PipelineFailed(repr(exc)))
                continue
            for ev in events:
                if type(ev) is BookUpdated:
                    snap = exchange.depth(ev.symbol, 10)  # type: ignore[attr-defined]
                    checksums[(ev.symbol, ev.book_seq)] = book_checksum(snap.bids, snap.asks)
            results.append(events)
            steps.append((item.cmd.seq, events))
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, seq.commit)
        except Exception as exc:
            log.critical("group commit failed: %r", exc)
            self.failed = exc
            for item in batch:
                _fail(item, PipelineFailed(repr(exc)))
            return
        self.batches += 1
        self.commands += len(batch)
        published: list[Event] = []
        for item, res in zip(batch, results, strict=True):
            if isinstance(res, BaseException):
                _fail(item, res)
            else:
                published += res
                if not item.future.done():
                    item.future.set_result(res)
        if published:
            try:
                self._publish(published, checksums)
            except Exception:  # a fan-out bug must not stop the market
                log.exception("publishing events failed")
        if steps and self.on_steps is not None:
            try:
                self.on_steps(steps)
            except Exception:  # nor a feed bug: its consumers resume from the journal
                log.exception("handing the steps to the feed failed")


def _fail(item: _Item, exc: BaseException) -> None:
    if not item.future.done():
        item.future.set_exception(exc)
        # Mark it retrieved: a caller that went away must not cause "exception never retrieved".
        item.future.exception()
