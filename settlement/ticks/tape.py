"""The engine's events to ticks: a pure function (no I/O, no clock).

Owns the rules that turn a ``TradeExecuted`` into a `Tick`: its key ``(seq, n)`` (n counts the
command's trades), its venue, and its active-ingredient figures. A lot auction's trade is the
one whose maker is the auction (``maker_order_id`` = the auction id, which the same command
names in its ``AuctionClosed`` or, for a Dutch partial purchase, ``ClockTicked``); a call
auction's trades open a book and count as ``book``. ``active_mg`` sums, over the legs whose lot
has a content, content % × leg kg × 10,000; the price per kg of active ingredient is the
engine's own (`engine.messages.LotValue`) when the legs agree on one, else the trade's price
over the legs' active kilograms. Never sees a buyer or seller beyond reading past them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal

from msgspec import Struct

from engine.messages import AuctionClosed, ClockTicked, InstrumentAdded, TradeExecuted
from settlement.booking import Step
from settlement.ticks.model import Tick

#: symbol → (herb, grade)
Instruments = Mapping[str, tuple[str, str]]
_MG_PER_KG_PCT = 10_000  # 1 kg at 1 % is 10 g of active ingredient


class TapeBatch(Struct, frozen=True):
    """The ticks of some steps, and the instruments those steps added."""

    ticks: list[Tick]
    instruments: dict[str, tuple[str, str]]


def active_mg_of(content_pct: str, qty_kg: int) -> int:
    """Milligrams of active ingredient in ``qty_kg`` at ``content_pct`` (exact for contents
    with at most four decimals; rounded half to even beyond)."""
    mg = Decimal(content_pct) * qty_kg * _MG_PER_KG_PCT
    return int(mg.to_integral_value(rounding=ROUND_HALF_EVEN))


def _per_kg_active(ev: TradeExecuted, active_mg: int, active_qty: int) -> int | None:
    engine_values = {v.price_per_kg_active_vnd for v in ev.lot_values
                     if v.active_content is not None and v.price_per_kg_active_vnd is not None}
    if len(engine_values) == 1:
        return engine_values.pop()
    if active_mg <= 0:
        return None
    # legs of different contents: VND paid for them per kg (10**6 mg) of their active content
    q = Decimal(ev.price_vnd * active_qty * 10**6) / Decimal(active_mg)
    return int(q.to_integral_value(rounding=ROUND_HALF_EVEN))


def tick_of(ev: TradeExecuted, n: int, herb: str, grade: str, auction: bool,
            demo: bool = False) -> Tick:
    active_mg = 0
    active_qty = 0
    for leg, value in zip(ev.lots, ev.lot_values, strict=False):
        if value.active_content is not None:
            active_mg += active_mg_of(value.active_content, leg.qty)
            active_qty += leg.qty
    return Tick(
        seq=ev.seq, n=n, ts_ns=ev.ts_ns, trade_id=ev.trade_id, symbol=ev.symbol, herb=herb,
        grade=grade, venue="auction" if auction else "book", price_vnd=ev.price_vnd,
        qty=ev.qty, notional_vnd=ev.price_vnd * ev.qty,
        active_mg=active_mg or None,
        price_per_kg_active_vnd=_per_kg_active(ev, active_mg, active_qty) if active_mg else None,
        demo=demo, active_qty=active_qty if active_mg else None,
    )


def ticks_of(steps: Sequence[Step], instruments: Instruments, *, demo: bool = False) -> TapeBatch:
    """The ticks of ``steps`` in (seq, n) order. ``instruments`` is what came before the
    steps; it is not changed. A trade on a symbol no instrument names is a bug upstream."""
    added: dict[str, tuple[str, str]] = {}
    ticks: list[Tick] = []
    for _seq, events in steps:
        auctions = {ev.auction_id for ev in events if isinstance(ev, AuctionClosed | ClockTicked)}
        n = 0
        for ev in events:
            if isinstance(ev, InstrumentAdded):
                added[ev.symbol] = (ev.herb, ev.grade)
            elif isinstance(ev, TradeExecuted):
                herb, grade = added.get(ev.symbol) or instruments[ev.symbol]
                ticks.append(tick_of(ev, n, herb, grade, ev.maker_order_id in auctions, demo))
                n += 1
    return TapeBatch(ticks, added)
