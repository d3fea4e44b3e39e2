"""The fast order book of one instrument: price levels, time priority, matching.

Owns the resting orders of one symbol and the walk that matches an incoming order against them.
It knows nothing of accounts, cash or lots: `match` returns the fills and the `Exchange` settles
them. `engine.naive_book.NaiveBook` implements the same interface in the plainest way; tests
run seeded streams through both and demand identical events.

Structure and costs (n = resting orders, L = price levels):
- each side is a dict ``price -> Level`` plus a binary heap of its prices (negated for bids),
  cleaned lazily: a deleted level's price stays in the heap until it reaches the top, and the
  heap is rebuilt when stale entries outnumber live ones. The best price of each side is cached,
  so reading it is O(1); creating a level is O(log L) in C (heapq), deleting one is O(1), plus
  O(log L) when it was the best. This is several times cheaper than a SortedList in pure Python
  for the hot path (levels near the top come and go all the time); ordered walks that need more
  than the best price (depth, FOK, snapshots) sort the level keys, O(L log L), off the hot path;
- a level is a FIFO deque of orders with its total quantity and live count. A cancel is O(1):
  the order is marked not resting and the level's totals drop, and the dead entry is discarded
  when it reaches the head (or when the level compacts itself, so dead entries never outnumber
  live ones by much). A level whose live count reaches zero is deleted at once.

Every method that changes a level records it, and `publish` turns the changed levels (absolute
quantities) into one `BookUpdated` event per command.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from engine.messages import BookUpdated, Event
from engine.order import Order
from engine.reasons import MatchStop

Fill = tuple[Order, int]  # (maker order, quantity) at the maker's price

_COMPACT_MIN_DEAD = 16
_HEAP_SLACK = 64  # stale heap entries tolerated beyond the number of live levels


class ProceedsGuard:
    """The slow path of the cash ceiling, for the rare match where a seller might pass it (see
    `Exchange.execute`): ``room(account)`` is how much more cash the account may receive;
    `fits` also counts what the account already received earlier in the same match, since the
    exchange settles fills only after the walk. A book given a guard cancels a maker (a resting
    sell) whose fill would not fit, listing it in ``blocked`` for the exchange to finish, and
    stops a selling taker whose fill would not fit (``"balance_limit"``)."""

    __slots__ = ("room", "got", "blocked")

    def __init__(self, room: Callable[[str], int]) -> None:
        self.room = room
        self.got: dict[str, int] = {}
        self.blocked: list[Order] = []

    def fits(self, account: str, value: int) -> bool:
        got = self.got.get(account, 0) + value
        if got > self.room(account):
            return False
        self.got[account] = got
        return True


class Level:
    """Orders resting at one price, oldest first; ``qty`` and ``count`` cover live ones only."""

    __slots__ = ("orders", "qty", "count")

    def __init__(self) -> None:
        self.orders: deque[Order] = deque()
        self.qty = 0
        self.count = 0


class OrderBook:
    """The interface every book of the exchange implements: the fast `Book` below and the
    reference `engine.naive_book.NaiveBook`. The exchange is written against this class only,
    so the two are interchangeable (and tests run the same streams through both)."""

    __slots__ = ("symbol", "book_seq", "best_bid", "best_ask")

    symbol: str
    book_seq: int  # rises by one with each BookUpdated this book publishes
    best_bid: int | None
    best_ask: int | None

    def add(self, order: Order) -> None:
        """Rest ``order`` behind every order at its price."""
        raise NotImplementedError

    def remove(self, order: Order) -> None:
        """Take a resting order out (cancel, expiry, replace)."""
        raise NotImplementedError

    def reduce(self, order: Order, new_leaves: int) -> None:
        """Lower a resting order's leaves; it keeps its time priority."""
        raise NotImplementedError

    def would_cross(self, is_buy: bool, price: int) -> bool:
        """Would an order on this side at ``price`` meet the opposite best? (post-only)"""
        if is_buy:
            return self.best_ask is not None and self.best_ask <= price
        return self.best_bid is not None and self.best_bid >= price

    def match(
        self, is_buy: bool, limit: int | None, qty: int, account: str, cash_cap: int | None,
        step: int, guard: ProceedsGuard | None = None,
    ) -> tuple[list[Fill], MatchStop | None]:
        """See `Book.match`."""
        raise NotImplementedError

    def fillable_qty(
        self, is_buy: bool, limit: int | None, qty: int, account: str, cash_cap: int | None,
        step: int, guard: ProceedsGuard | None = None,
    ) -> int:
        raise NotImplementedError

    def take_changes(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]] | None:
        raise NotImplementedError

    def publish(self, events: list[Event], seq: Any, ts: Any) -> None:
        """Append one `BookUpdated` with the levels changed since the last call, if any.
        ``seq`` and ``ts`` are ints, typed ``Any`` so that the compiled core passes a caller's
        int objects on into the event instead of boxing new ones (issue 16)."""
        raise NotImplementedError

    def level_qty(self, is_buy: bool, price: int) -> int:
        raise NotImplementedError

    def depth(self, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        raise NotImplementedError

    def resting_orders(self, is_buy: bool) -> Iterator[Order]:
        raise NotImplementedError

    def _check(self) -> None:
        raise NotImplementedError


class Book(OrderBook):
    """One instrument's book. See the module docstring for the structure and its costs."""

    __slots__ = (
        "bids",
        "asks",
        "bid_heap",
        "ask_heap",
        "changed_bids",
        "changed_asks",
    )

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.book_seq = 0
        self.bids: dict[int, Level] = {}
        self.asks: dict[int, Level] = {}
        self.bid_heap: list[int] = []  # -price of bid levels (may hold stale entries)
        self.ask_heap: list[int] = []  # price of ask levels (may hold stale entries)
        self.best_bid: int | None = None
        self.best_ask: int | None = None
        # price -> the level object it had when last changed (a deleted level has qty 0)
        self.changed_bids: dict[int, Level] = {}
        self.changed_asks: dict[int, Level] = {}

    # -- resting orders -------------------------------------------------------------------------

    def add(self, order: Order) -> None:
        """Rest ``order`` at the back of its price level. O(1), O(log L) for a new level."""
        price = order.price
        if order.is_buy:
            levels = self.bids
            level = levels.get(price)
            if level is None:
                level = levels[price] = Level()
                heap = self.bid_heap
                if len(heap) > 2 * len(levels) + _HEAP_SLACK:
                    heap[:] = [-p for p in levels]
                    heapq.heapify(heap)
                else:
                    heapq.heappush(heap, -price)
                if self.best_bid is None or price > self.best_bid:
                    self.best_bid = price
            self.changed_bids[price] = level
        else:
            levels = self.asks
            level = levels.get(price)
            if level is None:
                level = levels[price] = Level()
                heap = self.ask_heap
                if len(heap) > 2 * len(levels) + _HEAP_SLACK:
                    heap[:] = list(levels)
                    heapq.heapify(heap)
                else:
                    heapq.heappush(heap, price)
                if self.best_ask is None or price < self.best_ask:
                    self.best_ask = price
            self.changed_asks[price] = level
        level.orders.append(order)
        level.qty += order.leaves
        level.count += 1
        order.resting = True

    def remove(self, order: Order) -> None:
        """Take a resting order out of the book (cancel, expiry, replace). O(1) amortised."""
        price = order.price
        is_buy = order.is_buy
        level = (self.bids if is_buy else self.asks)[price]
        order.resting = False
        level.qty -= order.leaves
        level.count -= 1
        if is_buy:
            self.changed_bids[price] = level
        else:
            self.changed_asks[price] = level
        count = level.count
        if count == 0:
            self._drop_level(is_buy, price)
        else:
            dead = len(level.orders) - count
            if dead > _COMPACT_MIN_DEAD and dead > count:
                level.orders = deque(o for o in level.orders if o.resting)

    def reduce(self, order: Order, new_leaves: int) -> None:
        """Lower a resting order's leaves in place; it keeps its time priority."""
        level = (self.bids if order.is_buy else self.asks)[order.price]
        level.qty -= order.leaves - new_leaves
        order.leaves = new_leaves
        if order.is_buy:
            self.changed_bids[order.price] = level
        else:
            self.changed_asks[order.price] = level

    def _drop_level(self, is_buy: bool, price: int) -> None:
        if is_buy:
            levels = self.bids
            del levels[price]
            if price == self.best_bid:
                heap = self.bid_heap
                while heap and -heap[0] not in levels:
                    heapq.heappop(heap)
                self.best_bid = -heap[0] if heap else None
        else:
            levels = self.asks
            del levels[price]
            if price == self.best_ask:
                heap = self.ask_heap
                while heap and heap[0] not in levels:
                    heapq.heappop(heap)
                self.best_ask = heap[0] if heap else None

    # -- matching -------------------------------------------------------------------------------

    def match(
        self,
        is_buy: bool,
        limit: int | None,
        qty: int,
        account: str,
        cash_cap: int | None,
        step: int,
        guard: ProceedsGuard | None = None,
    ) -> tuple[list[Fill], MatchStop | None]:
        """Match an incoming order against the opposite side, best price first, oldest first.

        ``limit`` None means a market order. Stops when ``qty`` is filled, the next price is
        worse than ``limit``, the side is empty, the next maker belongs to ``account``
        (self-trade prevention: returns ``"self_trade"``), a buy's remaining ``cash_cap``
        cannot pay for one more ``step`` (returns ``"cash_cap"``), or, with a ``guard``, a sell's
        next fill would carry its seller past the cash ceiling (``"balance_limit"``; a maker
        that would pass it leaves the book into ``guard.blocked`` instead). Updates the makers'
        leaves and the levels; the caller settles the fills and the makers' statuses.
        """
        fills: list[Fill] = []
        levels = self.asks if is_buy else self.bids
        changed = self.changed_asks if is_buy else self.changed_bids
        while qty:
            best = self.best_ask if is_buy else self.best_bid
            if best is None:
                return fills, None
            if limit is not None and (best > limit if is_buy else best < limit):
                return fills, None
            level = levels[best]
            dq = level.orders
            while qty:
                maker = dq[0]
                if not maker.resting:
                    dq.popleft()
                    continue
                if maker.account == account:
                    return fills, "self_trade"
                q = maker.leaves if maker.leaves < qty else qty
                if cash_cap is not None:
                    afford = cash_cap // best
                    afford -= afford % step
                    if afford < q:
                        if afford == 0:
                            return fills, "cash_cap"
                        q = afford
                if guard is not None and not guard.fits(maker.account if is_buy else account,
                                                        q * best):
                    if not is_buy:
                        return fills, "balance_limit"
                    # the maker's seller may take no more cash: the maker leaves the book
                    dq.popleft()
                    maker.resting = False
                    level.count -= 1
                    level.qty -= maker.leaves
                    changed[best] = level
                    guard.blocked.append(maker)
                    if level.count == 0:
                        self._drop_level(not is_buy, best)
                        break
                    continue
                if cash_cap is not None:
                    cash_cap -= q * best
                fills.append((maker, q))
                changed[best] = level
                qty -= q
                level.qty -= q
                maker.leaves -= q
                if maker.leaves == 0:
                    dq.popleft()
                    maker.resting = False
                    level.count -= 1
                    if level.count == 0:
                        self._drop_level(not is_buy, best)
                        break
        return fills, None

    def fillable_qty(
        self,
        is_buy: bool,
        limit: int | None,
        qty: int,
        account: str,
        cash_cap: int | None,
        step: int,
        guard: ProceedsGuard | None = None,
    ) -> int:
        """How much of ``qty`` `match` would fill now, without changing anything (for FOK);
        ``guard`` must be a fresh one, as for the `match` that would follow."""
        total = 0
        levels = self.asks if is_buy else self.bids
        for price in sorted(levels, reverse=not is_buy):
            if limit is not None and (price > limit if is_buy else price < limit):
                break
            for maker in levels[price].orders:
                if not maker.resting:
                    continue
                if maker.account == account:
                    return total
                q = min(maker.leaves, qty - total)
                if cash_cap is not None:
                    afford = cash_cap // price
                    afford -= afford % step
                    q = min(q, afford)
                    if q == 0:
                        return total
                if guard is not None and not guard.fits(maker.account if is_buy else account,
                                                        q * price):
                    if not is_buy:
                        return total
                    continue  # `match` would cancel this maker and go on
                if cash_cap is not None:
                    cash_cap -= q * price
                total += q
                if total == qty:
                    return total
        return total

    # -- market data and state ------------------------------------------------------------------

    def take_changes(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]] | None:
        """The levels changed since the last call, as (price, absolute qty), bids best first,
        asks best first; None when nothing changed."""
        changed_bids = self.changed_bids
        changed_asks = self.changed_asks
        if not changed_bids and not changed_asks:
            return None
        bids: list[tuple[int, int]] = []
        asks: list[tuple[int, int]] = []
        # plain loops: a comprehension costs a frame of its own on Python 3.11
        if changed_bids:
            for p, lv in changed_bids.items():
                bids.append((p, lv.qty))
            if len(bids) > 1:
                bids.sort(reverse=True)
            changed_bids.clear()
        if changed_asks:
            for p, lv in changed_asks.items():
                asks.append((p, lv.qty))
            if len(asks) > 1:
                asks.sort()
            changed_asks.clear()
        return bids, asks

    def publish(self, events: list[Event], seq: Any, ts: Any) -> None:
        """Append one `BookUpdated` with the levels changed since the last call, if any, and
        advance ``book_seq``. The common single-level change takes a short path (one
        ``popitem`` empties the dict it came from)."""
        changed_bids = self.changed_bids
        changed_asks = self.changed_asks
        if changed_bids:
            if changed_asks or len(changed_bids) > 1:
                self._publish_many(events, seq, ts)
                return
            price, level = changed_bids.popitem()
            self.book_seq += 1
            # positional: seq, ts_ns, symbol, book_seq, bids, asks
            events.append(
                BookUpdated(seq, ts, self.symbol, self.book_seq, [(price, level.qty)], [])
            )
        elif changed_asks:
            if len(changed_asks) > 1:
                self._publish_many(events, seq, ts)
                return
            price, level = changed_asks.popitem()
            self.book_seq += 1
            events.append(
                BookUpdated(seq, ts, self.symbol, self.book_seq, [], [(price, level.qty)])
            )

    def _publish_many(self, events: list[Event], seq: Any, ts: Any) -> None:
        changes = self.take_changes()
        assert changes is not None
        self.book_seq += 1
        events.append(BookUpdated(seq=seq, ts_ns=ts, symbol=self.symbol, book_seq=self.book_seq,
                                  bids=changes[0], asks=changes[1]))

    def level_qty(self, is_buy: bool, price: int) -> int:
        level = (self.bids if is_buy else self.asks).get(price)
        return 0 if level is None else level.qty

    def depth(self, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The top ``n`` levels of each side, best first, as (price, qty)."""
        bids = [(p, self.bids[p].qty) for p in heapq.nlargest(n, self.bids)]
        asks = [(p, self.asks[p].qty) for p in heapq.nsmallest(n, self.asks)]
        return bids, asks

    def resting_orders(self, is_buy: bool) -> Iterator[Order]:
        """Live orders of one side in priority order (best price, then oldest)."""
        levels = self.bids if is_buy else self.asks
        for price in sorted(levels, reverse=is_buy):
            for order in levels[price].orders:
                if order.resting:
                    yield order

    def _check(self) -> None:
        """Assert the structure's invariants (tests call this after random steps)."""
        for is_buy, levels, heap, best in (
            (True, self.bids, [-p for p in self.bid_heap], self.best_bid),
            (False, self.asks, self.ask_heap, self.best_ask),
        ):
            assert set(levels) <= set(heap), "a level missing from the price heap"
            assert len(heap) <= 2 * len(levels) + _HEAP_SLACK + 1, "price heap not compacted"
            expected_best = (max(levels) if is_buy else min(levels)) if levels else None
            assert best == expected_best, f"cached best {best} != {expected_best}"
            for price, level in levels.items():
                live = [o for o in level.orders if o.resting]
                assert live, f"empty level {price} kept"
                assert level.count == len(live), f"level {price} count"
                assert level.qty == sum(o.leaves for o in live), f"level {price} qty"
                for o in live:
                    assert o.price == price and o.is_buy == is_buy and o.leaves > 0
        if self.best_bid is not None and self.best_ask is not None:
            assert self.best_bid < self.best_ask, "crossed book at rest"
