from datetime import date, timedelta
from typing import get_args

import msgspec
import pytest
from grading_lots import AREA, CERTS, COOP, T0, Clock, assay_cmd, command_for, lot_in, new_lot

from grading.lifecycle import (
    CANCEL_ACTIONS,
    FINAL_STATES,
    TRANSITIONS,
    Accepted,
    Action,
    Refused,
    Step,
    apply,
    step,
)
from grading.lifecycle import register_lot as register
from grading.lot import (
    CancelSale,
    GrowingArea,
    HistoryEntry,
    ListLot,
    LotState,
    Process,
    Receive,
    RecordSale,
    Sample,
    Withdraw,
)

STATES = get_args(LotState)
ACTIONS = get_args(Action)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", ACTIONS)
def test_every_state_action_pair_follows_the_table(catalogue, state, action):
    # a cancellation needs a sale to cancel: two of them to cancel only part of what is sold
    sales = {"cancel_sale_part": 2, "cancel_sale_all": 1}.get(action, 0)
    lot = lot_in(catalogue, state, clock := Clock(), sales)
    r = apply(lot, command_for(catalogue, lot, action, clock()))
    expected = TRANSITIONS.get((state, action))
    if expected is None:
        assert isinstance(r, Refused) and r.code == "illegal_transition"
        assert state in r.detail
    else:
        assert isinstance(r, Accepted), r
        assert r.lot.state == expected
        r.lot.check()


def test_final_states_have_no_way_out_but_a_failed_sale():
    assert not [k for k in TRANSITIONS if k[0] in FINAL_STATES and k[1] not in CANCEL_ACTIONS]
    assert {s for s, a in TRANSITIONS if a not in CANCEL_ACTIONS} == set(STATES) - set(
        FINAL_STATES)


def test_a_failed_sale_leaves_the_sales_and_stays_in_the_history(catalogue):
    """Two sales, the first one's trade fails: its sale leaves ``sales`` (the trace page and
    the EPCIS export show no such sale), the quantity is the lot's again, and the history keeps
    the sale followed by its cancellation."""
    clock = Clock()
    lot = lot_in(catalogue, "listed", clock)
    for qty, ref in ((100, "HX-7"), (150, "HX-9")):
        lot = apply(lot, RecordSale(ts=clock(), qty=qty, price_vnd=61_500, buyer="Pharma A",
                                    trade_ref=ref)).lot
    r = apply(lot, CancelSale(ts=clock(), qty=100, trade_ref="HX-7"))
    assert isinstance(r, Accepted), r
    r.lot.check()
    assert (r.lot.state, r.lot.sold_qty, r.lot.remaining_qty) == ("partly_sold", 150, 350)
    assert [s.trade_ref for s in r.lot.sales] == ["HX-9"]
    assert [type(h.command).__name__ for h in r.lot.history[-3:]] == [
        "RecordSale", "RecordSale", "CancelSale"]
    r = apply(r.lot, CancelSale(ts=clock(), qty=150, trade_ref="HX-9"))
    assert isinstance(r, Accepted), r
    r.lot.check()
    assert (r.lot.state, r.lot.sold_qty, r.lot.sales) == ("listed", 0, ())
    assert r.lot.listing is not None and r.lot.listing.symbol == "QUE-BARK-A"


def test_a_sold_out_lot_whose_sale_fails_is_back_in_stock_unlisted(catalogue):
    clock = Clock()
    lot = lot_in(catalogue, "sold", clock, sales=2)
    first = lot.sales[0]
    r = apply(lot, CancelSale(ts=clock(), qty=first.qty, trade_ref=first.trade_ref))
    assert isinstance(r, Accepted), r
    r.lot.check()
    # its listing ended when it sold out: nothing goes on sale again without the owner
    assert (r.lot.state, r.lot.listing, r.lot.remaining_qty) == ("received", None, first.qty)


@pytest.mark.parametrize(("qty", "ref"), [(0, "HX-0001"), (2, "HX-0001"), (1, "HX-0002"),
                                          (-1, "HX-0001")])
def test_a_cancellation_must_name_a_sale_and_its_quantity(catalogue, qty, ref):
    clock = Clock()
    lot = lot_in(catalogue, "partly_sold", clock, sales=1)  # HX-0001, 1 kg
    r = apply(lot, CancelSale(ts=clock(), qty=qty, trade_ref=ref))
    assert isinstance(r, Refused) and r.code == "bad_quantity", r


def test_full_life_of_a_cinnamon_lot(catalogue):
    clock = Clock()
    lot = new_lot(qty=500)
    steps = [
        Process(ts=clock(), description="sun-dried, bundled", qty_after=480),
        Sample(ts=clock(), sample_id="S-1", sampled_by="inspector 1"),
        assay_cmd(catalogue, lot, clock()),
        Receive(ts=clock(), warehouse="Kho Bảo Thắng", qty_received=478),
        ListLot(ts=clock(), venue="book", symbol="QUE-BARK-A"),
        RecordSale(ts=clock(), qty=300, price_vnd=61_500, buyer="Traphaco", trade_ref="HX-1"),
        RecordSale(ts=clock(), qty=178, price_vnd=61_600, buyer="Sao Thái Dương",
                   trade_ref="HX-2"),
    ]
    states = []
    for cmd in steps:
        r = apply(lot, cmd)
        assert isinstance(r, Accepted), r
        lot = r.lot
        lot.check()
        states.append(lot.state)
    assert states == ["registered", "sampled", "graded", "received", "listed", "partly_sold",
                      "sold"]
    assert lot.qty == 478 and lot.remaining_qty == 0
    assert [(s.trade_ref, s.venue) for s in lot.sales] == [("HX-1", "QUE-BARK-A"),
                                                           ("HX-2", "QUE-BARK-A")]
    assert lot.listing is None


def test_reassay_keeps_every_grade_record(catalogue):
    clock = Clock()
    lot = lot_in(catalogue, "graded", clock)
    first = lot.grade
    steps = [
        (assay_cmd(catalogue, lot, clock(), passed=False), "rejected"),
        (assay_cmd(catalogue, lot, clock(), overrides={"essential_oil_pct": "2.9",
                                                       "cinnamaldehyde_pct": "2.2"}), "graded"),
    ]
    for cmd, state in steps:
        lot = apply(lot, cmd).lot
        assert lot.state == state
    lot = apply(lot, Receive(ts=clock(), warehouse="K", qty_received=lot.qty)).lot
    lot = apply(lot, assay_cmd(catalogue, lot, clock())).lot  # re-assay in custody
    assert lot.state == "received"
    assert [g.no for g in lot.grades] == [1, 2, 3, 4]
    assert [g.decision.grade for g in lot.grades] == ["A", "REJECT", "B", "A"]
    assert lot.grades[0] == first  # never overwritten
    lot.check()


def test_no_reassay_once_listed(catalogue):
    clock = Clock()
    lot = lot_in(catalogue, "listed", clock)
    r = apply(lot, assay_cmd(catalogue, lot, clock()))
    assert isinstance(r, Refused) and r.code == "illegal_transition"
    assert r.detail == "cannot assay pass a lot that is listed"


def test_rejected_lot_cannot_be_received_or_listed(catalogue):
    clock = Clock()
    lot = lot_in(catalogue, "rejected", clock)
    for action in ("receive", "list", "sell_all"):
        r = apply(lot, command_for(catalogue, lot, action, clock()))
        assert isinstance(r, Refused) and r.code == "illegal_transition"


def test_listing_must_name_the_lots_instrument(catalogue):
    clock = Clock()
    lot = lot_in(catalogue, "received", clock)
    r = apply(lot, ListLot(ts=clock(), venue="book", symbol="QUE-BARK-B"))
    assert isinstance(r, Refused) and r.code == "wrong_instrument"
    assert "QUE-BARK-A" in r.detail
    ok = apply(lot, ListLot(ts=clock(), venue="auction", symbol="AUC-2026-11-30-01"))
    assert isinstance(ok, Accepted) and ok.lot.listing.venue == "auction"


def test_assay_of_another_herb_is_refused(catalogue):
    clock = Clock()
    lot = lot_in(catalogue, "sampled", clock)
    other = new_lot("ATISO-LEAF")
    r = apply(lot, assay_cmd(catalogue, other, clock()))
    assert isinstance(r, Refused) and r.code == "wrong_spec"


@pytest.mark.parametrize("qty,code", [(0, "bad_quantity"), (501, "bad_quantity")])
def test_sale_quantity_is_bounded(catalogue, qty, code):
    clock = Clock()
    lot = lot_in(catalogue, "listed", clock)
    r = apply(lot, RecordSale(ts=clock(), qty=qty, price_vnd=1, buyer="b", trade_ref="i"))
    assert isinstance(r, Refused) and r.code == code


def test_sale_price_must_be_positive(catalogue):
    clock = Clock()
    lot = lot_in(catalogue, "listed", clock)
    r = apply(lot, RecordSale(ts=clock(), qty=1, price_vnd=0, buyer="b", trade_ref="i"))
    assert isinstance(r, Refused) and r.code == "bad_price"


def test_receipt_and_processing_cannot_add_weight(catalogue):
    clock = Clock()
    lot = lot_in(catalogue, "graded", clock)
    assert apply(lot, Receive(ts=clock(), warehouse="K", qty_received=501)).code == \
        "bad_quantity"
    fresh = new_lot()
    assert apply(fresh, Process(ts=clock(), description="x", qty_after=600)).code == \
        "bad_quantity"


def test_time_cannot_go_back(catalogue):
    lot = new_lot()
    r = apply(lot, Sample(ts=T0 - timedelta(seconds=1), sample_id="S", sampled_by="x"))
    assert isinstance(r, Refused) and r.code == "time_went_back"


def test_apply_never_mutates(catalogue):
    clock = Clock()
    lot = lot_in(catalogue, "listed", clock)
    before = msgspec.json.encode(lot)
    apply(lot, Withdraw(ts=clock(), reason="x"))
    assert msgspec.json.encode(lot) == before


def test_step_records_a_sale_without_copying_the_earlier_ones(catalogue):
    """The k-th sale costs what the first did: `step` hands back the lot's sales and history
    as the same objects (nothing rebuilt) and the entries to append; `apply` is exactly `step`
    with them appended, and the record it was given stays as it was."""
    clock = Clock()
    lot = lot_in(catalogue, "partly_sold", clock)
    for _ in range(3):
        lot = apply(lot, command_for(catalogue, lot, "sell_part", clock())).lot
    before = msgspec.json.encode(lot)
    cmd = command_for(catalogue, lot, "sell_part", clock())
    s = step(lot, cmd, lot.history[-1].command.ts)
    assert isinstance(s, Step)
    assert s.lot.sales is lot.sales and s.lot.history is lot.history
    assert (s.lot.state, s.lot.sold_qty) == ("partly_sold", lot.sold_qty + 1)
    assert s.entry == HistoryEntry(state="partly_sold", command=cmd)
    assert s.sale is not None and (s.sale.qty, s.sale.venue) == (1, lot.listing.symbol)
    whole = apply(lot, cmd)
    assert isinstance(whole, Accepted)
    assert whole.lot == msgspec.structs.replace(s.lot, sales=(*lot.sales, s.sale),
                                                history=(*lot.history, s.entry))
    whole.lot.check()
    assert msgspec.json.encode(lot) == before and len(lot.sales) == 4
    # the time check uses the last entry's time the caller gives
    late = step(lot, cmd, cmd.ts + timedelta(seconds=1))
    assert isinstance(late, Refused) and late.code == "time_went_back"


# --- the lot record -------------------------------------------------------------------------------


def test_lot_record_round_trips_as_json(catalogue):
    lot = lot_in(catalogue, "partly_sold", Clock())
    from grading.lot import Lot

    assert msgspec.json.decode(msgspec.json.encode(lot), type=Lot) == lot


def test_growing_area_must_be_valid_at_harvest():
    expired = GrowingArea(code="LC-BX-QUE-0007", issuer="Chi cục", valid_from=date(2020, 1, 1),
                          valid_until=date(2025, 12, 31))
    r = register(lot_id="L1", cooperative=COOP, spec_id="QUE-BARK", qty=10,
                 harvest_date=date(2026, 10, 20), growing_area=expired, commune="Bản Xèo",
                 ts=T0)
    assert isinstance(r, Refused) and r.code == "growing_area_not_valid"


@pytest.mark.parametrize("code", ["VN-LCI-BX-001", "LC.BX.07", "22/LC/2025", "ABCD1234"])
def test_growing_area_codes_have_no_hard_coded_pattern(code):
    area = GrowingArea(code=code, issuer="x", valid_from=date(2024, 1, 1))
    r = register(lot_id="L1", cooperative=COOP, spec_id="QUE-BARK", qty=10,
                 harvest_date=date(2026, 1, 1), growing_area=area, commune="c", ts=T0)
    assert isinstance(r, Accepted) and r.lot.growing_area.code == code


@pytest.mark.parametrize("field,value", [
    ("lot_id", "LÔ 1"), ("lot_id", "x" * 21), ("commune", ""), ("spec_id", ""),
])
def test_bad_lot_fields_are_refused_with_the_field_named(field, value):
    kw = dict(lot_id="L1", cooperative=COOP, spec_id="QUE-BARK", qty=10,
              harvest_date=date(2026, 10, 20), growing_area=AREA, commune="c", ts=T0)
    kw[field] = value
    r = register(**kw)
    assert isinstance(r, Refused) and r.code == "bad_record" and f"$.{field}" in r.detail


def test_bad_growing_area_code_is_refused():
    area = GrowingArea(code="LC BX 07", issuer="x", valid_from=date(2024, 1, 1))
    r = register(lot_id="L1", cooperative=COOP, spec_id="QUE-BARK", qty=10,
                 harvest_date=date(2026, 1, 1), growing_area=area, commune="c", ts=T0)
    assert isinstance(r, Refused) and "$.growing_area.code" in r.detail


def test_zero_quantity_is_refused():
    r = register(lot_id="L1", cooperative=COOP, spec_id="QUE-BARK", qty=0,
                 harvest_date=date(2026, 10, 20), growing_area=AREA, commune="c", ts=T0)
    assert isinstance(r, Refused) and r.code == "bad_quantity"


def test_certifications_with_validity():
    lot = new_lot()
    active = lot.active_certifications(date(2026, 11, 2))
    assert [c.scheme for c in active] == ["GACP-WHO", "OCOP"]  # organic expired 2025-12-31
    assert active[1].stars == 4
    with pytest.raises(ValueError, match="stars"):
        type(CERTS[0])(scheme="OCOP", certificate_no="x", issuer="y", valid_from=date(2025, 1, 1),
                       valid_until=date(2026, 1, 1))
    with pytest.raises(ValueError, match="before"):
        type(CERTS[0])(scheme="FSC", certificate_no="x", issuer="y", valid_from=date(2025, 1, 1),
                       valid_until=date(2024, 1, 1))
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"scheme": "OCOP", "certificate_no": "x", "issuer": "y",
                         "valid_from": "2025-01-01", "valid_until": "2026-01-01", "stars": 6},
                        type(CERTS[0]))


def test_harvest_cannot_be_after_registration():
    r = register(lot_id="L1", cooperative=COOP, spec_id="QUE-BARK", qty=10,
                 harvest_date=T0.date() + timedelta(days=1), growing_area=AREA, commune="c",
                 ts=T0)
    assert isinstance(r, Refused) and r.code == "bad_record" and "harvest" in r.detail
