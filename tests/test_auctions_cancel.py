"""Cancelling an auction (issue 9.5): who may, what is released and returned, who is told."""

from __future__ import annotations

import msgspec
import pytest

from engine.messages import (
    AuctionBidRejected,
    AuctionCancelled,
    AuctionClosed,
    BidVoided,
    CancelAuction,
    Event,
    TradeExecuted,
    command_json_decoder,
)
from tests.support import of, one
from tests.test_auctions_support import T0, AuctionSim, S, market, public, rejected

FUNDS = 10_000_000_000


def cancel(sim: AuctionSim, aid: int, account: str = "S1", operator: bool = False,
           reason: str = "lot failed a re-test", ts: int | None = None) -> list[Event]:
    return sim.do(CancelAuction(auction_id=aid, account=account, by_operator=operator,
                                reason=reason), ts=ts)


def test_the_seller_cancels_before_the_first_bid_and_the_lot_returns() -> None:
    sim = market()
    aid = sim.create("english")
    assert sim.goods("S1") == (500, 0)  # 100 of LOT-1 in the auction's custody
    ev = cancel(sim, aid)
    c = one(ev, AuctionCancelled)
    assert (c.by, c.reason) == ("seller", "lot failed a re-test")
    closed = one(ev, AuctionClosed)
    assert (closed.outcome, closed.reason, closed.unsold_qty) == ("unsold", "cancelled", 100)
    assert not of(ev, BidVoided) and public(ev) == ev
    assert sim.goods("S1") == (600, 0)
    assert sim.ex.accounts["S1"].holdings["QUE-BARK-A"].lot_qty("LOT-1") == 100
    assert rejected(sim.bid(aid, "B1", 60_000)) == "auction_closed"
    assert rejected(cancel(sim, aid)) == "auction_closed"
    assert not of(sim.tick(T0 + 120 * S), AuctionClosed)  # the close does not run again


def test_a_scheduled_auction_can_be_cancelled_before_it_opens() -> None:
    sim = market()
    aid = sim.create("dutch", start=T0 + 10 * S, price=60_000, step_vnd=1_000, interval_ns=S,
                     floor_vnd=50_000)
    assert one(cancel(sim, aid), AuctionClosed).reason == "cancelled"
    assert sim.goods("S1") == (600, 0)
    assert not of(sim.tick(T0 + 11 * S), TradeExecuted)


def test_after_the_first_bid_only_the_operator_cancels_and_every_hold_is_released() -> None:
    sim = market()
    aid = sim.create("english")
    sim.bid(aid, "B1", 60_000)
    sim.bid(aid, "B2", 70_000)  # B1 outbid (released then); B2 leads and holds
    assert rejected(cancel(sim, aid)) == "auction_has_bids"
    assert rejected(cancel(sim, aid, account="B2")) == "not_seller"
    assert rejected(cancel(sim, 999)) == "unknown_auction"
    ev = cancel(sim, aid, account="OPS", operator=True, reason="court order")
    assert one(ev, AuctionCancelled).by == "operator"
    void = one(ev, BidVoided)
    assert (void.recipient, void.released_vnd) == ("B2", 70_000 * 100)
    assert not of(ev, TradeExecuted)
    assert sim.cash("B2") == (FUNDS, 0) and sim.cash("B1") == (FUNDS, 0)
    assert sim.goods("S1") == (600, 0)


def test_cancelling_a_sealed_auction_voids_every_bid_and_opens_none() -> None:
    sim = market()
    aid = sim.create("sealed")
    for b, price in (("B1", 60_000), ("B2", 65_000), ("B3", 55_000)):
        sim.bid(aid, b, price)
    assert rejected(cancel(sim, aid)) == "auction_has_bids"
    ev = cancel(sim, aid, account="OPS", operator=True)
    voided = of(ev, BidVoided)
    assert [(v.recipient, v.released_vnd) for v in voided] == [
        ("B1", 6_000_000), ("B2", 6_500_000), ("B3", 5_500_000)]
    assert all(sim.cash(b) == (FUNDS, 0) for b in ("B1", "B2", "B3"))
    # nothing about the void bids is public, then or later (they are never opened)
    assert [type(e) for e in public(ev)] == [AuctionCancelled, AuctionClosed]
    assert one(ev, AuctionClosed).price_vnd is None
    assert sim.ex.auctions.auctions[aid].sealed == {}


def test_a_dutch_clock_cancelled_after_a_purchase_keeps_the_sale() -> None:
    sim = market()
    aid = sim.create("dutch", price=60_000, step_vnd=1_000, interval_ns=S, floor_vnd=50_000,
                     min_qty=10)
    sim.dutch_buy(aid, "B1", 60_000, 30)
    assert rejected(cancel(sim, aid)) == "auction_has_bids"
    closed = one(cancel(sim, aid, account="OPS", operator=True), AuctionClosed)
    assert (closed.outcome, closed.reason, closed.sold_qty, closed.unsold_qty) == (
        "partly_sold", "cancelled", 30, 70)
    assert sim.goods("B1") == (0, 0) and sim.goods("S1") == (600, 30)  # sold, waiting for payment
    sim.pay()
    assert sim.goods("B1") == (30, 0) and sim.goods("S1") == (570, 0)


def test_no_cancel_once_the_close_time_has_come() -> None:
    sim = market()
    aid = sim.create("english")
    sim.bid(aid, "B1", 60_000)
    # the closing tick has not run yet, but the outcome is decided: B1 won
    assert rejected(cancel(sim, aid, account="OPS", operator=True, ts=T0 + 60 * S)) == (
        "auction_closed")
    assert one(sim.tick(T0 + 60 * S), AuctionClosed).winner == "B1"


@pytest.mark.parametrize("reason", ["", "x" * 201])
def test_the_reason_is_bounded_text(reason: str) -> None:
    raw = msgspec.json.encode({"type": "cancel_auction", "auction_id": 1, "account": "S1",
                               "reason": reason})
    with pytest.raises(msgspec.ValidationError):
        command_json_decoder.decode(raw)


def test_refusals_are_private_to_the_requester() -> None:
    sim = market()
    aid = sim.create("english")
    ev = cancel(sim, aid, account="B1")
    assert one(ev, AuctionBidRejected).recipient == "B1" and not public(ev)
