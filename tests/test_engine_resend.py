"""A resent client order id: the same order is answered with the original, a different order
under the same id is refused with ``client_order_id_reused`` (and changes nothing)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.exchange import Exchange
from engine.messages import OrderAccepted, OrderResent, PlaceOrder
from engine.naive_book import NaiveBook
from tests.support import SYMBOL, Sim, market, one
from tests.test_auctions_support import market as call_market

BASE: dict[str, Any] = {"side": "buy", "order_type": "limit", "price_vnd": 61_000, "qty": 10,
                        "tif": "gtd", "expire_at_ns": 10**18, "post_only": True}


@pytest.fixture(params=["fast", "naive"])
def sim(request: pytest.FixtureRequest) -> Sim:
    return market(Sim(book_factory=NaiveBook) if request.param == "naive" else Sim())


def place(sim: Sim, account: str = "B1", cid: str = "c-1", **fields: Any) -> list[Any]:
    return sim.do(PlaceOrder(account=account, client_order_id=cid, symbol=SYMBOL, **fields))


def unchanged(sim: Sim, before: str) -> bool:
    sim.ex.last_seq -= 1  # the hash covers last_seq; compare the rest
    same = sim.ex.state_hash() == before
    sim.ex.last_seq += 1
    return same


def test_an_identical_resend_reports_the_original_without_a_reason(sim: Sim) -> None:
    first = one(place(sim, **BASE), OrderAccepted)
    again = one(place(sim, **BASE), OrderResent)
    assert (again.order_id, again.reason, again.detail) == (first.order_id, "", "")


@pytest.mark.parametrize(("change", "field"), [
    ({"symbol": "OTHER-A"}, "symbol"),
    ({"side": "sell"}, "side"),
    ({"price_vnd": 61_100}, "price"),
    ({"qty": 11}, "qty"),
    ({"tif": "gtc", "expire_at_ns": None}, "tif, expire_at"),
    ({"expire_at_ns": 10**18 + 1}, "expire_at"),
    ({"post_only": False}, "post_only"),
    ({"order_type": "market", "price_vnd": None, "tif": "ioc", "expire_at_ns": None,
      "post_only": False, "cash_cap_vnd": 1_000_000}, "type, price, tif, post_only, expire_at, "
                                                      "cash_cap"),
])
def test_a_different_order_under_a_used_id_is_refused_and_changes_nothing(
    sim: Sim, change: dict[str, Any], field: str
) -> None:
    first = one(place(sim, **BASE), OrderAccepted)
    before = sim.ex.state_hash()
    fields = {**BASE, **change}
    symbol = fields.pop("symbol", SYMBOL)
    again = sim.do(PlaceOrder(account="B1", client_order_id="c-1", symbol=symbol, **fields))
    resent = one(again, OrderResent)
    assert len(again) == 1
    assert (resent.order_id, resent.status, resent.leaves_qty) == (first.order_id, "new", 10)
    assert (resent.reason, resent.detail) == ("client_order_id_reused", f"differs in {field}")
    assert unchanged(sim, before)


def test_a_market_buy_is_compared_with_its_cash_cap_and_reads_gtc_as_ioc(sim: Sim) -> None:
    sim.sell("S1", 5, 61_000)
    buy = {"side": "buy", "order_type": "market", "qty": 5, "cash_cap_vnd": 400_000}
    one(place(sim, **buy), OrderAccepted)
    assert one(place(sim, **buy), OrderResent).reason == ""
    assert one(place(sim, **buy, tif="ioc"), OrderResent).reason == ""  # what gtc means here
    differs = one(place(sim, **{**buy, "cash_cap_vnd": 500_000}), OrderResent)
    assert (differs.reason, differs.detail) == ("client_order_id_reused", "differs in cash_cap")
    sim.ex = Exchange.restore(sim.ex.snapshot())  # the cap survives a snapshot
    assert one(place(sim, **buy), OrderResent).reason == ""
    assert one(place(sim, **{**buy, "cash_cap_vnd": 1}), OrderResent).detail == \
        "differs in cash_cap"


def test_a_replaced_order_is_compared_with_its_first_placement(sim: Sim) -> None:
    plain = {"side": "buy", "price_vnd": 61_000, "qty": 10}
    oid = one(place(sim, **plain), OrderAccepted).order_id
    sim.replace("B1", oid, qty=8)  # keeps priority: same object, smaller qty
    sim.replace("B1", oid, price=60_900)  # loses priority: a new object in the book
    assert one(place(sim, **plain), OrderResent).reason == ""
    now = one(place(sim, **{**plain, "qty": 8, "price_vnd": 60_900}), OrderResent)
    assert now.detail == "differs in price, qty"  # the id names the order as first placed
    sim.ex = Exchange.restore(sim.ex.snapshot())
    assert sim.ex.state_hash() == Exchange.restore(sim.ex.snapshot()).state_hash()
    assert one(place(sim, **plain), OrderResent).reason == ""


def test_a_capped_market_buy_in_a_call_keeps_its_cap() -> None:
    sim = call_market()
    sim.start_call()
    buy = {"side": "buy", "order_type": "market", "qty": 5, "cash_cap_vnd": 400_000}
    one(place(sim, **buy), OrderAccepted)
    assert one(place(sim, **buy), OrderResent).reason == ""
    assert one(place(sim, **{**buy, "qty": 6}), OrderResent).detail == "differs in qty"
    assert one(place(sim, **{**buy, "cash_cap_vnd": 1}), OrderResent).detail == \
        "differs in cash_cap"
