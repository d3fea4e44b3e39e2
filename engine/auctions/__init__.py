"""Lot auctions (English, Dutch clock, sealed bid) and the call auction: the auctions issue.

`AuctionHouse` is the exchange's auction desk. It is part of the sans-I/O core: no clock, no
I/O; time arrives in commands (``tick`` drives clocks and closes). The exchange owns it and
calls it through four hooks only:
- ``handlers()``: command type -> handler, merged into the exchange's dispatch table;
- ``on_tick(cmd)``: events due at ``cmd.ts_ns`` (clock steps, closes), after GTD expiry;
- ``encode_state()`` / ``restore_state(raw)``: its part of the snapshot, as msgpack bytes;
- ``holds()``: the cash and goods its live bids and lots hold, so the exchange's invariant check
  can prove every hold is accounted for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from engine.messages import Event, Tick

if TYPE_CHECKING:
    from engine.exchange import Exchange


class AuctionHouse:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    def handlers(self) -> dict[type, Callable[[Any], list[Event]]]:
        return {}

    def on_tick(self, cmd: Tick) -> list[Event]:
        return []

    def encode_state(self) -> bytes:
        return msgspec.msgpack.encode(None)

    def restore_state(self, raw: bytes) -> None:
        msgspec.msgpack.decode(raw)

    def holds(self) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
        """(cash held per account, goods held per (account, symbol)) by auctions."""
        return {}, {}

    def _check(self) -> None:
        pass
