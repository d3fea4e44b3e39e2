"""Lot auctions over REST (and, through the same functions, the WebSocket): the public board,
creating an auction (the owning cooperative, or an operator for any seller), English and sealed
bids, Dutch buys, cancelling (the operator, or the seller before the first bid). Refusals come
back with the engine's reason codes.

Never decides who may bid, cancel or buy (the engine does; the role only says whether the
caller speaks for the operator), nor shows what the board hides.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from msgspec import Struct

from engine.messages import (
    AuctionBidRejected,
    AuctionCancelled,
    AuctionClosed,
    AuctionCreated,
    BidPlaced,
    BidVoided,
    CancelAuction,
    CancelReason,
    CreateAuction,
    DutchBuy,
    Event,
    PlaceBid,
    Qty,
    TradeExecuted,
    Vnd,
)
from gateway.api.admin import accepted
from gateway.api.bounds import Millis, Seconds
from gateway.api.http import body, int_path, reply
from gateway.api.lots import next_step
from gateway.api.problems import Problem
from gateway.api.refusals import refusal
from gateway.auth import Participant, ParticipantId
from gateway.state import Gateway
from grading.lot import LotId

S = 1_000_000_000


class AuctionRequest(Struct, kw_only=True, forbid_unknown_fields=True):
    """Prices VND per unit; times in seconds from now. ``seller`` is required when an operator
    creates the auction (422 without it) and, for a cooperative, may only name itself (403)."""

    kind: Literal["english", "dutch", "sealed"]
    lot_id: LotId
    qty: Qty
    start_price: Vnd
    seller: ParticipantId | None = None
    duration_s: Seconds = 300  # english and sealed: the close is this long after the start
    start_in_s: Seconds = 0
    reserve: Vnd | None = None
    extend_s: Seconds = 0
    extension_cap_s: Seconds = 0
    pricing: Literal["first", "second"] = "first"
    step: Vnd = 0
    interval_ms: Millis = 0
    floor: Vnd = 0
    min_qty: Qty = 0
    restart_steps: Qty = 0


class BidRequest(Struct, kw_only=True, forbid_unknown_fields=True):
    price: Vnd


class DutchBuyRequest(Struct, kw_only=True, forbid_unknown_fields=True):
    price: Vnd
    qty: Qty


class BidOut(Struct, kw_only=True):
    auction_id: int
    bid_id: int
    kind: str
    max_price: int
    leading: bool
    price: int
    held_vnd: int


class DutchBuyOut(Struct, kw_only=True):
    auction_id: int
    trade_id: int
    price: int
    qty: int


class CancelAuctionRequest(Struct, kw_only=True, forbid_unknown_fields=True):
    """Why the auction is called off (shown to the public)."""

    reason: CancelReason


class CancelAuctionOut(Struct, kw_only=True):
    auction_id: int
    status: str
    outcome: str
    cancelled_by: str
    reason: str
    sold_qty: int
    returned_qty: int  # back in the seller's custody
    voided_bids: int  # bids whose holds were released (each bidder was told)


def auction_refusal(events: list[Event]) -> None:
    first = events[0]
    if type(first) is AuctionBidRejected:
        raise refusal(first.reason, first.detail)


async def create(gw: Gateway, who: Participant, r: AuctionRequest) -> dict[str, Any]:
    if who.role == "operator":
        if r.seller is None:
            raise Problem(422, "invalid_field", "an operator names the seller")
        seller = r.seller
    else:
        if r.seller not in (None, who.id):
            raise Problem(403, "forbidden", "a cooperative auctions only its own lots")
        seller = who.id
    now = gw.now_ns()
    start = now + r.start_in_s * S
    events = await gw.submit(CreateAuction(
        kind=r.kind, seller=seller, lot_id=r.lot_id, qty=r.qty, start_ns=start,
        end_ns=0 if r.kind == "dutch" else start + r.duration_s * S,
        start_price_vnd=r.start_price, reserve_vnd=r.reserve, extend_ns=r.extend_s * S,
        extension_cap_ns=r.extension_cap_s * S, pricing=r.pricing, step_vnd=r.step,
        interval_ns=r.interval_ms * 1_000_000, floor_vnd=r.floor, min_qty=r.min_qty,
        restart_steps=r.restart_steps))
    try:
        ev = accepted(events)
    except Problem as exc:
        lot = gw.lots.get(r.lot_id)
        if lot is not None and lot.cooperative.id == seller:  # never another's lot's state
            exc.next_step = next_step(gw, lot)
        raise
    assert type(ev) is AuctionCreated
    return gw.auctions.auctions[ev.auction_id]


async def bid(gw: Gateway, who: Participant, auction_id: int, r: BidRequest) -> BidOut:
    events = await gw.submit(PlaceBid(auction_id=auction_id, account=who.id, price_vnd=r.price))
    auction_refusal(events)
    placed = next(e for e in events if type(e) is BidPlaced)
    return BidOut(auction_id=auction_id, bid_id=placed.bid_id, kind=placed.kind,
                  max_price=placed.max_price_vnd, leading=placed.leading,
                  price=placed.price_vnd, held_vnd=placed.held_vnd)


async def dutch_buy(gw: Gateway, who: Participant, auction_id: int,
                    r: DutchBuyRequest) -> DutchBuyOut:
    events = await gw.submit(DutchBuy(auction_id=auction_id, account=who.id, price_vnd=r.price,
                                      qty=r.qty))
    auction_refusal(events)
    t = next(e for e in events if type(e) is TradeExecuted)
    return DutchBuyOut(auction_id=auction_id, trade_id=t.trade_id, price=t.price_vnd, qty=t.qty)


async def cancel(gw: Gateway, who: Participant, auction_id: int,
                 r: CancelAuctionRequest) -> CancelAuctionOut:
    """The engine decides who may (it knows the seller and the bids); the role only says
    whether the caller speaks for the operator."""
    events = await gw.submit(CancelAuction(
        auction_id=auction_id, account=who.id, by_operator=who.role == "operator",
        reason=r.reason))
    auction_refusal(events)
    cancelled = next(e for e in events if type(e) is AuctionCancelled)
    closed = next(e for e in events if type(e) is AuctionClosed)
    return CancelAuctionOut(
        auction_id=auction_id, status="closed", outcome=closed.outcome,
        cancelled_by=cancelled.by, reason=cancelled.reason, sold_qty=closed.sold_qty,
        returned_qty=closed.unsold_qty,
        voided_bids=sum(1 for e in events if type(e) is BidVoided))


def _auction(gw: Gateway, request: web.Request) -> dict[str, Any]:
    view = gw.auctions.auctions.get(int_path(request, "auction_id"))
    if view is None:
        raise Problem(404, "unknown_auction", "no such auction")
    return view


async def list_auctions(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    every = request.query.get("status") == "all"
    views = list(gw.auctions.auctions.values()) if every else gw.auctions.live()
    return reply({"auctions": views})


async def get_auction(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    return reply(_auction(gw, request))


async def post_auction(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    return reply(await create(gw, who, await body(request, AuctionRequest)), 201)


async def post_bid(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    auction_id = int_path(request, "auction_id")
    return reply(await bid(gw, who, auction_id, await body(request, BidRequest)), 201)


async def post_dutch_buy(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    auction_id = int_path(request, "auction_id")
    return reply(await dutch_buy(gw, who, auction_id, await body(request, DutchBuyRequest)), 201)


async def post_cancel(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    auction_id = int_path(request, "auction_id")
    return reply(await cancel(gw, who, auction_id, await body(request, CancelAuctionRequest)))
