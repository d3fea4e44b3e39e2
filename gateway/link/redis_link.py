"""Multi-process mode over Redis Streams: one engine process, any number of gateways.

Two streams (``<prefix>`` defaults to ``herbx``):

- ``<prefix>:commands``: gateways append unstamped commands (msgpack) with their gateway id and
  a request number. Only the engine reads it.
- ``<prefix>:journal``: after each group commit the engine appends every command it applied,
  *stamped* (seq, ts), in seq order, with the gateway id and request number it came with. It is
  the journal, replicated.

Each gateway keeps a replica `Exchange` and applies the journal stream to it. The engine is
deterministic, so the replica computes exactly the engine's events: it answers its own requests
from them (the entry names the gateway and request), publishes market data from them, and serves
queries (orders, balances) from the replica. A gateway that starts (or restarts) replays the
journal stream from its first entry, then follows it; sequence numbers are the engine's, so book
seqs and checksums agree across gateways. The engine's clock (``tick``) runs in the engine.

Engine restarts: the engine remembers the last commands-stream id it committed in
``<data-dir>/engine/redis-offset`` (written after each commit) and, at start, appends to the
journal stream any journaled command the stream is missing. A crash between a commit and the
offset write re-reads that group: orders are safe (client order ids make a resend an
``order_resent``), so are deposits and withdrawals (their ``transfer_id``, always set by the
gateway, makes a second one ``duplicate_transfer``); see docs/gateway.md for the rest.

Must never: apply a command in a gateway that is not on the journal stream, or answer a request
before its command is on the journal stream (which the engine writes only after the commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from engine.messages import (
    BookUpdated,
    Command,
    Event,
    PurgeOrders,
    Tick,
    TradeExecuted,
    command_msgpack_decoder,
)

if TYPE_CHECKING:
    from engine.durable.journal import RecordInvalid
    from settlement.consumer import Consumer
from gateway.link.housekeeping import PurgeSchedule
from gateway.link.pipeline import Checksums, Overloaded, PipelineFailed
from gateway.stream.checksum import book_checksum

log = logging.getLogger("herbx.redis")

_encode = msgspec.msgpack.Encoder().encode
STREAM_MAXLEN = 10_000_000  # entries kept per stream (approximate trimming)


def keys(prefix: str) -> tuple[str, str]:
    return f"{prefix}:commands", f"{prefix}:journal"


def connect(url: str) -> Any:
    import redis.asyncio as aioredis

    return aioredis.Redis.from_url(url)


# ---------------------------------------------------------------------------------------------
# The gateway side
# ---------------------------------------------------------------------------------------------


class RedisPipeline:
    """The gateway's pipeline in multi-process mode; same interface as `Pipeline`."""

    def __init__(self, redis: Any, prefix: str, replica: Any,
                 publish: Callable[[list[Event], Checksums], None], *, queue_size: int) -> None:
        self.redis = redis
        self.commands_key, self.journal_key = keys(prefix)
        self.replica = replica
        self._publish = publish
        self._queue_size = queue_size
        self.gateway_id = uuid.uuid4().hex[:12]
        self._n = 0
        self._waiting: dict[int, asyncio.Future[list[Event]]] = {}
        self._accepting = True
        self._task: asyncio.Task[None] | None = None
        self.last_id = "0-0"
        self.failed: BaseException | None = None
        self.recent_trades: deque[TradeExecuted] = deque(maxlen=64_000)  # from catch_up

    async def catch_up(self) -> int:
        """Apply the whole journal stream to the replica (no publishing); returns entries."""
        n = 0
        while True:
            entries = await self.redis.xrange(self.journal_key, min=f"({self.last_id}"
                                              if self.last_id != "0-0" else "-", count=10_000)
            if not entries:
                return n
            for entry_id, fields in entries:
                self.last_id = entry_id.decode()
                if b"c" in fields:
                    events = self.replica.apply(command_msgpack_decoder.decode(fields[b"c"]))
                    self.recent_trades.extend(e for e in events if type(e) is TradeExecuted)
                    n += 1

    def submit_nowait(self, cmd: Command) -> asyncio.Future[list[Event]]:
        if self.failed is not None:
            raise PipelineFailed(str(self.failed))
        if not self._accepting or len(self._waiting) >= self._queue_size:
            raise Overloaded("too many requests in flight" if self._accepting
                             else "shutting down")
        self._n += 1
        req = self._n
        future: asyncio.Future[list[Event]] = asyncio.get_running_loop().create_future()
        self._waiting[req] = future
        fields = {"c": _encode(cmd), "g": self.gateway_id, "r": str(req)}

        async def send() -> None:
            try:
                await self.redis.xadd(self.commands_key, fields, maxlen=STREAM_MAXLEN,
                                      approximate=True)
            except Exception as exc:
                fut = self._waiting.pop(req, None)
                if fut is not None and not fut.done():
                    fut.set_exception(Overloaded(f"redis: {exc!r}"))
                    fut.exception()

        task = asyncio.get_running_loop().create_task(send())
        future.add_done_callback(lambda _: task)  # keep a reference until answered
        return future

    async def submit(self, cmd: Command) -> list[Event]:
        return await asyncio.shield(self.submit_nowait(cmd))

    @property
    def depth(self) -> int:
        return len(self._waiting)

    @property
    def ready(self) -> bool:
        return self._accepting and self.failed is None and self._task is not None

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="herbx-journal-follower")

    async def stop(self) -> None:
        self._accepting = False
        # answer what is in flight if the engine gets to it soon; then stop following
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                while self._waiting and self.failed is None:
                    await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(PipelineFailed("gateway stopped"))
                fut.exception()
        self._waiting.clear()

    async def _follow(self) -> None:
        replica = self.replica
        while True:
            try:
                reply = await self.redis.xread({self.journal_key: self.last_id}, count=1000,
                                               block=1000)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("reading the journal stream failed: %r; retrying", exc)
                await asyncio.sleep(0.5)
                continue
            for _, entries in reply or ():
                published: list[Event] = []
                checksums: Checksums = {}
                for entry_id, fields in entries:
                    self.last_id = entry_id.decode()
                    events: list[Event] = []
                    if b"c" in fields:
                        try:
                            events = replica.apply(command_msgpack_decoder.decode(fields[b"c"]))
                        except Exception as exc:  # the replica diverged: stop answering
                            log.critical("replica failed at %s: %r", self.last_id, exc)
                            self.failed = exc
                            return
                        for ev in events:
                            if type(ev) is BookUpdated:
                                snap = replica.depth(ev.symbol, 10)
                                checksums[(ev.symbol, ev.book_seq)] = book_checksum(snap.bids,
                                                                                    snap.asks)
                        published += events
                    if fields.get(b"g", b"").decode() == self.gateway_id:
                        fut = self._waiting.pop(int(fields[b"r"]), None)
                        if fut is not None and not fut.done():
                            if b"c" in fields:
                                fut.set_result(events)
                            else:
                                fut.set_exception(refusal_of(fields[b"e"].decode()))
                                fut.exception()
                if published:
                    try:
                        self._publish(published, checksums)
                    except Exception:
                        log.exception("publishing events failed")


# ---------------------------------------------------------------------------------------------
# The engine side
# ---------------------------------------------------------------------------------------------


async def run_engine(redis_url: str, data_dir: Path, prefix: str, *, tick_ms: int,
                     batch_size: int = 512, stop: asyncio.Event | None = None,
                     order_retention_s: float = 3600.0, purge_every_s: float = 60.0,
                     consumers_of: Callable[[Callable[[], Any]], Sequence[Consumer]]
                     | None = None) -> None:
    """Read commands, apply and commit them in groups, append them stamped to the journal
    stream; tick, and forget done orders after ``order_retention_s`` (0: never). Runs until
    ``stop`` is set. ``consumers_of(exchange_of)``: the downstream consumers (the ledger) that
    a feed drives beside the sequencer, as `herbx serve` does (`gateway.link.feed`)."""
    from engine.durable.journal import JournalReader, RecordInvalid, RecordRefused
    from engine.durable.sequencer import Sequencer
    from gateway.link.feed import Feed

    stop = stop or asyncio.Event()
    redis = connect(redis_url)
    commands_key, journal_key = keys(prefix)
    seq = Sequencer(data_dir / "engine")
    offset_path = data_dir / "engine" / "redis-offset"
    loop = asyncio.get_running_loop()
    feed: Feed | None = None
    if consumers_of is not None:
        feed = Feed(data_dir / "engine", consumers_of(lambda: seq.exchange),
                    head_seq=seq.last_seq)
        seq.retain_from = feed.retain_seq
        feed.start()
    try:
        await _republish_missing(redis, journal_key, seq, data_dir, JournalReader)
        last_id = offset_path.read_text().strip() if offset_path.exists() else "0-0"
        next_tick = time.monotonic() + tick_ms / 1000 if tick_ms else float("inf")
        purges = PurgeSchedule(order_retention_s, purge_every_s) if order_retention_s else None
        log.info("engine: seq %d, commands from %s", seq.last_seq, last_id)
        while not stop.is_set():
            block = 200 if tick_ms == 0 else max(1, int((next_tick - time.monotonic()) * 1000))
            reply = await redis.xread({commands_key: last_id}, count=batch_size,
                                      block=min(block, 200))
            batch: list[tuple[Command | None, bytes, bytes, str]] = []
            for _, entries in reply or ():
                for entry_id, fields in entries:
                    last_id = entry_id.decode()
                    try:
                        decoded = command_msgpack_decoder.decode(fields[b"c"])
                    except msgspec.ValidationError as exc:  # past a limit of its type: a 422
                        invalid = RecordInvalid.of(exc)
                        batch.append((None, fields.get(b"g", b""), fields.get(b"r", b""),
                                      invalid_text(invalid)))
                        continue
                    except msgspec.DecodeError as exc:
                        batch.append((None, fields.get(b"g", b""), fields.get(b"r", b""),
                                      f"bad command: {exc}"))
                        continue
                    batch.append((decoded, fields.get(b"g", b""), fields.get(b"r", b""), ""))
            if tick_ms and time.monotonic() >= next_tick:
                batch.append((Tick(), b"", b"", ""))
                next_tick = time.monotonic() + tick_ms / 1000
                upto = purges.due(time.monotonic(), seq.last_seq) if purges else None
                if upto is not None:
                    batch.append((PurgeOrders(upto_order_id=upto), b"", b"", ""))
            if not batch:
                continue
            out: list[dict[str, Any]] = []
            steps: list[tuple[int, list[Event]]] = []
            for cmd, g, r, error in batch:
                if cmd is not None:
                    try:
                        events = seq.submit(cmd)
                        steps.append((cmd.seq, events))  # the seq submit stamped
                    except RecordInvalid as exc:
                        error = invalid_text(exc)
                        cmd = None
                    except RecordRefused as exc:
                        error = f"{type(exc).__name__}: {exc}"
                        cmd = None
                if cmd is not None:
                    out.append({"c": _encode(cmd), "g": g, "r": r})
                elif g:
                    out.append({"e": error, "g": g, "r": r})
            await loop.run_in_executor(None, seq.commit)
            pipe = redis.pipeline(transaction=False)
            for fields in out:
                pipe.xadd(journal_key, fields, maxlen=STREAM_MAXLEN, approximate=True)
            await pipe.execute()
            _write_offset(offset_path, last_id)
            if feed is not None and steps:
                feed.publish(steps)
    finally:
        if feed is not None:  # the ledger books what was committed, then closes
            await feed.stop()
        seq.close()
        await redis.aclose()


def invalid_text(exc: RecordInvalid) -> str:
    """A `RecordInvalid` as the engine writes it on the journal stream (`refusal_of` reads it)."""
    return f"RecordInvalid: {exc.field}|{exc}"


def refusal_of(error: str) -> Exception:
    """The engine's refusal of one command, as the exception a single-process pipeline would
    raise (so the HTTP answer is the same 413 or 422)."""
    from engine.durable.journal import RecordInvalid, RecordTooLarge, RecordUnencodable

    kind, _, detail = error.partition(": ")
    if kind == "RecordInvalid":
        field, _, message = detail.partition("|")
        return RecordInvalid(message, field)
    if kind == "RecordTooLarge":
        return RecordTooLarge(detail)
    if kind == "RecordUnencodable":
        return RecordUnencodable(detail)
    return PipelineFailed(error)


def _write_offset(path: Path, last_id: str) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        f.write(last_id)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


async def _republish_missing(redis: Any, journal_key: str, seq: Any, data_dir: Path,
                             reader_cls: Any) -> None:
    """Append to the journal stream what the engine journaled but the stream never got (a crash
    between a commit and the append)."""
    stream_seq = 0
    for _, fields in await redis.xrevrange(journal_key, count=1000):
        if b"c" in fields:  # skip error replies, which carry no command
            stream_seq = command_msgpack_decoder.decode(fields[b"c"]).seq
            break
    if stream_seq >= seq.last_seq:
        return
    n = 0
    for cmd in reader_cls(data_dir / "engine" / "journal", after_seq=stream_seq, repair=False):
        await redis.xadd(journal_key, {"c": _encode(cmd), "g": b"", "r": b""},
                         maxlen=STREAM_MAXLEN, approximate=True)
        n += 1
    log.warning("engine: appended %d journaled commands the stream was missing", n)
