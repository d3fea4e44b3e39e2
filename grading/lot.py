"""Lot records: one physical batch from one cooperative, and what it accumulates.

Owns: the immutable record types (`Lot`, `GrowingArea`, `Certification`, `GradeRecord`,
`Sale`, the history entries) and their field rules. A record changes only through the lot
lifecycle (`grading.lifecycle.step`, or `apply`, which returns a new `Lot`); grades, custody
events and sales are append-only, so a re-assay adds a grade record and never overwrites one
(the engine keeps a recorded lot's sales and history in append-only lists beside its state:
`engine.lots.LotCustody`). The one exception: a sale whose trade fails in settlement leaves
``sales`` (it never happened), and the history records it as a `CancelSale` after the sale.
Must never read the clock: every timestamp is passed in, timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from msgspec import Meta, Struct, field

from engine import messages
from engine.messages import whole
from grading.assay import AssayResult, GradeDecision

Ts = Annotated[datetime, Meta(tz=True)]
LotId = messages.LotId  # one declaration: the engine's commands and the lot record agree
Name = Annotated[str, Meta(min_length=1, max_length=120)]
# A growing-area code (mã số vùng trồng) has no national pattern we can rely on: issuers
# (Plant Protection Department, provincial sub-departments) format them differently. We only
# bound it to printable ASCII code characters; the issuer and validity dates carry the rest.
AreaCode = Annotated[str, Meta(pattern=whole(r"[A-Za-z0-9][A-Za-z0-9\-._/]{1,63}"))]
CertScheme = Literal["GACP-WHO", "organic", "OCOP", "FSC"]
LotState = Literal[
    "registered", "sampled", "graded", "rejected", "received", "listed", "partly_sold",
    "sold", "withdrawn",
]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ts_of_ns(ns: int) -> datetime:
    """A command's ``ts_ns`` (the sequencer's clock) as the record's timestamp: UTC, whole
    microseconds (truncated), the same for every replay."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


class GrowingArea(Struct, frozen=True, kw_only=True):
    """Mã số vùng trồng: the code, who issued it and when it is valid (until ``None`` =
    open-ended)."""

    code: AreaCode
    issuer: Name
    valid_from: date
    valid_until: date | None = None

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


class Certification(Struct, frozen=True, kw_only=True):
    """A certificate the lot's producer holds; OCOP certificates carry 1–5 stars."""

    scheme: CertScheme
    certificate_no: Name
    issuer: Name
    valid_from: date
    valid_until: date
    stars: Annotated[int, Meta(ge=1, le=5)] | None = None

    def __post_init__(self) -> None:
        if (self.scheme == "OCOP") != (self.stars is not None):
            raise ValueError("stars are given for OCOP certificates and only for them")
        if self.valid_until < self.valid_from:
            raise ValueError("certificate valid_until is before valid_from")

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_until


class Cooperative(Struct, frozen=True, kw_only=True):
    """A seller. ``number`` is the market's registration number (the placeholder GTIN uses
    it); ``gtins`` maps spec ids to real GS1 GTINs once the cooperative has them."""

    id: Annotated[str, Meta(min_length=1, max_length=64)]
    name: Name
    number: Annotated[int, Meta(ge=1, le=99999)]
    gtins: dict[str, str] = {}


class GradeRecord(Struct, frozen=True, kw_only=True):
    """One assay and its grade; ``no`` counts from 1 and never repeats within a lot."""

    no: int
    ts: Ts
    lab: Name
    sample_id: Name
    results: tuple[AssayResult, ...]
    decision: GradeDecision


def trade_ref(trade_id: int) -> str:
    """A sale's reference to the engine trade that made it (kept in this form since the first
    journals; it looks like an invoice number and is not one)."""
    return f"HX-{trade_id}"


def trade_id_of(ref: str) -> int | None:
    """The trade id in a `trade_ref`, or None for any other text."""
    head, _, digits = ref.partition("-")
    return int(digits) if head == "HX" and digits.isascii() and digits.isdigit() else None


class Sale(Struct, frozen=True, kw_only=True):
    """``trade_ref`` is the engine's trade (``HX-<trade_id>``), not the invoice number (the
    ledger's ``HX<year>-<8 digits>``, docs/settlement.md). It is encoded under its first name,
    ``invoice_no``, so that snapshots written before the rename decode unchanged."""

    ts: Ts
    qty: int
    price_vnd: int  # per kg of herb
    buyer: Name
    trade_ref: Name = field(name="invoice_no")
    venue: str  # instrument symbol or auction id


# --- history entries: the commands a lot accepted, in order --------------------------------


class Register(Struct, frozen=True, kw_only=True, tag="register"):
    ts: Ts
    qty: int  # as registered, before any processing or weighing at receipt


class Sample(Struct, frozen=True, kw_only=True, tag="sample"):
    ts: Ts
    sample_id: Name
    sampled_by: Name


class Assay(Struct, frozen=True, kw_only=True, tag="assay"):
    """The lab's results with the decision `grade_lot` made from them."""

    ts: Ts
    lab: Name
    sample_id: Name
    results: tuple[AssayResult, ...]
    decision: GradeDecision


class Process(Struct, frozen=True, kw_only=True, tag="process"):
    """A transformation before sampling (drying, cutting, sorting): the quantity changes."""

    ts: Ts
    description: Name
    qty_after: int


class Receive(Struct, frozen=True, kw_only=True, tag="receive"):
    """Into the market's custody, weighed: ``qty_received`` ≤ the registered quantity."""

    ts: Ts
    warehouse: Name
    qty_received: int


class ListLot(Struct, frozen=True, kw_only=True, tag="list"):
    ts: Ts
    venue: Literal["book", "auction"]
    symbol: Name  # the instrument (book) or auction id


class Delist(Struct, frozen=True, kw_only=True, tag="delist"):
    ts: Ts


class RecordSale(Struct, frozen=True, kw_only=True, tag="sale"):
    """``trade_ref``: see `Sale` (encoded as ``invoice_no``, the name it was written under)."""

    ts: Ts
    qty: int
    price_vnd: int
    buyer: Name
    trade_ref: Name = field(name="invoice_no")


class CancelSale(Struct, frozen=True, kw_only=True, tag="cancel_sale"):
    """A recorded sale undone because its trade failed in settlement (delivery versus payment:
    nothing had changed hands). The sale (every entry of ``trade_ref``, together ``qty``)
    leaves the lot's ``sales`` and the quantity is the lot's again; the history keeps both the
    sale and this entry."""

    ts: Ts
    qty: int
    trade_ref: Name


class Withdraw(Struct, frozen=True, kw_only=True, tag="withdraw"):
    ts: Ts
    reason: Name


LotCommand = (
    Sample | Assay | Process | Receive | ListLot | Delist | RecordSale | CancelSale | Withdraw
)
HistoryCommand = Register | LotCommand


class HistoryEntry(Struct, frozen=True, kw_only=True):
    state: LotState  # the state the command left the lot in
    command: HistoryCommand


class Lot(Struct, frozen=True, kw_only=True):
    lot_id: LotId
    cooperative: Cooperative
    spec_id: Name
    qty: int  # kg (the instrument unit); after receipt, the weighed quantity
    harvest_date: date
    growing_area: GrowingArea
    commune: Name
    certifications: tuple[Certification, ...] = ()
    state: LotState = "registered"
    grades: tuple[GradeRecord, ...] = ()
    sales: tuple[Sale, ...] = ()
    listing: ListLot | None = None
    history: tuple[HistoryEntry, ...] = ()
    # the sum of ``sales``' quantities, kept by the lifecycle as each sale is recorded: every
    # trade of the lot asks for the remainder, and summing the sales each time made a lot's
    # trades quadratic in its number of sales
    sold_qty: int = 0

    @property
    def grade(self) -> GradeRecord | None:
        """The latest grade record (earlier ones stay in ``grades``)."""
        return self.grades[-1] if self.grades else None

    @property
    def remaining_qty(self) -> int:
        return self.qty - self.sold_qty

    def active_certifications(self, day: date) -> tuple[Certification, ...]:
        return tuple(c for c in self.certifications if c.valid_on(day))

    def check(self) -> None:
        """Invariants; tests call this after every step."""
        assert self.qty > 0 and 0 <= self.sold_qty <= self.qty
        assert self.sold_qty == sum(s.qty for s in self.sales)
        assert [g.no for g in self.grades] == list(range(1, len(self.grades) + 1))
        assert self.history and isinstance(self.history[0].command, Register)
        assert self.history[-1].state == self.state
        assert (self.listing is not None) == (self.state in ("listed", "partly_sold"))
        stamps = [h.command.ts for h in self.history]
        assert stamps == sorted(stamps), "history is in time order"
        if self.state in ("graded", "received", "listed", "partly_sold", "sold"):
            assert self.grade is not None and self.grade.decision.passed
        if self.state == "rejected":
            assert self.grade is not None and not self.grade.decision.passed
