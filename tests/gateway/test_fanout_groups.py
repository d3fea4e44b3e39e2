"""Issue 15 (fan-out cost): one `Hub.publish` hands each subscriber all of its frames at once,
and `Client.push_many` writes them in one transport write, without changing what a client
receives nor when it is cut off as a slow consumer.

Two properties: the hub delivers to every subscriber exactly the frames of the messages it
follows, in publish order, each message framed once (checked against a per-frame reference);
and `push_many(frames)` leaves a client's transport, backlog and cut-off state exactly as
`push` frame by frame does, whatever the transport already holds.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config import Settings
from gateway.stream.fanout import Hub, encode, text_frame
from gateway.stream.ws import Client


class Recorder:
    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.calls = 0

    def push(self, frame: bytes) -> None:
        self.frames.append(frame)
        self.calls += 1

    def push_many(self, frames: list[bytes]) -> None:
        self.frames += frames
        self.calls += 1


CHANNELS = ["book:A", "trades:A", "ticker", "book:B"]
ACCOUNTS = ["T01", "C01"]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    follows=st.lists(st.tuples(st.sets(st.sampled_from(CHANNELS)),
                               st.sets(st.sampled_from(ACCOUNTS))), min_size=1, max_size=6),
    targets=st.lists(st.tuples(st.sampled_from(["channel", "account"]),
                               st.integers(0, 3)), max_size=12),
)
def test_each_subscriber_gets_its_frames_in_order_in_one_push(
    follows: list[tuple[set[str], set[str]]], targets: list[tuple[str, int]]
) -> None:
    hub = Hub()
    subs = [Recorder() for _ in follows]
    for sub, (channels, accounts) in zip(subs, follows, strict=True):
        for ch in sorted(channels):
            hub.subscribe(ch, sub)
        for acc in sorted(accounts):
            hub.follow_account(acc, sub)
    messages: list[tuple[tuple[str, str], dict[str, Any]]] = []
    for i, (kind, k) in enumerate(targets):
        name = CHANNELS[k] if kind == "channel" else ACCOUNTS[k % len(ACCOUNTS)]
        messages.append(((kind, name), {"channel": name, "type": "update", "seq": i}))
    hub.publish(messages)
    for sub, (channels, accounts) in zip(subs, follows, strict=True):
        want = [text_frame(encode(msg)) for (kind, name), msg in messages
                if name in (channels if kind == "channel" else accounts)]
        assert sub.frames == want
        assert sub.calls == (1 if want else 0)
        # separate WebSocket frames, never several messages in one
        for frame, ((_, _), msg) in zip(sub.frames, [m for m in messages if
                                                     m[0][1] in (channels | accounts)],
                                        strict=True):
            assert msgspec.json.decode(frame[2:]) == msg
    assert hub.delivered == sum(len(s.frames) for s in subs)


class FakeTransport:
    """A transport whose socket takes nothing: every write stays buffered (the worst case)."""

    def __init__(self, buffered: int, high: int) -> None:
        self.buffered = buffered
        self.high = high
        self.data = bytearray()
        self.writes = 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self.high // 4, self.high

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return False

    def write(self, data: bytes) -> None:
        self.data += data
        self.buffered += len(data)
        self.writes += 1

    def abort(self) -> None:
        pass


class FakeWs:
    async def close(self, **_: Any) -> None:
        pass


def _client(limit: int, transport: FakeTransport) -> Client:
    gw: Any = SimpleNamespace(settings=Settings(ws_send_buffer_bytes=limit), hub=Hub())
    client = Client(gw, FakeWs(), "test")  # type: ignore[arg-type]
    client.attach(transport, SimpleNamespace())  # type: ignore[arg-type]
    return client


async def _settle(client: Client) -> None:
    for task in (client.flusher, client.close_task):
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    buffered=st.integers(0, 3000),
    high=st.integers(200, 2000),
    limit=st.integers(100, 3000),
    backlog=st.lists(st.integers(1, 400), max_size=3),
    sizes=st.lists(st.integers(1, 600), min_size=1, max_size=8),
)
def test_push_many_behaves_as_push_frame_by_frame(
    buffered: int, high: int, limit: int, backlog: list[int], sizes: list[int]
) -> None:
    async def run() -> None:
        frames = [text_frame(bytes([65 + i % 26]) * n) for i, n in enumerate(sizes)]
        earlier = [text_frame(b"e" * n) for n in backlog]
        one = FakeTransport(buffered, high)
        many = FakeTransport(buffered, high)
        a, b = _client(limit, one), _client(limit, many)
        for c in (a, b):
            for frame in earlier:  # what a client may already hold back
                c.push(frame)
        for frame in frames:
            a.push(frame)
        b.push_many(frames)
        assert bytes(one.data) == bytes(many.data)
        assert list(a.backlog) == list(b.backlog)
        assert a.backlog_bytes == b.backlog_bytes
        assert a.closing == b.closing
        if not earlier and buffered + sum(map(len, frames)) <= high:
            assert many.writes == 1  # the common case: one write for the whole group
        await _settle(a)
        await _settle(b)

    asyncio.run(run())
