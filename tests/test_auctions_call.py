"""The uniform-price call auction: the worked examples of docs/auctions.md (parsed from the
document, so the document and the tests cannot drift apart), the call lifecycle, holds."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from engine.messages import (
    AddInstrument,
    BookUpdated,
    CallStarted,
    CallUncrossed,
    CancelRejected,
    CommandRejected,
    HaltInstrument,
    IndicativePrice,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    TradeExecuted,
)
from tests.support import SYMBOL, of, one
from tests.test_auctions_support import T0, AuctionSim, S

DOC = Path(__file__).resolve().parent.parent / "docs" / "auctions.md"
EXAMPLES = re.findall(r"```json call-example\n(.*?)```", DOC.read_text("utf-8"), re.S)


def run_example(ex: dict[str, Any]) -> tuple[AuctionSim, list[Any]]:
    sim = AuctionSim()
    sim.do(AddInstrument(symbol=SYMBOL, herb="QUE-BARK", grade="A", tick_vnd=100,
                         ref_price_vnd=ex.get("reference")))
    sim.ts = T0
    for account, side, qty, _price, *_cap in ex["orders"]:
        if side == "buy":
            sim.fund(account, 10_000_000_000)
        else:
            sim.lot(f"L-{account}-{sim.seq}", account, qty)
    sim.start_call()
    for account, side, qty, price, *cap in ex["orders"]:
        kw: dict[str, Any] = {"order_type": "market"} if price is None else {}
        if cap:
            kw["cash_cap_vnd"] = cap[0]
        ev = sim.order(account, side, qty, price, **kw)
        assert not of(ev, TradeExecuted) and not of(ev, OrderRejected), ev
    return sim, sim.end_call()


@pytest.mark.parametrize("text", EXAMPLES, ids=[f"example{i + 1}" for i in range(len(EXAMPLES))])
def test_documented_examples(text: str) -> None:
    ex = json.loads(text)
    sim, events = run_example(ex)
    done = one(events, CallUncrossed)
    assert (done.price_vnd, done.volume, done.imbalance_qty) == (
        ex["price"], ex["volume"], ex["imbalance"])
    trades = [[t.buyer, t.seller, t.qty] for t in of(events, TradeExecuted)]
    assert all(t.price_vnd == ex["price"] for t in of(events, TradeExecuted))
    assert trades == ex["trades"]
    bids, asks = sim.depth()
    assert [list(x) for x in bids] == ex["book_after"]["bids"]
    assert [list(x) for x in asks] == ex["book_after"]["asks"]


def test_there_are_examples_for_every_tie_break() -> None:
    assert len(EXAMPLES) >= 7


def test_buy_filled_below_its_limit_gets_the_difference_back() -> None:
    sim, _ = run_example(json.loads(EXAMPLES[0]))
    assert sim.cash("B1") == (10_000_000_000, 61_000 * 100)  # the trade's DvP hold, only
    sim.pay()
    assert sim.cash("B1") == (10_000_000_000 - 61_000 * 100, 0)


def test_call_lifecycle_indicative_cancel_replace_refusals() -> None:
    sim = AuctionSim()
    sim.instrument()
    sim.fund("B1", 10_000_000_000)
    sim.lot("L1", "S1", 1000)
    ev = sim.start_call(close_at=T0 + 10 * S)
    assert one(ev, CallStarted).close_at_ns == T0 + 10 * S
    ev = sim.sell("S1", 100, 60_000)
    assert not of(ev, IndicativePrice) and not of(ev, BookUpdated)  # still nothing crosses
    sell_id = ev[0].order_id  # type: ignore[union-attr]
    ev = sim.buy("B1", 50, 61_000)
    ind = one(ev, IndicativePrice)
    assert (ind.price_vnd, ind.volume, ind.imbalance_qty) == (60_000, 50, -50)
    buy_id = ev[0].order_id  # type: ignore[union-attr]
    assert sim.cash("B1")[1] == 61_000 * 50  # held like any order
    assert one(sim.replace("B1", buy_id, qty=60), CancelRejected).reason == (
        "replace_not_allowed_in_call")
    assert one(sim.buy("B1", 10, 61_000, tif="fok"), OrderRejected).reason == (
        "fok_not_allowed_in_call")
    assert one(sim.buy("B1", 10, 59_000, post_only=True), OrderRejected).reason == (
        "post_only_not_allowed_in_call")
    ev = sim.cancel("B1", buy_id)
    assert one(ev, OrderCancelled).reason == "user"
    assert one(ev, IndicativePrice).volume == 0 and sim.cash("B1")[1] == 0
    sim.buy("B1", 40, 60_000, tif="gtd", expire_at_ns=T0 + 5 * S)
    ev = sim.tick(T0 + 5 * S)
    assert one(ev, OrderExpired) and one(ev, IndicativePrice).volume == 0
    sim.buy("B1", 30, 60_500)
    sim.buy("B1", 5, 59_000, tif="ioc")  # does not cross: cancelled at the uncross
    ev = sim.tick(T0 + 10 * S)
    done = one(ev, CallUncrossed)
    assert (done.price_vnd, done.volume) == (60_000, 30)
    assert one(ev, OrderCancelled).reason == "ioc"
    assert sim.depth() == ([], [(60_000, 70)])
    assert sim.status(sell_id) == "partially_filled"
    # continuous again: an order now matches at once
    assert of(sim.buy("B1", 10, 60_000), TradeExecuted)
    assert one(sim.end_call(), CommandRejected).reason == "not_in_call"


def test_reopening_after_a_halt_includes_resting_book_orders() -> None:
    sim = AuctionSim()
    sim.instrument()
    sim.fund("B1", 10_000_000_000)
    sim.lot("L1", "S1", 1000)
    sim.buy("B1", 100, 59_000)  # rests in the continuous book
    sim.do(HaltInstrument(symbol=SYMBOL))
    assert one(sim.start_call(), CallStarted).reopening
    sim.sell("S1", 60, 58_000)
    ev = sim.end_call()
    done = one(ev, CallUncrossed)
    assert (done.price_vnd, done.volume, done.imbalance_qty) == (59_000, 60, 40)
    assert sim.depth() == ([(59_000, 40)], [])
    assert one(ev, TradeExecuted).aggressor == "sell"


def test_nothing_crosses_everything_rests() -> None:
    sim = AuctionSim()
    sim.instrument()
    sim.fund("B1", 10_000_000_000)
    sim.lot("L1", "S1", 1000)
    sim.start_call()
    sim.buy("B1", 10, 50_000)
    sim.sell("S1", 10, 51_000)
    sim.buy("B1", 10, order_type="market", cash_cap_vnd=100)  # cannot afford one unit
    ev = sim.end_call()
    assert one(ev, CallUncrossed).volume == 0
    assert one(ev, OrderCancelled).reason == "ioc"  # the market buy is cancelled, cap freed
    assert sim.depth() == ([(50_000, 10)], [(51_000, 10)])
    assert sim.goods("S1") == (1000, 10) and sim.cash("B1")[1] == 50_000 * 10


def test_a_self_match_in_the_uncross_cancels_the_newer_order_and_frees_its_hold() -> None:
    # issue 9.6: A's buy (older, a book order from before the halt) would be paired with A's
    # sell entered in the call; the sell is cancelled as self_trade, its goods freed
    sim = AuctionSim()
    sim.instrument()
    sim.fund("A", 10_000_000_000)
    sim.lot("LA", "A", 100)
    sim.lot("LS", "S", 100)
    buy = sim.buy("A", 100, 61_000)[0].order_id  # type: ignore[union-attr]
    sim.do(HaltInstrument(symbol=SYMBOL))
    sim.start_call()
    own = sim.sell("A", 50, 60_000)[0].order_id  # type: ignore[union-attr]
    sim.sell("S", 30, 60_000)
    ev = sim.end_call()
    cancelled = one(ev, OrderCancelled)
    assert (cancelled.order_id, cancelled.reason, cancelled.leaves_qty) == (own, "self_trade", 50)
    assert [(t.buyer, t.seller, t.qty) for t in of(ev, TradeExecuted)] == [("A", "S", 30)]
    assert one(ev, CallUncrossed).volume == 30
    assert sim.goods("A") == (100, 0)  # the cancelled sell holds nothing
    sim.pay()
    assert sim.goods("A") == (130, 0)
    assert sim.status(buy) == "partially_filled" and sim.depth() == ([(61_000, 70)], [])
