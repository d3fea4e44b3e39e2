"""The tick writer: a `settlement.consumer.Consumer` that keeps the tick store, exactly once.

Owns the writer's in-memory mirror (its position and the instruments), the alarms (commands
offered again are skipped and counted; a gap in seqs is logged and counted) and the live bar
hook: after each durable write, ``on_bars`` gets every bar the write changed, as stored (the
gateway publishes them on ``bars:<symbol>:<interval>``). The position moves in the same
database transaction as the ticks and bars, so a crash between them cannot double or lose a
tick. A failed write leaves the mirror as it was, so the same steps can be offered again.

One writer per source of ticks (`settlement.ticks.store.Source`): the live market's, and the
demo history's (``source="demo_history"``: its ticks are marked ``demo``, keyed apart from the
live ones by `settlement.ticks.store.source_seq`, and its position is its own), so the two never
collide and each is exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from msgspec import structs

from settlement.booking import Step
from settlement.ticks.model import Bar
from settlement.ticks.store import LIVE, Source, TickStore, TickStoreError, source_seq
from settlement.ticks.tape import ticks_of

log = logging.getLogger("herbx.ticks")

BarsHook = Callable[[list[Bar]], None]


class TickWriter:
    def __init__(self, store: TickStore, on_bars: BarsHook | None = None, *,
                 source: Source = LIVE) -> None:
        self.name = "ticks" if source == LIVE else f"ticks_{source}"
        self.source = source
        self.store = store
        self.on_bars = on_bars
        self._position = 0
        self.instruments: dict[str, tuple[str, str]] = {}
        self.duplicates = 0  # commands offered again after they were written
        self.gaps = 0  # alarms: seqs missing before a write
        self.writes = 0
        self.ticks = 0

    async def start(self) -> int:
        await self.store.open()  # once: a restart after a failed write finds it open
        self._position, self.instruments = await self.store.load_state(self.source)
        return self._position

    @property
    def position(self) -> int:
        return self._position

    async def offer(self, steps: Sequence[Step]) -> int:
        fresh = [s for s in steps if s[0] > self._position]
        self.duplicates += len(steps) - len(fresh)
        if not fresh:
            return 0
        live = self.source == LIVE
        tape = ticks_of(fresh, self.instruments, demo=not live)
        ticks = tape.ticks if live else [
            structs.replace(t, seq=source_seq(self.source, t.seq)) for t in tape.ticks]
        result = await self.store.write(fresh[0][0], fresh[-1][0], ticks, tape.instruments,
                                        self.source)
        if not result.written:  # another writer got there first: take its position
            self.duplicates += len(fresh)
            self._position, self.instruments = await self.store.load_state(self.source)
            if self._position < fresh[-1][0]:
                raise TickStoreError("the tick store is behind steps it refused as written")
            return 0
        if result.gap is not None:
            self.gaps += 1
            log.error("ticks gap: seqs %d..%d were never offered to the tick writer",
                      *result.gap)
        self._position = fresh[-1][0]
        self.instruments.update(tape.instruments)
        self.writes += 1
        self.ticks += len(tape.ticks)
        if self.on_bars is not None and result.bars:
            try:
                self.on_bars(result.bars)
            except Exception:  # noqa: BLE001 - a live-update failure never undoes a write
                log.exception("live bar updates failed")
        return len(fresh)

    async def close(self) -> None:
        await self.store.close()
