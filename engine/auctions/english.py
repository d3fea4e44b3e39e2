"""English (ascending) auction rules: proxy bids, reserve jump, soft close with a cap.

Owns only the arithmetic of one English auction's state; the auction house checks the common
preconditions (auction open, bidder not the seller, cash) and moves money and goods. Nothing
here may emit a bidder's hidden maximum in a public event.

Proxy rule: the visible price is the lower of the leader's maximum and the second-highest
maximum plus one increment (the start price while there is one bidder); once the leader's
maximum reaches the reserve the price is at least the reserve. Equal maxima: the earlier leads.
The price is set by bids that take or contest the lead; a leader raising their own maximum
leaves it where it is (`after_own_raise`), apart from the reserve jump when the raise reaches
the reserve: a leader must never bid against themselves.
"""

from __future__ import annotations

from engine.auctions.increments import increment
from engine.auctions.model import Auction


def visible_price(a: Auction) -> int:
    second = a.second_max_vnd
    if second is None:
        price = a.start_price_vnd
    else:
        price = second + increment(a.tiers, second)
        if price > a.leader_max_vnd:
            price = a.leader_max_vnd
    reserve = a.reserve_vnd
    if reserve is not None and a.leader_max_vnd >= reserve and price < reserve:
        price = reserve  # the reserve jump
    return price


def after_own_raise(a: Auction) -> int:
    """The price after the leader raised their maximum (``a.leader_max_vnd`` is the new one):
    unchanged, or the reserve if the raise just reached it. Not `visible_price`: the second
    maximum plus an increment may lie above the current price (it was capped by the old
    maximum), and charging it would make the leader outbid themselves."""
    price = a.price_vnd
    reserve = a.reserve_vnd
    if reserve is not None and a.leader_max_vnd >= reserve and price < reserve:
        price = reserve  # the reserve jump
    return price


def min_next_bid(a: Auction) -> int:
    if a.leader is None:
        return a.start_price_vnd
    return a.price_vnd + increment(a.tiers, a.price_vnd)


def reserve_met(a: Auction) -> bool:
    return a.leader is not None and (a.reserve_vnd is None or a.leader_max_vnd >= a.reserve_vnd)


def extend(a: Auction, ts_ns: int) -> int:
    """Soft close after a bid that took the lead at ``ts_ns``: return how far the close moved
    (0 when outside the window or already at the cap). A full extension that would pass the
    cap moves the close to the cap."""
    window = a.extend_ns
    if window <= 0 or ts_ns < a.close_ns - window:
        return 0
    cap_close = a.end_ns + a.extension_cap_ns
    new_close = a.close_ns + window
    if new_close > cap_close:
        new_close = cap_close
    moved = new_close - a.close_ns
    if moved > 0:
        a.close_ns = new_close
    return moved if moved > 0 else 0
