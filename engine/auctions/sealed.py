"""Sealed-bid rules: ranking and the price paid, first or second (Vickrey) price.

Bids are ranked by price, highest first, then by time (the seq of the bid or of its latest
raise), earliest first. The winner is the top bid if it meets the reserve. First price: the
winner pays their bid. Second price: the higher of the second-highest bid and the reserve; with
a single bid and no reserve, the start (minimum) price.

At the close every bid is published under a pseudonym (`opened`): ``bidder n`` for the n-th
account to bid in that auction. ``Auction.sealed`` keeps its accounts in the order of their
first bid (a raise updates the bid in place), so the pseudonyms are stable and replay exactly.
"""

from __future__ import annotations

from engine.auctions.model import Auction, SealedBid
from engine.messages import OpenedBid
from engine.reasons import CloseReason


def ranking(a: Auction) -> list[SealedBid]:
    return sorted(a.sealed.values(), key=lambda b: (-b.price_vnd, b.bid_id))


def winner_and_price(a: Auction) -> tuple[SealedBid | None, int, CloseReason]:
    """(winning bid or None, price to pay, reason)."""
    ranked = ranking(a)
    if not ranked:
        return None, 0, "no_bids"
    top = ranked[0]
    reserve = a.reserve_vnd
    if reserve is not None and top.price_vnd < reserve:
        return None, 0, "reserve_not_met"
    if a.pricing == "first":
        return top, top.price_vnd, "sold"
    second = ranked[1].price_vnd if len(ranked) > 1 else a.start_price_vnd
    price = second if reserve is None or second >= reserve else reserve
    return top, price, "sold"


def pseudonyms(a: Auction) -> dict[str, str]:
    """account -> ``bidder n``, n by the order of the account's first bid in this auction."""
    return {account: f"bidder {n}" for n, account in enumerate(a.sealed, 1)}


def opened(a: Auction, win: SealedBid | None) -> tuple[list[OpenedBid], str | None]:
    """Every bid, best first, under its pseudonym; and the winner's pseudonym."""
    names = pseudonyms(a)
    bids = [OpenedBid(names[b.account], b.price_vnd) for b in ranking(a)]
    return bids, None if win is None else names[win.account]
