"""The reference order book: the same interface as `engine.book.Book`, written to be obviously
right rather than fast (every operation scans a list). Tests run seeded command streams through
an exchange on each and require identical events; never use it in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.book import Fill, OrderBook, ProceedsGuard
from engine.messages import BookUpdated, Event
from engine.order import Order
from engine.reasons import MatchStop


class NaiveBook(OrderBook):
    __slots__ = ("orders", "_changed")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.book_seq = 0
        self.best_bid = None
        self.best_ask = None
        self.orders: list[Order] = []  # resting orders in arrival order
        self._changed: set[tuple[bool, int]] = set()

    def _refresh(self) -> None:
        """Recompute the best prices from scratch after every change."""
        self.best_bid = max((o.price for o in self.orders if o.is_buy), default=None)
        self.best_ask = min((o.price for o in self.orders if not o.is_buy), default=None)

    def add(self, order: Order) -> None:
        self.orders.append(order)
        order.resting = True
        self._changed.add((order.is_buy, order.price))
        self._refresh()

    def remove(self, order: Order) -> None:
        self.orders.remove(order)
        order.resting = False
        self._changed.add((order.is_buy, order.price))
        self._refresh()

    def reduce(self, order: Order, new_leaves: int) -> None:
        order.leaves = new_leaves
        self._changed.add((order.is_buy, order.price))

    def _queue(self, is_buy_side: bool) -> list[Order]:
        """Resting orders of one side in priority order."""
        side = [o for o in self.orders if o.is_buy == is_buy_side]
        # Python's sort is stable, so arrival order breaks price ties: time priority.
        return sorted(side, key=lambda o: -o.price if is_buy_side else o.price)

    def _walk(
        self, is_buy: bool, limit: int | None, qty: int, account: str, cash_cap: int | None,
        step: int, guard: ProceedsGuard | None,
    ) -> tuple[list[Fill], MatchStop | None]:
        """The fills `match` makes; makers whose seller may take no more cash (``guard``) go to
        ``guard.blocked`` and are skipped."""
        fills: list[Fill] = []
        for maker in self._queue(not is_buy):
            if qty == 0:
                break
            if limit is not None and (maker.price > limit if is_buy else maker.price < limit):
                break
            if maker.account == account:
                return fills, "self_trade"
            q = min(qty, maker.leaves)
            capped = False
            if cash_cap is not None:
                afford = (cash_cap // maker.price) // step * step
                if afford < q:
                    q, capped = afford, True
                if q == 0:
                    return fills, "cash_cap"
            seller = maker.account if is_buy else account
            if guard is not None and not guard.fits(seller, q * maker.price):
                if not is_buy:
                    return fills, "balance_limit"
                guard.blocked.append(maker)
                continue
            if cash_cap is not None:
                cash_cap -= q * maker.price
            fills.append((maker, q))
            qty -= q
            if capped:
                return fills, "cash_cap"
        return fills, None

    def match(
        self, is_buy: bool, limit: int | None, qty: int, account: str, cash_cap: int | None,
        step: int, guard: ProceedsGuard | None = None,
    ) -> tuple[list[Fill], MatchStop | None]:
        fills, reason = self._walk(is_buy, limit, qty, account, cash_cap, step, guard)
        if guard is not None:
            for maker in guard.blocked:
                self.remove(maker)
        for maker, q in fills:
            maker.leaves -= q
            self._changed.add((maker.is_buy, maker.price))
            if maker.leaves == 0:
                self.remove(maker)
        return fills, reason

    def fillable_qty(
        self, is_buy: bool, limit: int | None, qty: int, account: str, cash_cap: int | None,
        step: int, guard: ProceedsGuard | None = None,
    ) -> int:
        fills, _ = self._walk(is_buy, limit, qty, account, cash_cap, step, guard)
        return sum(q for _, q in fills)

    def level_qty(self, is_buy: bool, price: int) -> int:
        return sum(o.leaves for o in self.orders if o.is_buy == is_buy and o.price == price)

    def take_changes(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]] | None:
        if not self._changed:
            return None
        bids = sorted((p for b, p in self._changed if b), reverse=True)
        asks = sorted(p for b, p in self._changed if not b)
        self._changed = set()
        return (
            [(p, self.level_qty(True, p)) for p in bids],
            [(p, self.level_qty(False, p)) for p in asks],
        )

    def publish(self, events: list[Event], seq: Any, ts: Any) -> None:
        changes = self.take_changes()
        if changes is not None:
            self.book_seq += 1
            events.append(BookUpdated(seq=seq, ts_ns=ts, symbol=self.symbol,
                                      book_seq=self.book_seq, bids=changes[0], asks=changes[1]))

    def depth(self, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        bid_prices = sorted({o.price for o in self.orders if o.is_buy}, reverse=True)[:n]
        ask_prices = sorted({o.price for o in self.orders if not o.is_buy})[:n]
        return (
            [(p, self.level_qty(True, p)) for p in bid_prices],
            [(p, self.level_qty(False, p)) for p in ask_prices],
        )

    def resting_orders(self, is_buy: bool) -> Iterator[Order]:
        return iter(self._queue(is_buy))

    def _check(self) -> None:
        for o in self.orders:
            assert o.resting and o.leaves > 0
        if self.best_bid is not None and self.best_ask is not None:
            assert self.best_bid < self.best_ask, "crossed book at rest"
