"""`herbx consume`: a downstream consumer (the ledger's booker, or the tick writer) in its own
process, following the journal of a data directory.

Owns the follower loop: start the consumer (its durable position comes from its own store),
rebuild the engine as it stood at that position (`settlement.resume.engine_at`), then poll the
journal for the records after it (`engine.durable.journal.JournalReader`, read only, no lock),
apply them to that engine to get their events and offer them to the consumer in chunks. A
failed write (the database down) closes the consumer and starts over after a capped backoff:
the position is reloaded from the store, so nothing is booked twice or skipped. SIGKILL at any
moment is the same as a failed write.

Used with `herbx serve --no-consumers` (which then books nothing and keeps its whole journal:
its pruning cannot see this process's position). A record is offered once it is whole in the
journal file, which may be before the market's fsync: after a power loss (not a process
crash) such a record could be missing from the journal while booked; the ledger would then be
ahead of the journal, which the next start refuses loudly (never silently). Never writes the
data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.durable.journal import JournalCorrupt, JournalTail
from settlement.consumer import Consumer, Step

log = logging.getLogger("herbx.consume")


class Follower:
    """One consumer following ``data_dir``'s journal (``data_dir``: the market's data
    directory; its ``engine/`` holds the journal and snapshots)."""

    def __init__(self, data_dir: Path, make: Callable[[Callable[[], Any]], Consumer], *,
                 poll_s: float = 0.05, chunk_commands: int = 1_000,
                 retry_max_s: float = 5.0) -> None:
        self.engine_dir = data_dir / "engine"
        self.make = make
        self.poll_s = poll_s
        self.chunk = chunk_commands
        self.retry_max_s = retry_max_s
        self.exchange: Any = None
        self.applied = 0  # the last seq applied to ``exchange``
        self.tail: JournalTail | None = None
        self.errors = 0

    async def run(self, stop: asyncio.Event) -> None:
        delay = 0.05
        while not stop.is_set():
            consumer = self.make(lambda: self.exchange)
            try:
                await self._follow(consumer, stop)
                return
            except Exception as exc:  # noqa: BLE001 - any failure: back off, reload, resume
                self.errors += 1
                log.error("consume: %s failed (%s: %s); retrying in %.2fs", consumer.name,
                          type(exc).__name__, exc, delay)
            finally:
                try:
                    await consumer.close()
                except Exception:  # noqa: BLE001 - a failed close changes nothing booked
                    log.exception("consume: closing %s failed", consumer.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, self.retry_max_s)

    async def _follow(self, consumer: Consumer, stop: asyncio.Event) -> None:
        await self.begin(consumer)
        while not stop.is_set():
            if not await self.step(consumer):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_s)

    async def begin(self, consumer: Consumer) -> int:
        """Start the consumer and rebuild the engine at its position; returns the position."""
        from settlement.resume import engine_at

        position = await consumer.start()
        self.exchange, journal_seq = await asyncio.to_thread(engine_at, self.engine_dir,
                                                             position)
        if position > journal_seq:
            raise RuntimeError(f"{consumer.name} is at seq {position}, after the journal's "
                               f"{journal_seq}: a database of another data directory?")
        self.applied = position
        self.tail = None
        log.info("consume: %s following %s from seq %d", consumer.name, self.engine_dir,
                 position)
        return position

    async def step(self, consumer: Consumer) -> int:
        """Offer the journal's new whole records; returns how many there were."""
        steps = await asyncio.to_thread(self._read)
        for i in range(0, len(steps), self.chunk):
            await consumer.offer(steps[i:i + self.chunk])
        return len(steps)

    def _read(self) -> list[Step]:
        """The journal's whole records after ``applied``, applied to the engine (at most
        ``10 * chunk`` per call, so memory stays bounded). Reads on from the byte after the
        last record read (`JournalTail`), so a poll costs what was appended, not the segment."""
        steps: list[Step] = []
        while len(steps) < 10 * self.chunk:
            if self.tail is None or self.tail.next_seq != self.applied + 1:
                self.tail = JournalTail.locate(self.engine_dir / "journal", self.applied)
                if self.tail is None:
                    break
            try:
                cmds = self.tail.read(10 * self.chunk - len(steps))
            except JournalCorrupt:
                if steps:
                    break  # book what comes before the damage; the next read raises again
                raise
            if not cmds:
                newer = self.tail.successor()
                if newer is None:
                    break
                self.tail = newer
                continue
            for cmd in cmds:
                steps.append((cmd.seq, self.exchange.apply(cmd)))
                self.applied = cmd.seq
        return steps


def main(*, data_dir: str, database_url: str | None, database_schema: str | None,
         public_url: str, poll_ms: int, log_level: str, consumer: str = "ledger") -> int:
    from gateway.link.engine_proc import engine_ledger, engine_ticks

    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    data = Path(data_dir)
    if not (data / "engine" / "journal").is_dir():
        print(f"herbx consume: no journal in {data} (give --data-dir)")
        return 2

    def make(exchange_of: Callable[[], Any]) -> Consumer:
        if consumer == "ticks":  # the same store choice as `herbx serve` and `herbx engine`
            return engine_ticks(data, database_url, database_schema)
        return engine_ledger(data, exchange_of, database_url, database_schema, public_url)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"herbx consume: {consumer} of {data}", flush=True)
        await Follower(data, make, poll_s=poll_ms / 1000).run(stop)

    asyncio.run(run())
    return 0
