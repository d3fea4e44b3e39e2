"""`herbx consume`: a downstream consumer (the ledger's booker, or the tick writer) in its own
process, following the journal of a data directory.

Owns the follower loop: start the consumer (its durable position comes from its own store),
rebuild the engine as it stood at that position (`settlement.resume.engine_at`), then poll the
journal for the records after it (`engine.durable.journal.JournalReader`, read only, no lock),
apply them to that engine to get their events and offer them to the consumer in chunks. A
failed write (the database down) closes the consumer and starts over after a capped backoff:
the position is reloaded from the store, so nothing is booked twice or skipped. SIGKILL at any
moment is the same as a failed write.

Also owns the process's health (``--health-port``): `Follower.status` is its state, position,
lag (commands and seconds), gaps and duplicates, in the shape of `herbx serve`'s
``/healthz`` ``consumers``, and `serve_health` answers ``GET /healthz`` with it.

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
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.durable.journal import JournalCorrupt, JournalOfOlderRules, JournalTail
from settlement.consumer import Consumer, Step

log = logging.getLogger("herbx.consume")

# the states of `gateway.link.feed` that a follower has (it keeps no buffer: it is live when its
# last read reached the end of the journal, catching up when that read stopped at its bound)
STARTING, LIVE, CATCHING_UP, RETRYING, STOPPED = (
    "starting", "live", "catching_up", "retrying", "stopped")


class Follower:
    """One consumer following ``data_dir``'s journal (``data_dir``: the market's data
    directory; its ``engine/`` holds the journal and snapshots)."""

    def __init__(self, data_dir: Path, make: Callable[[Callable[[], Any]], Consumer], *,
                 poll_s: float = 0.05, chunk_commands: int = 1_000,
                 retry_max_s: float = 5.0,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.engine_dir = data_dir / "engine"
        self.make = make
        self.poll_s = poll_s
        self.chunk = chunk_commands
        self.retry_max_s = retry_max_s
        self.clock_ns = clock_ns  # wall clock, as the sequencer's stamps (the lag in seconds)
        self.exchange: Any = None
        self.applied = 0  # the last seq applied to ``exchange``
        self.tail: JournalTail | None = None
        self.errors = 0
        self.state = STARTING
        self.name = ""  # the consumer's, once one was made
        self.last_error: str | None = None
        self.position = 0  # the consumer's durable position, as last seen
        self.journal_seq = 0  # the newest journal record read
        # when the oldest command read and not yet consumed was stamped (None: none such)
        self.pending_since_ns: int | None = None
        self._consumer: Consumer | None = None
        self._gaps = self._duplicates = 0  # the counts of the consumers closed after failures

    async def run(self, stop: asyncio.Event) -> None:
        delay = 0.05
        while not stop.is_set():
            consumer = self.make(lambda: self.exchange)
            self._consumer, self.name = consumer, consumer.name
            try:
                await self._follow(consumer, stop)
                self.state = STOPPED
                return
            except JournalOfOlderRules:
                raise  # final: no retry reads it (`herbx consume` says why and exits)
            except Exception as exc:  # noqa: BLE001 - any failure: back off, reload, resume
                self.errors += 1
                self.state = RETRYING
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.error("consume: %s failed (%s); retrying in %.2fs", consumer.name,
                          self.last_error, delay)
            finally:
                self._gaps += int(getattr(consumer, "gaps", 0))
                self._duplicates += int(getattr(consumer, "duplicates", 0))
                self._consumer = None
                try:
                    await consumer.close()
                except Exception:  # noqa: BLE001 - a failed close changes nothing booked
                    log.exception("consume: closing %s failed", consumer.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, self.retry_max_s)
        self.state = STOPPED

    def status(self) -> dict[str, Any]:
        """The consumer's health, in the shape of one entry of `herbx serve`'s ``/healthz``
        ``consumers`` (less the feed's buffer counters: this process has no buffer).
        ``lag_s`` is the age of the oldest command read and not yet consumed, by its stamp
        (the market's clock; commands appended since the last poll are not seen yet)."""
        c = self._consumer
        since = self.pending_since_ns
        return {
            "state": self.state,
            "position": self.position,
            "journal_seq": self.journal_seq,
            "lag_commands": max(0, self.journal_seq - self.position),
            "lag_s": round(max(0, self.clock_ns() - since) / 1e9, 3) if since else 0.0,
            "gaps": self._gaps + int(getattr(c, "gaps", 0)),
            "duplicates": self._duplicates + int(getattr(c, "duplicates", 0)),
            "errors": self.errors,
            "last_error": self.last_error,
        }

    async def _follow(self, consumer: Consumer, stop: asyncio.Event) -> None:
        await self.begin(consumer)
        while not stop.is_set():
            if not await self.step(consumer):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_s)

    async def begin(self, consumer: Consumer) -> int:
        """Start the consumer and rebuild the engine at its position; returns the position."""
        from settlement.resume import engine_at

        self.state = STARTING
        position = await consumer.start()
        self.position = position
        self.exchange, journal_seq = await asyncio.to_thread(engine_at, self.engine_dir,
                                                             position)
        if position > journal_seq:
            raise RuntimeError(f"{consumer.name} is at seq {position}, after the journal's "
                               f"{journal_seq}: a database of another data directory?")
        self.applied = position
        self.journal_seq = max(self.journal_seq, journal_seq)
        self.tail = None
        log.info("consume: %s following %s from seq %d", consumer.name, self.engine_dir,
                 position)
        return position

    async def step(self, consumer: Consumer) -> int:
        """Offer the journal's new whole records; returns how many there were."""
        steps, stamps = await asyncio.to_thread(self._read)
        if steps:
            self.journal_seq = max(self.journal_seq, steps[-1][0])
            if self.pending_since_ns is None:
                self.pending_since_ns = stamps[0]
        for i in range(0, len(steps), self.chunk):
            await consumer.offer(steps[i:i + self.chunk])
            self.position = consumer.position
            rest = i + self.chunk
            self.pending_since_ns = stamps[rest] if rest < len(steps) else None
        self.state = CATCHING_UP if len(steps) >= 10 * self.chunk else LIVE
        return len(steps)

    def _read(self) -> tuple[list[Step], list[int]]:
        """The journal's whole records after ``applied``, applied to the engine (at most
        ``10 * chunk`` per call, so memory stays bounded), and their stamps (``ts_ns``). Reads
        on from the byte after the last record read (`JournalTail`), so a poll costs what was
        appended, not the segment."""
        steps: list[Step] = []
        stamps: list[int] = []
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
                stamps.append(cmd.ts_ns)
                self.applied = cmd.seq
        return steps, stamps


async def serve_health(follower: Follower, kind: str, host: str, port: int) -> Any:
    """``GET /healthz`` on ``host:port``: ``{"status": "ok", "seq", "consumers": {name:
    status}}``, the shape of `herbx serve`'s (``seq``: the newest journal record read). Always
    200 while the process runs: the state says how the consumer is (shown, not judged, as in
    `herbx serve`). Returns the runner (``await runner.cleanup()`` stops it)."""
    from aiohttp import web

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "seq": follower.journal_seq,
                                  "consumers": {follower.name or kind: follower.status()}})

    app = web.Application(client_max_size=4096)  # it takes no body
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def main(*, data_dir: str, database_url: str | None, database_schema: str | None,
         public_url: str, poll_ms: int, log_level: str, consumer: str = "ledger",
         health_host: str = "127.0.0.1", health_port: int = 0) -> int:
    from gateway.link.engine_proc import engine_ledger, engine_ticks

    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    data = Path(data_dir)
    if not (data / "engine" / "journal").is_dir():
        print(f"herbx consume: no journal in {data} (give --data-dir)")
        return 2
    if not 0 <= health_port <= 65535:
        print(f"herbx consume: --health-port {health_port} is not in 0..65535")
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
        follower = Follower(data, make, poll_s=poll_ms / 1000)
        runner = None
        if health_port:
            runner = await serve_health(follower, consumer, health_host, health_port)
        print(f"herbx consume: {consumer} of {data}"
              + (f", health on http://{health_host}:{health_port}/healthz" if health_port
                 else ""), flush=True)
        try:
            await follower.run(stop)
        finally:
            if runner is not None:
                await runner.cleanup()

    try:
        asyncio.run(run())
    except (OSError, JournalOfOlderRules) as exc:  # the health port is taken; older rules
        print(f"herbx consume: {exc}")
        return 2
    return 0
