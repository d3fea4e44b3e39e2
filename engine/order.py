"""The order record and its lifecycle (FIX order states) as one transition table.

An `Order` is the engine's mutable working copy of an accepted order; events are the immutable
record of what happened to it. ``leaves`` is the part not filled, so ``filled + leaves == qty``
holds for every order in every state: for a cancelled or expired order, ``leaves`` is what was
cancelled. ``resting`` is True while the order sits in a book; books drop entries whose
``resting`` went False lazily (see `engine.book`).

Status changes go through `transition`, which refuses anything the table does not allow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

_T = TypeVar("_T")

try:
    from mypy_extensions import mypyc_attr
except ImportError:  # mypyc's decorator only: the interpreted core runs without the build tools

    def mypyc_attr(*_args: object, **_kwargs: object) -> Callable[[_T], _T]:  # type: ignore[misc]
        return lambda cls: cls

NEW: Final = "new"
PARTIALLY_FILLED: Final = "partially_filled"
FILLED: Final = "filled"
CANCELLED: Final = "cancelled"
REJECTED: Final = "rejected"
EXPIRED: Final = "expired"

#: status -> the statuses it may move to. Terminal states map to nothing.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    NEW: frozenset({PARTIALLY_FILLED, FILLED, CANCELLED, EXPIRED}),
    PARTIALLY_FILLED: frozenset({PARTIALLY_FILLED, FILLED, CANCELLED, EXPIRED}),
    FILLED: frozenset(),
    CANCELLED: frozenset(),
    REJECTED: frozenset(),
    EXPIRED: frozenset(),
}
TERMINAL: Final = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)


class IllegalTransition(Exception):
    """A bug: the engine tried a status change the table forbids."""


@mypyc_attr(acyclic=True)
class Order:
    """One accepted order. Prices in VND per unit, quantities in units; ``expire_at`` in ns.

    Acyclic (compiled: not tracked by the cyclic garbage collector): an order holds only values
    (numbers, strings, a tuple of numbers), never anything that could point back at it. Orders
    are the engine's most numerous long-lived objects, and each tracked one cost every young
    collection a visit (issue 16, docs/benchmarks.md). Nothing may give it a field that holds
    a container of objects."""

    __slots__ = (
        "order_id",
        "account",
        "client_order_id",
        "symbol",
        "is_buy",
        "price",
        "qty",
        "leaves",
        "status",
        "tif",
        "post_only",
        "expire_at",
        "resting",
        "placed",
    )

    def __init__(
        self,
        order_id: int,
        account: str,
        client_order_id: str,
        symbol: str,
        is_buy: bool,
        price: int,
        qty: int,
        tif: str,
        post_only: bool,
        expire_at: int | None,
    ) -> None:
        self.order_id = order_id
        self.account = account
        self.client_order_id = client_order_id
        self.symbol = symbol
        self.is_buy = is_buy
        self.price = price  # 0 for a market order (they never rest)
        self.qty = qty
        self.leaves = qty
        self.status: str = NEW
        self.tif = tif
        self.post_only = post_only
        self.expire_at = expire_at
        self.resting = False
        # (price, qty, cash_cap_vnd) as placed, kept only where the fields above cannot tell
        # them any more (a replace changed price or qty) or never held them (a market buy's
        # cash cap): a resent client order id is compared with the order as it was placed.
        self.placed: tuple[int, int, int | None] | None = None

    @property
    def filled(self) -> int:
        return self.qty - self.leaves

    @property
    def side(self) -> str:
        return "buy" if self.is_buy else "sell"

    def __repr__(self) -> str:
        return (
            f"Order({self.order_id} {self.account} {self.side} {self.leaves}/{self.qty}"
            f" @{self.price} {self.status}{' resting' if self.resting else ''})"
        )


def transition(order: Order, status: str) -> None:
    """The one place an order's status changes."""
    if status not in TRANSITIONS[order.status]:
        raise IllegalTransition(f"order {order.order_id}: {order.status} -> {status}")
    order.status = status


def fill_status(order: Order) -> str:
    """The status an order has after a fill, from its leaves."""
    return FILLED if order.leaves == 0 else PARTIALLY_FILLED
