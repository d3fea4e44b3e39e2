"""The state of one lot auction and its lifecycle, as one transition table.

An `Auction` is a mutable msgspec Struct so that the live record is also its snapshot record:
the auction house encodes the structs as they are (canonical: fields in declaration order,
sealed bids in insertion order). Nothing here decides a rule; `english`, `dutch` and `sealed`
do, and only `transition` changes an auction's status.
"""

from __future__ import annotations

from typing import Final

from msgspec import Struct

SCHEDULED: Final = "scheduled"  # created, bidding not yet open (start_ns in the future)
OPEN: Final = "open"  # bids / clock running
CLOSED: Final = "closed"  # sold, partly sold, unsold or cancelled; terminal

#: status -> the statuses it may move to (scheduled -> closed: cancelled before it opened).
TRANSITIONS: Final[dict[str, tuple[str, ...]]] = {
    SCHEDULED: (OPEN, CLOSED),
    OPEN: (CLOSED,),
    CLOSED: (),
}


class IllegalAuctionTransition(AssertionError):
    """A bug: the engine tried a status change the table forbids."""


class SealedBid(Struct, array_like=True):
    bid_id: int  # seq of the bid, or of its latest raise: the time that ranks ties
    account: str
    price_vnd: int


class Auction(Struct, array_like=True):
    """One auction. Prices VND per unit, quantities in the instrument's unit, times in ns.

    ``remaining`` is the quantity still in the auction's custody (moved out of the seller's
    holding at creation); it drops as goods are sold and is returned to the seller at an unsold
    close. The english fields describe the proxy state: the leader, their hidden maximum, the
    highest maximum of anyone else, and the visible price."""

    auction_id: int
    kind: str
    seller: str
    lot_id: str
    symbol: str
    qty: int
    start_ns: int
    end_ns: int
    start_price_vnd: int
    reserve_vnd: int | None
    extend_ns: int
    extension_cap_ns: int
    pricing: str
    step_vnd: int
    interval_ns: int
    floor_vnd: int
    min_qty: int
    restart_steps: int
    tiers: list[tuple[int, int]]
    status: str = SCHEDULED
    remaining: int = 0
    sold_qty: int = 0
    close_ns: int = 0
    trade_ids: list[int] = []
    # english
    leader: str | None = None
    leader_max_vnd: int = 0
    leader_bid_id: int = 0
    second_max_vnd: int | None = None
    price_vnd: int = 0
    bids: int = 0
    # sealed: account -> bid, in the order of first bids (the pseudonyms at the close); kept
    # after the close (they hold nothing then) so the opened bids can be shown again
    sealed: dict[str, SealedBid] = {}
    # dutch
    clock_vnd: int = 0
    next_step_ns: int = 0
    # the close, as its `AuctionClosed` (and a cancel's `AuctionCancelled`) said: kept so that
    # a board rebuilt from the engine's state shows what one built from the events shows
    outcome: str = ""
    close_reason: str = ""
    winner: str | None = None
    final_price_vnd: int | None = None
    cancelled_by: str | None = None
    cancel_reason: str = ""


def transition(auction: Auction, status: str) -> None:
    """The one place an auction's status changes."""
    if status not in TRANSITIONS[auction.status]:
        raise IllegalAuctionTransition(
            f"auction {auction.auction_id}: {auction.status} -> {status}"
        )
    auction.status = status
