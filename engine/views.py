"""Read-only answers to queries on the exchange: everything the gateway reads from the engine.

Queries are not commands: they change nothing and are not journaled. Each view is a frozen
Struct built from the engine's state at the moment of the query (`engine.queries` builds them),
so a reader can keep it without ever seeing, or changing, the engine's live records. The
gateway serves them as they are or maps them to its API shapes; `BookSnapshot` is also the shape
of a book snapshot on the market-data stream. This module never reads the engine's state itself.
"""

from __future__ import annotations

from msgspec import Struct

from engine.messages import OpenedBid, SettlementState


class BookSnapshot(Struct, kw_only=True, frozen=True):
    """Top levels of a book, best first, with the book sequence they are valid at."""

    symbol: str
    book_seq: int
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]


class OrderView(Struct, kw_only=True, frozen=True):
    """An order as it stands (`engine.order.Order` is the engine's working copy; the gateway's
    ``OrderOut`` is its API shape, with API names)."""

    order_id: int
    account: str
    client_order_id: str
    symbol: str
    side: str
    price_vnd: int | None
    qty: int
    filled_qty: int
    leaves_qty: int
    status: str
    tif: str
    resting: bool


class GoodsView(Struct, kw_only=True, frozen=True):
    """``qty`` = ``held_qty`` + ``available_qty``; ``dvp_qty`` is the part of ``held_qty`` sold
    and waiting for payment (no longer in ``lots``)."""

    symbol: str
    qty: int
    held_qty: int
    available_qty: int
    lots: list[tuple[str, int]]
    dvp_qty: int = 0


class AccountView(Struct, kw_only=True, frozen=True):
    """``cash_vnd`` = ``cash_held_vnd`` + ``cash_available_vnd``; ``cash_dvp_vnd`` is the part
    of ``cash_held_vnd`` that bought trades hold until they are paid."""

    account: str
    cash_vnd: int
    cash_held_vnd: int
    cash_available_vnd: int
    goods: list[GoodsView]
    cash_dvp_vnd: int = 0


class SettlementView(Struct, kw_only=True, frozen=True):
    """A trade waiting for settlement (delivery versus payment, `engine.dvp`)."""

    trade_id: int
    symbol: str
    state: SettlementState
    buyer: str
    seller: str
    price_vnd: int
    qty: int
    value_vnd: int
    ts_ns: int  # the trade's time
    lots: list[tuple[str, int]]


class InstrumentView(Struct, kw_only=True, frozen=True):
    """An instrument as it stands: its listing, last trade price, halt and phase
    (``continuous`` or ``call``)."""

    symbol: str
    herb: str
    grade: str
    unit: str
    tick_vnd: int
    qty_step: int
    band_bps: int | None
    ref_price_vnd: int | None
    last_price_vnd: int | None
    halted: bool
    phase: str


class AuctionView(Struct, kw_only=True, frozen=True):
    """A lot auction's public fields as they stand. ``opened`` is set for a closed sealed
    auction that had bids: the bids as opened at the close (pseudonyms) and the winner's
    pseudonym; nothing about a live sealed auction's bids is here but their count."""

    auction_id: int
    kind: str
    seller: str
    lot_id: str
    symbol: str
    qty: int
    status: str
    start_ns: int
    end_ns: int
    close_ns: int
    start_price_vnd: int
    reserve_set: bool
    price_vnd: int  # the English price, or the Dutch clock's; 0 before any
    bids: int
    remaining_qty: int
    sold_qty: int
    pricing: str
    step_vnd: int = 0  # dutch: the clock's step, floor and smallest purchase
    floor_vnd: int = 0
    min_qty: int = 0
    next_step_ns: int = 0  # dutch: when the clock next steps (0 before it starts)
    opened: tuple[list[OpenedBid], str | None] | None = None
    # after the close: what its `AuctionClosed` said (and who cancelled it, and why)
    outcome: str = ""
    close_reason: str = ""
    winner: str | None = None
    final_price_vnd: int | None = None
    cancelled_by: str | None = None
    cancel_reason: str = ""
