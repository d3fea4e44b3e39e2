"""The load test's frame cutter (`loadtest.frames.cut_frames`) against websockets' own
serializer: every frame comes back whole and in order however the stream is split into
reads, and what a server must not send is refused."""

from __future__ import annotations

import random

import pytest
from websockets.frames import Frame, Opcode

from loadtest.frames import CLOSE, FIN, PING, TEXT, ProtocolError, cut_frames


def _server(opcode: Opcode, data: bytes, fin: bool = True) -> bytes:
    return Frame(opcode, data, fin=fin).serialize(mask=False)


def test_frames_of_every_length_survive_any_split_into_reads() -> None:
    rng = random.Random(15)
    # lengths on both sides of the 7-bit, 16-bit and 64-bit length forms
    sizes = [0, 1, 125, 126, 127, 65_535, 65_536, 70_000] + [rng.randrange(0, 400)
                                                             for _ in range(200)]
    sent = [(Opcode.PING if i % 17 == 0 else Opcode.TEXT,
             bytes(rng.randrange(256) for _ in range(min(n, 200))) * (n // 200 + 1))
            for i, n in enumerate(sizes)]
    sent = [(op, data[:125] if op is Opcode.PING else data) for op, data in sent]
    stream = b"".join(_server(op, data) for op, data in sent)
    for _ in range(5):
        buf, got, at = bytearray(), [], 0
        while at < len(stream):
            step = rng.choice((1, 2, 3, 7, 64, 1000, 70_000))
            buf += stream[at:at + step]
            at += step
            frames, used = cut_frames(buf, 1 << 22)
            del buf[:used]
            got += frames
        assert not buf
        assert got == [(FIN | op.value, data) for op, data in sent]
    assert (FIN | TEXT, FIN | PING) == (0x81, 0x89)


def test_what_a_server_must_not_send_is_refused() -> None:
    masked = Frame(Opcode.TEXT, b"hi").serialize(mask=True)
    with pytest.raises(ProtocolError, match="masked"):
        cut_frames(bytearray(masked), 1 << 22)
    rsv = bytearray(_server(Opcode.TEXT, b"hi"))
    rsv[0] |= 0x40  # compressed (permessage-deflate), never negotiated
    with pytest.raises(ProtocolError, match="RSV"):
        cut_frames(rsv, 1 << 22)
    with pytest.raises(ProtocolError, match="more than"):
        cut_frames(bytearray(_server(Opcode.TEXT, b"x" * 2000)), 1000)


def test_a_fragment_and_a_close_come_back_as_they_are() -> None:
    close = Frame(Opcode.CLOSE, (1008).to_bytes(2, "big") + b"slow consumer")
    data = _server(Opcode.TEXT, b'{"a"', fin=False) + close.serialize(mask=False)
    frames, used = cut_frames(bytearray(data), 1 << 22)
    assert used == len(data)
    assert frames == [(TEXT, b'{"a"'), (FIN | CLOSE, (1008).to_bytes(2, "big") + b"slow consumer")]
