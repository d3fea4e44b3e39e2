"""Multi-process mode through a Redis outage (`gateway.link.redis_engine`, `redis_link`), against
the real Redis (streams under a prefix of their own):

- the engine's append of a committed group is cut after part of it got through: once Redis
  answers, exactly the rest is appended (every seq once on the journal stream, in order), the
  gateway's replica follows without a repeat, and order entry goes on;
- `append_pending` finds how much of a cut append got through, and gives a stream that lost
  older commands those from the journal first;
- a gateway whose Redis is unreachable answers order entry with a clear `Overloaded` (503), is
  not ready, and a request that gets no answer fails after its bound instead of hanging.

`tests/chaos/test_chaos.py::test_redis_restarted_under_load` restarts a private Redis under load
with the whole market running."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import pytest

from engine.durable.journal import JournalReader
from engine.durable.sequencer import Sequencer
from engine.exchange import Exchange
from engine.messages import command_msgpack_decoder
from gateway.link import redis_engine
from gateway.link.pipeline import Overloaded
from gateway.link.redis_engine import StreamEntry, append_pending, run_engine
from gateway.link.redis_link import Outage, RedisPipeline, connect, keys
from loadtest.bench.gateway import free_port
from tests.test_recovery import StepClock, command_stream

REDIS_URL = os.environ.get("HERBX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
_encode = msgspec.msgpack.Encoder().encode


def _redis_up() -> bool:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        return True
    except Exception:
        return False




need_redis = pytest.mark.skipif(
    not _redis_up() and os.environ.get("CI") != "true", reason=f"no Redis at {REDIS_URL}")


async def stream_seqs(redis: Any, key: str) -> list[int]:
    return [command_msgpack_decoder.decode(f[b"c"]).seq
            for _, f in await redis.xrange(key) if b"c" in f]


@need_redis
async def test_a_cut_append_is_completed_once_and_order_entry_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = f"herbx-resil-test-{uuid.uuid4().hex[:8]}"
    commands_key, journal_key = keys(prefix)
    redis = connect(REDIS_URL)
    cmds = command_stream(41, 16)
    real_append = redis_engine.append_group
    cut = []

    async def cut_once(r: Any, key: str, entries: Sequence[StreamEntry]) -> None:
        if not cut and len(entries) >= 3:  # Redis goes away after the first two got through
            cut.append(len(entries))
            await real_append(r, key, entries[:2])
            import redis.exceptions

            raise redis.exceptions.ConnectionError("Connection reset by peer (the test)")
        await real_append(r, key, entries)

    monkeypatch.setattr(redis_engine, "append_group", cut_once)
    for i, cmd in enumerate(cmds[:10]):  # queued before the engine starts: one group of ten
        await redis.xadd(commands_key, {"c": _encode(cmd), "g": "early", "r": str(i)})
    replica = Exchange()
    pipe = RedisPipeline(redis, prefix, replica, lambda events, checksums: None, queue_size=64)
    outage = Outage("engine")
    stop = asyncio.Event()
    engine = asyncio.create_task(run_engine(REDIS_URL, tmp_path, prefix, tick_ms=0, stop=stop,
                                            outage=outage))
    pipe.start()
    try:
        async with asyncio.timeout(30):
            while replica.last_seq < 10:
                await asyncio.sleep(0.01)
            answered = [await pipe.submit(cmd) for cmd in cmds[10:]]
        assert cut == [10] and outage.count == 1 and not outage.down
        assert len(answered) == 6 and replica.last_seq == 16
        assert await stream_seqs(redis, journal_key) == list(range(1, 17))
        assert pipe.duplicates == 0 and pipe.ready
        first = (await redis.xrange(journal_key))[:10]  # they still name their requests
        assert [(f[b"g"], f[b"r"]) for _, f in first] == [
            (b"early", str(i).encode()) for i in range(10)]
    finally:
        stop.set()
        await engine
        await pipe.stop()
        await redis.delete(commands_key, journal_key)
        await redis.aclose()
    journal = [c.seq for c in JournalReader(tmp_path / "engine" / "journal", repair=False)]
    assert journal == list(range(1, 17))


@need_redis
async def test_append_pending_appends_what_the_stream_lacks(tmp_path: Path) -> None:
    prefix = f"herbx-resil-test-{uuid.uuid4().hex[:8]}"
    _, journal_key = keys(prefix)
    redis = connect(REDIS_URL)
    with Sequencer(tmp_path / "engine", now_ns=StepClock(6), retain_from=lambda: 0) as sq:
        for cmd in command_stream(42, 20):
            sq.submit(cmd)
        sq.commit()
    stamped = list(JournalReader(tmp_path / "engine" / "journal", repair=False))

    def entry(cmd: Any, r: int) -> StreamEntry:
        return StreamEntry(cmd.seq, {"c": _encode(cmd), "g": b"gw", "r": str(r).encode()})

    try:
        # a cut append: seqs 1..10 on the stream before it, then 11, 12 and a refusal of it
        for cmd in stamped[:10]:
            await redis.xadd(journal_key, {"c": _encode(cmd), "g": b"", "r": b""})
        pending = [entry(stamped[10], 1), entry(stamped[11], 2),
                   StreamEntry(0, {"e": "RecordTooLarge: big", "g": b"gw", "r": b"3"}),
                   entry(stamped[12], 4), entry(stamped[13], 5)]
        for e in pending[:3]:
            await redis.xadd(journal_key, e.fields)
        await append_pending(redis, journal_key, pending, tmp_path, JournalReader)
        assert await stream_seqs(redis, journal_key) == list(range(1, 15))
        refusals = [f for _, f in await redis.xrange(journal_key) if b"e" in f]
        assert refusals == [{b"e": b"RecordTooLarge: big", b"g": b"gw", b"r": b"3"}]
        # nothing of it got through, and the stream lost 15..17 meanwhile (a Redis that lost
        # data): those come from the journal first, then the pending ones with their requests
        pending = [entry(stamped[17], 6), entry(stamped[18], 7), entry(stamped[19], 8)]
        await append_pending(redis, journal_key, pending, tmp_path, JournalReader)
        assert await stream_seqs(redis, journal_key) == list(range(1, 21))
        tail = (await redis.xrange(journal_key))[-6:]
        assert [(f[b"g"], f[b"r"]) for _, f in tail] == [(b"", b"")] * 3 + [
            (b"gw", b"6"), (b"gw", b"7"), (b"gw", b"8")]
    finally:
        await redis.delete(journal_key)
        await redis.aclose()


async def test_a_gateway_without_redis_refuses_clearly_and_is_not_ready() -> None:
    dead = connect(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    pipe = RedisPipeline(dead, "herbx-resil-dead", Exchange(),
                         lambda events, checksums: None, queue_size=8)
    pipe.start()
    try:
        with pytest.raises(Overloaded, match="Redis.*client_order_id"):
            await pipe.submit(command_stream(43, 1)[0])
        async with asyncio.timeout(10):
            while pipe.ready:  # its journal reader failed: not ready for order entry
                await asyncio.sleep(0.01)
        assert pipe.outage.down and pipe.depth == 0
    finally:
        await pipe.stop()
        await dead.aclose()


@need_redis
async def test_a_request_without_an_answer_fails_after_its_bound() -> None:
    redis = connect(REDIS_URL)
    prefix = f"herbx-resil-test-{uuid.uuid4().hex[:8]}"
    pipe = RedisPipeline(redis, prefix, Exchange(), lambda events, checksums: None,
                         queue_size=8, reply_timeout_s=0.2)  # and no engine reads the commands
    pipe.start()
    try:
        with pytest.raises(Overloaded, match="outcome is unknown"):
            await pipe.submit(command_stream(44, 1)[0])
        assert pipe.depth == 0 and pipe.ready
    finally:
        await pipe.stop()
        await redis.delete(*keys(prefix))
        await redis.aclose()
