"""Cutting a WebSocket server's frames from a client's byte stream (RFC 6455 §5.2).

The load test's feed reads thousands of small frames a second per locust process; a general
parser (websockets' `ClientProtocol`) cost it 8% of its CPU, so `cut_frames` does only what a
client of this market needs: server frames are unmasked (a masked one is a protocol error),
without extensions (RSV bits must be 0) and bounded in size. Fragments are returned as they
are (the caller refuses them: the market sends each message as one final frame).

Pure: bytes in, frames out; never reads a socket.
"""

from __future__ import annotations

FIN = 0x80
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


class ProtocolError(ConnectionError):
    """The server sent something RFC 6455 forbids it to send (the connection is dropped)."""


def cut_frames(buf: bytearray, max_size: int) -> tuple[list[tuple[int, bytes]], int]:
    """The complete frames at the start of ``buf`` as ``(first byte, payload)`` (the first
    byte holds FIN and the opcode) and how many bytes they took; an incomplete frame at the
    end is left for the next read. O(bytes of the frames)."""
    frames: list[tuple[int, bytes]] = []
    pos, size = 0, len(buf)
    while size - pos >= 2:
        b0, b1 = buf[pos], buf[pos + 1]
        n, head = b1 & 0x7F, 2
        if n == 126:
            if size - pos < 4:
                break
            n, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
        elif n == 127:
            if size - pos < 10:
                break
            n, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
        if b1 & 0x80:
            raise ProtocolError("a masked frame from the server")
        if b0 & 0x70:
            raise ProtocolError("a frame with RSV bits set (no extension was negotiated)")
        if n > max_size:
            raise ProtocolError(f"a frame of {n} bytes (more than {max_size})")
        if size - pos < head + n:
            break
        frames.append((b0, bytes(buf[pos + head:pos + head + n])))
        pos += head + n
    return frames, pos
