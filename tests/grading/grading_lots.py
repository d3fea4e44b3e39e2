"""Lot builders shared by the lifecycle, EPCIS and label tests (imported via conftest's dir)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from grading_data import GRADE_C, make_assay

from grading.assay import grade_lot
from grading.lifecycle import Accepted, apply, register_lot
from grading.lot import (
    Assay,
    CancelSale,
    Certification,
    Cooperative,
    Delist,
    GrowingArea,
    ListLot,
    Lot,
    Process,
    Receive,
    RecordSale,
    Sample,
    Withdraw,
)

ICT = timezone(timedelta(hours=7))  # Indochina Time: Lào Cai
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=ICT)

COOP = Cooperative(id="coop-vanyen", name="HTX Quế Hồi Bát Xát", number=42)
AREA = GrowingArea(code="LC-BX-QUE-0007", issuer="Chi cục Trồng trọt và BVTV Lào Cai",
                   valid_from=date(2024, 3, 1), valid_until=date(2029, 2, 28))
CERTS = (
    Certification(scheme="GACP-WHO", certificate_no="GACP-2025-117", issuer="Cục Quản lý YDCT",
                  valid_from=date(2025, 1, 1), valid_until=date(2027, 12, 31)),
    Certification(scheme="OCOP", certificate_no="OCOP-LC-0193", issuer="UBND tỉnh Lào Cai",
                  valid_from=date(2024, 6, 1), valid_until=date(2027, 6, 1), stars=4),
    Certification(scheme="organic", certificate_no="ORG-2023-9", issuer="Control Union",
                  valid_from=date(2023, 1, 1), valid_until=date(2025, 12, 31)),
)


def new_lot(spec_id: str = "QUE-BARK", qty: int = 500, lot_id: str = "LC-2026-0001") -> Lot:
    r = register_lot(lot_id=lot_id, cooperative=COOP, spec_id=spec_id, qty=qty,
                     harvest_date=date(2026, 10, 20), growing_area=AREA, commune="Bản Xèo",
                     certifications=CERTS, ts=T0)
    assert isinstance(r, Accepted), r
    r.lot.check()
    return r.lot


class Clock:
    """Hands out increasing timestamps, one hour apart."""

    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        self.t += timedelta(hours=1)
        return self.t


def assay_cmd(catalogue, lot: Lot, ts: datetime, passed: bool = True,
              overrides: dict[str, str] | None = None, destination: str = "domestic") -> Assay:
    spec = catalogue.get(lot.spec_id)
    changes = dict(overrides or {})
    if not passed:
        changes.setdefault("moisture_pct", "16.2")
    results = tuple(make_assay(catalogue, spec.id, changes))
    return Assay(ts=ts, lab="Trung tâm Kiểm nghiệm Lào Cai", sample_id=f"S-{lot.lot_id}",
                 results=results, decision=grade_lot(spec, results, destination))


def command_for(catalogue, lot: Lot, action: str, ts: datetime):
    """A well-formed command that asks for ``action`` on ``lot``."""
    grade = lot.grade.decision.grade if lot.grade and lot.grade.decision.passed else "A"
    code, product = lot.spec_id.split("-")
    return {
        "sample": lambda: Sample(ts=ts, sample_id=f"S-{lot.lot_id}", sampled_by="inspector 1"),
        "assay_pass": lambda: assay_cmd(catalogue, lot, ts),
        "assay_fail": lambda: assay_cmd(catalogue, lot, ts, passed=False),
        "process": lambda: Process(ts=ts, description="sun-dried", qty_after=lot.qty - 1),
        "receive": lambda: Receive(ts=ts, warehouse="Kho Bảo Thắng", qty_received=lot.qty),
        "list": lambda: ListLot(ts=ts, venue="book", symbol=f"{code}-{product}-{grade}"),
        "delist": lambda: Delist(ts=ts),
        "sell_part": lambda: RecordSale(ts=ts, qty=1, price_vnd=61_500, buyer="Pharma A",
                                        trade_ref=f"HX-{len(lot.sales) + 1:04d}"),
        "sell_all": lambda: RecordSale(ts=ts, qty=lot.remaining_qty, price_vnd=61_500,
                                       buyer="Pharma A", trade_ref=f"HX-{len(lot.sales) + 1:04d}"),
        "withdraw": lambda: Withdraw(ts=ts, reason="cooperative request"),
        # the first sale undone (its trade failed): part of what is sold, or all of it (a lot
        # without sales gets a cancellation of a sale it never had)
        "cancel_sale_part": lambda: CancelSale(
            ts=ts, qty=lot.sales[0].qty if lot.sales else 1,
            trade_ref=lot.sales[0].trade_ref if lot.sales else "HX-0001"),
        "cancel_sale_all": lambda: CancelSale(
            ts=ts, qty=lot.sold_qty or 1,
            trade_ref=lot.sales[0].trade_ref if lot.sales else "HX-0001"),
    }[action]()


PATHS = {
    "registered": [],
    "sampled": ["sample"],
    "graded": ["sample", "assay_pass"],
    "rejected": ["sample", "assay_fail"],
    "received": ["sample", "assay_pass", "receive"],
    "listed": ["sample", "assay_pass", "receive", "list"],
    "partly_sold": ["sample", "assay_pass", "receive", "list", "sell_part"],
    "sold": ["sample", "assay_pass", "receive", "list", "sell_all"],
    "withdrawn": ["withdraw"],
}


_LISTED = ["sample", "assay_pass", "receive", "list"]

#: A lot in each state that can hold sales, with ``{sales}`` sales in it (1 or 2; a sold lot's
#: last sale sells the rest). Registered and sampled lots never hold sales.
SOLD_PATHS = {
    "listed": [*_LISTED, "{sales}", "delist", "list"],
    "partly_sold": [*_LISTED, "{sales}"],
    "sold": [*_LISTED, "{sales-1}", "sell_all"],
    "received": [*_LISTED, "{sales}", "delist"],
    "graded": [*_LISTED, "{sales}", "delist", "assay_fail", "assay_pass"],
    "rejected": [*_LISTED, "{sales}", "delist", "assay_fail"],
    "withdrawn": [*_LISTED, "{sales}", "withdraw"],
}


def lot_in(catalogue, state: str, clock: Clock, sales: int = 0) -> Lot:
    """A lot in ``state``; with ``sales`` (1 or 2), one that holds that many sales (of
    different trades), where the state allows any."""
    path = PATHS[state]
    if sales and state in SOLD_PATHS:
        path = []
        for a in SOLD_PATHS[state]:
            path += (["sell_part"] * sales if a == "{sales}"
                     else ["sell_part"] * (sales - 1) if a == "{sales-1}" else [a])
    lot = new_lot()
    for action in path:
        r = apply(lot, command_for(catalogue, lot, action, clock()))
        assert isinstance(r, Accepted), (action, r)
        lot = r.lot
        lot.check()
    assert lot.state == state
    return lot


__all__ = ["GRADE_C", "ICT", "T0", "Clock", "assay_cmd", "command_for", "lot_in", "new_lot"]
