"""`herbx engine`'s loop in multi-process mode (the streams: `gateway.link.redis_link`).

Owns reading the commands stream, applying and committing commands in groups with the
sequencer, and appending every committed command, stamped, to the journal stream, in seq order,
exactly once; the clock ticks and the purges of done orders; the downstream consumers' feed
beside the sequencer.

Engine restarts: the engine remembers the last commands-stream id it committed in
``<data-dir>/engine/redis-offset`` (written once the group is on the journal stream) and, at
start, appends to the journal stream any journaled command the stream is missing. A crash
between a commit and the offset write re-reads that group: orders are safe (client order ids
make a resend an ``order_resent``), so are deposits and withdrawals (their ``transfer_id``,
always set by the gateway, makes a second one ``duplicate_transfer``); see docs/gateway.md for
the rest.

Redis outages: the engine never exits for one. It stops reading commands (the market pauses: no
command is journaled that the gateways could not see), keeps the group it committed but could
not append, and once Redis answers again appends exactly what the journal stream lacks of it
(`append_pending`: the stream's newest entries say how much of a cut pipeline got through, so
nothing is appended twice), then reads on. Its client never retries a command by itself
(``connect(retries=False)``): a retried XADD whose first reply was lost would append twice. The
feed's consumers (ledger, ticks) go on meanwhile.

Must never: append a command to the journal stream before it is committed, or twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from engine.messages import Command, Event, PurgeOrders, Tick, command_msgpack_decoder
from gateway.link.housekeeping import PurgeSchedule
from gateway.link.redis_link import (
    STREAM_MAXLEN,
    Outage,
    connect,
    invalid_text,
    keys,
    link_errors,
)

if TYPE_CHECKING:
    from settlement.consumer import Consumer

log = logging.getLogger("herbx.redis")

_encode = msgspec.msgpack.Encoder().encode


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
