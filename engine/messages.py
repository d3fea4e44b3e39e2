"""The engine's message vocabulary: commands in, events out.

Commands are imperative (`PlaceOrder`), events past tense (`OrderAccepted`). Both are msgspec
Structs in tagged unions (tag field ``type``), so the same classes are the JSON scenario format,
the msgpack journal record and the test fixture. Decoders are built once, below.

Every command carries ``seq`` and ``ts_ns``, stamped by the sequencer (or the scenario runner);
every event repeats them. Commands are mutable only so that the sequencer can stamp them in place
without a copy on the hot path; nothing else writes to a command after it is stamped.

Units are in the names: ``*_vnd`` is integer đồng, ``qty`` is an integer count of the
instrument's unit (kg unless stated), ``*_ns`` is nanoseconds since the Unix epoch, ``*_bps``
is basis points. There are no floats here.

Numbers are deliberately not constrained in the types: a scenario or an API client that sends
``qty: 0`` must get an ``OrderRejected`` event with a reason code from the engine, which is the
single place business rules live. Strings are bounded so that a decoder never accepts
unbounded input.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

Symbol = Annotated[str, Meta(min_length=1, max_length=32)]
AccountId = Annotated[str, Meta(min_length=1, max_length=64)]
ClientOrderId = Annotated[str, Meta(min_length=1, max_length=64)]
LotId = Annotated[str, Meta(min_length=1, max_length=64)]
Side = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]
TimeInForce = Literal["gtc", "ioc", "fok", "gtd"]

BUY: Side = "buy"
SELL: Side = "sell"


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


class Cmd(Struct, tag_field="type", kw_only=True, omit_defaults=True):
    """Base of every command; ``seq`` and ``ts_ns`` are stamped by the sequencer."""

    seq: int = 0
    ts_ns: int = 0


class AddInstrument(Cmd, tag="add_instrument", kw_only=True, omit_defaults=True):
    """Operator: list a tradable graded commodity. ``band_bps`` rejects orders priced more than
    that many basis points away from the reference price (last trade, else ``ref_price_vnd``)."""

    symbol: Symbol
    herb: Annotated[str, Meta(min_length=1, max_length=32)]
    grade: Annotated[str, Meta(min_length=1, max_length=16)]
    unit: Annotated[str, Meta(min_length=1, max_length=8)] = "kg"
    tick_vnd: int
    qty_step: int = 1
    band_bps: int | None = None
    ref_price_vnd: int | None = None


class HaltInstrument(Cmd, tag="halt_instrument", kw_only=True, omit_defaults=True):
    """Operator: stop trading; resting orders stay, new orders and replaces are rejected."""

    symbol: Symbol


class ResumeInstrument(Cmd, tag="resume_instrument", kw_only=True, omit_defaults=True):
    symbol: Symbol


class Deposit(Cmd, tag="deposit", kw_only=True, omit_defaults=True):
    """Operator: cash arrives in an account (the bank side is outside the engine)."""

    account: AccountId
    amount_vnd: int


class Withdraw(Cmd, tag="withdraw", kw_only=True, omit_defaults=True):
    """Operator: cash leaves an account; never more than the part not held by orders."""

    account: AccountId
    amount_vnd: int


class ReceiveLot(Cmd, tag="receive_lot", kw_only=True, omit_defaults=True):
    """Operator: a graded lot enters custody at the market, owned by ``account``, tradable on
    ``symbol``. Lots are delivered oldest received first."""

    lot_id: LotId
    account: AccountId
    symbol: Symbol
    qty: int


class WithdrawLot(Cmd, tag="withdraw_lot", kw_only=True, omit_defaults=True):
    """Operator: the owner takes the unsold rest of a lot out of custody. Goods held by the
    owner's sell orders cannot leave."""

    lot_id: LotId
    account: AccountId


class PlaceOrder(Cmd, tag="place_order", kw_only=True, omit_defaults=True):
    """Trader: a new order. Limit orders need ``price_vnd``. A market buy needs
    ``cash_cap_vnd``: the most it may spend, held in full while it executes; it stops before a
    fill that would pass the cap. GTD orders need ``expire_at_ns``."""

    account: AccountId
    client_order_id: ClientOrderId
    symbol: Symbol
    side: Side
    order_type: OrderType = "limit"
    price_vnd: int | None = None
    qty: int
    tif: TimeInForce = "gtc"
    post_only: bool = False
    expire_at_ns: int | None = None
    cash_cap_vnd: int | None = None


class CancelOrder(Cmd, tag="cancel_order", kw_only=True, omit_defaults=True):
    account: AccountId
    order_id: int


class ReplaceOrder(Cmd, tag="replace_order", kw_only=True, omit_defaults=True):
    """Trader: change a resting order's total quantity and/or price. Lowering the quantity at the
    same price keeps time priority; a new price or a larger quantity loses it (and may trade)."""

    account: AccountId
    order_id: int
    qty: int | None = None
    price_vnd: int | None = None


class Tick(Cmd, tag="tick", kw_only=True, omit_defaults=True):
    """Clock: time has passed; expires GTD orders whose time has come (and, later, drives
    auction clocks)."""


Command = (
    AddInstrument
    | HaltInstrument
    | ResumeInstrument
    | Deposit
    | Withdraw
    | ReceiveLot
    | WithdrawLot
    | PlaceOrder
    | CancelOrder
    | ReplaceOrder
    | Tick
)


# ---------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------


class Ev(Struct, tag_field="type", kw_only=True, omit_defaults=True, frozen=True):
    """Base of every event: the command's global ``seq`` and ``ts_ns``."""

    seq: int
    ts_ns: int


class InstrumentAdded(Ev, tag="instrument_added", kw_only=True, omit_defaults=True, frozen=True):
    symbol: str
    herb: str
    grade: str
    unit: str
    tick_vnd: int
    qty_step: int
    band_bps: int | None = None
    ref_price_vnd: int | None = None


class InstrumentHalted(Ev, tag="instrument_halted", kw_only=True, omit_defaults=True, frozen=True):
    symbol: str


class InstrumentResumed(
    Ev, tag="instrument_resumed", kw_only=True, omit_defaults=True, frozen=True
):
    symbol: str


class CashDeposited(Ev, tag="cash_deposited", kw_only=True, omit_defaults=True, frozen=True):
    account: str
    amount_vnd: int
    balance_vnd: int


class CashWithdrawn(Ev, tag="cash_withdrawn", kw_only=True, omit_defaults=True, frozen=True):
    account: str
    amount_vnd: int
    balance_vnd: int


class LotReceived(Ev, tag="lot_received", kw_only=True, omit_defaults=True, frozen=True):
    lot_id: str
    account: str
    symbol: str
    qty: int


class LotWithdrawn(Ev, tag="lot_withdrawn", kw_only=True, omit_defaults=True, frozen=True):
    lot_id: str
    account: str
    symbol: str
    qty: int


class CommandRejected(Ev, tag="command_rejected", kw_only=True, omit_defaults=True, frozen=True):
    """An operator, cash or lot command was refused; nothing changed."""

    command: str
    reason: str
    detail: str = ""
    account: str | None = None


class OrderRejected(Ev, tag="order_rejected", kw_only=True, omit_defaults=True, frozen=True):
    """A new order was refused before it touched any state."""

    account: str
    client_order_id: str
    symbol: str
    reason: str
    detail: str = ""


class CancelRejected(Ev, tag="cancel_rejected", kw_only=True, omit_defaults=True, frozen=True):
    """A cancel or replace was refused (``request`` says which); the order is unchanged."""

    account: str
    order_id: int
    request: Literal["cancel", "replace"]
    reason: str
    detail: str = ""


class OrderAccepted(Ev, tag="order_accepted", kw_only=True, omit_defaults=True, frozen=True):
    """The order passed validation and its risk hold was taken; ``order_id`` is the seq of the
    command that placed it."""

    order_id: int
    account: str
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    price_vnd: int | None
    qty: int
    tif: TimeInForce
    post_only: bool = False
    expire_at_ns: int | None = None


class OrderResent(Ev, tag="order_resent", kw_only=True, omit_defaults=True, frozen=True):
    """A client order id that the account already used came again: no new order; this reports
    the original order as it stands now."""

    order_id: int
    account: str
    client_order_id: str
    symbol: str
    status: str
    filled_qty: int
    leaves_qty: int


class LotLeg(Struct, array_like=True, frozen=True):
    """Part of a trade delivered from one lot (encoded as ``[lot_id, qty]``)."""

    lot_id: str
    qty: int


class TradeExecuted(Ev, tag="trade_executed", kw_only=True, omit_defaults=True, frozen=True):
    """A fill at the resting (maker) order's price. ``lots`` lists the seller's lots that
    delivered the goods, oldest received first. Leaves are what each order has left unfilled."""

    trade_id: int
    symbol: str
    price_vnd: int
    qty: int
    aggressor: Side
    maker_order_id: int
    taker_order_id: int
    buyer: str
    seller: str
    maker_leaves_qty: int
    taker_leaves_qty: int
    lots: list[LotLeg]


class OrderCancelled(Ev, tag="order_cancelled", kw_only=True, omit_defaults=True, frozen=True):
    """The order is done with ``leaves_qty`` unfilled. Reasons: ``user``, ``ioc`` (an IOC or
    market remainder), ``fok``, ``self_trade``, ``cash_cap``."""

    order_id: int
    account: str
    symbol: str
    side: Side
    reason: str
    filled_qty: int
    leaves_qty: int


class OrderExpired(Ev, tag="order_expired", kw_only=True, omit_defaults=True, frozen=True):
    order_id: int
    account: str
    symbol: str
    side: Side
    filled_qty: int
    leaves_qty: int


class OrderReplaced(Ev, tag="order_replaced", kw_only=True, omit_defaults=True, frozen=True):
    order_id: int
    account: str
    symbol: str
    side: Side
    price_vnd: int
    qty: int
    leaves_qty: int
    priority_kept: bool


class BookUpdated(Ev, tag="book_updated", kw_only=True, omit_defaults=True, frozen=True):
    """The price levels one command changed on one book, as absolute quantities (0 = the level
    is gone). ``book_seq`` rises by exactly one per event of the same symbol."""

    symbol: str
    book_seq: int
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]


Event = (
    InstrumentAdded
    | InstrumentHalted
    | InstrumentResumed
    | CashDeposited
    | CashWithdrawn
    | LotReceived
    | LotWithdrawn
    | CommandRejected
    | OrderRejected
    | CancelRejected
    | OrderAccepted
    | OrderResent
    | TradeExecuted
    | OrderCancelled
    | OrderExpired
    | OrderReplaced
    | BookUpdated
)

command_json_decoder = msgspec.json.Decoder(Command)
command_msgpack_decoder = msgspec.msgpack.Decoder(Command)
event_json_decoder = msgspec.json.Decoder(Event)
event_msgpack_decoder = msgspec.msgpack.Decoder(Event)
