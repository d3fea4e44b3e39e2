"""The exchange: one deterministic state machine, `Exchange.apply(command) -> list[Event]`.

Everything that affects trading state lives here or in the structures it owns (instruments,
books, accounts, orders, the GTD expiry heap). The pipeline of an order is the LMAX /
exchange-core one: validate -> risk hold -> match -> settle fills -> rest or cancel the rest ->
publish changed book levels.

Rules this module keeps (and tests check):
- no I/O, no clock, no randomness: time and sequence numbers arrive in the command, ids are
  derived from them (an order's id is the seq of the command that placed it);
- a business refusal is an event with a reason code and changes nothing; an exception is a bug;
- iteration that reaches an event is over dicts or lists, never sets, so replay is byte-exact;
- cash and goods only move between accounts in trades, or in and out by deposits, withdrawals
  and lot receipts and withdrawals; no account's cash passes `MAX_BALANCE_VND`;
- time is the command's ``ts_ns``: before any command other than a tick acts, the GTD orders
  whose time has come by then leave the book (their `OrderExpired` events follow the command's
  own), so no order ever trades, counts in a book or shows in a query after its expiry,
  whatever the tick cadence.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable
from typing import Any

from engine.accounts import MAX_BALANCE_VND, Account, Holding
from engine.auctions import CONTINUOUS, AuctionHouse
from engine.book import Book, OrderBook, ProceedsGuard
from engine.lots import LotBook
from engine.messages import (
    MAX_QTY,
    MAX_VND,
    AddInstrument,
    CancelOrder,
    CancelRejected,
    CashDeposited,
    CashWithdrawn,
    Command,
    CommandRejected,
    Deposit,
    Event,
    HaltInstrument,
    InstrumentAdded,
    InstrumentHalted,
    InstrumentResumed,
    LotReceived,
    LotWithdrawn,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderReplaced,
    OrderResent,
    OrdersPurged,
    PlaceOrder,
    PurgeOrders,
    ReceiveLot,
    ReplaceOrder,
    ResumeInstrument,
    Tick,
    TradeExecuted,
    Withdraw,
    WithdrawLot,
)
from engine.order import (
    CANCELLED,
    EXPIRED,
    FILLED,
    PARTIALLY_FILLED,
    TERMINAL,
    Order,
    transition,
)
from engine.views import AccountView, BookSnapshot, GoodsView, OrderView


class Instrument:
    __slots__ = (
        "symbol",
        "herb",
        "grade",
        "unit",
        "tick_vnd",
        "qty_step",
        "band_bps",
        "ref_price_vnd",
        "last_price_vnd",
        "halted",
        "phase",  # auctions issue: CONTINUOUS, or CALL while a call auction collects orders
    )

    def __init__(
        self,
        symbol: str,
        herb: str,
        grade: str,
        unit: str,
        tick_vnd: int,
        qty_step: int,
        band_bps: int | None,
        ref_price_vnd: int | None,
    ) -> None:
        self.symbol = symbol
        self.herb = herb
        self.grade = grade
        self.unit = unit
        self.tick_vnd = tick_vnd
        self.qty_step = qty_step
        self.band_bps = band_bps
        self.ref_price_vnd = ref_price_vnd
        self.last_price_vnd: int | None = None
        self.halted = False
        self.phase: str = CONTINUOUS

    def reference_price(self) -> int | None:
        """The price the band is measured from: the last trade, else the listed reference."""
        return self.last_price_vnd if self.last_price_vnd is not None else self.ref_price_vnd

    def out_of_band(self, price: int) -> bool:
        if self.band_bps is None:
            return False
        ref = self.reference_price()
        return ref is not None and abs(price - ref) * 10_000 > ref * self.band_bps


BookFactory = Callable[[str], OrderBook]

__all__ = ["MAX_BALANCE_VND", "BookFactory", "Exchange", "Instrument"]


class Exchange:
    """The market's state machine. See the module docstring for its rules."""

    def __init__(self, book_factory: BookFactory = Book) -> None:
        self.book_factory = book_factory
        self.instruments: dict[str, Instrument] = {}
        self.books: dict[str, OrderBook] = {}
        self.accounts: dict[str, Account] = {}
        self.orders: dict[int, Order] = {}  # every accepted order, open or done
        self.lots: dict[str, str] = {}  # lot id -> symbol, for every lot ever received
        self.transfers: dict[str, int] = {}  # transfer id -> seq of the deposit or withdrawal
        self.gtd_heap: list[tuple[int, int]] = []  # (expire_at_ns, order_id)
        self.trade_seq = 0
        self.last_seq = 0
        # all accounts' cash together (derived, not snapshotted): trades only move cash, so
        # while this is within the ceiling no trade can carry a seller past it
        self.cash_total = 0
        self._handlers: dict[type, Callable[[Any], list[Event]]] = {
            PlaceOrder: self._place,
            CancelOrder: self._cancel,
            ReplaceOrder: self._replace,
            Tick: self._tick,
            PurgeOrders: self._purge,
            Deposit: self._deposit,
            Withdraw: self._withdraw,
            ReceiveLot: self._receive_lot,
            WithdrawLot: self._withdraw_lot,
            AddInstrument: self._add_instrument,
            HaltInstrument: self._halt,
            ResumeInstrument: self._resume,
        }
        self.auctions = AuctionHouse(self)
        self._handlers.update(self.auctions.handlers())
        self.lot_book = LotBook(self)  # recorded lots (issue 11)
        self._handlers.update(self.lot_book.handlers(self._handlers))

    # -- the one entry point --------------------------------------------------------------------

    def apply(self, cmd: Command) -> list[Event]:
        """Apply one stamped command; return what happened, in order."""
        seq = cmd.seq
        if seq <= self.last_seq:
            raise ValueError(f"command seq {seq} not after {self.last_seq}: sequencer bug")
        self.last_seq = seq
        heap = self.gtd_heap
        if heap and heap[0][0] <= cmd.ts_ns and type(cmd) is not Tick:
            events = self._apply_after_expiry(cmd)
        else:
            events = self._handlers[type(cmd)](cmd)
        if self.lot_book.records:  # sales and trade values of recorded lots
            self.lot_book.after(events)
        return events

    def _apply_after_expiry(self, cmd: Command) -> list[Event]:
        """Expire the GTD orders whose time has come by ``cmd.ts_ns``, then apply ``cmd``. The
        command's own events come first (callers read its answer from ``events[0]``); the
        expiries follow, and a book they changed publishes them in the command's
        `BookUpdated` (or in one of its own after it), so each book still publishes once."""
        seq, ts = cmd.seq, cmd.ts_ns
        expired: list[Event] = []
        touched: dict[str, OrderBook] = {}
        self._expire_due(ts, seq, expired, touched)
        events = self._handlers[type(cmd)](cmd)
        events.extend(expired)
        for book in touched.values():
            book.publish(events, seq, ts)
        return events

    def _expire_due(
        self, ts: int, seq: int, events: list[Event], touched: dict[str, OrderBook]
    ) -> None:
        """Take the resting GTD orders with ``expire_at <= ts`` out of their books (without
        publishing: the caller publishes ``touched``)."""
        heap = self.gtd_heap
        while heap and heap[0][0] <= ts:
            _, order_id = heapq.heappop(heap)
            order = self.orders.get(order_id)
            if order is None or not order.resting:
                continue  # already filled or cancelled (and perhaps purged)
            book = self.books[order.symbol]
            book.remove(order)
            touched[order.symbol] = book
            self._finish(order, EXPIRED, "", 0, events, seq, ts)

    # -- orders ---------------------------------------------------------------------------------

    def _reject(self, cmd: PlaceOrder, reason: str, detail: str = "") -> list[Event]:
        return [
            OrderRejected(
                seq=cmd.seq,
                ts_ns=cmd.ts_ns,
                account=cmd.account,
                client_order_id=cmd.client_order_id,
                symbol=cmd.symbol,
                reason=reason,
                detail=detail,
            )
        ]

    def _place(self, cmd: PlaceOrder) -> list[Event]:
        account = self.accounts.get(cmd.account)
        if account is not None:
            original = account.orders_by_cid.get(cmd.client_order_id)
            if original is not None:
                o = self.orders[original]
                differs = placement_differs(o, cmd)
                return [
                    OrderResent(
                        seq=cmd.seq,
                        ts_ns=cmd.ts_ns,
                        order_id=o.order_id,
                        account=o.account,
                        client_order_id=o.client_order_id,
                        symbol=o.symbol,
                        status=o.status,
                        filled_qty=o.qty - o.leaves,
                        leaves_qty=o.leaves,
                        reason="client_order_id_reused" if differs else "",
                        detail=f"differs in {', '.join(differs)}" if differs else "",
                    )
                ]
        inst = self.instruments.get(cmd.symbol)
        if inst is None:
            return self._reject(cmd, "unknown_symbol")
        if inst.halted:
            return self._reject(cmd, "instrument_halted")
        qty = cmd.qty
        if qty <= 0 or qty > MAX_QTY:
            return self._reject(cmd, "invalid_qty", f"qty must be 1..{MAX_QTY}")
        step = inst.qty_step
        if qty % step:
            return self._reject(cmd, "qty_off_step", f"qty must be a multiple of {step}")
        is_buy = cmd.side == "buy"
        tif = cmd.tif
        cap = cmd.cash_cap_vnd
        if cmd.order_type == "limit":
            price = cmd.price_vnd
            if price is None:
                return self._reject(cmd, "price_required", "a limit order needs price_vnd")
            if price <= 0 or price > MAX_VND:
                return self._reject(cmd, "invalid_price", f"price must be 1..{MAX_VND}")
            if price % inst.tick_vnd:
                return self._reject(
                    cmd, "price_off_tick", f"price must be a multiple of {inst.tick_vnd}"
                )
            if inst.band_bps is not None and inst.out_of_band(price):
                return self._reject(
                    cmd,
                    "price_out_of_band",
                    f"more than {inst.band_bps} bps from {inst.reference_price()}",
                )
            if cap is not None:
                return self._reject(cmd, "cash_cap_not_allowed", "cash_cap is for market buys")
        else:
            price = 0
            if cmd.price_vnd is not None:
                return self._reject(cmd, "price_not_allowed", "a market order has no price")
            if cmd.post_only:
                return self._reject(cmd, "post_only_requires_limit")
            if tif == "gtd":
                return self._reject(cmd, "invalid_tif", "a market order is ioc or fok")
            if tif == "gtc":
                tif = "ioc"  # a market order never rests: the default tif reads as ioc
            if is_buy:
                if cap is None:
                    return self._reject(
                        cmd, "cash_cap_required", "a market buy needs cash_cap_vnd"
                    )
                if cap <= 0 or cap > MAX_VND:
                    return self._reject(cmd, "invalid_cash_cap", f"cash_cap must be 1..{MAX_VND}")
            elif cap is not None:
                return self._reject(cmd, "cash_cap_not_allowed", "cash_cap is for market buys")
        if cmd.post_only and tif != "gtc" and tif != "gtd":
            return self._reject(cmd, "post_only_requires_resting_tif")
        expire_at = cmd.expire_at_ns
        if tif == "gtd":
            if expire_at is None:
                return self._reject(cmd, "expire_at_required", "a gtd order needs expire_at_ns")
            if expire_at <= cmd.ts_ns:
                return self._reject(cmd, "expire_at_in_past")
        elif expire_at is not None:
            return self._reject(cmd, "expire_at_requires_gtd")

        # Risk: the hold must fit before the order may rest or match.
        if is_buy:
            hold = cap if cap is not None else price * qty
            if account is None or account.cash_vnd - account.cash_held_vnd < hold:
                return self._reject(cmd, "insufficient_cash", f"needs {hold} VND available")
            holding = None
        else:
            hold = 0
            holding = None if account is None else account.holdings.get(cmd.symbol)
            if holding is None or holding.qty - holding.held < qty:
                return self._reject(cmd, "insufficient_goods", f"needs {qty} available")
        assert account is not None
        if inst.phase is not CONTINUOUS:  # auctions issue: a call collects, never matches
            called = self.auctions.calls.place(cmd, account, hold, price, tif)
            if cap is not None and cmd.seq in self.orders:  # accepted into the call
                self.orders[cmd.seq].placed = (price, qty, cap)
            return called
        book = self.books[cmd.symbol]
        if cmd.post_only and book.would_cross(is_buy, price):
            return self._reject(cmd, "post_only_would_cross")
        assert account is not None
        limit = price if price else None

        # Accepted: from here on the order exists.
        seq = cmd.seq
        ts = cmd.ts_ns
        order = Order(
            seq, cmd.account, cmd.client_order_id, cmd.symbol, is_buy, price, qty, tif,
            cmd.post_only, expire_at,
        )
        if cap is not None:
            order.placed = (price, qty, cap)
        self.orders[seq] = order
        account.orders_by_cid[cmd.client_order_id] = seq
        if is_buy:
            account.cash_held_vnd += hold
        else:
            holding.held += qty  # type: ignore[union-attr]
        events: list[Event] = [
            OrderAccepted(
                seq=seq,
                ts_ns=ts,
                order_id=seq,
                account=cmd.account,
                client_order_id=cmd.client_order_id,
                symbol=cmd.symbol,
                side=cmd.side,
                order_type=cmd.order_type,
                price_vnd=cmd.price_vnd,
                qty=qty,
                tif=tif,
                post_only=cmd.post_only,
                expire_at_ns=expire_at,
            )
        ]
        opposite = book.best_ask if is_buy else book.best_bid
        if (
            (tif == "gtc" or tif == "gtd")
            and limit is not None
            and (opposite is None or (opposite > price if is_buy else opposite < price))
        ):
            # the common passive order: nothing to match, straight into the book
            book.add(order)
            if expire_at is not None:
                heapq.heappush(self.gtd_heap, (expire_at, seq))
        elif tif == "fok" and book.fillable_qty(
            is_buy, limit, qty, cmd.account, cap, step, self._guard()
        ) < qty:
            self._finish(order, CANCELLED, "fok", cap or 0, events, seq, ts)
        else:
            self._execute(order, book, inst, limit, cap, events, seq, ts)
        book.publish(events, seq, ts)
        return events

    def _execute(
        self,
        order: Order,
        book: OrderBook,
        inst: Instrument,
        limit: int | None,
        cap: int | None,
        events: list[Event],
        seq: int,
        ts: int,
        requeue: bool = True,
    ) -> None:
        """Match ``order`` (accepted, its hold taken), settle the fills, then rest the order or
        cancel its remainder. ``cap`` is a market buy's cash cap (held in full), else None."""
        guard = None if self.cash_total <= MAX_BALANCE_VND else self._guard()
        fills, stop = book.match(
            order.is_buy, limit, order.leaves, order.account, cap, inst.qty_step, guard
        )
        cap_left = cap or 0
        if fills:
            cap_left = self._settle(order, fills, inst, cap, cap_left, events, seq, ts)
        if guard is not None:
            for maker in guard.blocked:  # resting sells whose seller may take no more cash
                self._finish(maker, CANCELLED, "balance_limit", 0, events, seq, ts)
        if order.leaves == 0:
            if cap_left:
                self.accounts[order.account].cash_held_vnd -= cap_left  # unspent market cap
        elif stop is not None:
            self._finish(order, CANCELLED, stop, cap_left, events, seq, ts)
        elif limit is None or order.tif == "ioc" or order.tif == "fok":
            self._finish(order, CANCELLED, "ioc", cap_left, events, seq, ts)
        else:
            book.add(order)
            if requeue and order.expire_at is not None:
                heapq.heappush(self.gtd_heap, (order.expire_at, order.order_id))

    def _guard(self) -> ProceedsGuard | None:
        """None while all the cash in the market fits under the ceiling (then no trade can
        carry a seller past it, and matching pays nothing for the check); else a guard that
        checks each fill's seller."""
        if self.cash_total <= MAX_BALANCE_VND:
            return None
        accounts = self.accounts
        return ProceedsGuard(lambda account: MAX_BALANCE_VND - accounts[account].cash_vnd)

    def _settle(
        self,
        taker: Order,
        fills: list[tuple[Order, int]],
        inst: Instrument,
        cap: int | None,
        cap_left: int,
        events: list[Event],
        seq: int,
        ts: int,
    ) -> int:
        """Move cash and goods for each fill and emit the trades; return the market cap left."""
        accounts = self.accounts
        symbol = taker.symbol
        taker_acct = accounts[taker.account]
        taker_is_buy = taker.is_buy
        aggressor = "buy" if taker_is_buy else "sell"
        taker_holding = taker_acct.holding(symbol)
        trade_seq = self.trade_seq
        price = 0
        for maker, q in fills:
            price = maker.price
            value = price * q
            maker_acct = accounts[maker.account]
            if taker_is_buy:
                buyer, seller = taker_acct, maker_acct
                buyer_holding, seller_holding = taker_holding, maker_acct.holdings[symbol]
                # a limit buy held its own limit price per unit; a market buy held its cap
                release = value if cap is not None else taker.price * q
                if cap is not None:
                    cap_left -= value
            else:
                buyer, seller = maker_acct, taker_acct
                buyer_holding, seller_holding = maker_acct.holding(symbol), taker_holding
                release = value  # the maker bid rests at its own price
            buyer.cash_vnd -= value
            buyer.cash_held_vnd -= release
            seller.cash_vnd += value
            legs = seller_holding.deliver(q, buyer_holding)
            taker.leaves -= q
            transition(maker, FILLED if maker.leaves == 0 else PARTIALLY_FILLED)
            trade_seq += 1
            events.append(
                TradeExecuted(
                    seq=seq,
                    ts_ns=ts,
                    trade_id=trade_seq,
                    symbol=symbol,
                    price_vnd=price,
                    qty=q,
                    aggressor=aggressor,  # type: ignore[arg-type]
                    maker_order_id=maker.order_id,
                    taker_order_id=taker.order_id,
                    buyer=buyer.account_id,
                    seller=seller.account_id,
                    maker_leaves_qty=maker.leaves,
                    taker_leaves_qty=taker.leaves,
                    lots=legs,
                )
            )
        self.trade_seq = trade_seq
        inst.last_price_vnd = price
        transition(taker, FILLED if taker.leaves == 0 else PARTIALLY_FILLED)
        return cap_left

    def _release(self, order: Order, extra_hold: int) -> None:
        """Give back what an order still holds for its ``leaves`` (plus a market buy's cap)."""
        account = self.accounts[order.account]
        if order.is_buy:
            account.cash_held_vnd -= order.price * order.leaves + extra_hold
        else:
            account.holdings[order.symbol].held -= order.leaves

    def _finish(
        self,
        order: Order,
        status: str,
        reason: str,
        extra_hold: int,
        events: list[Event],
        seq: int,
        ts: int,
    ) -> None:
        """End an order that is not resting (its remainder is cancelled or expired)."""
        # a limit buy's hold is price * leaves; ``extra_hold`` is only a market buy's cap left
        self._release(order, extra_hold if order.price == 0 else 0)
        transition(order, status)
        if status == EXPIRED:
            events.append(
                OrderExpired(
                    seq=seq, ts_ns=ts, order_id=order.order_id, account=order.account,
                    symbol=order.symbol, side=order.side,  # type: ignore[arg-type]
                    filled_qty=order.qty - order.leaves, leaves_qty=order.leaves,
                )
            )
        else:
            events.append(
                OrderCancelled(
                    seq=seq, ts_ns=ts, order_id=order.order_id, account=order.account,
                    symbol=order.symbol, side=order.side,  # type: ignore[arg-type]
                    reason=reason, filled_qty=order.qty - order.leaves, leaves_qty=order.leaves,
                )
            )

    def _own_open_order(
        self, cmd: CancelOrder | ReplaceOrder, request: str
    ) -> tuple[Order | None, list[Event]]:
        order = self.orders.get(cmd.order_id)
        reason = None
        if order is None:
            reason = "unknown_order"
        elif order.account != cmd.account:
            reason = "not_owner"
        elif not order.resting:
            reason = "order_not_open"
        if reason is None:
            return order, []
        return None, [
            CancelRejected(
                seq=cmd.seq, ts_ns=cmd.ts_ns, account=cmd.account, order_id=cmd.order_id,
                request=request, reason=reason,  # type: ignore[arg-type]
            )
        ]

    def _cancel(self, cmd: CancelOrder) -> list[Event]:
        # The hot path of a quarter of all commands, so written out flat: it is `_finish` with
        # the hold release inlined (a resting order's hold is exactly price * leaves).
        order = self.orders.get(cmd.order_id)
        if order is None or order.account != cmd.account or not order.resting:
            return self._own_open_order(cmd, "cancel")[1]
        symbol = order.symbol
        book = self.books[symbol]
        book.remove(order)
        leaves = order.leaves
        if order.is_buy:
            self.accounts[order.account].cash_held_vnd -= order.price * leaves
        else:
            self.accounts[order.account].holdings[symbol].held -= leaves
        transition(order, CANCELLED)
        seq = cmd.seq
        ts = cmd.ts_ns
        events: list[Event] = [
            OrderCancelled(
                seq=seq, ts_ns=ts, order_id=order.order_id, account=order.account,
                symbol=symbol, side="buy" if order.is_buy else "sell", reason="user",
                filled_qty=order.qty - leaves, leaves_qty=leaves,
            )
        ]
        book.publish(events, seq, ts)
        return events

    def _replace(self, cmd: ReplaceOrder) -> list[Event]:
        order, rejected = self._own_open_order(cmd, "replace")
        if order is None:
            return rejected
        inst = self.instruments[order.symbol]
        new_qty = order.qty if cmd.qty is None else cmd.qty
        new_price = order.price if cmd.price_vnd is None else cmd.price_vnd
        filled = order.qty - order.leaves
        new_leaves = new_qty - filled
        reason = None
        if inst.halted:
            reason = "instrument_halted"
        elif cmd.qty is None and cmd.price_vnd is None:
            reason = "nothing_to_replace"
        elif new_qty <= 0 or new_qty > MAX_QTY or new_qty % inst.qty_step:
            reason = "invalid_qty"
        elif new_leaves <= 0:
            reason = "qty_not_above_filled"
        elif new_price <= 0 or new_price > MAX_VND:
            reason = "invalid_price"
        elif new_price % inst.tick_vnd:
            reason = "price_off_tick"
        elif new_price != order.price and inst.out_of_band(new_price):
            reason = "price_out_of_band"
        elif order.post_only and new_price != order.price:
            book = self.books[order.symbol]
            if book.would_cross(order.is_buy, new_price):
                reason = "post_only_would_cross"
        if reason is None:
            account = self.accounts[order.account]
            if order.is_buy:
                extra = new_price * new_leaves - order.price * order.leaves
                if extra > account.cash_vnd - account.cash_held_vnd:
                    reason = "insufficient_cash"
            else:
                extra = new_leaves - order.leaves
                if extra > account.holdings[order.symbol].available:
                    reason = "insufficient_goods"
        if reason is not None:
            return [
                CancelRejected(
                    seq=cmd.seq, ts_ns=cmd.ts_ns, account=cmd.account, order_id=cmd.order_id,
                    request="replace", reason=reason,
                )
            ]
        seq, ts = cmd.seq, cmd.ts_ns
        book = self.books[order.symbol]
        if order.is_buy:
            account.cash_held_vnd += extra
        else:
            account.holdings[order.symbol].held += extra
        keep = new_price == order.price and new_qty <= order.qty
        events: list[Event] = []
        if order.placed is None:  # a resend is compared with the order as first placed
            order.placed = (order.price, order.qty, None)
        if keep:
            book.reduce(order, new_leaves)
            order.qty = new_qty
        else:
            # Priority is lost: the order leaves the book and comes back as a new entry (a new
            # object, because the book may still hold the old one as a dead entry).
            book.remove(order)
            moved = Order(
                order.order_id, order.account, order.client_order_id, order.symbol,
                order.is_buy, new_price, new_qty, order.tif, order.post_only, order.expire_at,
            )
            moved.leaves = new_leaves
            moved.status = order.status
            moved.placed = order.placed
            self.orders[order.order_id] = moved
            order = moved
        events.append(
            OrderReplaced(
                seq=seq, ts_ns=ts, order_id=order.order_id, account=order.account,
                symbol=order.symbol, side=order.side,  # type: ignore[arg-type]
                price_vnd=new_price, qty=new_qty, leaves_qty=new_leaves, priority_kept=keep,
            )
        )
        if not keep:
            # an expiry already in the heap finds the moved order by id; a second entry would
            # only be skipped, so none is pushed
            self._execute(order, book, inst, new_price, None, events, seq, ts, requeue=False)
        book.publish(events, seq, ts)
        return events

    def _tick(self, cmd: Tick) -> list[Event]:
        ts = cmd.ts_ns
        events: list[Event] = []
        touched: dict[str, OrderBook] = {}
        self._expire_due(ts, cmd.seq, events, touched)
        # auctions first: a call closing on this tick publishes its book, changes from the
        # expiries above included, so each book still gets at most one book_updated
        events.extend(self.auctions.on_tick(cmd))
        for book in touched.values():
            book.publish(events, cmd.seq, ts)
        return events

    def _purge(self, cmd: PurgeOrders) -> list[Event]:
        """Forget done orders up to an order id. Orders sit in ``self.orders`` in the order
        they were placed (a replace keeps its key's place), so the walk stops at the bound."""
        upto = cmd.upto_order_id
        orders = self.orders
        accounts = self.accounts
        done = []
        for order_id, order in orders.items():
            if order_id > upto:
                break
            if order.status in TERMINAL:
                done.append(order)
        for order in done:
            del orders[order.order_id]
            by_cid = accounts[order.account].orders_by_cid
            if by_cid.get(order.client_order_id) == order.order_id:
                del by_cid[order.client_order_id]
        auctions = self.auctions.purge(upto)
        return [
            OrdersPurged(
                seq=cmd.seq, ts_ns=cmd.ts_ns, upto_order_id=upto, count=len(done),
                auctions=auctions,
            )
        ]

    # -- operator, cash and custody -------------------------------------------------------------

    def _refuse(
        self, cmd: Command, reason: str, detail: str = "", account: str | None = None
    ) -> list[Event]:
        tag = type(cmd).__struct_config__.tag
        return [
            CommandRejected(
                seq=cmd.seq, ts_ns=cmd.ts_ns, command=str(tag), reason=reason, detail=detail,
                account=account,
            )
        ]

    def _add_instrument(self, cmd: AddInstrument) -> list[Event]:
        if cmd.symbol in self.instruments:
            return self._refuse(cmd, "duplicate_instrument", cmd.symbol)
        if cmd.tick_vnd <= 0:
            return self._refuse(cmd, "invalid_tick", "tick_vnd must be positive")
        if cmd.qty_step <= 0:
            return self._refuse(cmd, "invalid_qty_step", "qty_step must be positive")
        if cmd.band_bps is not None and cmd.band_bps <= 0:
            return self._refuse(cmd, "invalid_band", "band_bps must be positive")
        if cmd.ref_price_vnd is not None and (
            cmd.ref_price_vnd <= 0 or cmd.ref_price_vnd % cmd.tick_vnd
        ):
            return self._refuse(cmd, "invalid_ref_price", "a positive multiple of the tick")
        self.instruments[cmd.symbol] = Instrument(
            cmd.symbol, cmd.herb, cmd.grade, cmd.unit, cmd.tick_vnd, cmd.qty_step, cmd.band_bps,
            cmd.ref_price_vnd,
        )
        self.books[cmd.symbol] = self.book_factory(cmd.symbol)
        return [
            InstrumentAdded(
                seq=cmd.seq, ts_ns=cmd.ts_ns, symbol=cmd.symbol, herb=cmd.herb,
                grade=cmd.grade, unit=cmd.unit, tick_vnd=cmd.tick_vnd, qty_step=cmd.qty_step,
                band_bps=cmd.band_bps, ref_price_vnd=cmd.ref_price_vnd,
            )
        ]

    def _halt(self, cmd: HaltInstrument) -> list[Event]:
        inst = self.instruments.get(cmd.symbol)
        if inst is None:
            return self._refuse(cmd, "unknown_symbol", cmd.symbol)
        if inst.halted:
            return self._refuse(cmd, "already_halted", cmd.symbol)
        inst.halted = True
        return [InstrumentHalted(seq=cmd.seq, ts_ns=cmd.ts_ns, symbol=cmd.symbol)]

    def _resume(self, cmd: ResumeInstrument) -> list[Event]:
        inst = self.instruments.get(cmd.symbol)
        if inst is None:
            return self._refuse(cmd, "unknown_symbol", cmd.symbol)
        if not inst.halted:
            return self._refuse(cmd, "not_halted", cmd.symbol)
        inst.halted = False
        return [InstrumentResumed(seq=cmd.seq, ts_ns=cmd.ts_ns, symbol=cmd.symbol)]

    def _account(self, account_id: str) -> Account:
        account = self.accounts.get(account_id)
        if account is None:
            account = self.accounts[account_id] = Account(account_id)
        return account

    def _duplicate_transfer(self, cmd: Deposit | Withdraw) -> list[Event] | None:
        if cmd.transfer_id is not None and cmd.transfer_id in self.transfers:
            return self._refuse(
                cmd, "duplicate_transfer",
                f"transfer {cmd.transfer_id} was booked at seq {self.transfers[cmd.transfer_id]}",
                cmd.account,
            )
        return None

    def _deposit(self, cmd: Deposit) -> list[Event]:
        if cmd.amount_vnd <= 0 or cmd.amount_vnd > MAX_VND:
            return self._refuse(cmd, "invalid_amount", f"amount must be 1..{MAX_VND}", cmd.account)
        account = self.accounts.get(cmd.account)
        if account is not None and account.cash_vnd + cmd.amount_vnd > MAX_BALANCE_VND:
            return self._refuse(cmd, "balance_limit", f"a balance stays <= {MAX_BALANCE_VND}",
                                cmd.account)
        duplicate = self._duplicate_transfer(cmd)
        if duplicate is not None:
            return duplicate
        account = self._account(cmd.account)
        account.cash_vnd += cmd.amount_vnd
        self.cash_total += cmd.amount_vnd
        if cmd.transfer_id is not None:
            self.transfers[cmd.transfer_id] = cmd.seq
        return [
            CashDeposited(
                seq=cmd.seq, ts_ns=cmd.ts_ns, account=cmd.account, amount_vnd=cmd.amount_vnd,
                balance_vnd=account.cash_vnd, transfer_id=cmd.transfer_id,
            )
        ]

    def _withdraw(self, cmd: Withdraw) -> list[Event]:
        if cmd.amount_vnd <= 0:
            return self._refuse(cmd, "invalid_amount", "amount must be positive", cmd.account)
        duplicate = self._duplicate_transfer(cmd)
        if duplicate is not None:
            return duplicate
        account = self.accounts.get(cmd.account)
        available = 0 if account is None else account.cash_available_vnd
        if account is None or cmd.amount_vnd > available:
            return self._refuse(
                cmd, "insufficient_cash", f"{available} VND not held by orders", cmd.account
            )
        account.cash_vnd -= cmd.amount_vnd
        self.cash_total -= cmd.amount_vnd
        if cmd.transfer_id is not None:
            self.transfers[cmd.transfer_id] = cmd.seq
        return [
            CashWithdrawn(
                seq=cmd.seq, ts_ns=cmd.ts_ns, account=cmd.account, amount_vnd=cmd.amount_vnd,
                balance_vnd=account.cash_vnd, transfer_id=cmd.transfer_id,
            )
        ]

    def _receive_lot(self, cmd: ReceiveLot) -> list[Event]:
        if cmd.lot_id in self.lot_book.records:
            return self.lot_book.receive(cmd)
        inst = self.instruments.get(cmd.symbol)
        if inst is None:
            return self._refuse(cmd, "unknown_symbol", cmd.symbol, cmd.account)
        if cmd.lot_id in self.lots:
            return self._refuse(cmd, "duplicate_lot", cmd.lot_id, cmd.account)
        if cmd.qty <= 0 or cmd.qty > MAX_QTY or cmd.qty % inst.qty_step:
            return self._refuse(cmd, "invalid_qty", f"a positive multiple of {inst.qty_step}",
                                cmd.account)
        self.lots[cmd.lot_id] = cmd.symbol
        self._account(cmd.account).holding(cmd.symbol).add_lot(cmd.lot_id, cmd.qty)
        return [
            LotReceived(
                seq=cmd.seq, ts_ns=cmd.ts_ns, lot_id=cmd.lot_id, account=cmd.account,
                symbol=cmd.symbol, qty=cmd.qty,
            )
        ]

    def _withdraw_lot(self, cmd: WithdrawLot) -> list[Event]:
        if cmd.lot_id in self.lot_book.records:
            return self.lot_book.withdraw(cmd)
        symbol = self.lots.get(cmd.lot_id)
        if symbol is None:
            return self._refuse(cmd, "unknown_lot", cmd.lot_id, cmd.account)
        account = self.accounts.get(cmd.account)
        holding: Holding | None = None if account is None else account.holdings.get(symbol)
        qty = 0 if holding is None else holding.lot_qty(cmd.lot_id)
        if holding is None or qty == 0:
            return self._refuse(cmd, "lot_not_held", "the account holds none of it", cmd.account)
        if holding.qty - qty < holding.held:
            return self._refuse(cmd, "goods_held", "open sell orders hold these goods", cmd.account)
        holding.remove_lot(cmd.lot_id)
        return [
            LotWithdrawn(
                seq=cmd.seq, ts_ns=cmd.ts_ns, lot_id=cmd.lot_id, account=cmd.account,
                symbol=symbol, qty=qty,
            )
        ]

    # -- queries (read-only; not commands, not journaled) ---------------------------------------

    def depth(self, symbol: str, levels: int = 10) -> BookSnapshot | None:
        book = self.books.get(symbol)
        if book is None:
            return None
        bids, asks = book.depth(levels)
        return BookSnapshot(symbol=symbol, book_seq=book.book_seq, bids=bids, asks=asks)

    def best_bid_ask(self, symbol: str) -> tuple[int | None, int | None] | None:
        """(best bid, best ask), either None when that side is empty; None for an unknown
        symbol (as `depth`)."""
        book = self.books.get(symbol)
        return None if book is None else (book.best_bid, book.best_ask)

    def order_status(self, order_id: int) -> OrderView | None:
        o = self.orders.get(order_id)
        if o is None:
            return None
        return OrderView(
            order_id=o.order_id, account=o.account, client_order_id=o.client_order_id,
            symbol=o.symbol, side=o.side, price_vnd=o.price or None, qty=o.qty,
            filled_qty=o.qty - o.leaves, leaves_qty=o.leaves, status=o.status, tif=o.tif,
            resting=o.resting,
        )

    def balances(self, account_id: str) -> AccountView | None:
        a = self.accounts.get(account_id)
        if a is None:
            return None
        return AccountView(
            account=a.account_id,
            cash_vnd=a.cash_vnd,
            cash_held_vnd=a.cash_held_vnd,
            cash_available_vnd=a.cash_available_vnd,
            goods=[
                GoodsView(
                    symbol=s, qty=h.qty, held_qty=h.held, available_qty=h.available,
                    lots=[(e.lot_id, e.qty) for e in h.lots],
                )
                for s, h in a.holdings.items()
            ],
        )

    # -- state: snapshot, restore, hash, invariants ----------------------------------------------

    def snapshot(self) -> bytes:
        from engine.state import encode_state

        return encode_state(self)

    @classmethod
    def restore(cls, data: bytes, book_factory: BookFactory = Book) -> Exchange:
        from engine.state import decode_state

        ex = decode_state(data, cls(book_factory))
        ex.cash_total = sum(a.cash_vnd for a in ex.accounts.values())
        return ex

    def state_hash(self) -> str:
        return hashlib.sha256(self.snapshot()).hexdigest()

    def _check(self) -> None:
        """Assert every invariant of the whole state (tests call this after random steps)."""
        auction_cash, auction_goods = self.auctions.holds()
        held_cash: dict[str, int] = dict(auction_cash)
        held_goods: dict[tuple[str, str], int] = dict(auction_goods)
        for book in self.books.values():
            book._check()
        for o in self.orders.values():
            assert o.qty - o.leaves + o.leaves == o.qty and 0 <= o.leaves <= o.qty
            if o.resting:
                assert o.status in ("new", "partially_filled"), o
                if o.is_buy:
                    held_cash[o.account] = held_cash.get(o.account, 0) + o.price * o.leaves
                else:
                    key = (o.account, o.symbol)
                    held_goods[key] = held_goods.get(key, 0) + o.leaves
        self.auctions._check()
        self.lot_book._check()
        assert self.cash_total == sum(a.cash_vnd for a in self.accounts.values())
        for account in self.accounts.values():
            account._check()
            assert account.cash_held_vnd == held_cash.get(account.account_id, 0), (
                account.account_id, account.cash_held_vnd, held_cash.get(account.account_id, 0)
            )
            for symbol, h in account.holdings.items():
                assert h.held == held_goods.get((account.account_id, symbol), 0)


def placement_differs(order: Order, cmd: PlaceOrder) -> list[str]:
    """The fields (API names) in which ``cmd`` asks for another order than ``order`` was placed
    as; empty for a faithful resend. A market order's default ``gtc`` reads as ``ioc`` here as
    it does when it is placed. Orders restored from a snapshot older than ``Order.placed``
    compare by what they hold now, and a market buy's cash cap is then unknown (not compared).
    """
    price, qty, cap = order.placed or (order.price, order.qty, None)
    market = cmd.order_type == "market"
    tif = "ioc" if market and cmd.tif == "gtc" else cmd.tif
    differs = []
    if cmd.symbol != order.symbol:
        differs.append("symbol")
    if (cmd.side == "buy") != order.is_buy:
        differs.append("side")
    if market != (price == 0):  # a limit price is never 0; a market order's price is
        differs.append("type")
    if (cmd.price_vnd or 0) != price:
        differs.append("price")
    if cmd.qty != qty:
        differs.append("qty")
    if tif != order.tif:
        differs.append("tif")
    if cmd.post_only != order.post_only:
        differs.append("post_only")
    if cmd.expire_at_ns != order.expire_at:
        differs.append("expire_at")
    cap_known = order.placed is not None or not (price == 0 and order.is_buy)
    if cap_known and cmd.cash_cap_vnd != cap:
        differs.append("cash_cap")
    return differs
