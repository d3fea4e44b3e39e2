"""The market's state as the concept modules see it: an interface (`Market`), no behaviour.

`engine.exchange.Exchange` is the one implementation. The auction desks, the snapshot codec and
the concept modules (risk holds, fills, custody, queries) take a `Market`, never the
`Exchange`, so none of them imports the exchange and the exchange may import all of them: no
import cycle, type-checking imports included. The three methods are the parts of the order flow
that the call auction reuses (ending an order, matching one, cancelling a book order).

This module declares; it never changes state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from engine.accounts import Account
from engine.book import OrderBook
from engine.instruments import Instrument
from engine.messages import CancelOrder, Event
from engine.order import Order
from engine.reasons import OrderCancelReason

if TYPE_CHECKING:
    from engine.dvp import Settlement

BookFactory = Callable[[str], OrderBook]


class AuctionState(Protocol):
    """The auction house's part of a snapshot."""

    def encode_state(self) -> bytes: ...

    def restore_state(self, raw: bytes) -> None: ...


class LotState(Protocol):
    """The lot book's part of a snapshot (`engine.lots.LotBook`)."""

    def encode_state(self) -> bytes: ...

    def restore_state(self, data: bytes) -> None: ...


class InsuranceState(Protocol):
    """The price-insurance terms' part of a snapshot (`engine.insurance.InsuranceBook`)."""

    def encode_state(self) -> bytes: ...

    def restore_state(self, data: bytes) -> None: ...


class Market(Protocol):
    """Everything that trades, and the order-flow steps other desks may call."""

    book_factory: BookFactory
    instruments: dict[str, Instrument]
    books: dict[str, OrderBook]
    accounts: dict[str, Account]
    orders: dict[int, Order]  # every accepted order, open or done (until purged)
    lots: dict[str, str]  # lot id -> symbol, for every lot ever received
    transfers: dict[str, int]  # transfer id -> seq of the deposit or withdrawal
    gtd_heap: list[tuple[int, int]]  # (expire_at_ns, order_id)
    trade_seq: int  # the last trade id given out
    settlements: dict[int, Settlement]  # trade id -> its open settlement (engine.dvp)
    last_seq: int
    cash_total: int  # all accounts' cash together (derived, not snapshotted)

    @property
    def auctions(self) -> AuctionState: ...

    @property
    def lot_book(self) -> LotState: ...

    @property
    def insurance(self) -> InsuranceState: ...

    def finish(
        self, order: Order, status: str, reason: OrderCancelReason | None, extra_hold: int,
        events: list[Event], seq: int, ts: int,
    ) -> None:
        """End an order that is not resting: release its holds, cancel or expire it."""
        ...

    def execute(
        self, order: Order, book: OrderBook, inst: Instrument, limit: int | None,
        cap: int | None, events: list[Event], seq: int, ts: int, requeue: bool = True,
    ) -> None:
        """Match an accepted order, settle its fills, then rest or cancel its remainder."""
        ...

    def cancel_order(self, cmd: CancelOrder, in_call: bool = False) -> list[Event]:
        """A cancel; ``in_call``: the call desk asks for a book order's cancel (or refusal)."""
        ...
