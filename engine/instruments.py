"""Instruments: what is listed, its trading rules (tick, quantity step, price band) and its phase.

Owns the `Instrument` record and the operator commands that list, halt and resume one. An
instrument is in one of two phases: ``continuous`` (its book matches) or ``call`` (a call
auction collects orders; `engine.auctions.call` owns that phase). This module never matches,
never moves money or goods, and never decides whether an order may trade beyond the
instrument's own rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from engine.book import OrderBook
from engine.messages import (
    AddInstrument,
    Event,
    HaltInstrument,
    InstrumentAdded,
    InstrumentHalted,
    InstrumentResumed,
    ResumeInstrument,
    command_rejected,
)

CONTINUOUS: Final = "continuous"
CALL: Final = "call"


class Instrument:
    """One listed instrument, as the engine works with it.

    The same concept has other shapes, each for its own reader: `InstrumentAdded` (the event
    that listed it), `engine.state.InstrumentState` (its snapshot record, array-like and
    versioned) and `engine.views.InstrumentView` (the read-only answer to a query). This
    hand-written slotted class stays because every order reads its tick, step, band and phase:
    slot reads cost less than a msgspec Struct's, and its state (last price, halt, phase)
    changes in place."""

    __slots__ = (
        "symbol",
        "herb",
        "grade",
        "unit",
        "tick_vnd",
        "qty_step",
        "band_bps",
        "ref_price_vnd",
        "last_price_vnd",
        "halted",
        "phase",  # CONTINUOUS, or CALL while a call auction collects orders
    )

    def __init__(
        self,
        symbol: str,
        herb: str,
        grade: str,
        unit: str,
        tick_vnd: int,
        qty_step: int,
        band_bps: int | None,
        ref_price_vnd: int | None,
    ) -> None:
        self.symbol = symbol
        self.herb = herb
        self.grade = grade
        self.unit = unit
        self.tick_vnd = tick_vnd
        self.qty_step = qty_step
        self.band_bps = band_bps
        self.ref_price_vnd = ref_price_vnd
        self.last_price_vnd: int | None = None
        self.halted = False
        self.phase: str = CONTINUOUS

    def reference_price(self) -> int | None:
        """The price the band is measured from: the last trade, else the listed reference."""
        return self.last_price_vnd if self.last_price_vnd is not None else self.ref_price_vnd

    def out_of_band(self, price: int) -> bool:
        if self.band_bps is None:
            return False
        ref = self.reference_price()
        return ref is not None and abs(price - ref) * 10_000 > ref * self.band_bps


def add_instrument(
    instruments: dict[str, Instrument], books: dict[str, OrderBook],
    book_factory: Callable[[str], OrderBook], cmd: AddInstrument,
) -> list[Event]:
    """List an instrument with an empty book, or refuse."""
    if cmd.symbol in instruments:
        return command_rejected(cmd, "duplicate_instrument", cmd.symbol)
    if cmd.tick_vnd <= 0:
        return command_rejected(cmd, "invalid_tick", "tick_vnd must be positive")
    if cmd.qty_step <= 0:
        return command_rejected(cmd, "invalid_qty_step", "qty_step must be positive")
    if cmd.band_bps is not None and cmd.band_bps <= 0:
        return command_rejected(cmd, "invalid_band", "band_bps must be positive")
    if cmd.ref_price_vnd is not None and (
        cmd.ref_price_vnd <= 0 or cmd.ref_price_vnd % cmd.tick_vnd
    ):
        return command_rejected(cmd, "invalid_ref_price", "a positive multiple of the tick")
    instruments[cmd.symbol] = Instrument(
        cmd.symbol, cmd.herb, cmd.grade, cmd.unit, cmd.tick_vnd, cmd.qty_step, cmd.band_bps,
        cmd.ref_price_vnd,
    )
    books[cmd.symbol] = book_factory(cmd.symbol)
    return [
        InstrumentAdded(
            seq=cmd.seq, ts_ns=cmd.ts_ns, symbol=cmd.symbol, herb=cmd.herb,
            grade=cmd.grade, unit=cmd.unit, tick_vnd=cmd.tick_vnd, qty_step=cmd.qty_step,
            band_bps=cmd.band_bps, ref_price_vnd=cmd.ref_price_vnd,
        )
    ]


def halt(instruments: dict[str, Instrument], cmd: HaltInstrument) -> list[Event]:
    inst = instruments.get(cmd.symbol)
    if inst is None:
        return command_rejected(cmd, "unknown_symbol", cmd.symbol)
    if inst.halted:
        return command_rejected(cmd, "already_halted", cmd.symbol)
    inst.halted = True
    return [InstrumentHalted(seq=cmd.seq, ts_ns=cmd.ts_ns, symbol=cmd.symbol)]


def resume(instruments: dict[str, Instrument], cmd: ResumeInstrument) -> list[Event]:
    inst = instruments.get(cmd.symbol)
    if inst is None:
        return command_rejected(cmd, "unknown_symbol", cmd.symbol)
    if not inst.halted:
        return command_rejected(cmd, "not_halted", cmd.symbol)
    inst.halted = False
    return [InstrumentResumed(seq=cmd.seq, ts_ns=cmd.ts_ns, symbol=cmd.symbol)]
