"""Multi-process mode over Redis Streams: one engine process, any number of gateways. This module
owns the streams' names, the client, the outage bookkeeping both sides share (`Outage`) and the
gateway's side (`RedisPipeline`); `gateway.link.redis_engine` owns the engine's loop.

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

Redis outages: neither side exits. The engine pauses and then appends exactly what the journal
stream lacks (`gateway.link.redis_engine`, which owns the engine's side). A
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
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from engine.messages import (
    BookUpdated,
    Command,
    Event,
    TradeExecuted,
    command_msgpack_decoder,
)

if TYPE_CHECKING:
    from engine.durable.journal import RecordInvalid
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

    def __init__(self, who: str, *, min_s: float = 0.05, max_s: float = 1.0) -> None:
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
        self.outage = Outage("gateway")  # the journal stream cannot be read
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
