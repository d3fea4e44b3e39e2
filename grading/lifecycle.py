"""The lot lifecycle: one transition table and the one function that changes a lot.

Owns: `TRANSITIONS` (state, action) → state, and `step(lot, command, last_ts)`, the one
function that decides a command and the lot's new state: it returns a `Step` (the new state plus
the history entry, and the sale, to append) or `Refused` with a reason code: a business refusal
is a result, not an exception. `apply(lot, command)` is `step` followed by a new record with the
entries appended (`Accepted`), for callers that keep whole `Lot` values. `step` never copies
``sales`` or ``history`` (it returns them as given), so its cost does not grow with a lot's
sales; the engine (`engine.lots.LotCustody`) keeps those entries in its own append-only lists
and records a sale in O(1), where `apply` would copy both tuples on every trade. Re-assay is
allowed until the lot is listed; each assay appends a grade record. Must never mutate a lot, do
I/O or read the clock.

    registered ─sample→ sampled ─assay→ graded | rejected
    graded ─receive→ received ─list→ listed ─sale→ partly_sold | sold
    graded/rejected/received ─assay→ (re-assay: new grade record)
    any non-final state ─withdraw→ withdrawn;  listed/partly_sold ─delist→ received
    a sale's trade fails in settlement ─cancel_sale→ the sale undone: listed/partly_sold stay
      listed (partly_sold while other sales remain), sold → received (its listing ended when it
      sold out), received/rejected/withdrawn stay as they are

A cancelled sale is the one way out of a final state: ``sold`` meant "sold, payment pending"
until the trade settles, and a withdrawn lot still owns the quantity of a sale that failed
after the withdrawal (`engine.lots` sends those goods after the rest of the lot).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec
from msgspec import Struct

from grading.instruments import instrument_symbol
from grading.lot import (
    Assay,
    CancelSale,
    Certification,
    Cooperative,
    Delist,
    GradeRecord,
    GrowingArea,
    HistoryEntry,
    ListLot,
    Lot,
    LotCommand,
    LotState,
    Process,
    Receive,
    RecordSale,
    Register,
    Sale,
    Sample,
    Withdraw,
)

Action = Literal[
    "sample", "assay_pass", "assay_fail", "process", "receive", "list", "delist", "sell_part",
    "sell_all", "withdraw", "cancel_sale_part", "cancel_sale_all",
]

#: The actions that undo a sale (its trade failed): ``_all`` when nothing stays sold after it.
CANCEL_ACTIONS: tuple[Action, ...] = ("cancel_sale_part", "cancel_sale_all")

TRANSITIONS: dict[tuple[LotState, Action], LotState] = {
    ("registered", "process"): "registered",
    ("registered", "sample"): "sampled",
    ("registered", "withdraw"): "withdrawn",
    ("sampled", "assay_pass"): "graded",
    ("sampled", "assay_fail"): "rejected",
    ("sampled", "withdraw"): "withdrawn",
    ("graded", "assay_pass"): "graded",
    ("graded", "assay_fail"): "rejected",
    ("graded", "receive"): "received",
    ("graded", "withdraw"): "withdrawn",
    ("rejected", "assay_pass"): "graded",
    ("rejected", "assay_fail"): "rejected",
    ("rejected", "withdraw"): "withdrawn",
    ("received", "assay_pass"): "received",
    ("received", "assay_fail"): "rejected",
    ("received", "list"): "listed",
    ("received", "withdraw"): "withdrawn",
    ("listed", "sell_part"): "partly_sold",
    ("listed", "sell_all"): "sold",
    ("listed", "delist"): "received",
    ("listed", "withdraw"): "withdrawn",
    ("partly_sold", "sell_part"): "partly_sold",
    ("partly_sold", "sell_all"): "sold",
    ("partly_sold", "delist"): "received",
    ("partly_sold", "withdraw"): "withdrawn",
    # a sale undone (its trade failed in settlement): the lot is what it would be without it
    ("listed", "cancel_sale_part"): "listed",
    ("listed", "cancel_sale_all"): "listed",
    ("partly_sold", "cancel_sale_part"): "partly_sold",
    ("partly_sold", "cancel_sale_all"): "listed",
    ("sold", "cancel_sale_part"): "received",
    ("sold", "cancel_sale_all"): "received",
    ("received", "cancel_sale_part"): "received",
    ("received", "cancel_sale_all"): "received",
    ("rejected", "cancel_sale_part"): "rejected",
    ("rejected", "cancel_sale_all"): "rejected",
    ("withdrawn", "cancel_sale_part"): "withdrawn",
    ("withdrawn", "cancel_sale_all"): "withdrawn",
}
#: No way out of these but a cancelled sale (`CANCEL_ACTIONS`).
FINAL_STATES: tuple[LotState, ...] = ("sold", "withdrawn")

RefusalCode = Literal[
    "illegal_transition", "bad_quantity", "bad_price", "wrong_spec", "wrong_instrument",
    "growing_area_not_valid", "time_went_back", "bad_record",
]


class Accepted(Struct, frozen=True, kw_only=True):
    lot: Lot


class Refused(Struct, frozen=True, kw_only=True):
    code: RefusalCode
    detail: str


def register_lot(
    *, lot_id: str, cooperative: Cooperative, spec_id: str, qty: int, harvest_date: object,
    growing_area: GrowingArea, commune: str, certifications: tuple[Certification, ...] = (),
    ts: datetime,
) -> Accepted | Refused:
    """A new lot in state ``registered``. The growing-area code must be valid on the harvest
    date, which cannot be after ``ts``; field formats are checked by msgspec (``bad_record``
    names the field)."""
    if qty <= 0:
        return Refused(code="bad_quantity", detail=f"quantity must be positive, got {qty}")
    # Round-trip through builtins so that nested records built in Python (which msgspec does
    # not validate on construction) are checked exactly like a decoded request would be.
    try:
        lot = msgspec.convert(
            msgspec.to_builtins(dict(
                lot_id=lot_id, cooperative=cooperative, spec_id=spec_id, qty=qty,
                harvest_date=harvest_date, growing_area=growing_area, commune=commune,
                certifications=certifications,
                history=(HistoryEntry(state="registered", command=Register(ts=ts, qty=qty)),))),
            Lot,
        )
    except msgspec.ValidationError as exc:
        return Refused(code="bad_record", detail=str(exc))
    if lot.harvest_date > ts.date():
        return Refused(code="bad_record", detail=f"harvest date {lot.harvest_date.isoformat()} "
                       "is after the registration")
    if not growing_area.valid_on(lot.harvest_date):
        return Refused(code="growing_area_not_valid",
                       detail=f"growing-area code {growing_area.code} is not valid on "
                              f"{lot.harvest_date.isoformat()}")
    return Accepted(lot=lot)


def _action(lot: Lot, cmd: LotCommand) -> Action:
    match cmd:
        case Sample():
            return "sample"
        case Assay():
            return "assay_pass" if cmd.decision.passed else "assay_fail"
        case Process():
            return "process"
        case Receive():
            return "receive"
        case ListLot():
            return "list"
        case Delist():
            return "delist"
        case RecordSale():
            return "sell_all" if cmd.qty == lot.remaining_qty else "sell_part"
        case CancelSale():
            return "cancel_sale_all" if cmd.qty == lot.sold_qty else "cancel_sale_part"
        case Withdraw():
            return "withdraw"
    raise AssertionError(cmd)


def _check(lot: Lot, cmd: LotCommand) -> Refused | None:
    """Business checks beyond the table."""
    match cmd:
        case Assay() if cmd.decision.spec_id != lot.spec_id:
            return Refused(code="wrong_spec",
                           detail=f"assay graded {cmd.decision.spec_id}, lot is {lot.spec_id}")
        case Process() if cmd.qty_after <= 0 or cmd.qty_after > lot.qty:
            return Refused(code="bad_quantity", detail="processing cannot add weight or "
                           f"empty the lot: {lot.qty} → {cmd.qty_after}")
        case Receive() if cmd.qty_received <= 0 or cmd.qty_received > lot.qty:
            return Refused(code="bad_quantity",
                           detail=f"received {cmd.qty_received} of a {lot.qty} kg lot")
        case ListLot() if cmd.venue == "book":
            code, product = lot.spec_id.split("-", 1)
            assert lot.grade is not None
            want = instrument_symbol(code, product, lot.grade.decision.grade)
            if cmd.symbol != want:
                return Refused(code="wrong_instrument",
                               detail=f"a {lot.grade.decision.grade} lot trades on {want}")
        case RecordSale() if cmd.qty <= 0 or cmd.qty > lot.remaining_qty:
            return Refused(code="bad_quantity",
                           detail=f"sale of {cmd.qty} kg, {lot.remaining_qty} kg remain")
        case RecordSale() if cmd.price_vnd <= 0:
            return Refused(code="bad_price", detail="price must be a positive integer VND")
        case CancelSale() if cmd.qty <= 0 or cmd.qty > lot.sold_qty:
            return Refused(code="bad_quantity",
                           detail=f"cancel a sale of {cmd.qty} kg, {lot.sold_qty} kg sold")
    return None


class Step(Struct, frozen=True, kw_only=True):
    """An accepted command's effect before it is written into a record: the lot's new state
    (every field but ``sales`` and ``history``, which are the input's, not copied), the
    entries the command appends to them, and (a cancelled sale) the ``trade_ref`` whose sales
    leave ``sales``."""

    lot: Lot
    entry: HistoryEntry
    sale: Sale | None = None
    cancelled: str | None = None


def step(lot: Lot, cmd: LotCommand, last_ts: datetime) -> Step | Refused:
    """The one function that changes a lot: the table decides whether ``cmd`` is legal in the
    lot's state. ``last_ts`` is the time of the lot's last history entry (a holder that keeps
    the entries itself passes it; `apply` reads it from the record). Work is independent of the
    number of sales: the growing tuples are never copied here."""
    if cmd.ts < last_ts:
        return Refused(code="time_went_back", detail="command is older than the lot's last event")
    action = _action(lot, cmd)
    new_state = TRANSITIONS.get((lot.state, action))
    if new_state is None:
        return Refused(code="illegal_transition",
                       detail=f"cannot {action.replace('_', ' ')} a lot that is {lot.state}")
    refusal = _check(lot, cmd)
    if refusal is not None:
        return refusal
    changes: dict[str, object] = {}
    sale = None
    cancelled = None
    match cmd:
        case Assay():
            changes["grades"] = (*lot.grades, GradeRecord(
                no=len(lot.grades) + 1, ts=cmd.ts, lab=cmd.lab, sample_id=cmd.sample_id,
                results=cmd.results, decision=cmd.decision))
        case Process():
            changes["qty"] = cmd.qty_after
        case Receive():
            changes["qty"] = cmd.qty_received
        case ListLot():
            changes["listing"] = cmd
        case Delist() | Withdraw():
            changes["listing"] = None
        case RecordSale():
            assert lot.listing is not None
            sale = Sale(ts=cmd.ts, qty=cmd.qty, price_vnd=cmd.price_vnd, buyer=cmd.buyer,
                        trade_ref=cmd.trade_ref, venue=lot.listing.symbol)
            changes["sold_qty"] = lot.sold_qty + cmd.qty
            if new_state == "sold":
                changes["listing"] = None
        case CancelSale():
            # the listing stays as it is: a sold lot has none (it ended when the lot sold
            # out), a listed one keeps its own (the goods' way back is the engine's concern)
            cancelled = cmd.trade_ref
            changes["sold_qty"] = lot.sold_qty - cmd.qty
    return Step(lot=msgspec.structs.replace(lot, state=new_state, **changes),
                entry=HistoryEntry(state=new_state, command=cmd), sale=sale,
                cancelled=cancelled)


def apply(lot: Lot, cmd: LotCommand) -> Accepted | Refused:
    """Apply one command to a whole record: `step`, then a new `Lot` whose ``history`` (and
    ``sales``, for a sale) are new tuples with the entry appended. ``lot`` is never changed, so
    every earlier result stays as it was; that copy costs O(entries), which is why the engine,
    which records thousands of sales per lot, keeps the entries itself and calls `step`."""
    s = step(lot, cmd, lot.history[-1].command.ts)
    if isinstance(s, Refused):
        return s
    sales = lot.sales if s.sale is None else (*lot.sales, s.sale)
    if isinstance(cmd, CancelSale):
        kept = tuple(x for x in sales if x.trade_ref != cmd.trade_ref)
        gone = sum(x.qty for x in sales) - sum(x.qty for x in kept)
        if gone != cmd.qty:  # `step` cannot see the sales: the whole record can
            return Refused(code="bad_quantity",
                           detail=f"sale {cmd.trade_ref} is {gone} kg, not {cmd.qty}")
        sales = kept
    return Accepted(lot=msgspec.structs.replace(s.lot, sales=sales,
                                                history=(*lot.history, s.entry)))
