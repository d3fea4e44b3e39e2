"""The REST API's request and response bodies: the single source of its schema.

Requests are decoded (and validated, with a JSON path in every error) straight into these
Structs; responses are checked against them in the tests; `gateway.api.openapi` generates the
OpenAPI document from them. Public names follow the contract (``price``, ``qty``, ISO ``ts``).
Where the engine's names (``price_vnd``, ``ts_ns``) become these: events published on the
WebSocket are renamed by the one function `gateway.stream.wire.public`; a REST body is built
field by field from engine events or views by its handler (`gateway.api.outcomes` for order
results), and a request becomes a command there too, with times formatted by
`gateway.stream.wire.iso_ts`. This module only declares shapes. Every field that becomes a
command field has the command's own type (`engine.messages`: ``Vnd``, ``Qty``, ``Symbol``, …),
so a limit is declared once and a request past it is a 422 here, before it reaches the journal.
Numbers a business rule decides (a zero quantity, an off-tick price) are the engine's to refuse,
with a reason code: never a business rule here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct

from engine.messages import (
    Bps,
    ClientOrderId,
    GradeName,
    HerbCode,
    LotText,
    OrderType,
    Qty,
    SettlementMove,
    SettlementState,
    Side,
    Symbol,
    TimeInForce,
    TransferId,
    UnitName,
    Vnd,
)
from gateway.auth import ParticipantId, Role
from grading.assay import AssayResult
from grading.lot import Certification, GrowingArea, Lot, LotId

Name = LotText  # names and free text: the commands' own bound
Level = Annotated[list[int], Meta(min_length=2, max_length=2)]


class _In(Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class _Out(Struct, kw_only=True):
    pass


# ---------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------


class OrderRequest(_In, kw_only=True, forbid_unknown_fields=True):
    """A new order. ``price`` in VND per unit (required for limit orders); ``cash_cap`` (VND):
    the most a market buy may spend; ``expire_at`` (RFC 3339) for ``tif: gtd``.
    ``client_order_id``: resending one answers 200 with the original order."""

    symbol: Annotated[Symbol, Meta(examples=["QUE-BARK-A"])]
    side: Side
    type: OrderType = "limit"
    price: Annotated[Vnd, Meta(examples=[61_500])] | None = None
    qty: Annotated[Qty, Meta(examples=[10])]
    tif: TimeInForce = "gtc"
    post_only: bool = False
    expire_at: datetime | None = None
    client_order_id: ClientOrderId | None = None
    cash_cap: Vnd | None = None


class ReplaceRequest(_In, kw_only=True, forbid_unknown_fields=True):
    qty: Qty | None = None
    price: Vnd | None = None


class CashRequest(_In, kw_only=True, forbid_unknown_fields=True):
    account: ParticipantId
    amount_vnd: Vnd
    # the bank reference: a second deposit or withdrawal with it is refused (409), so a retry
    # never moves money twice; without one the gateway makes one up (only the engine's own
    # re-reads are then protected)
    transfer_id: TransferId | None = None


class InstrumentRequest(_In, kw_only=True, forbid_unknown_fields=True):
    symbol: Symbol
    herb: HerbCode
    grade: GradeName
    unit: UnitName = "kg"
    tick_vnd: Vnd
    qty_step: Qty = 1
    band_bps: Bps | None = None
    ref_price_vnd: Vnd | None = None


class ParticipantRequest(_In, kw_only=True, forbid_unknown_fields=True):
    id: ParticipantId
    name: Name
    role: Role
    number: Annotated[int, Meta(ge=0, le=99999)] = 0


class LotRequest(_In, kw_only=True, forbid_unknown_fields=True):
    """A cooperative registers a lot (it becomes the owner); quantities in kg."""

    lot_id: LotId
    spec_id: HerbCode
    qty: Qty
    harvest_date: date
    growing_area: GrowingArea
    commune: Name
    certifications: Annotated[list[Certification], Meta(max_length=16)] = []


class AssayRequest(_In, kw_only=True, forbid_unknown_fields=True):
    """A lab's results; the grade follows from them (grading.grade_lot)."""

    sample_id: Name
    results: Annotated[list[AssayResult], Meta(min_length=1, max_length=64)]
    destination: Annotated[str, Meta(min_length=1, max_length=16)] = "domestic"


class ReceiveRequest(_In, kw_only=True, forbid_unknown_fields=True):
    qty_received: Qty
    warehouse: Name = "Kho chợ đầu mối Lào Cai"


class ListRequest(_In, kw_only=True, forbid_unknown_fields=True):
    venue: Literal["book"] = "book"


# ---------------------------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------------------------


class InstrumentOut(_Out, kw_only=True):
    symbol: str
    herb: str
    grade: str
    unit: str
    tick_vnd: int
    qty_step: int
    status: Literal["open", "halted", "call"]
    band_bps: int | None = None
    ref_price_vnd: int | None = None
    last_price: int | None = None


class InstrumentsOut(_Out, kw_only=True):
    instruments: list[InstrumentOut]


class BookOut(_Out, kw_only=True):
    """The same object as a WebSocket book snapshot."""

    channel: str
    type: Literal["snapshot"]
    symbol: str
    seq: int
    bids: list[Level]
    asks: list[Level]
    checksum: int
    book_seq: int  # the engine's book sequence the snapshot is at


class LotLegOut(_Out, kw_only=True):
    """One lot leg of a trade of a recorded lot: its active content (% of the herb as traded,
    decimal text) and the price per kg of active ingredient (VND, half to even)."""

    lot_id: str
    qty: int
    active_content: str | None
    price_per_kg_active: int | None
    resale: bool


class TradeOut(_Out, kw_only=True):
    seq: int
    ts: str
    price: int
    qty: int
    aggressor: Side
    lots: list[LotLegOut] | None = None  # trades of recorded lots only


class TradesOut(_Out, kw_only=True):
    trades: list[TradeOut]


class FillOut(_Out, kw_only=True):
    trade_id: int
    order_id: int
    symbol: str
    side: Side
    price: int
    qty: int
    leaves_qty: int
    liquidity: Literal["maker", "taker"]
    ts: str
    lots: list[list[str | int]]
    lot_values: list[LotLegOut] | None = None  # trades of recorded lots only


class FillsOut(_Out, kw_only=True):
    fills: list[FillOut]


class OrderResultOut(_Out, kw_only=True):
    """The outcome of placing (201), resending (200), replacing or cancelling an order."""

    order_id: int
    client_order_id: str
    symbol: str
    status: Literal["new", "partially_filled", "filled", "cancelled", "expired"]
    filled_qty: int
    leaves_qty: int
    fills: list[FillOut] = []
    cancel_reason: str | None = None
    resent: bool = False


class OrderOut(_Out, kw_only=True):
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    price: int | None
    qty: int
    filled_qty: int
    leaves_qty: int
    status: str
    tif: str
    resting: bool


class OrdersOut(_Out, kw_only=True):
    orders: list[OrderOut]


class TickerOut(_Out, kw_only=True):
    symbol: str
    last: int | None
    open: int | None
    high: int | None
    low: int | None
    change: int | None
    volume: int
    trades: int
    best_bid: int | None
    best_ask: int | None
    last_price_per_kg_active: int | None = None  # of the last trade of a recorded lot


class TickersOut(_Out, kw_only=True):
    tickers: list[TickerOut]


class GoodsOut(_Out, kw_only=True):
    symbol: str
    qty: int
    held_qty: int
    available_qty: int
    lots: list[list[str | int]]
    dvp_qty: int = 0  # part of held_qty: sold, waiting for payment (not in lots)


class BalancesOut(_Out, kw_only=True):
    account: str
    cash_vnd: int
    cash_held_vnd: int
    cash_available_vnd: int
    goods: list[GoodsOut]
    cash_dvp_vnd: int = 0  # part of cash_held_vnd: bought, waiting for payment


class CashOut(_Out, kw_only=True):
    account: str
    amount_vnd: int
    balance_vnd: int
    transfer_id: str | None = None


class ParticipantOut(_Out, kw_only=True):
    id: str
    name: str
    role: Role
    number: int = 0


class ParticipantsOut(_Out, kw_only=True):
    participants: list[ParticipantOut]


class TokenOut(_Out, kw_only=True):
    """The token is shown here once; the server keeps only its SHA-256."""

    participant: str
    token: str


class LotOut(_Out, kw_only=True):
    lot_id: str
    spec_id: str
    cooperative: str
    state: str
    qty: int
    remaining_qty: int
    grade: str | None
    symbol: str | None
    trace_url: str
    custody_qty: int = 0  # what the owner has at the market (warehouse, book, auction)
    active_content: str | None = None  # % of the herb as traded, by the latest assay
    record: Lot  # the full lot record
    next_step: str = ""  # what the lot needs next on its way to a sale (gateway.api.lots)


class LotsOut(_Out, kw_only=True):
    lots: list[LotOut]


class ConsumerOut(_Out, kw_only=True):
    """One downstream consumer of the event stream (the ledger; docs/settlement.md)."""

    state: Literal["starting", "live", "catching_up", "retrying", "stopped"]
    position: int  # the last seq it consumed durably
    lag_commands: int  # the market's seq minus position
    lag_s: float  # age of the oldest command it has not consumed (0 when caught up)
    gaps: int  # seqs never offered to it (an alarm; always 0 when healthy)
    duplicates: int  # commands offered again after it had them (skipped)
    buffered: int  # commands waiting in its in-memory buffer
    overflows: int  # times its buffer was dropped for being full (it then read the journal)
    catch_ups: int  # times it read the journal
    errors: int  # failed writes or starts (it retried)
    last_error: str | None = None


class StatusOut(_Out, kw_only=True):
    status: str
    seq: int
    queue_depth: int
    consumers: dict[str, ConsumerOut] = {}
    # the engine core this process runs (/healthz only): "compiled" (the mypyc build) or
    # "interpreted"
    core: str = ""


# ---------------------------------------------------------------------------------------------
# Delivery versus payment (gateway/api/dvp.py)
# ---------------------------------------------------------------------------------------------


class SettlementRequest(_In, kw_only=True, forbid_unknown_fields=True):
    """Move a trade: pending -> paid -> delivered -> settled, or pending -> failed."""

    state: SettlementMove


class SettlementOut(_Out, kw_only=True):
    """A trade in delivery versus payment: ``due_date`` is its Vietnam date + the settlement
    cycle (T+N); ``overdue`` once that date has passed and it is not settled."""

    trade_id: int
    symbol: str
    state: SettlementState
    buyer: str
    seller: str
    price: int
    qty: int
    value_vnd: int
    ts: str
    due_date: date
    overdue: bool
    lots: list[list[str | int]]
    previous_state: str | None = None  # on a change: where it came from


class SettlementsOut(_Out, kw_only=True):
    trades: list[SettlementOut]
    cycle_days: int
    next_after: int | None = None  # ?after= of the next page; null at the end
