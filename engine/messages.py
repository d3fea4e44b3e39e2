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

Every limit of a command is declared here, once, in its type (`Annotated` with `Meta`), and
every door uses it: the REST and WebSocket request types reuse these aliases, the scenario runner
decodes with these decoders, and the journal refuses to append a command that its own decoder
would not read back (`engine.durable.journal.JournalWriter.append`), so whatever is journaled,
recovery can read. Numbers are bounded only by what must hold for any command (money and
quantities fit 64-bit totals, times fit nanoseconds since 1970 in 63 bits); the business
rules inside those bounds (``qty: 0``, an off-tick price) are the engine's, which refuses with a
reason code.
Identifiers have documented character sets (the ``*_PATTERN`` constants below): no control
characters, markup, spaces or bidirectional overrides ever reach a log, a file name or a page.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from engine.reasons import (
    BidRejectReason,
    CancelRejectReason,
    CloseReason,
    CommandRejectReason,
    OrderCancelReason,
    OrderRejectReason,
    ResendReason,
    VoidReason,
)


def whole(body: str) -> str:
    """A pattern that must match the whole string, read alike by Python and by JSON Schema
    (ECMA 262) tools: ``$`` alone would let Python accept a trailing newline, and ``\\Z`` means
    something else to ECMA regexes, so ``$(?!\\n)`` it is."""
    return f"^(?:{body})$(?!\\n)"


# The patterns are plain character classes (lengths are separate bounds): the journal re-checks
# every command against them before appending it, so each costs on the hot path (about 0.5 µs
# per identifier in msgspec; a nested pattern costs half as much again).
#: Instrument symbols: an upper-case letter or digit, then upper-case letters, digits, ``-``,
#: ``.``, ``_`` (``QUE-BARK-A``).
SYMBOL_PATTERN = whole(r"[A-Z0-9][A-Z0-9._-]*")
#: Participant (account) ids: a letter or digit, then letters, digits, ``-``, ``_``, ``.``.
ACCOUNT_PATTERN = whole(r"[A-Za-z0-9][A-Za-z0-9._-]*")
#: Lot ids: as account ids, at most 20 (the GS1 batch/lot field, AI (10), of a trace code).
LOT_PATTERN = ACCOUNT_PATTERN
#: Client order ids and transfer (bank) references: letters, digits and ``. _ : @ / + = -``
#: (enough for UUIDs, base64 and namespaced ids; never spaces, quotes, markup or controls).
CLIENT_ID_PATTERN = whole(r"[A-Za-z0-9._:@/+=-]+")

Symbol = Annotated[str, Meta(min_length=1, max_length=32, pattern=SYMBOL_PATTERN)]
AccountId = Annotated[str, Meta(min_length=1, max_length=64, pattern=ACCOUNT_PATTERN)]
ClientOrderId = Annotated[str, Meta(min_length=1, max_length=64, pattern=CLIENT_ID_PATTERN)]
LotId = Annotated[str, Meta(min_length=1, max_length=20, pattern=LOT_PATTERN)]
TransferId = Annotated[str, Meta(min_length=1, max_length=64, pattern=CLIENT_ID_PATTERN)]
#: A herb's code (``QUE``, ``QUE-BARK``: as symbols), a grade (``A``, ``PREMIUM``), a unit
#: (``kg``).
HerbCode = Annotated[str, Meta(min_length=1, max_length=32, pattern=SYMBOL_PATTERN)]
GradeName = Annotated[str, Meta(min_length=1, max_length=16, pattern=whole(r"[A-Za-z0-9_-]+"))]
UnitName = Annotated[str, Meta(min_length=1, max_length=8, pattern=whole(r"[a-z]+"))]
#: The largest amount of money one command may carry (10^15 VND, about 40 billion USD): far
#: above any trade of this market, far below where a total could leave msgpack's 64 bits.
MAX_VND = 10**15
#: The largest quantity one command may carry (10^9 kg: a million tonnes).
MAX_QTY = 10**9
#: The largest band one instrument may have (10^6 bps = 10,000 %).
MAX_BPS = 1_000_000
#: Times are nanoseconds since the Unix epoch in 63 bits: 1970-01-01 up to 2262-04-11.
MAX_NS = 2**63 - 1
#: Ids (order ids, auction ids, seqs) are positive 63-bit integers.
MAX_ID = 2**63 - 1
#: Decoding refuses numbers beyond these bounds (with a path in the message); the engine refuses
#: zero and negatives itself, with a reason code, so those still decode.
Vnd = Annotated[int, Meta(ge=-MAX_VND, le=MAX_VND)]
Qty = Annotated[int, Meta(ge=-MAX_QTY, le=MAX_QTY)]
Ns = Annotated[int, Meta(ge=0, le=MAX_NS)]
Bps = Annotated[int, Meta(ge=-MAX_BPS, le=MAX_BPS)]
Id = Annotated[int, Meta(ge=0, le=MAX_ID)]
Side = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]
TimeInForce = Literal["gtc", "ioc", "fok", "gtd"]

BUY: Side = "buy"
SELL: Side = "sell"


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


class Cmd(
    Struct, tag_field="type", kw_only=True, omit_defaults=True, forbid_unknown_fields=True,
    gc=False,
):
    """Base of every command; ``seq`` and ``ts_ns`` are stamped by the sequencer. Unknown fields
    are refused (inherited by every command), so a misspelt field never silently changes a
    command; the journal is written by our own encoder, so its decoder never meets one.

    ``gc=False`` (inherited, like the events' below): a message holds only values (strings,
    numbers, lists and tuples of values), never anything that points back at it, so it can
    never be part of a reference cycle, and the cyclic garbage collector need not track it.
    Every command and several events per command are allocated on the hot path: untracked,
    they neither bring the next collection nearer nor cost it a visit (issue 16; see
    docs/benchmarks.md)."""

    seq: Id = 0
    ts_ns: Ns = 0


class AddInstrument(Cmd, tag="add_instrument", kw_only=True, omit_defaults=True):
    """Operator: list a tradable graded commodity. ``band_bps`` rejects orders priced more than
    that many basis points away from the reference price (last trade, else ``ref_price_vnd``)."""

    symbol: Symbol
    herb: HerbCode
    grade: GradeName
    unit: UnitName = "kg"
    tick_vnd: Vnd
    qty_step: Qty = 1
    band_bps: Bps | None = None
    ref_price_vnd: Vnd | None = None


class HaltInstrument(Cmd, tag="halt_instrument", kw_only=True, omit_defaults=True):
    """Operator: stop trading; resting orders stay, new orders and replaces are rejected."""

    symbol: Symbol


class ResumeInstrument(Cmd, tag="resume_instrument", kw_only=True, omit_defaults=True):
    symbol: Symbol


class Deposit(Cmd, tag="deposit", kw_only=True, omit_defaults=True):
    """Operator: cash arrives in an account (the bank side is outside the engine).
    ``transfer_id`` (the bank reference) makes it idempotent: a second deposit or withdrawal
    with the same id is refused (``duplicate_transfer``), so a command read twice after a crash,
    or a retried request, never moves money twice."""

    account: AccountId
    amount_vnd: Vnd
    transfer_id: TransferId | None = None


class Withdraw(Cmd, tag="withdraw", kw_only=True, omit_defaults=True):
    """Operator: cash leaves an account; never more than the part not held by orders.
    ``transfer_id`` as for `Deposit`."""

    account: AccountId
    amount_vnd: Vnd
    transfer_id: TransferId | None = None


class ReceiveLot(Cmd, tag="receive_lot", kw_only=True, omit_defaults=True):
    """Operator: a graded lot enters custody at the market, owned by ``account``, tradable on
    ``symbol``. Lots are delivered oldest received first."""

    lot_id: LotId
    account: AccountId
    symbol: Symbol
    qty: Qty
    warehouse: LotText | None = None  # a recorded lot (issue 11): where it is stored


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
    price_vnd: Vnd | None = None
    qty: Qty
    tif: TimeInForce = "gtc"
    post_only: bool = False
    expire_at_ns: Ns | None = None
    cash_cap_vnd: Vnd | None = None


class CancelOrder(Cmd, tag="cancel_order", kw_only=True, omit_defaults=True):
    account: AccountId
    order_id: Id


class ReplaceOrder(Cmd, tag="replace_order", kw_only=True, omit_defaults=True):
    """Trader: change a resting order's total quantity and/or price. Lowering the quantity at the
    same price keeps time priority; a new price or a larger quantity loses it (and may trade)."""

    account: AccountId
    order_id: Id
    qty: Qty | None = None
    price_vnd: Vnd | None = None


class Tick(Cmd, tag="tick", kw_only=True, omit_defaults=True):
    """Clock: time has passed; expires GTD orders whose time has come and drives auction
    clocks and closes."""


class PurgeOrders(Cmd, tag="purge_orders", kw_only=True, omit_defaults=True):
    """Housekeeping: forget the orders placed at or before ``upto_order_id`` that are done
    (filled, cancelled, expired), and the auctions created by then that are closed. Their
    status can no longer be queried and the orders' client order ids may be used again: client
    order ids are unique within the retention window the operator (or the gateway's clock)
    chooses. Open orders and live auctions are never forgotten."""

    upto_order_id: Id


# ---------------------------------------------------------------------------------------------
# Lots (issue 11): the lot record lives in the engine (engine/lots.py), changed only by these
# commands through the lot lifecycle table (grading/lifecycle.py). A lot registered here is
# received into the market's warehouse (``ReceiveLot`` with the same id), put on the book of its
# grade by ``ListLotOnBook`` or on sale by ``CreateAuction``, taken off by ``DelistLot`` and out
# by ``WithdrawLot``. See docs/grading.md.
# ---------------------------------------------------------------------------------------------

#: Free text of a lot record (names, communes, issuers, labs): as `grading.lot.Name`.
LotText = Annotated[str, Meta(min_length=1, max_length=120)]
#: An ISO calendar date (``2026-10-20``); the lifecycle checks that it is a real day.
IsoDate = Annotated[str, Meta(min_length=10, max_length=10, pattern=whole(r"[0-9-]+"))]
#: A decimal number as text, exactly as `decimal.Decimal` prints it (``2.84``, ``1E-7``).
DecimalText = Annotated[str, Meta(min_length=1, max_length=48, pattern=whole(r"[0-9Ee.+-]+"))]
#: A growing-area code (mã số vùng trồng), as `grading.lot.AreaCode`.
AreaCodeText = Annotated[
    str, Meta(min_length=2, max_length=64, pattern=whole(r"[A-Za-z0-9][A-Za-z0-9._/-]+"))
]
ParamName = Annotated[str, Meta(min_length=1, max_length=48)]
ShortText = Annotated[str, Meta(min_length=1, max_length=24)]
UnitText = Annotated[str, Meta(min_length=1, max_length=16)]


class GrowingAreaIn(Struct, kw_only=True, forbid_unknown_fields=True):
    code: AreaCodeText
    issuer: LotText
    valid_from: IsoDate
    valid_until: IsoDate | None = None


class CertificationIn(Struct, kw_only=True, forbid_unknown_fields=True):
    scheme: Literal["GACP-WHO", "organic", "OCOP", "FSC"]
    certificate_no: LotText
    issuer: LotText
    valid_from: IsoDate
    valid_until: IsoDate
    stars: Annotated[int, Meta(ge=1, le=5)] | None = None


class RegisterLot(Cmd, tag="register_lot", kw_only=True, omit_defaults=True):
    """Cooperative: a new lot of ``spec_id`` (``QUE-BARK``), owned by ``account``."""

    lot_id: LotId
    account: AccountId
    cooperative_name: LotText
    cooperative_no: Annotated[int, Meta(ge=1, le=99999)]
    spec_id: HerbCode
    qty: Qty
    harvest_date: IsoDate
    growing_area: GrowingAreaIn
    commune: LotText
    certifications: Annotated[list[CertificationIn], Meta(max_length=16)] = []


class AssayValue(Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """One result as the lab reported it (as `grading.assay.AssayResult`)."""

    parameter: ParamName
    value: ShortText
    unit: UnitText
    method: Annotated[str, Meta(max_length=300)] = ""
    basis: Literal["as_is", "dried"] = "as_is"


class LimitBreach(Struct, kw_only=True, forbid_unknown_fields=True):
    parameter: ParamName
    kind: Literal["quality", "contaminant"]
    bound: Literal["min", "max"]
    measured: DecimalText
    allowed: DecimalText
    unit: UnitText


class GradeVerdict(Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """The decision `grading.assay.grade_lot` made from an assay's results (every field of
    `grading.assay.GradeDecision`, decimals as text): computed by the door from the results,
    never stated by a client (`engine.lots.assay_command`)."""

    spec_id: HerbCode
    destination: ShortText
    grade: GradeName
    decided_by: ParamName
    failures: Annotated[list[LimitBreach], Meta(max_length=64)] = []
    active_parameter: ParamName
    active_content: DecimalText
    active_unit: UnitText
    physical_class: ShortText | None = None
    values: Annotated[list[tuple[ParamName, DecimalText]], Meta(max_length=64)] = []
    not_tested: Annotated[list[ParamName], Meta(max_length=64)] = []
    converted: Annotated[list[ParamName], Meta(max_length=64)] = []
    unverified: Annotated[list[LotText], Meta(max_length=128)] = []


class AssayLot(Cmd, tag="assay_lot", kw_only=True, omit_defaults=True):
    """Lab: the results of an assay of ``lot_id`` with the grade computed from them."""

    lot_id: LotId
    lab: LotText
    sample_id: LotText
    results: Annotated[list[AssayValue], Meta(min_length=1, max_length=64)]
    decision: GradeVerdict


class ListLotOnBook(Cmd, tag="list_lot", kw_only=True, omit_defaults=True):
    """Owner: put the lot's goods in the warehouse on the book of its grade."""

    lot_id: LotId
    account: AccountId


class DelistLot(Cmd, tag="delist_lot", kw_only=True, omit_defaults=True):
    """Owner: take the lot's unsold goods off the book, back into the warehouse."""

    lot_id: LotId
    account: AccountId


# ---------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------


class Ev(Struct, tag_field="type", omit_defaults=True, frozen=True, gc=False):
    """Base of every event: the command's global ``seq`` and ``ts_ns``.

    Not ``kw_only`` (nor are the four events of the order hot path below, `OrderAccepted`,
    `OrderCancelled`, `TradeExecuted` and `BookUpdated`): the engine builds those positionally,
    about a third cheaper than by keywords (issue 16, docs/benchmarks.md). Everything else
    still builds every event by keywords. Field order and the encoding are unchanged (keys are
    written in declaration order either way), so journals, streams and hashes are too. A new
    field of those four goes last, with a default, or every positional call site
    (`engine.exchange`, `engine.book`, `engine.fills`) changes with it."""

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
    transfer_id: str | None = None


class CashWithdrawn(Ev, tag="cash_withdrawn", kw_only=True, omit_defaults=True, frozen=True):
    account: str
    amount_vnd: int
    balance_vnd: int
    transfer_id: str | None = None


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
    reason: CommandRejectReason
    detail: str = ""
    account: str | None = None


class OrderRejected(Ev, tag="order_rejected", kw_only=True, omit_defaults=True, frozen=True):
    """A new order was refused before it touched any state."""

    account: str
    client_order_id: str
    symbol: str
    reason: OrderRejectReason
    detail: str = ""


class CancelRejected(Ev, tag="cancel_rejected", kw_only=True, omit_defaults=True, frozen=True):
    """A cancel or replace was refused (``request`` says which); the order is unchanged."""

    account: str
    order_id: int
    request: Literal["cancel", "replace"]
    reason: CancelRejectReason
    detail: str = ""


class OrderAccepted(Ev, tag="order_accepted", omit_defaults=True, frozen=True):
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
    the original order as it stands now. ``reason`` is empty when the command repeats the
    original placement; ``client_order_id_reused`` when it carried a different order (that new
    intent is refused, and ``detail`` names the fields that differ)."""

    order_id: int
    account: str
    client_order_id: str
    symbol: str
    status: str
    filled_qty: int
    leaves_qty: int
    reason: ResendReason = ""
    detail: str = ""


class OrdersPurged(Ev, tag="orders_purged", kw_only=True, omit_defaults=True, frozen=True):
    """``count`` done orders placed at or before ``upto_order_id`` were forgotten, and
    ``auctions`` closed auctions created by then."""

    upto_order_id: int
    count: int
    auctions: int = 0


class LotLeg(Struct, array_like=True, frozen=True, gc=False):  # a value: see `Cmd`
    """Part of a trade delivered from one lot (encoded as ``[lot_id, qty]``)."""

    lot_id: str
    qty: int


class TradeExecuted(Ev, tag="trade_executed", omit_defaults=True, frozen=True):
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
    # one per leg, when any leg is of a recorded lot (issue 11; omitted otherwise)
    lot_values: list[LotValue] = []


class OrderCancelled(Ev, tag="order_cancelled", omit_defaults=True, frozen=True):
    """The order is done with ``leaves_qty`` unfilled. Reasons: ``user``, ``ioc`` (an IOC or
    market remainder), ``fok``, ``self_trade``, ``cash_cap``, ``balance_limit`` (the seller may
    take no more cash: `engine.accounts.MAX_BALANCE_VND`), ``lot_rejected`` (a sell on goods of
    a lot that failed a re-assay); `engine.reasons.OrderCancelReason` declares them."""

    order_id: int
    account: str
    symbol: str
    side: Side
    reason: OrderCancelReason
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


class BookUpdated(Ev, tag="book_updated", omit_defaults=True, frozen=True):
    """The price levels one command changed on one book, as absolute quantities (0 = the level
    is gone). ``book_seq`` rises by exactly one per event of the same symbol."""

    symbol: str
    book_seq: int
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]


#: The field order the positional call sites (`engine.exchange`, `engine.book`, `engine.fills`)
#: are written against: a field added in the middle of one of these events would shift values
#: silently where the types match, so a module that moved one refuses to load.
POSITIONAL_EVENT_FIELDS: dict[type[Struct], tuple[str, ...]] = {
    OrderAccepted: ("seq", "ts_ns", "order_id", "account", "client_order_id", "symbol", "side",
                    "order_type", "price_vnd", "qty", "tif", "post_only", "expire_at_ns"),
    OrderCancelled: ("seq", "ts_ns", "order_id", "account", "symbol", "side", "reason",
                     "filled_qty", "leaves_qty"),
    TradeExecuted: ("seq", "ts_ns", "trade_id", "symbol", "price_vnd", "qty", "aggressor",
                    "maker_order_id", "taker_order_id", "buyer", "seller", "maker_leaves_qty",
                    "taker_leaves_qty", "lots", "lot_values"),
    BookUpdated: ("seq", "ts_ns", "symbol", "book_seq", "bids", "asks"),
}
for _cls, _fields in POSITIONAL_EVENT_FIELDS.items():
    # a new field may go last, with a default: the call sites then leave it at its default
    if _cls.__struct_fields__[:len(_fields)] != _fields:
        raise ImportError(f"{_cls.__name__}'s fields moved: the positional call sites in "
                          "engine.exchange, engine.book and engine.fills must move with them")


# -- lots (issue 11) ---------------------------------------------------------------------------


class LotUpdated(Ev, tag="lot_updated", kw_only=True, omit_defaults=True, frozen=True):
    """Public: a lot record changed (``action``: register, assay, receive, list, delist, sale,
    cancel_sale (a sale's trade failed in settlement), withdraw, freeze, release).
    ``custody_qty`` is what the owner still has at the market (in the warehouse, on the book or
    in an auction); it always equals ``remaining_qty`` once the lot is received, until it is
    withdrawn."""

    lot_id: str
    account: str
    action: str
    state: str
    qty: int
    remaining_qty: int
    custody_qty: int
    grade: str | None = None
    symbol: str | None = None
    active_content: str | None = None


class LotValue(Struct, array_like=True, frozen=True):
    """The value of one lot leg of a trade (encoded ``[content, price, resale]``): the lot's
    active-ingredient content in % of the herb as traded (``active_content``, decimal text), the
    trade price per kg of active ingredient (VND, rounded half to even), and whether the seller
    resold goods bought on the market (``resale``) rather than selling from its own lot. Both
    None for a lot received without a record."""

    active_content: str | None
    price_per_kg_active_vnd: int | None
    resale: bool


# ---------------------------------------------------------------------------------------------
# Auctions (engine/auctions): lot auctions and the call phase of a book. Appended; see
# docs/auctions.md. An auction's id is the seq of the command that created it, a bid's id the
# seq of the command that placed it, so neither can collide with an order id.
# Events with a ``recipient`` are private to that account (the gateway routes them to it
# alone); events without one are public.
# ---------------------------------------------------------------------------------------------

AuctionKind = Literal["english", "dutch", "sealed"]
SealedPricing = Literal["first", "second"]


class CreateAuction(Cmd, tag="create_auction", kw_only=True, omit_defaults=True):
    """Operator or the selling cooperative: sell ``qty`` of lot ``lot_id`` (owned by ``seller``,
    in custody, tradable on its instrument) by auction. Prices are VND per unit (kg).

    english: ``start_price_vnd`` is the opening bid; soft close extends the close by
    ``extend_ns`` for a lead taken in the last ``extend_ns``, at most ``extension_cap_ns`` in all.
    sealed: ``start_price_vnd`` is the minimum bid; ``pricing`` first or second price.
    dutch: the clock starts at ``start_price_vnd`` and falls ``step_vnd`` every ``interval_ns``
    down to ``floor_vnd``; purchases of at least ``min_qty``; after a partial purchase it restarts
    ``restart_steps`` steps above the price paid. ``end_ns`` is not used.
    ``reserve_vnd`` (english, sealed) is hidden from bidders."""

    kind: AuctionKind
    seller: AccountId
    lot_id: LotId
    qty: Qty
    start_ns: Ns
    end_ns: Ns = 0
    start_price_vnd: Vnd
    reserve_vnd: Vnd | None = None
    extend_ns: Ns = 0
    extension_cap_ns: Ns = 0
    pricing: SealedPricing = "first"
    step_vnd: Vnd = 0
    interval_ns: Ns = 0
    floor_vnd: Vnd = 0
    min_qty: Qty = 0
    restart_steps: Qty = 0


class PlaceBid(Cmd, tag="place_bid", kw_only=True, omit_defaults=True):
    """Trader: a binding bid. English: ``price_vnd`` is the bidder's maximum per unit (the
    engine bids for them only as much as needed); sealed: the bid per unit. Either may be raised
    by a later bid, never lowered or withdrawn."""

    auction_id: Id
    account: AccountId
    price_vnd: Vnd


class DutchBuy(Cmd, tag="dutch_buy", kw_only=True, omit_defaults=True):
    """Trader: stop the Dutch clock at ``price_vnd`` (the price the buyer saw) and buy ``qty``."""

    auction_id: Id
    account: AccountId
    price_vnd: Vnd
    qty: Qty


class StartCall(Cmd, tag="start_call", kw_only=True, omit_defaults=True):
    """Operator: put an instrument into a call phase (start of day, or re-opening a halted
    instrument). ``close_at_ns``: the first tick at or after it uncrosses the book."""

    symbol: Symbol
    close_at_ns: Ns | None = None


class EndCall(Cmd, tag="end_call", kw_only=True, omit_defaults=True):
    """Operator: uncross the call now and return the instrument to continuous trading."""

    symbol: Symbol


CancelReason = Annotated[str, Meta(min_length=1, max_length=200)]


class CancelAuction(Cmd, tag="cancel_auction", kw_only=True, omit_defaults=True):
    """Call off an auction that has not closed: the operator at any time (``by_operator``, set
    by the gateway for the operator role), the seller (``account``) only before the first bid
    or Dutch purchase. Holds are released, the unsold goods return to the seller; sales a Dutch
    clock already made stand. ``reason`` is free text, shown to the public."""

    auction_id: Id
    account: AccountId
    by_operator: bool = False
    reason: CancelReason


class AuctionCreated(Ev, tag="auction_created", kw_only=True, omit_defaults=True, frozen=True):
    """Public terms of a new auction (never the reserve: ``reserve_set`` says if there is one)."""

    auction_id: int
    kind: AuctionKind
    seller: str
    lot_id: str
    symbol: str
    qty: int
    start_ns: int
    end_ns: int = 0
    start_price_vnd: int
    reserve_set: bool = False
    extend_ns: int = 0
    extension_cap_ns: int = 0
    pricing: SealedPricing | None = None
    step_vnd: int = 0
    interval_ns: int = 0
    floor_vnd: int = 0
    min_qty: int = 0
    restart_steps: int = 0


class AuctionOpened(Ev, tag="auction_opened", kw_only=True, omit_defaults=True, frozen=True):
    """Bidding is open; ``price_vnd`` is the minimum first bid (english, sealed) or the clock
    price (dutch)."""

    auction_id: int
    kind: AuctionKind
    price_vnd: int
    close_ns: int = 0


class AuctionBidRejected(
    Ev, tag="auction_bid_rejected", kw_only=True, omit_defaults=True, frozen=True
):
    """Private: a bid, Dutch buy or auction command was refused; nothing changed.
    ``request`` is the command's tag."""

    auction_id: int
    recipient: str
    request: str
    reason: BidRejectReason
    detail: str = ""


class BidAccepted(Ev, tag="bid_accepted", kw_only=True, omit_defaults=True, frozen=True):
    """Public (english): the visible price after a bid. Never a hidden maximum."""

    auction_id: int
    bid_id: int
    price_vnd: int
    min_next_bid_vnd: int
    reserve_met: bool
    bids: int
    close_ns: int


class BidPlaced(Ev, tag="bid_placed", kw_only=True, omit_defaults=True, frozen=True):
    """Private to the bidder: their bid or maximum as the engine holds it, and whether they lead
    (english); ``held_vnd`` is the cash the bid now holds."""

    auction_id: int
    recipient: str
    bid_id: int
    kind: AuctionKind
    max_price_vnd: int
    leading: bool = False
    price_vnd: int = 0
    held_vnd: int


class Outbid(Ev, tag="outbid", kw_only=True, omit_defaults=True, frozen=True):
    """Private: the recipient no longer leads; their hold is released."""

    auction_id: int
    recipient: str
    price_vnd: int
    released_vnd: int


class AuctionExtended(Ev, tag="auction_extended", kw_only=True, omit_defaults=True, frozen=True):
    auction_id: int
    close_ns: int
    extended_by_ns: int
    total_extension_ns: int


class ClockTicked(Ev, tag="clock_ticked", kw_only=True, omit_defaults=True, frozen=True):
    """Public (dutch): the clock shows ``price_vnd`` until ``next_step_ns``. ``restarted`` after
    a partial purchase."""

    auction_id: int
    price_vnd: int
    remaining_qty: int
    next_step_ns: int
    restarted: bool = False


class AuctionClosed(Ev, tag="auction_closed", kw_only=True, omit_defaults=True, frozen=True):
    """Public: the auction is over. ``outcome`` sold, partly_sold (dutch) or unsold; ``reason``
    says why it ended (``sold``, ``no_bids``, ``reserve_not_met``, ``floor_reached``,
    ``sold_out``, ``cancelled``). ``trade_ids`` are its `TradeExecuted` events (all of them,
    for dutch)."""

    auction_id: int
    kind: AuctionKind
    outcome: Literal["sold", "partly_sold", "unsold"]
    reason: CloseReason
    sold_qty: int
    unsold_qty: int
    price_vnd: int | None = None
    winner: str | None = None
    trade_ids: list[int] = []


class OpenedBid(Struct, array_like=True, frozen=True):
    """One sealed bid as published at the close (encoded ``[bidder, price_vnd]``): ``bidder``
    is the bidder's pseudonym in that auction, never the account id."""

    bidder: str
    price_vnd: int


class SealedBidsOpened(
    Ev, tag="sealed_bids_opened", kw_only=True, omit_defaults=True, frozen=True
):
    """Public (sealed), at the close, before `AuctionClosed`: every live bid, best first (price,
    then time), as a public tender opens its bids. Bidders are pseudonyms stable within the
    auction (``bidder 1``, ``bidder 2``, … by the order of their first bid);
    ``winning_bidder`` is the winner's pseudonym (None when unsold). Nothing about a sealed
    auction's bids is public before this."""

    auction_id: int
    bids: list[OpenedBid]
    winning_bidder: str | None = None


class AuctionCancelled(
    Ev, tag="auction_cancelled", kw_only=True, omit_defaults=True, frozen=True
):
    """Public: the auction was called off by the operator or the seller, with their
    ``reason`` (free text); `AuctionClosed` with reason ``cancelled`` follows."""

    auction_id: int
    by: Literal["operator", "seller"]
    reason: str


class BidVoided(Ev, tag="bid_voided", kw_only=True, omit_defaults=True, frozen=True):
    """Private: the recipient's bid is void because the auction was cancelled; the
    ``released_vnd`` it held is free again."""

    auction_id: int
    recipient: str
    bid_id: int
    released_vnd: int
    reason: VoidReason = "auction_cancelled"


class CallStarted(Ev, tag="call_started", kw_only=True, omit_defaults=True, frozen=True):
    symbol: str
    close_at_ns: int | None = None
    reopening: bool = False


class IndicativePrice(Ev, tag="indicative_price", kw_only=True, omit_defaults=True, frozen=True):
    """Public: the price and volume the call would uncross at now (None: nothing crosses);
    ``imbalance_qty`` is surplus demand (+) or supply (-) at that price."""

    symbol: str
    price_vnd: int | None
    volume: int
    imbalance_qty: int


class CallUncrossed(Ev, tag="call_uncrossed", kw_only=True, omit_defaults=True, frozen=True):
    """Public: the call closed; ``volume`` traded at ``price_vnd`` (None when nothing crossed);
    continuous trading resumes."""

    symbol: str
    price_vnd: int | None
    volume: int
    imbalance_qty: int


# ---------------------------------------------------------------------------------------------
# Price insurance (issue 13): the operator's terms per herb and season, journaled so that they
# survive restarts and can be audited; the engine only validates and records them
# (engine/insurance.py). Reference prices and payouts are read models (settlement/ticks).
# ---------------------------------------------------------------------------------------------

#: A season: a year, optionally with a part (``2026``, ``2026-H2``, ``2026-AUTUMN``).
SeasonName = Annotated[
    str, Meta(min_length=4, max_length=16, pattern=whole(r"[0-9]{4}(?:-[A-Z0-9]+)?"))
]


class SetInsuranceTerms(Cmd, tag="set_insurance_terms", kw_only=True, omit_defaults=True):
    """Operator: the insured floor price of ``herb`` (a herb product: an instrument symbol
    without its grade, ``QUE-BARK``) for ``season``, and its reference window
    ``[window_start_ns, window_end_ns)``: the reference price is the VWAP of the official trades
    in the window when they total at least ``min_volume_kg``. ``demo``: the season is simulated
    (its reference reads demo trades). Terms may be replaced until their window starts."""

    herb: HerbCode
    season: SeasonName
    floor_vnd: Vnd
    window_start_ns: Ns
    window_end_ns: Ns
    min_volume_kg: Qty
    demo: bool = False


class InsuranceTermsSet(
    Ev, tag="insurance_terms_set", kw_only=True, omit_defaults=True, frozen=True
):
    """Public: the terms of ``herb`` in ``season`` as now recorded; ``replaced`` when they
    replace earlier terms of the same herb and season (the journal keeps both)."""

    herb: str
    season: str
    floor_vnd: int
    window_start_ns: int
    window_end_ns: int
    min_volume_kg: int
    demo: bool = False
    replaced: bool = False
# Delivery versus payment (issue 12, engine/dvp.py): a trade moves nothing at once. The buyer's
# cash and the seller's goods of a trade stay theirs, in a DvP hold, until the operator marks
# it paid (cash to the seller, goods to the buyer, in one step) or failed (the holds released).
# ---------------------------------------------------------------------------------------------

#: Where a trade is in delivery versus payment (the table is `engine.dvp.TRANSITIONS`).
SettlementState = Literal["pending", "paid", "delivered", "settled", "failed"]
#: The states an operator may move a trade to.
SettlementMove = Literal["paid", "delivered", "settled", "failed"]


class SetTradeSettlement(Cmd, tag="set_trade_settlement", kw_only=True, omit_defaults=True):
    """Operator: move a trade to ``state`` (pending -> paid -> delivered -> settled, or
    pending -> failed). ``paid`` moves the cash and the goods; ``failed`` releases the holds."""

    trade_id: Annotated[int, Meta(ge=1, le=MAX_ID)]
    state: SettlementMove


class TradeSettlementChanged(
    Ev, tag="trade_settlement_changed", kw_only=True, omit_defaults=True, frozen=True
):
    """A trade moved in delivery versus payment. It carries the whole trade (what the ledger
    books at payment or reverses at a failure needs nothing else): ``value_vnd`` is price x
    qty, ``trade_ts_ns`` the time of the trade, ``lots`` the legs it delivers."""

    trade_id: int
    symbol: str
    from_state: SettlementState
    to_state: SettlementState
    buyer: str
    seller: str
    price_vnd: int
    qty: int
    value_vnd: int
    trade_ts_ns: int
    lots: list[LotLeg]


# ---------------------------------------------------------------------------------------------
# The unions and their decoders (after every class, so appended messages can join them)
# ---------------------------------------------------------------------------------------------

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
    | PurgeOrders
    | CreateAuction
    | PlaceBid
    | DutchBuy
    | StartCall
    | EndCall
    | CancelAuction
    | RegisterLot
    | AssayLot
    | ListLotOnBook
    | DelistLot
    | SetInsuranceTerms
    | SetTradeSettlement
)

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
    | OrdersPurged
    | TradeExecuted
    | OrderCancelled
    | OrderExpired
    | OrderReplaced
    | BookUpdated
    | AuctionCreated
    | AuctionOpened
    | AuctionBidRejected
    | BidAccepted
    | BidPlaced
    | Outbid
    | AuctionExtended
    | ClockTicked
    | AuctionClosed
    | CallStarted
    | IndicativePrice
    | CallUncrossed
    | SealedBidsOpened
    | AuctionCancelled
    | BidVoided
    | LotUpdated
    | InsuranceTermsSet
    | TradeSettlementChanged
)

command_json_decoder = msgspec.json.Decoder(Command)
command_msgpack_decoder = msgspec.msgpack.Decoder(Command)
event_json_decoder = msgspec.json.Decoder(Event)
event_msgpack_decoder = msgspec.msgpack.Decoder(Event)


def command_rejected(
    cmd: Command, reason: CommandRejectReason, detail: str = "", account: str | None = None
) -> list[Event]:
    """The one refusal of an operator, cash, custody or call command: `CommandRejected` naming
    the command by its tag."""
    tag = type(cmd).__struct_config__.tag
    return [
        CommandRejected(
            seq=cmd.seq, ts_ns=cmd.ts_ns, command=str(tag), reason=reason, detail=detail,
            account=account,
        )
    ]
