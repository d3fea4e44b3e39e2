"""The scenario runner: JSON lines of commands in, JSON lines of events out.

This is an I/O shell around the engine (it reads and writes streams); the core never imports it.
A scenario line is one command in the engine's JSON format (see docs/engine.md), UTF-8 encoded.
``seq`` may be left out: the runner numbers commands 1, 2, 3, ...; a ``seq`` given must be
after the one before it. ``ts_ns`` may be left out: the command takes the time of the line
before it (0 at the start), so only lines where time matters need one. Unknown fields are
refused (the command Structs forbid them), so a misspelt flag cannot silently change an order.
Blank lines and lines starting with ``#`` are skipped. Every bad line raises `ScenarioError`
naming the line; nothing else escapes for bad input.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO

import msgspec

from engine.exchange import Exchange
from engine.messages import Command, Event, command_json_decoder


class ScenarioError(ValueError):
    """A scenario line is not a valid command; the message names the line."""


def read_commands(lines: Iterable[str | bytes], start_seq: int = 0) -> Iterator[Command]:
    """Decode and stamp the commands of ``lines`` (text, or bytes read in binary mode, which
    must be UTF-8); ``start_seq`` is the seq of the last command already applied."""
    seq = start_seq
    ts = 0
    for lineno, line in enumerate(lines, 1):
        try:
            text = line.decode("utf-8") if isinstance(line, bytes) else line
            text = text.strip()
            if not text or text.startswith("#"):
                continue
            cmd = command_json_decoder.decode(text)
        except (UnicodeDecodeError, UnicodeEncodeError) as exc:  # not UTF-8; lone surrogates
            raise ScenarioError(
                f"line {lineno}: not valid UTF-8 ({exc.reason} at position {exc.start})"
            ) from None
        except msgspec.DecodeError as exc:
            raise ScenarioError(f"line {lineno}: {exc}") from None
        if cmd.seq and cmd.seq <= seq:
            raise ScenarioError(
                f"line {lineno}: seq {cmd.seq} is not after {seq} (seq must increase; "
                "or leave it out and the runner numbers the lines)"
            )
        seq = cmd.seq if cmd.seq else seq + 1
        ts = cmd.ts_ns if cmd.ts_ns else ts
        cmd.seq = seq
        cmd.ts_ns = ts
        yield cmd


def run(lines: Iterable[str | bytes], exchange: Exchange | None = None) -> Iterator[Event]:
    ex = exchange if exchange is not None else Exchange()
    for cmd in read_commands(lines, ex.last_seq):
        yield from ex.apply(cmd)


def run_to(lines: Iterable[str | bytes], out: IO[bytes]) -> int:
    """Write one JSON event per line to ``out``; return the number of events."""
    encoder = msgspec.json.Encoder()
    n = 0
    for event in run(lines):
        out.write(encoder.encode(event))
        out.write(b"\n")
        n += 1
    return n


def main(file: str) -> int:
    """``herbx scenario FILE`` (``-`` for stdin): events to stdout; a bad line or an unreadable
    file is one line on stderr and exit status 2."""
    import sys

    try:
        # bytes in: the runner decodes each line itself, so bad UTF-8 is a "line N" error
        if file == "-":
            run_to(sys.stdin.buffer, sys.stdout.buffer)
        else:
            with open(file, "rb") as f:
                run_to(f, sys.stdout.buffer)
    except (ScenarioError, OSError) as exc:
        print(f"herbx scenario: {exc}", file=sys.stderr)
        return 2
    return 0
