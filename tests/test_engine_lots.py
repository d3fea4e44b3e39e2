"""Lots in the journal (issue 11), through `Exchange.apply`: the lot record and custody never
disagree, grades are computed, custody follows the grade, sales are sales and resales resales,
every lot leg of a trade carries its active content and price per kg of active ingredient."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.exchange import Exchange
from engine.lots import assay_command, price_per_kg_active, verdict_of
from engine.messages import (
    AssayLot,
    CommandRejected,
    CreateAuction,
    DelistLot,
    GrowingAreaIn,
    ListLotOnBook,
    LotUpdated,
    OrderRejected,
    PlaceBid,
    PlaceOrder,
    ReceiveLot,
    RegisterLot,
    SetTradeSettlement,
    Tick,
    TradeExecuted,
    TradeSettlementChanged,
    WithdrawLot,
)
from grading.assay import AssayResult, grade_lot
from grading.catalogue import load_catalogue
from grading.lot import trade_id_of
from grading.samples import CLEAN, sample_results
from grading.valuation import price_per_kg_active as valuation_ppka
from tests.support import Sim, of, one

CAT = load_catalogue()
SPEC = CAT.get("QUE-BARK")
T0 = 1_790_000_000 * 10**9  # 2026-09-21
AREA = GrowingAreaIn(code="LC-VB-QUE-0012", issuer="Chi cục", valid_from="2024-01-01")


def results(grade: str = "A", **over: str) -> tuple[AssayResult, ...]:
    values = {**sample_results("QUE-BARK", grade),
              **{k: v for k, v in CLEAN.items() if k in SPEC.contaminants["domestic"]}, **over}
    units = {**{n: p.unit for n, p in SPEC.parameters.items()},
             **{n: p.unit for n, p in SPEC.contaminants["domestic"].items()}}
    return tuple(AssayResult(parameter=k, value=v, unit=units[k]) for k, v in values.items())


def assay(lot_id: str, grade: str = "A", **over: str) -> AssayLot:
    return assay_command(SPEC, lot_id=lot_id, lab="Lab", sample_id=f"S-{lot_id}",
                         results=results(grade, **over), destination="domestic")


class Market(Sim):
    def __init__(self) -> None:
        super().__init__()
        self.ts = T0
        for g in "ABC":
            self.instrument(f"QUE-BARK-{g}", tick=100)
        self.fund("T1", 10**12)
        self.fund("T2", 10**12)

    def step(self, cmd: Any) -> list[Any]:
        self.ts += 1_000_000_000
        return self.do(cmd)

    def register(self, lot_id: str, qty: int = 500, owner: str = "C1") -> list[Any]:
        return self.step(RegisterLot(
            lot_id=lot_id, account=owner, cooperative_name="HTX", cooperative_no=7,
            spec_id="QUE-BARK", qty=qty, harvest_date="2026-09-01", growing_area=AREA,
            commune="Xã"))

    def received(self, lot_id: str, qty: int = 500, grade: str = "A",
                 owner: str = "C1") -> None:
        self.register(lot_id, qty, owner)
        self.step(assay(lot_id, grade))
        ev = self.step(ReceiveLot(lot_id=lot_id, account=owner, symbol=f"QUE-BARK-{grade}",
                                  qty=qty, warehouse="Kho"))
        assert one(ev, LotUpdated).state == "received", ev

    def record(self, lot_id: str) -> Any:
        return self.ex.lot_book.records[lot_id].record


def test_an_unlisted_lot_is_never_sold_and_the_record_matches_custody() -> None:
    m = Market()
    m.received("L1")
    # received but not listed: its goods are in the warehouse, not on any book
    assert one(m.step(PlaceOrder(
        account="C1", client_order_id="s1", symbol="QUE-BARK-A", side="sell", price_vnd=60_000,
        qty=300)), OrderRejected).reason == "insufficient_goods"
    m.step(ListLotOnBook(lot_id="L1", account="C1"))
    m.order("C1", "sell", 300, 60_000, symbol="QUE-BARK-A")
    m.order("T1", "buy", 300, 60_000, symbol="QUE-BARK-A")
    lot = m.record("L1")
    assert (lot.state, lot.remaining_qty, lot.sold_qty) == ("partly_sold", 200, 300)
    assert m.ex.lot_book.records["L1"].custody == 200


def test_a_rejected_lot_is_never_delivered() -> None:
    m = Market()
    m.received("L1")
    ev = m.step(assay("L1", moisture_pct="16.2"))
    assert one(ev, LotUpdated).state == "rejected"
    assert one(m.step(ListLotOnBook(lot_id="L1", account="C1")), CommandRejected).reason \
        == "illegal_transition"
    m.order("T1", "buy", 200, 60_000, symbol="QUE-BARK-A")
    assert not of(m.log, TradeExecuted)
    assert m.ex.balances("C1") is None or not any(
        g.qty for g in m.ex.balances("C1").goods)  # type: ignore[union-attr]


def test_buyers_units_of_a_lot_rejected_later_are_frozen_and_their_sells_cancelled() -> None:
    m = Market()
    m.received("L1")
    m.step(ListLotOnBook(lot_id="L1", account="C1"))
    m.order("C1", "sell", 300, 60_000, symbol="QUE-BARK-A")
    m.order("T1", "buy", 300, 60_000, symbol="QUE-BARK-A")
    m.pay()
    m.order("T1", "sell", 100, 65_000, symbol="QUE-BARK-A")  # resting resale
    m.step(DelistLot(lot_id="L1", account="C1"))
    m.step(assay("L1", moisture_pct="16.2"))
    m.order("T2", "buy", 500, 70_000, symbol="QUE-BARK-A")
    assert len(of(m.log, TradeExecuted)) == 1  # only the cooperative's sale, before the reject
    assert m.ex.lot_book.records["L1"].frozen == [("T1", 300)]


def test_a_regraded_lot_lists_on_the_book_of_its_new_grade() -> None:
    m = Market()
    m.received("L1")
    m.step(assay("L1", "C"))
    m.step(ListLotOnBook(lot_id="L1", account="C1"))
    goods = {g.symbol: g.qty for g in m.ex.balances("C1").goods}  # type: ignore[union-attr]
    assert goods.get("QUE-BARK-C") == 500 and not goods.get("QUE-BARK-A")


def test_a_resale_is_not_a_sale_of_the_cooperative() -> None:
    m = Market()
    m.received("L1", 800)
    m.step(ListLotOnBook(lot_id="L1", account="C1"))
    m.order("C1", "sell", 60, 60_000, symbol="QUE-BARK-A")
    m.order("T1", "buy", 60, 60_000, symbol="QUE-BARK-A")
    m.pay()
    m.order("T1", "sell", 50, 61_000, symbol="QUE-BARK-A")
    t = one(m.order("T2", "buy", 50, 61_000, symbol="QUE-BARK-A"), TradeExecuted)
    assert t.lot_values[0].resale is True
    lot = m.record("L1")
    assert (lot.remaining_qty, len(lot.sales)) == (740, 1)
    m.order("C1", "sell", 740, 60_000, symbol="QUE-BARK-A")
    m.order("T2", "buy", 740, 60_000, symbol="QUE-BARK-A")
    lot = m.record("L1")
    assert (lot.state, lot.sold_qty) == ("sold", 800)
    assert [r.qty for r in m.ex.lot_book.records["L1"].resales] == [50]


def test_recording_a_sale_appends_and_copies_none_of_the_earlier_sales() -> None:
    """Each trade of the lot appends its sale and history entry to the custody's own lists (the
    same list objects, trade after trade, never rebuilt), so the k-th sale costs what the first
    did; the lot's state keeps no copy of them, and a whole record read earlier never changes."""
    m = Market()
    m.received("L1", 1000)
    m.step(ListLotOnBook(lot_id="L1", account="C1"))
    rec = m.ex.lot_book.records["L1"]
    sales, history = rec.sales, rec.history
    m.order("C1", "sell", 1000, 60_000, symbol="QUE-BARK-A")
    read = []
    for k in range(1, 31):
        m.order("T1", "buy", 10, 60_000, symbol="QUE-BARK-A")
        assert rec.sales is sales and rec.history is history
        assert len(sales) == k and history[-1].state == "partly_sold"
        assert rec.lot.sales == () and rec.lot.history == ()
        read.append(m.record("L1"))
    for k, lot in enumerate(read, 1):
        assert (len(lot.sales), lot.sold_qty, len(lot.history)) == (k, 10 * k, 5 + k)
        assert lot.sales == tuple(sales[:k]) and lot.history == tuple(history[:5 + k])
    assert m.record("L1") is read[-1]  # built once after a change, then kept


def test_a_decision_that_contradicts_itself_is_refused_and_doors_compute_grades() -> None:
    m = Market()
    m.register("L1")
    bad = assay("L1", moisture_pct="19", pb_mg_kg="40")
    assert bad.decision.grade == "REJECT"  # computed from the results, never stated
    forged = verdict_of(grade_lot(SPEC, results("A"), "domestic"))
    forged.failures = bad.decision.failures
    bad.decision = forged
    assert one(m.step(bad), CommandRejected).reason == "grade_inconsistent"


def test_trade_legs_carry_content_and_price_per_kg_active() -> None:
    m = Market()
    m.received("L1")
    m.lot("BARE", "C2", 100, "QUE-BARK-A")  # a lot received without a record
    m.step(ListLotOnBook(lot_id="L1", account="C1"))
    m.order("C1", "sell", 300, 61_700, symbol="QUE-BARK-A")
    t = one(m.order("T1", "buy", 300, 61_700, symbol="QUE-BARK-A"), TradeExecuted)
    content = m.record("L1").grade.decision.active_content
    assert t.lot_values[0].active_content == str(content)
    assert t.lot_values[0].price_per_kg_active_vnd == valuation_ppka(61_700, content)
    assert t.lot_values[0].resale is False
    m.order("C2", "sell", 100, 61_700, symbol="QUE-BARK-A")
    t = one(m.order("T1", "buy", 100, 61_700, symbol="QUE-BARK-A"), TradeExecuted)
    assert t.lot_values == []  # no recorded lot: nothing added to the event


@given(st.integers(0, 10**15), st.decimals(min_value=Decimal("0.001"), max_value=100,
                                           places=3))
def test_integer_price_per_kg_active_equals_the_decimal_one(price: int, content: Decimal) -> None:
    assert price_per_kg_active(price, content.as_integer_ratio()) == valuation_ppka(price,
                                                                                    content)


def test_auction_of_a_recorded_lot_lists_sells_and_returns_in_one_command_each() -> None:
    m = Market()
    m.received("L1")
    ev = m.step(CreateAuction(kind="english", seller="C1", lot_id="L1", qty=300, start_ns=m.ts,
                              end_ns=m.ts + 60 * 10**9, start_price_vnd=50_000))
    aid = ev[0].auction_id
    assert m.record("L1").state == "listed"
    assert m.ex.lot_book.records["L1"].in_auction == 300
    m.step(PlaceBid(auction_id=aid, account="T1", price_vnd=55_000))
    m.do(Tick(), ts=m.ts + 61 * 10**9)
    lot = m.record("L1")
    assert (lot.state, lot.sold_qty, lot.remaining_qty) == ("received", 300, 200)
    m.step(WithdrawLot(lot_id="L1", account="C1"))
    assert m.record("L1").state == "withdrawn"


def test_snapshot_and_replay_cover_lots() -> None:
    m = Market()
    m.received("L1")
    m.step(ListLotOnBook(lot_id="L1", account="C1"))
    m.order("C1", "sell", 100, 60_000, symbol="QUE-BARK-A")
    m.order("T1", "buy", 100, 60_000, symbol="QUE-BARK-A")
    restored = Exchange.restore(m.ex.snapshot())
    assert restored.state_hash() == m.ex.state_hash()
    assert restored.lot_book.records["L1"].record == m.record("L1")


ACTIONS = st.lists(st.tuples(st.sampled_from(
    ["list", "delist", "sell", "buy", "resell", "assay_a", "assay_c", "assay_fail", "withdraw",
     "auction", "tick", "pay", "fail", "fail"]), st.integers(1, 4)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(ACTIONS)
def test_random_lot_lifecycles_keep_record_and_custody_together(steps: list[Any]) -> None:
    m = Market()  # Sim checks every invariant (record == custody included) after each command
    m.received("L1", 800)
    m.received("L2", 400, owner="C2")
    for action, n in steps:
        lot_id, owner = ("L1", "C1") if n % 2 else ("L2", "C2")
        rec = m.ex.lot_book.records[lot_id]
        symbol = rec.symbol or "QUE-BARK-A"
        if action == "list":
            m.step(ListLotOnBook(lot_id=lot_id, account=owner))
        elif action == "delist":
            m.step(DelistLot(lot_id=lot_id, account=owner))
        elif action == "sell":
            m.order(owner, "sell", 50 * n, 60_000, symbol=symbol)
        elif action == "buy":
            m.order("T1", "buy", 40 * n, 60_000, symbol=symbol)
        elif action == "resell":
            m.order("T1", "sell", 10 * n, 60_000, symbol=symbol)
            m.order("T2", "buy", 10 * n, 60_000, symbol=symbol)
        elif action.startswith("assay"):
            grade = {"assay_a": "A", "assay_c": "C"}.get(action, "A")
            over = {"moisture_pct": "16.2"} if action == "assay_fail" else {}
            m.step(assay(lot_id, grade, **over))
        elif action == "withdraw":
            m.step(WithdrawLot(lot_id=lot_id, account=owner))
        elif action == "auction":
            ev = m.step(CreateAuction(kind="english", seller=owner, lot_id=lot_id, qty=100,
                                      start_ns=m.ts, end_ns=m.ts + 3 * 10**9,
                                      start_price_vnd=50_000))
            if type(ev[0]) is not CommandRejected:
                m.step(PlaceBid(auction_id=ev[0].auction_id, account="T2", price_vnd=50_000 + n))
        elif action in ("pay", "fail"):
            # the n-th oldest open trade is paid, or fails (its sale undone on the record)
            pending = [t for t, st_ in m.ex.settlements.items() if st_.state == "pending"]
            if pending:
                m.step(SetTradeSettlement(trade_id=pending[min(n, len(pending)) - 1],
                                          state="paid" if action == "pay" else "failed"))
        else:
            m.do(Tick(), ts=m.ts + 5 * 10**9)
    failed = {e.trade_id for e in of(m.log, TradeSettlementChanged) if e.to_state == "failed"}
    for lot_id in ("L1", "L2"):
        rec = m.ex.lot_book.records[lot_id]
        lot = rec.record
        owner = rec.owner
        # the sum of sales equals the goods that left the owner's custody in trades that did
        # not fail, and the sales are exactly those trades'
        sold_in_trades = sum(
            leg.qty for t in of(m.log, TradeExecuted)
            if t.seller == owner and t.trade_id not in failed
            for leg, v in zip(t.lots, t.lot_values, strict=True)
            if leg.lot_id == lot_id and not v.resale)
        assert lot.sold_qty == sold_in_trades
        assert not {trade_id_of(x.trade_ref) for x in lot.sales} & failed
        assert not {r.trade_id for r in rec.resales} & failed
    restored = Exchange.restore(m.ex.snapshot())
    assert restored.state_hash() == m.ex.state_hash()
