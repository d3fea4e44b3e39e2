"""Scenario tests: one market situation per rule of the engine-core issue."""

from __future__ import annotations

import typing

import msgspec
import pytest

from engine.exchange import MAX_BALANCE_VND, Exchange
from engine.messages import (
    MAX_QTY,
    MAX_VND,
    AddInstrument,
    BookUpdated,
    CancelOrder,
    CancelRejected,
    CashDeposited,
    CashWithdrawn,
    Command,
    CommandRejected,
    Deposit,
    HaltInstrument,
    InstrumentAdded,
    LotLeg,
    LotWithdrawn,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderReplaced,
    OrderResent,
    OrdersPurged,
    PurgeOrders,
    ResumeInstrument,
    TradeExecuted,
    Withdraw,
    WithdrawLot,
    command_json_decoder,
)
from engine.naive_book import NaiveBook
from tests.support import SYMBOL, Sim, market, of, one


@pytest.fixture(params=["fast", "naive"])
def sim(request: pytest.FixtureRequest) -> Sim:
    """Every scenario runs on the fast book and on the naive reference book."""
    return market(Sim(book_factory=NaiveBook) if request.param == "naive" else Sim())


def oid(events: list) -> int:
    return one(events, OrderAccepted).order_id


# -- instruments -------------------------------------------------------------------------------


def test_duplicate_instrument_is_rejected_and_changes_nothing(sim: Sim) -> None:
    before = sim.ex.state_hash()
    ev = sim.instrument()
    assert one(ev, CommandRejected).reason == "duplicate_instrument"
    sim.ex.last_seq -= 1  # the hash covers last_seq; compare the rest
    assert sim.ex.state_hash() == before
    sim.ex.last_seq += 1


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"tick_vnd": 0}, "invalid_tick"),
        ({"qty_step": 0}, "invalid_qty_step"),
        ({"band_bps": -5}, "invalid_band"),
        ({"ref_price_vnd": 61550}, "invalid_ref_price"),
    ],
)
def test_bad_instrument_definitions(sim: Sim, kw: dict, reason: str) -> None:
    args = {"symbol": "NEW-A", "herb": "NEW", "grade": "A", "tick_vnd": 100} | kw
    assert one(sim.do(AddInstrument(**args)), CommandRejected).reason == reason
    assert "NEW-A" not in sim.ex.instruments


def test_halt_rejects_new_orders_and_replaces_but_allows_cancels(sim: Sim) -> None:
    resting = oid(sim.sell("S1", 10, 61500))
    sim.do(HaltInstrument(symbol=SYMBOL))
    assert one(sim.buy("B1", 10, 61500), OrderRejected).reason == "instrument_halted"
    assert one(sim.replace("S1", resting, qty=5), CancelRejected).reason == "instrument_halted"
    assert one(sim.do(HaltInstrument(symbol=SYMBOL)), CommandRejected).reason == "already_halted"
    assert of(sim.cancel("S1", resting), OrderCancelled)
    sim.do(ResumeInstrument(symbol=SYMBOL))
    assert of(sim.sell("S1", 10, 61500), OrderAccepted)
    assert one(sim.do(ResumeInstrument(symbol=SYMBOL)), CommandRejected).reason == "not_halted"


def test_unknown_symbol(sim: Sim) -> None:
    assert one(sim.buy("B1", 1, 100, symbol="NOPE"), OrderRejected).reason == "unknown_symbol"


# -- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"qty": 0, "price": 61500}, "invalid_qty"),
        ({"qty": -3, "price": 61500}, "invalid_qty"),
        ({"qty": 10}, "price_required"),
        ({"qty": 10, "price": 0}, "invalid_price"),
        ({"qty": 10, "price": 61550}, "price_off_tick"),
        ({"qty": 10, "price": 61500, "order_type": "market", "cash_cap_vnd": 1}, "price_not_allowed"),
        ({"qty": 10, "order_type": "market"}, "cash_cap_required"),
        ({"qty": 10, "order_type": "market", "cash_cap_vnd": 0}, "invalid_cash_cap"),
        ({"qty": 10, "order_type": "market", "tif": "gtd", "cash_cap_vnd": 10**6}, "invalid_tif"),
        ({"qty": 10, "order_type": "market", "post_only": True, "cash_cap_vnd": 9}, "post_only_requires_limit"),
        ({"qty": 10, "price": 61500, "cash_cap_vnd": 10}, "cash_cap_not_allowed"),
        ({"qty": 10, "price": 61500, "post_only": True, "tif": "ioc"}, "post_only_requires_resting_tif"),
        ({"qty": 10, "price": 61500, "tif": "gtd"}, "expire_at_required"),
        ({"qty": 10, "price": 61500, "tif": "gtd", "expire_at_ns": 5}, "expire_at_in_past"),
        ({"qty": 10, "price": 61500, "expire_at_ns": 5 * 10**9}, "expire_at_requires_gtd"),
        ({"qty": 10**9, "price": 61500}, "insufficient_cash"),
    ],
)
def test_bad_buy_orders_are_rejected_and_change_nothing(sim: Sim, kw: dict, reason: str) -> None:
    sim.sell("S1", 10, 70000)
    before = sim.ex.snapshot()
    ev = sim.buy("B1", **kw)
    assert [type(e) for e in ev] == [OrderRejected]
    assert ev[0].reason == reason
    sim.ex.last_seq -= 1
    assert sim.ex.snapshot() == before


def test_off_step_quantity() -> None:
    sim = Sim()
    sim.instrument(step=5)
    sim.fund("B1", 10**9)
    assert one(sim.buy("B1", 7, 1000), OrderRejected).reason == "qty_off_step"
    assert of(sim.buy("B1", 10, 1000), OrderAccepted)


def test_sell_without_goods_is_rejected(sim: Sim) -> None:
    assert one(sim.sell("B1", 1, 61500), OrderRejected).reason == "insufficient_goods"
    assert one(sim.sell("S1", 2001, 61500), OrderRejected).reason == "insufficient_goods"
    assert one(sim.sell("NOBODY", 1, 61500), OrderRejected).reason == "insufficient_goods"


def test_price_band_rejects_orders_far_from_reference() -> None:
    sim = market(Sim())
    sim.do(AddInstrument(symbol="QUE-OIL-A", herb="QUE", grade="A", tick_vnd=100,
                         band_bps=1000, ref_price_vnd=100_000))
    sim.fund("B9", 10**10)
    assert one(sim.buy("B9", 1, 111_000, symbol="QUE-OIL-A"), OrderRejected).reason == "price_out_of_band"
    assert one(sim.buy("B9", 1, 89_900, symbol="QUE-OIL-A"), OrderRejected).reason == "price_out_of_band"
    assert of(sim.buy("B9", 1, 110_000, symbol="QUE-OIL-A"), OrderAccepted)
    assert of(sim.buy("B9", 1, 90_000, symbol="QUE-OIL-A"), OrderAccepted)


def test_band_follows_the_last_trade() -> None:
    sim = Sim()
    sim.instrument(band_bps=500, ref_price_vnd=100_000)
    sim.fund("B1", 10**10)
    sim.lot("L1", "S1", 100)
    sim.sell("S1", 10, 104_000)
    sim.buy("B1", 10, 104_000)  # last trade 104,000: band is now 98,800..109,200
    assert of(sim.buy("B1", 1, 109_200), OrderAccepted)
    assert one(sim.buy("B1", 1, 98_700), OrderRejected).reason == "price_out_of_band"


# -- matching --------------------------------------------------------------------------------------


def test_partial_fills_across_several_levels_at_resting_prices(sim: Sim) -> None:
    a = oid(sim.sell("S1", 30, 61500))
    b = oid(sim.sell("S2", 40, 61600))
    c = oid(sim.sell("S1", 50, 61700))
    cash0 = sim.cash("B1")[0]
    ev = sim.buy("B1", 100, 61700)
    trades = of(ev, TradeExecuted)
    assert [(t.maker_order_id, t.price_vnd, t.qty) for t in trades] == [
        (a, 61500, 30), (b, 61600, 40), (c, 61700, 30)]
    assert [t.taker_leaves_qty for t in trades] == [70, 30, 0]
    assert sim.status(a) == "filled" and sim.status(c) == "partially_filled"
    assert sim.depth() == ([], [(61700, 20)])
    # held at the makers' prices until paid (delivery versus payment): the hold at the limit
    # price became a DvP hold of exactly the trades' value; payment then moves it
    value = 30 * 61500 + 40 * 61600 + 30 * 61700
    assert sim.cash("B1") == (cash0, value)
    sim.pay()
    assert sim.cash("B1") == (cash0 - value, 0)
    upd = one(ev, BookUpdated)
    assert upd.asks == [(61500, 0), (61600, 0), (61700, 20)] and upd.bids == []


def test_price_time_priority_within_a_level(sim: Sim) -> None:
    first = oid(sim.sell("S1", 10, 61500))
    second = oid(sim.sell("S2", 10, 61500))
    better = oid(sim.sell("S2", 10, 61400))
    trades = of(sim.buy("B1", 25, 61500), TradeExecuted)
    assert [(t.maker_order_id, t.qty) for t in trades] == [(better, 10), (first, 10), (second, 5)]


def test_limit_buy_rests_remainder_and_holds_its_cost(sim: Sim) -> None:
    sim.sell("S1", 10, 61500)
    ev = sim.buy("B1", 30, 61600)
    o = oid(ev)
    assert sim.status(o) == "partially_filled"
    assert sim.depth() == ([(61600, 20)], [])
    assert sim.cash("B1")[1] == 20 * 61600 + 10 * 61500  # the order's hold + the trade's
    sim.cancel("B1", o)
    assert sim.cash("B1")[1] == 10 * 61500
    sim.pay()
    assert sim.cash("B1")[1] == 0


def test_sell_holds_goods_until_cancelled(sim: Sim) -> None:
    o = oid(sim.sell("S1", 700, 61500))
    assert sim.goods("S1") == (2000, 700)
    assert one(sim.sell("S1", 1301, 61500), OrderRejected).reason == "insufficient_goods"
    sim.cancel("S1", o)
    assert sim.goods("S1") == (2000, 0)


def test_market_buy_respects_its_cash_cap(sim: Sim) -> None:
    sim.sell("S1", 10, 50000)
    sim.sell("S2", 10, 60000)
    cap = 10 * 50000 + 5 * 60000 + 1000  # enough for 5 kg at the second level, not 6
    ev = sim.buy("B1", 100, order_type="market", cash_cap_vnd=cap)
    trades = of(ev, TradeExecuted)
    assert [(t.price_vnd, t.qty) for t in trades] == [(50000, 10), (60000, 5)]
    assert one(ev, OrderCancelled).reason == "cash_cap"
    assert sim.cash("B1") == (1_000_000_000, 10 * 50000 + 5 * 60000)  # the cap left is free
    sim.pay()
    assert sim.cash("B1") == (1_000_000_000 - (10 * 50000 + 5 * 60000), 0)


def test_market_buy_without_liquidity_cancels_remainder_and_releases_cap(sim: Sim) -> None:
    sim.sell("S1", 10, 50000)
    ev = sim.buy("B1", 50, order_type="market", cash_cap_vnd=10**8)
    assert one(ev, OrderCancelled).reason == "ioc"
    assert one(ev, OrderCancelled).leaves_qty == 40
    assert sim.cash("B1") == (1_000_000_000, 500_000)
    sim.pay()
    assert sim.cash("B1") == (1_000_000_000 - 500_000, 0)


def test_market_sell_sweeps_bids(sim: Sim) -> None:
    sim.buy("B1", 10, 60000)
    sim.buy("B2", 10, 59000)
    ev = sim.sell("S1", 15, order_type="market")
    assert [(t.price_vnd, t.qty) for t in of(ev, TradeExecuted)] == [(60000, 10), (59000, 5)]
    assert sim.cash("S1")[0] == 0  # nothing moves before payment
    sim.pay()
    assert sim.cash("S1")[0] == 10 * 60000 + 5 * 59000


def test_ioc_cancels_the_remainder(sim: Sim) -> None:
    sim.sell("S1", 10, 61500)
    ev = sim.buy("B1", 25, 61500, tif="ioc")
    assert one(ev, TradeExecuted).qty == 10
    cancelled = one(ev, OrderCancelled)
    assert (cancelled.reason, cancelled.filled_qty, cancelled.leaves_qty) == ("ioc", 10, 15)
    assert sim.depth() == ([], []) and sim.cash("B1")[1] == 10 * 61500  # the trade's, only


def test_fok_that_cannot_fill_does_nothing(sim: Sim) -> None:
    sim.sell("S1", 10, 61500)
    sim.sell("S2", 10, 61700)
    ev = sim.buy("B1", 25, 61700, tif="fok")
    assert not of(ev, TradeExecuted)
    assert one(ev, OrderCancelled).reason == "fok"
    assert sim.depth() == ([], [(61500, 10), (61700, 10)])
    assert sim.cash("B1") == (1_000_000_000, 0)


def test_fok_that_can_fill_fills_completely(sim: Sim) -> None:
    sim.sell("S1", 10, 61500)
    sim.sell("S2", 10, 61700)
    ev = sim.buy("B1", 20, 61700, tif="fok")
    assert sum(t.qty for t in of(ev, TradeExecuted)) == 20
    assert sim.status(oid(ev)) == "filled"


def test_post_only_that_would_cross_is_rejected(sim: Sim) -> None:
    sim.sell("S1", 10, 61500)
    assert one(sim.buy("B1", 5, 61500, post_only=True), OrderRejected).reason == "post_only_would_cross"
    assert of(sim.buy("B1", 5, 61400, post_only=True), OrderAccepted)


# -- cancel and replace ----------------------------------------------------------------------------


def test_cancel_rules(sim: Sim) -> None:
    o = oid(sim.sell("S1", 10, 61500))
    assert one(sim.cancel("S2", o), CancelRejected).reason == "not_owner"
    assert one(sim.cancel("S1", 999_999), CancelRejected).reason == "unknown_order"
    assert one(sim.cancel("S1", o), OrderCancelled).reason == "user"
    assert one(sim.cancel("S1", o), CancelRejected).reason == "order_not_open"
    assert sim.status(o) == "cancelled"


def test_replace_quantity_down_keeps_priority(sim: Sim) -> None:
    first = oid(sim.sell("S1", 50, 61500))
    second = oid(sim.sell("S2", 50, 61500))
    ev = sim.replace("S1", first, qty=20)
    assert one(ev, OrderReplaced).priority_kept
    assert sim.goods("S1") == (2000, 20)
    trades = of(sim.buy("B1", 30, 61500), TradeExecuted)
    assert [(t.maker_order_id, t.qty) for t in trades] == [(first, 20), (second, 10)]


def test_replace_quantity_up_loses_priority(sim: Sim) -> None:
    first = oid(sim.sell("S1", 50, 61500))
    second = oid(sim.sell("S2", 50, 61500))
    assert not one(sim.replace("S1", first, qty=60), OrderReplaced).priority_kept
    trades = of(sim.buy("B1", 30, 61500), TradeExecuted)
    assert [t.maker_order_id for t in trades] == [second]


def test_replace_price_loses_priority_and_may_trade(sim: Sim) -> None:
    bid = oid(sim.buy("B1", 10, 61000))
    first = oid(sim.sell("S1", 10, 61500))
    sim.sell("S2", 10, 61500)
    ev = sim.replace("B1", bid, price=61500)  # now crosses: trades as an incoming order
    trade = one(ev, TradeExecuted)
    assert (trade.maker_order_id, trade.taker_order_id, trade.price_vnd) == (first, bid, 61500)
    assert sim.status(bid) == "filled" and sim.cash("B1")[1] == 10 * 61500  # the trade's only


def test_replace_refusals(sim: Sim) -> None:
    sim.sell("S2", 100, 61500)
    o = oid(sim.buy("B1", 50, 61000))
    sim.buy("B1", 0 + 1, 61500)  # trades 1 with S2
    part = oid(sim.buy("B1", 20, 61500))  # fills 20 from S2, order is filled
    assert one(sim.replace("B1", part, qty=10), CancelRejected).reason == "order_not_open"
    assert one(sim.replace("B2", o, qty=10), CancelRejected).reason == "not_owner"
    assert one(sim.replace("B1", o), CancelRejected).reason == "nothing_to_replace"
    assert one(sim.replace("B1", o, price=61050), CancelRejected).reason == "price_off_tick"
    assert one(sim.replace("B1", o, qty=10**9), CancelRejected).reason == "insufficient_cash"
    assert one(sim.replace("B1", o, qty=-1), CancelRejected).reason == "invalid_qty"


def test_replace_below_filled_is_refused(sim: Sim) -> None:
    o = oid(sim.sell("S1", 50, 61500))
    sim.buy("B1", 30, 61500)
    assert one(sim.replace("S1", o, qty=30), CancelRejected).reason == "qty_not_above_filled"
    ev = sim.replace("S1", o, qty=40)
    assert one(ev, OrderReplaced).leaves_qty == 10
    assert sim.goods("S1") == (2000, 40)  # 30 sold and held until paid, 10 on the order
    sim.pay()
    assert sim.goods("S1") == (1970, 10)


# -- self-trade prevention -------------------------------------------------------------------------


def test_self_trade_prevention_cancels_incoming_remainder(sim: Sim) -> None:
    sim.fund("S1", 10**9)
    other = oid(sim.sell("S2", 10, 61400))
    own = oid(sim.sell("S1", 10, 61500))
    ev = sim.buy("S1", 30, 61600)
    assert [t.maker_order_id for t in of(ev, TradeExecuted)] == [other]
    cancelled = one(ev, OrderCancelled)
    assert (cancelled.reason, cancelled.leaves_qty) == ("self_trade", 20)
    assert sim.status(own) == "new"  # the resting order is untouched
    assert sim.depth() == ([], [(61500, 10)])
    assert sim.cash("S1")[1] == 10 * 61400  # the trade with S2, held until paid


# -- time in force: GTD ----------------------------------------------------------------------------


def test_gtd_expires_when_a_tick_passes_its_time(sim: Sim) -> None:
    t0 = sim.ts
    o = oid(sim.buy("B1", 10, 61000, tif="gtd", expire_at_ns=t0 + 60 * 10**9))
    assert not sim.tick(t0 + 59 * 10**9)
    ev = sim.tick(t0 + 60 * 10**9)
    expired = one(ev, OrderExpired)
    assert (expired.order_id, expired.leaves_qty) == (o, 10)
    assert one(ev, BookUpdated).bids == [(61000, 0)]
    assert sim.status(o) == "expired" and sim.cash("B1")[1] == 0


def test_gtd_filled_or_cancelled_before_expiry_is_not_expired(sim: Sim) -> None:
    t0 = sim.ts
    a = oid(sim.buy("B1", 10, 61000, tif="gtd", expire_at_ns=t0 + 10))
    b = oid(sim.buy("B1", 10, 60900, tif="gtd", expire_at_ns=t0 + 10))
    sim.sell("S1", 10, 61000)
    sim.cancel("B1", b)
    assert sim.tick(t0 + 20) == []
    assert (sim.status(a), sim.status(b)) == ("filled", "cancelled")


# -- idempotency -----------------------------------------------------------------------------------


def test_resent_client_order_id_gets_the_original_outcome(sim: Sim) -> None:
    sim.sell("S1", 10, 61500)
    first = sim.buy("B1", 25, 61500, cid="my-1")
    again = sim.buy("B1", 25, 61500, cid="my-1")
    resent = one(again, OrderResent)
    assert resent.order_id == oid(first)
    assert (resent.status, resent.filled_qty, resent.leaves_qty) == ("partially_filled", 10, 15)
    assert len(again) == 1 and sim.depth()[0] == [(61500, 15)]
    # another account may use the same client order id
    assert of(sim.buy("B2", 1, 61000, cid="my-1"), OrderAccepted)


# -- lots ------------------------------------------------------------------------------------------


def test_trades_deliver_oldest_lots_first_and_list_them(sim: Sim) -> None:
    sim.sell("S1", 1500, 61500)
    t1 = one(sim.buy("B1", 700, 61500), TradeExecuted)
    assert t1.lots == [LotLeg("L-S1-1", 700)]
    t2 = one(sim.buy("B2", 600, 61500), TradeExecuted)
    assert t2.lots == [LotLeg("L-S1-1", 300), LotLeg("L-S1-2", 300)]
    sim.pay()
    view = sim.ex.balances("B2")
    assert view is not None and view.goods[0].lots == [("L-S1-1", 300), ("L-S1-2", 300)]


def test_resold_goods_keep_their_lot_ids(sim: Sim) -> None:
    sim.sell("S2", 100, 61500)
    sim.buy("B1", 100, 61500)
    # bought goods are the buyer's to resell only once paid
    assert one(sim.sell("B1", 40, 62000), OrderRejected).reason == "insufficient_goods"
    sim.pay()
    sim.sell("B1", 40, 62000)
    t = one(sim.buy("B2", 40, 62000), TradeExecuted)
    assert t.lots == [LotLeg("L-S2-1", 40)] and t.seller == "B1"


def test_lot_receipt_and_withdrawal_rules(sim: Sim) -> None:
    assert one(sim.lot("L-S1-1", "S1", 5), CommandRejected).reason == "duplicate_lot"
    assert one(sim.lot("L-X", "S1", 0), CommandRejected).reason == "invalid_qty"
    assert one(sim.lot("L-Y", "S1", 5, symbol="NOPE"), CommandRejected).reason == "unknown_symbol"
    o = oid(sim.sell("S1", 1500, 61500))
    refused = sim.do(WithdrawLot(lot_id="L-S1-1", account="S1"))
    assert one(refused, CommandRejected).reason == "goods_held"
    sim.cancel("S1", o)
    assert one(sim.do(WithdrawLot(lot_id="L-S1-1", account="S1")), LotWithdrawn).qty == 1000
    assert sim.goods("S1") == (1000, 0)
    assert one(sim.do(WithdrawLot(lot_id="L-S1-1", account="S1")), CommandRejected).reason == "lot_not_held"
    assert one(sim.do(WithdrawLot(lot_id="L-?", account="S1")), CommandRejected).reason == "unknown_lot"


# -- cash ------------------------------------------------------------------------------------------


def test_withdrawal_cannot_touch_held_cash(sim: Sim) -> None:
    sim.buy("B1", 10_000, 61500)  # holds 615,000,000
    refused = sim.do(Withdraw(account="B1", amount_vnd=400_000_000))
    assert one(refused, CommandRejected).reason == "insufficient_cash"
    done = one(sim.do(Withdraw(account="B1", amount_vnd=385_000_000)), CashWithdrawn)
    assert done.balance_vnd == 615_000_000
    assert one(sim.do(Withdraw(account="B1", amount_vnd=0)), CommandRejected).reason == "invalid_amount"
    assert one(sim.do(Withdraw(account="ZZ", amount_vnd=1)), CommandRejected).reason == "insufficient_cash"
    assert one(sim.fund("B1", -1), CommandRejected).reason == "invalid_amount"


# -- events and market data ------------------------------------------------------------------------


def test_events_carry_seq_and_time_and_book_seq_rises_by_one(sim: Sim) -> None:
    sim.sell("S1", 10, 61500)
    ev = sim.buy("B1", 5, 61500, )
    assert {e.seq for e in ev} == {sim.seq} and {e.ts_ns for e in ev} == {sim.ts}
    seqs = [e.book_seq for e in sim.log if isinstance(e, BookUpdated)]
    assert seqs == list(range(1, len(seqs) + 1))


def test_queries(sim: Sim) -> None:
    sim.sell("S1", 10, 61500)
    sim.sell("S2", 5, 61500)
    sim.sell("S2", 5, 61800)
    sim.buy("B1", 3, 61000)
    assert sim.ex.best_bid_ask(SYMBOL) == (61000, 61500)
    snap = sim.ex.depth(SYMBOL, 1)
    assert snap is not None and snap.asks == [(61500, 15)] and snap.bids == [(61000, 3)]
    assert sim.ex.depth("NOPE") is None and sim.ex.order_status(12345) is None
    assert sim.ex.best_bid_ask("NOPE") is None
    assert sim.ex.balances("nobody") is None


def test_instrument_added_event_echoes_definition() -> None:
    sim = Sim()
    ev = sim.instrument("ATISO-LEAF-B", tick=50, step=10)
    added = one(ev, InstrumentAdded)
    assert (added.symbol, added.tick_vnd, added.qty_step, added.unit) == ("ATISO-LEAF-B", 50, 10, "kg")


# -- housekeeping ----------------------------------------------------------------------------------


def test_purge_forgets_done_orders_and_keeps_open_ones(sim: Sim) -> None:
    t0 = sim.ts
    filled = oid(sim.sell("S1", 10, 61500, cid="s-1"))
    sim.buy("B1", 10, 61500, cid="b-1")
    cancelled = oid(sim.buy("B1", 5, 61000, cid="b-2"))
    sim.cancel("B1", cancelled)
    gtd = oid(sim.buy("B2", 5, 60000, tif="gtd", expire_at_ns=t0 + 10, cid="b-3"))
    open_order = oid(sim.sell("S2", 7, 62000, cid="s-2"))
    bound = sim.seq
    later = oid(sim.buy("B2", 1, 60500, cid="b-4"))
    sim.cancel("B2", later)
    sim.do(CancelOrder(account="B2", order_id=gtd))
    purged = one(sim.do(PurgeOrders(upto_order_id=bound)), OrdersPurged)
    assert (purged.upto_order_id, purged.count) == (bound, 4)  # filled x2, cancelled x2
    for gone in (filled, cancelled, gtd):
        assert sim.ex.order_status(gone) is None
    assert sim.status(open_order) == "new" and sim.status(later) == "cancelled"
    # a purged client order id may be used again; an open or unpurged one is still a resend
    assert of(sim.buy("B1", 1, 61000, cid="b-2"), OrderAccepted)
    assert of(sim.sell("S2", 1, 62500, cid="s-2"), OrderResent)
    assert of(sim.buy("B2", 1, 60500, cid="b-4"), OrderResent)
    # the GTD expiry of a purged order is skipped when it comes due
    assert sim.tick(t0 + 20) == []
    assert Exchange.restore(sim.ex.snapshot()).state_hash() == sim.ex.state_hash()


def test_a_transfer_id_moves_money_once(sim: Sim) -> None:
    booked = one(sim.do(Deposit(account="B1", amount_vnd=500, transfer_id="VCB-1")), CashDeposited)
    assert booked.transfer_id == "VCB-1"
    before = sim.ex.snapshot()
    again = sim.do(Deposit(account="B1", amount_vnd=500, transfer_id="VCB-1"))
    assert one(again, CommandRejected).reason == "duplicate_transfer"
    out = sim.do(Withdraw(account="B1", amount_vnd=1, transfer_id="VCB-1"))
    assert one(out, CommandRejected).reason == "duplicate_transfer"
    sim.ex.last_seq -= 2
    assert sim.ex.snapshot() == before  # refusals change nothing
    sim.ex.last_seq += 2
    assert one(sim.do(Withdraw(account="B1", amount_vnd=1, transfer_id="VCB-2")), CashWithdrawn)
    restored = Exchange.restore(sim.ex.snapshot())
    assert one(restored.apply(Deposit(seq=sim.seq + 1, account="B1", amount_vnd=5,
                                      transfer_id="VCB-2")), CommandRejected)


def test_every_command_refuses_unknown_fields() -> None:
    for cls in typing.get_args(Command):
        assert cls.__struct_config__.forbid_unknown_fields, cls
    with pytest.raises(msgspec.ValidationError, match="unknown field `post_onyl`"):
        command_json_decoder.decode(
            b'{"type":"place_order","account":"B1","client_order_id":"x","symbol":"S",'
            b'"side":"buy","price_vnd":100,"qty":1,"post_onyl":true}')


def test_numbers_are_bounded_so_totals_stay_within_64_bits(sim: Sim) -> None:
    assert one(sim.buy("B1", MAX_QTY + 1, 61500), OrderRejected).reason == "invalid_qty"
    assert one(sim.buy("B1", 1, MAX_VND + 100), OrderRejected).reason == "invalid_price"
    assert one(sim.buy("B1", 1, order_type="market", cash_cap_vnd=MAX_VND + 1),
               OrderRejected).reason == "invalid_cash_cap"
    assert one(sim.fund("B1", MAX_VND + 1), CommandRejected).reason == "invalid_amount"
    assert one(sim.lot("L-BIG", "S1", MAX_QTY + 1), CommandRejected).reason == "invalid_qty"
    for _ in range(MAX_BALANCE_VND // MAX_VND):
        sim.fund("RICH", MAX_VND)
    assert one(sim.fund("RICH", MAX_VND), CommandRejected).reason == "balance_limit"
    sim.ex.snapshot()  # encodes: every number fits
    # the decoders refuse out-of-range numbers outright
    with pytest.raises(msgspec.ValidationError, match="qty"):
        command_json_decoder.decode(
            b'{"type":"place_order","account":"B1","client_order_id":"x","symbol":"S",'
            b'"side":"buy","price_vnd":100,"qty":1000000000000000000000000000000}')
