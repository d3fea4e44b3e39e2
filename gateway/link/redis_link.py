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

Redis outages: neither side exits. The engine stops reading commands (the market pauses: no
command is journaled that the gateways could not see), keeps the group it committed but could
not append, and once Redis answers again appends exactly what the journal stream lacks of it
(`append_pending`: the stream's newest entries say how much of a cut pipeline got through,
so nothing is appended twice), then reads on. Its client never retries a command by itself
(``connect(retries=False)``): a retried XADD whose first reply was lost would append twice. A
gateway answers order entry with 503 while Redis is unreachable (its XADD fails at once, or no
answer comes within ``reply_timeout_s``: the outcome is then unknown and the client resends its
client order id), is not ready (``/readyz`` 503) until its journal reader reaches Redis again,
and meanwhile serves reads from its replica; then it follows the stream on from where it was.

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


def connect(url: str, *, retries: bool = True) -> Any:
    """A client of ``url``; ``retries=False``: a command that fails is never sent again by the
    client library (redis-py retries on connection errors by default), for the engine's
    appends, which must happen exactly once."""
    import redis.asyncio as aioredis

    if retries:
        return aioredis.Redis.from_url(url)
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return aioredis.Redis.from_url(url, retry=Retry(NoBackoff(), 0))


def link_errors() -> tuple[type[BaseException], ...]:
    """What a Redis outage raises (refused or cut connections, timeouts, a server still loading
    its append-only file); anything else is a bug and is not retried."""
    import redis.exceptions as rex

    return (rex.ConnectionError, rex.TimeoutError, OSError)


class Outage:
    """A Redis outage as one side of the link sees it: capped exponential backoff, one log line
    when it starts and one when it ends, and how many there were (``count``)."""

    def __init__(self, who: str, *, min_s: float = 0.05, max_s: float = 2.0) -> None:
        self.who = who
        self.min_s = min_s
        self.max_s = max_s
        self.delay_s = min_s
        self.since: float | None = None  # monotonic start of the current outage
        self.count = 0

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException) -> float:
        """Record a failure; returns how long to wait before trying again."""
        if self.since is None:
            self.since = time.monotonic()
            self.count += 1
            log.error("%s: Redis unreachable (%s: %s); retrying until it answers", self.who,
                      type(exc).__name__, exc)
        delay, self.delay_s = self.delay_s, min(self.delay_s * 2, self.max_s)
        return delay

    def recovered(self) -> None:
        if self.since is not None:
            log.warning("%s: Redis answers again after %.1fs", self.who,
                        time.monotonic() - self.since)
        self.since = None
        self.delay_s = self.min_s


# ---------------------------------------------------------------------------------------------
# The gateway side
# ---------------------------------------------------------------------------------------------


class RedisPipeline:
    """The gateway's pipeline in multi-process mode; same interface as `Pipeline`."""

    def __init__(self, redis: Any, prefix: str, replica: Any,
                 publish: Callable[[list[Event], Checksums], None], *, queue_size: int,
                 reply_timeout_s: float = 30.0) -> None:
        assert reply_timeout_s > 0
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
        # a request unanswered this long (the engine or Redis down) fails with 503: its outcome
        # is unknown, and the client's resend of its client order id tells it
        self.reply_timeout_s = reply_timeout_s
        self.outage = Outage("gateway", max_s=1.0)  # the journal stream cannot be read
        self.duplicates = 0  # journal-stream entries of a seq already applied (skipped)

    def _fresh(self, cmd: Command) -> bool:
        """False for a command the replica has applied already: the stream holds it twice (it
        never should; applying it again would stop the replica). Skipped, counted, logged."""
        if cmd.seq > self.replica.last_seq:
            return True
        self.duplicates += 1
        if self.duplicates <= 10 or self.duplicates % 10_000 == 0:  # a run of them: a few lines
            log.error("journal stream entry %s repeats seq %d (the replica is at %d); skipped "
                      "(%d so far)", self.last_id, cmd.seq, self.replica.last_seq,
                      self.duplicates)
        return False

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
                    cmd = command_msgpack_decoder.decode(fields[b"c"])
                    if not self._fresh(cmd):
                        continue
                    events = self.replica.apply(cmd)
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
                    fut.set_exception(Overloaded(
                        f"the engine's link (Redis) is unavailable ({type(exc).__name__}); the "
                        "command may not have reached the engine: send it again (an order with "
                        "the same client_order_id is never placed twice)"))
                    fut.exception()

        task = asyncio.get_running_loop().create_task(send())
        future.add_done_callback(lambda _: task)  # keep a reference until answered
        return future

    async def submit(self, cmd: Command) -> list[Event]:
        future = self.submit_nowait(cmd)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.reply_timeout_s)
        except TimeoutError:
            for req, fut in list(self._waiting.items()):
                if fut is future:
                    del self._waiting[req]
            future.cancel()
            raise Overloaded(f"no answer from the engine in {self.reply_timeout_s:g}s (the engine "
                             "or its Redis is down); the outcome is unknown: send the request "
                             "again (an order with the same client_order_id is never placed "
                             "twice)") from None

    @property
    def depth(self) -> int:
        return len(self._waiting)

    @property
    def ready(self) -> bool:
        """Order entry works: accepting, the replica sound, the journal stream readable."""
        return (self._accepting and self.failed is None and self._task is not None
                and not self.outage.down)

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
            except Exception as exc:  # noqa: BLE001 - any failure: not ready, back off, retry
                await asyncio.sleep(self.outage.failed(exc))
                continue
            self.outage.recovered()
            for _, entries in reply or ():
                published: list[Event] = []
                checksums: Checksums = {}
                for entry_id, fields in entries:
                    self.last_id = entry_id.decode()
                    events: list[Event] = []
                    if b"c" in fields:
                        try:
                            cmd = command_msgpack_decoder.decode(fields[b"c"])
                            if not self._fresh(cmd):
                                continue
                            events = replica.apply(cmd)
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
                     | None = None, outage: Outage | None = None) -> None:
    """Read commands, apply and commit them in groups, append them stamped to the journal
    stream; tick, and forget done orders after ``order_retention_s`` (0: never). Runs until
    ``stop`` is set, through Redis outages (``outage`` counts them; see the module's
    docstring). ``consumers_of(exchange_of)``: the downstream consumers (the ledger, the
    ticks) that a feed drives beside the sequencer, as `herbx serve` does
    (`gateway.link.feed`); they go on while Redis is down."""
    from engine.durable.journal import JournalReader, RecordInvalid, RecordRefused
    from engine.durable.sequencer import Sequencer
    from gateway.link.feed import Feed

    stop = stop or asyncio.Event()
    outage = outage or Outage("engine")
    down = link_errors()
    redis = connect(redis_url, retries=False)
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
    # the last group: committed, and (until `pending` is empty) not yet on the journal stream
    pending: list[StreamEntry] = []
    # False after a failed append: part of it may be on the stream, which must be looked at
    clean = True
    committed = False  # a group committed whose commands-stream offset is not written yet
    try:
        while not stop.is_set():
            try:
                await _republish_missing(redis, journal_key, seq, data_dir, JournalReader)
                break
            except down as exc:
                await _pause(stop, outage.failed(exc))
        outage.recovered()
        last_id = offset_path.read_text().strip() if offset_path.exists() else "0-0"
        next_tick = time.monotonic() + tick_ms / 1000 if tick_ms else float("inf")
        purges = PurgeSchedule(order_retention_s, purge_every_s) if order_retention_s else None
        log.info("engine: seq %d, commands from %s", seq.last_seq, last_id)
        while not stop.is_set():
            # the market pauses in these two while Redis is away: nothing more is journaled
            try:
                if pending:
                    if clean:
                        await append_group(redis, journal_key, pending)
                    else:
                        await append_pending(redis, journal_key, pending, data_dir,
                                              JournalReader)
                    pending, clean = [], True
            except down as exc:
                clean = False  # the append may have been cut: the stream must be looked at
                await _pause(stop, outage.failed(exc))
                continue
            if committed:  # the group is on the stream: its commands are done
                _write_offset(offset_path, last_id)
                committed = False
            try:
                block = 200 if tick_ms == 0 else max(1, int((next_tick - time.monotonic())
                                                            * 1000))
                reply = await redis.xread({commands_key: last_id}, count=batch_size,
                                          block=min(block, 200))
            except down as exc:
                clean = False
                await _pause(stop, outage.failed(exc))
                continue
            outage.recovered()
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
                    pending.append(StreamEntry(cmd.seq, {"c": _encode(cmd), "g": g, "r": r}))
                elif g:
                    pending.append(StreamEntry(0, {"e": error, "g": g, "r": r}))
            await loop.run_in_executor(None, seq.commit)
            committed = True
            if feed is not None and steps:  # the consumers need no Redis: they go on
                feed.publish(steps)
            # `pending` is appended at the top of the loop, before the next read
    finally:
        if pending:
            log.warning("engine: stopping with %d entries not on the journal stream; the next "
                        "start appends the commands among them", len(pending))
        if feed is not None:  # the ledger books what was committed, then closes
            await feed.stop()
        seq.close()
        with contextlib.suppress(Exception):
            await redis.aclose()


class StreamEntry(msgspec.Struct, frozen=True):
    """One journal-stream entry the engine appends: a stamped command (``seq`` > 0, fields
    ``c``, ``g``, ``r``) or a refusal (``seq`` 0, fields ``e``, ``g``, ``r``)."""

    seq: int
    fields: dict[str, Any]

    def same(self, stored: dict[bytes, bytes]) -> bool:
        """True when ``stored`` (an entry read from the stream) is this entry."""
        f = self.fields
        if self.seq:
            return bool(stored.get(b"c") == f["c"])
        return (b"e" in stored and stored.get(b"g", b"") == _b(f["g"])
                and stored.get(b"r", b"") == _b(f["r"]))


def _b(v: Any) -> bytes:
    return v if isinstance(v, bytes) else str(v).encode()


async def _pause(stop: asyncio.Event, delay_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay_s)


async def append_group(redis: Any, journal_key: str, entries: Sequence[StreamEntry]) -> None:
    pipe = redis.pipeline(transaction=False)
    for e in entries:
        pipe.xadd(journal_key, e.fields, maxlen=STREAM_MAXLEN, approximate=True)
    await pipe.execute()


async def append_pending(redis: Any, journal_key: str, pending: Sequence[StreamEntry],
                          data_dir: Path, reader_cls: Any) -> None:
    """Append what the journal stream lacks of ``pending`` after a failed append. Only the
    engine appends to the stream, in order, so what got through of the failed pipeline is a
    prefix of it, found among the stream's newest entries: the rest is appended, never an entry
    twice. A stream that lacks commands before ``pending`` (a Redis that lost data) first gets
    them from the journal (`_republish_missing`)."""
    first = next((e.seq for e in pending if e.seq), 0)
    newest = await redis.xrevrange(journal_key, count=len(pending))
    if first and not any(pending_has(pending, f) for _, f in newest):
        # none of it got through; the stream must end at the command before it
        stream_seq = await _stream_seq(redis, journal_key)
        if stream_seq < first - 1:
            await _republish_range(redis, journal_key, data_dir, reader_cls, stream_seq,
                                   first - 1)
    done = 0
    if newest:
        top = newest[0][1]
        done = next((i + 1 for i in range(len(pending) - 1, -1, -1)
                     if pending[i].same(top)), 0)
    if done:
        log.warning("engine: %d of %d journal-stream entries had been appended before Redis "
                    "failed", done, len(pending))
    await append_group(redis, journal_key, pending[done:])


def pending_has(pending: Sequence[StreamEntry], stored: dict[bytes, bytes]) -> bool:
    return any(e.same(stored) for e in pending)


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


async def _stream_seq(redis: Any, journal_key: str) -> int:
    """The seq of the newest command on the journal stream (0: none in its newest entries)."""
    for _, fields in await redis.xrevrange(journal_key, count=1000):
        if b"c" in fields:  # skip error replies, which carry no command
            return int(command_msgpack_decoder.decode(fields[b"c"]).seq)
    return 0


async def _republish_missing(redis: Any, journal_key: str, seq: Any, data_dir: Path,
                             reader_cls: Any) -> None:
    """Append to the journal stream what the engine journaled but the stream never got (a crash
    between a commit and the append)."""
    stream_seq = await _stream_seq(redis, journal_key)
    if stream_seq < seq.last_seq:
        await _republish_range(redis, journal_key, data_dir, reader_cls, stream_seq,
                               seq.last_seq)


async def _republish_range(redis: Any, journal_key: str, data_dir: Path, reader_cls: Any,
                           after_seq: int, upto_seq: int) -> None:
    """The journaled commands ``after_seq + 1 .. upto_seq``, appended in order with no gateway
    (no request waits for them by name; a waiting client gets its answer by resending)."""
    n = 0
    for cmd in reader_cls(data_dir / "engine" / "journal", after_seq=after_seq, repair=False):
        if cmd.seq > upto_seq:
            break
        await redis.xadd(journal_key, {"c": _encode(cmd), "g": b"", "r": b""},
                         maxlen=STREAM_MAXLEN, approximate=True)
        n += 1
    log.warning("engine: appended %d journaled commands the stream was missing", n)
