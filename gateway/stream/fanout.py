"""The fan-out: who is subscribed to what, and delivery of published messages to them.

Owns the subscription tables (channel → subscribers, account → private subscribers). Each
message is encoded once, framed once, and written to every subscriber without awaiting, so one
slow client never delays the sequencer or any other client; a subscriber whose send buffer is
over its bound cuts itself off (see `gateway.stream.ws.Client.push`). One `Hub.publish` (one
commit group, or one conflation flush) hands each subscriber all of its frames at once, in
order, so that it costs one transport write per client rather than one per client and message;
the frames stay separate WebSocket frames. Must never await, nor drop a message silently for a
subscriber that stays connected.
"""

from __future__ import annotations

import struct
from typing import Protocol

import msgspec

from gateway.stream.marketdata import Message, Target

_encode = msgspec.json.Encoder().encode


class Subscriber(Protocol):
    def push(self, frame: bytes) -> None: ...

    def push_many(self, frames: list[bytes]) -> None: ...


def encode(msg: Message) -> bytes:
    return _encode(msg)


def text_frame(payload: bytes) -> bytes:
    """One unmasked, final WebSocket text frame (RFC 6455 §5.2) holding ``payload``."""
    n = len(payload)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 127, n)
    return header + payload


class Hub:
    def __init__(self) -> None:
        self.channels: dict[str, dict[Subscriber, None]] = {}
        self.accounts: dict[str, dict[Subscriber, None]] = {}
        self.delivered = 0

    def subscribe(self, channel: str, sub: Subscriber) -> None:
        self.channels.setdefault(channel, {})[sub] = None

    def unsubscribe(self, channel: str, sub: Subscriber) -> None:
        subs = self.channels.get(channel)
        if subs is not None:
            subs.pop(sub, None)
            if not subs:
                del self.channels[channel]

    def follow_account(self, account: str, sub: Subscriber) -> None:
        self.accounts.setdefault(account, {})[sub] = None

    def unfollow_account(self, account: str, sub: Subscriber) -> None:
        subs = self.accounts.get(account)
        if subs is not None:
            subs.pop(sub, None)
            if not subs:
                del self.accounts[account]

    def publish(self, messages: list[tuple[Target, Message]]) -> None:
        """Deliver ``messages`` (in order) to their subscribers: each message encoded and framed
        once; each subscriber then gets its frames of the whole list in one `push_many`.

        O(messages + deliveries). Nothing is pushed until every frame is collected, so the
        tables are not changed while they are read (a push may cut a slow consumer off, which
        unsubscribes it)."""
        outbox: dict[Subscriber, list[bytes]] = {}
        for (kind, name), msg in messages:
            table = self.channels if kind == "channel" else self.accounts
            subs = table.get(name)
            if not subs:
                continue
            frame = text_frame(encode(msg))
            get = outbox.get
            for sub in subs:
                frames = get(sub)
                if frames is None:
                    outbox[sub] = [frame]
                else:
                    frames.append(frame)
            self.delivered += len(subs)
        for sub, frames in outbox.items():
            sub.push_many(frames)
