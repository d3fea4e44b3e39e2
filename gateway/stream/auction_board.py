"""The public board of lot auctions, as published: what anyone may see of each auction.

Owns `AuctionBoard`, built at start-up from the recovered exchange (public fields only) and kept
current from committed events. Must never hold or show what the engine keeps hidden: a reserve
(only whether one is set and met), an English leader's maximum, anything about a live sealed
auction's bids (not even how many: ``bids`` is null until the close opens them, and then
``sealed_bids`` lists them under the engine's pseudonyms).
"""

from __future__ import annotations

from typing import Any

from engine.exchange import Exchange
from engine.messages import (
    AuctionCancelled,
    AuctionClosed,
    AuctionCreated,
    AuctionExtended,
    AuctionOpened,
    BidAccepted,
    ClockTicked,
    Event,
    OpenedBid,
    SealedBidsOpened,
)
from gateway.stream.wire import iso_ts

View = dict[str, Any]
KEEP_CLOSED = 200  # closed auctions kept on the board


def _ts(ns: int) -> str | None:
    return iso_ts(ns) if ns else None


def _opened(bids: list[OpenedBid], winning: str | None) -> View:
    return {"bids": len(bids), "winning_bidder": winning,
            "sealed_bids": [{"bidder": b.bidder, "price": b.price_vnd} for b in bids]}


class AuctionBoard:
    def __init__(self, exchange: Exchange) -> None:
        self.auctions: dict[int, View] = {}
        for a in exchange.auction_views():  # start-up only; public fields only
            view = self.auctions[a.auction_id] = {
                "auction_id": a.auction_id, "kind": a.kind, "seller": a.seller,
                "lot_id": a.lot_id, "symbol": a.symbol, "qty": a.qty, "status": a.status,
                "start_at": _ts(a.start_ns), "close_at": _ts(a.close_ns or a.end_ns),
                "start_price": a.start_price_vnd, "reserve_set": a.reserve_set,
                "price": a.price_vnd or None,
                "bids": a.bids, "remaining_qty": a.remaining_qty, "sold_qty": a.sold_qty,
                "pricing": a.pricing or None, "step": a.step_vnd or None,
                "floor": a.floor_vnd or None, "min_qty": a.min_qty or None}
            if a.next_step_ns:  # as a `ClockTicked` sets it
                view["next_step_at"] = _ts(a.next_step_ns)
            if a.cancelled_by is not None:
                view.update(cancelled_by=a.cancelled_by, cancel_reason=a.cancel_reason)
            if a.status == "closed":  # as `apply` records an `AuctionClosed`
                view.update(outcome=a.outcome, reason=a.close_reason, winner=a.winner,
                            price=a.final_price_vnd)
            if a.kind == "sealed":
                view["bids"] = None  # secret while live
                if a.opened is not None:  # opened at the close: public since
                    view.update(_opened(*a.opened))

    def live(self) -> list[View]:
        return [v for v in self.auctions.values() if v["status"] != "closed"]

    def apply(self, events: list[Event]) -> None:
        for ev in events:
            match ev:
                case AuctionCreated():
                    self.auctions[ev.auction_id] = {
                        "auction_id": ev.auction_id, "kind": ev.kind, "seller": ev.seller,
                        "lot_id": ev.lot_id, "symbol": ev.symbol, "qty": ev.qty,
                        "status": "scheduled", "start_at": _ts(ev.start_ns),
                        "close_at": _ts(ev.end_ns), "start_price": ev.start_price_vnd,
                        "reserve_set": ev.reserve_set, "price": None,
                        "bids": None if ev.kind == "sealed" else 0,
                        "remaining_qty": ev.qty, "sold_qty": 0, "pricing": ev.pricing,
                        "step": ev.step_vnd or None, "floor": ev.floor_vnd or None,
                        "min_qty": ev.min_qty or None}
                    self._trim()
                case AuctionOpened():
                    self._set(ev.auction_id, status="open", price=ev.price_vnd,
                              close_at=_ts(ev.close_ns))
                case BidAccepted():
                    self._set(ev.auction_id, price=ev.price_vnd, bids=ev.bids,
                              min_next_bid=ev.min_next_bid_vnd, reserve_met=ev.reserve_met,
                              close_at=_ts(ev.close_ns))
                case AuctionExtended():
                    self._set(ev.auction_id, close_at=_ts(ev.close_ns))
                case ClockTicked():
                    self._set(ev.auction_id, price=ev.price_vnd, remaining_qty=ev.remaining_qty,
                              next_step_at=_ts(ev.next_step_ns))
                case AuctionCancelled():
                    self._set(ev.auction_id, cancelled_by=ev.by, cancel_reason=ev.reason)
                case SealedBidsOpened():
                    self._set(ev.auction_id, **_opened(ev.bids, ev.winning_bidder))
                case AuctionClosed():
                    self._set(ev.auction_id, status="closed", outcome=ev.outcome,
                              reason=ev.reason, sold_qty=ev.sold_qty,
                              remaining_qty=ev.unsold_qty, price=ev.price_vnd,
                              winner=ev.winner)
                case _:
                    pass

    def _set(self, auction_id: int, **fields: Any) -> None:
        view = self.auctions.get(auction_id)
        if view is not None:
            view.update(fields)

    def _trim(self) -> None:
        closed = [k for k, v in self.auctions.items() if v["status"] == "closed"]
        for k in closed[: max(0, len(closed) - KEEP_CLOSED)]:
            del self.auctions[k]
