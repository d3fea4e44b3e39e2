"""The scenario runner: JSON lines of commands in, JSON lines of events out.

This is an I/O shell around the engine (it reads and writes streams); the core never imports it.
A scenario line is one command in the engine's JSON format (see docs/engine.md). ``seq`` may be
left out: the runner numbers commands 1, 2, 3, ... . ``ts_ns`` may be left out: the command takes
the time of the line before it (0 at the start), so only lines where time matters need one.
Blank lines and lines starting with ``#`` are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO

import msgspec

from engine.exchange import Exchange
from engine.messages import Command, Event, command_json_decoder


class ScenarioError(ValueError):
    """A scenario line is not a valid command; the message names the line."""


def read_commands(lines: Iterable[str]) -> Iterator[Command]:
    seq = 0
    ts = 0
    for lineno, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            cmd = command_json_decoder.decode(text)
        except msgspec.DecodeError as exc:
            raise ScenarioError(f"line {lineno}: {exc}") from None
        seq = cmd.seq if cmd.seq else seq + 1
        ts = cmd.ts_ns if cmd.ts_ns else ts
        cmd.seq = seq
        cmd.ts_ns = ts
        yield cmd


def run(lines: Iterable[str], exchange: Exchange | None = None) -> Iterator[Event]:
    ex = exchange if exchange is not None else Exchange()
    for cmd in read_commands(lines):
        yield from ex.apply(cmd)


def run_to(lines: Iterable[str], out: IO[bytes]) -> int:
    """Write one JSON event per line to ``out``; return the number of events."""
    encoder = msgspec.json.Encoder()
    n = 0
    for event in run(lines):
        out.write(encoder.encode(event))
        out.write(b"\n")
        n += 1
    return n
