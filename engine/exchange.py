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
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from msgspec.structs import astuple

from engine import custody, dvp, fills, instruments, queries, risk
from engine.accounts import MAX_BALANCE_VND, Account
from engine.auctions import AuctionHouse
from engine.book import Book, OrderBook
from engine.instruments import CONTINUOUS, Instrument
from engine.insurance import InsuranceBook, InsuranceTerms
from engine.lots import LotBook
from engine.market import BookFactory
from engine.messages import (
    MAX_QTY,
    MAX_VND,
    AddInstrument,
    AssayLot,
    CancelAuction,
    CancelOrder,
    CancelRejected,
    Command,
    CreateAuction,
    DelistLot,
    Deposit,
    DutchBuy,
    EndCall,
    Event,
    HaltInstrument,
    ListLotOnBook,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderReplaced,
    OrderResent,
    OrdersPurged,
    OrderType,
    PlaceBid,
    PlaceOrder,
    PurgeOrders,
    ReceiveLot,
    RegisterLot,
    ReplaceOrder,
    ResumeInstrument,
    SetInsuranceTerms,
    SetTradeSettlement,
    Side,
    StartCall,
    Tick,
    TimeInForce,
    Withdraw,
    WithdrawLot,
)
from engine.order import (
    CANCELLED,
    EXPIRED,
    TERMINAL,
    Order,
    transition,
)
from engine.reasons import CancelRejectReason, OrderCancelReason, OrderRejectReason
from engine.state import decode_state, encode_state
from engine.views import (
    AccountView,
    AuctionView,
    BookSnapshot,
    InstrumentView,
    OrderView,
    SettlementView,
)

__all__ = ["MAX_BALANCE_VND", "BookFactory", "Exchange", "Instrument"]

#: `Exchange._place` reads a `PlaceOrder` by position (`msgspec.structs.astuple`): its fields
#: must stay in this order, which the import checks (the journal's encoding keeps them in
#: declaration order too).
PLACE_ORDER_FIELDS = (
    "seq", "ts_ns", "account", "client_order_id", "symbol", "side", "order_type", "price_vnd",
    "qty", "tif", "post_only", "expire_at_ns", "cash_cap_vnd",
)
if PlaceOrder.__struct_fields__ != PLACE_ORDER_FIELDS:
    raise ImportError("PlaceOrder's fields moved: update Exchange._place and PLACE_ORDER_FIELDS")


class Exchange:
    """The market's state machine. See the module docstring for its rules; it implements
    `engine.market.Market`, the interface the auction desks and concept modules see."""

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
        # trade id -> its open settlement (delivery versus payment, engine.dvp)
        self.settlements: dict[int, dvp.Settlement] = {}
        self.last_seq = 0
        # all accounts' cash together (derived, not snapshotted): trades only move cash, so
        # while this is within the ceiling no trade can carry a seller past it
        self.cash_total = 0
        self.auctions = AuctionHouse(self)
        calls = self.auctions.calls
        # the call desk's running calls (symbol -> state), read by cancel and replace: while it
        # is empty the continuous path pays one truth test for them
        self.calls_running = calls.calls
        house = self.auctions
        self.lot_book = lot_book = LotBook(self)  # recorded lots: engine.lots (issue 11)
        # the same dict as ``lot_book.records``, one attribute load away: `apply` tests it on
        # every command
        self.lot_records = lot_book.records
        # price-insurance terms (issue 13): validated and recorded, nothing more
        self.insurance = InsuranceBook(self.instruments)
        # The one dispatch table: every command type, the auctions' and the lots' included.
        # A lot command on a lot the lot book records goes through its lifecycle there; the
        # plain custody path serves lots received without a record (scenarios, benchmarks).
        self._handlers: dict[type, Callable[[Any], list[Event]]] = {
            PlaceOrder: self._place,
            CancelOrder: self.cancel_order,
            ReplaceOrder: self._replace,
            Tick: self._tick,
            PurgeOrders: self._purge,
            Deposit: partial(custody.deposit, self),
            Withdraw: partial(custody.withdraw, self),
            ReceiveLot: partial(lot_book.receive, fallback=partial(custody.receive_lot, self)),
            WithdrawLot: partial(
                lot_book.withdraw, fallback=partial(custody.withdraw_lot, self)
            ),
            RegisterLot: lot_book.register,
            AssayLot: lot_book.assay,
            ListLotOnBook: lot_book.list_on_book,
            DelistLot: lot_book.delist,
            AddInstrument: partial(
                instruments.add_instrument, self.instruments, self.books, book_factory
            ),
            HaltInstrument: partial(instruments.halt, self.instruments),
            ResumeInstrument: partial(instruments.resume, self.instruments),
            CreateAuction: partial(lot_book.create_auction, create=house.create),
            PlaceBid: house.bid,
            DutchBuy: house.dutch_buy,
            CancelAuction: house.cancel,
            StartCall: calls.start,
            EndCall: calls.end,
            SetInsuranceTerms: self.insurance.set_terms,
            SetTradeSettlement: partial(dvp.set_state, self),
        }

    # -- the one entry point --------------------------------------------------------------------

    def apply(self, cmd: Command) -> list[Event]:
        """Apply one stamped command; return what happened, in order."""
        seq = cmd.seq
        if seq <= self.last_seq:
            raise ValueError(f"command seq {seq} not after {self.last_seq}: sequencer bug")
        self.last_seq = seq
        heap = self.gtd_heap
        kind = type(cmd)
        if heap and heap[0][0] <= cmd.ts_ns and kind is not Tick:
            events = self._apply_after_expiry(cmd)
        # the two commands of nearly all traffic are called directly, not through the table: in
        # the compiled core that is a native call instead of a dict lookup and a call through a
        # bound method object that boxes its arguments (issue 16)
        elif type(cmd) is PlaceOrder:
            events = self._place(cmd)
        elif type(cmd) is CancelOrder:
            events = self.cancel_order(cmd)
        else:
            events = self._handlers[kind](cmd)
        if self.lot_records:  # sales and trade values of recorded lots
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
            self.finish(order, EXPIRED, None, 0, events, seq, ts)

    # -- order entry ----------------------------------------------------------------------------

    def _reject(
        self, cmd: PlaceOrder, reason: OrderRejectReason, detail: str = ""
    ) -> list[Event]:
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

    def _resent(self, cmd: PlaceOrder, original: int) -> list[Event]:
        """The account used this client order id before: report that order, place nothing."""
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

    def _place(self, cmd: PlaceOrder) -> list[Event]:
        """Validate, check the risk hold, then hand the order to its phase: a
        call collects it, continuous trading takes the hold and rests or matches it."""
        # One C call reads every field, by position (`PLACE_ORDER_FIELDS` pins the order): in
        # the compiled core each ``cmd.field`` is a generic attribute lookup (13 per order),
        # and an `int` read from it is unboxed at once and boxed anew for each event field,
        # order-map key and index entry made from it; these locals keep the command's own int
        # objects (``Any``) for those (issue 16).
        f = astuple(cmd)
        account_id: str = f[2]
        cid: str = f[3]
        symbol: str = f[4]
        account = self.accounts.get(account_id)
        if account is not None:
            original = account.orders_by_cid.get(cid)
            if original is not None:
                return self._resent(cmd, original)
        inst = self.instruments.get(symbol)
        if inst is None:
            return self._reject(cmd, "unknown_symbol")
        # The order rules and the instrument's, in one flat run: every placement passes here,
        # and a helper function measurably slowed the engine benchmark (a call and every field
        # read twice), so the checks stay inline.
        if inst.halted:
            return self._reject(cmd, "instrument_halted")
        qty_obj: Any = f[8]
        qty: int = qty_obj
        if qty <= 0 or qty > MAX_QTY:
            return self._reject(cmd, "invalid_qty", f"qty must be 1..{MAX_QTY}")
        step = inst.qty_step
        if qty % step:
            return self._reject(cmd, "qty_off_step", f"qty must be a multiple of {step}")
        side: Side = f[5]
        is_buy = side == "buy"
        tif: TimeInForce = f[9]
        cap: int | None = f[12]
        order_type: OrderType = f[6]
        price_vnd: int | None = f[7]
        post_only: bool = f[10]
        if order_type == "limit":
            price = price_vnd
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
            if price_vnd is not None:
                return self._reject(cmd, "price_not_allowed", "a market order has no price")
            if post_only:
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
        if post_only and tif != "gtc" and tif != "gtd":
            return self._reject(cmd, "post_only_requires_resting_tif")
        expire_at: int | None = f[11]
        seq: Any = f[0]
        ts: Any = f[1]
        if tif == "gtd":
            if expire_at is None:
                return self._reject(cmd, "expire_at_required", "a gtd order needs expire_at_ns")
            if expire_at <= ts:
                return self._reject(cmd, "expire_at_in_past")
        elif expire_at is not None:
            return self._reject(cmd, "expire_at_requires_gtd")
        # Risk: the hold must fit before the order may rest or match.
        if is_buy:
            hold = cap if cap is not None else price * qty
            if account is None or account.cash_vnd - account.cash_held_vnd < hold:
                return self._reject(cmd, "insufficient_cash", f"needs {hold} VND available")
        else:
            hold = 0
            holding = None if account is None else account.holdings.get(symbol)
            if holding is None or holding.qty - holding.held < qty:
                return self._reject(cmd, "insufficient_goods", f"needs {qty} available")
        assert account is not None
        if inst.phase is not CONTINUOUS:  # a call collects, never matches
            called = self.auctions.calls.place(cmd, account, hold, price, tif)
            if cap is not None and seq in self.orders:  # accepted into the call
                self.orders[seq].placed = (price, qty, cap)
            return called
        book = self.books[symbol]
        if post_only and book.would_cross(is_buy, price):
            return self._reject(cmd, "post_only_would_cross")
        # Accepted: take the hold, then rest the order, match it, or kill it (FOK). One
        # function with the checks above, because this is the hot path of every order.
        limit = price_vnd  # the limit price, None for a market order (its price is 0)
        order = Order(
            seq, account_id, cid, symbol, is_buy, price, qty, tif, post_only, expire_at,
        )
        if cap is not None:
            order.placed = (price, qty, cap)
        self.orders[seq] = order
        account.orders_by_cid[cid] = seq
        # the holds of `engine.risk`, written out: this is the hot path of every order
        if is_buy:
            account.cash_held_vnd += hold
        else:
            account.holdings[symbol].held += qty
        # positional, in the field order of `OrderAccepted` (a third cheaper than keywords)
        events: list[Event] = [
            OrderAccepted(
                seq, ts,  # seq, ts_ns
                seq,  # order_id
                account_id, cid, symbol, side, order_type,
                price_vnd, qty_obj, tif, post_only,
                expire_at,  # expire_at_ns
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
            is_buy, limit, qty, account_id, cap, step,
            risk.proceeds_guard(self.accounts, self.cash_total, self.settlements),
        ) < qty:
            self.finish(order, CANCELLED, "fok", cap or 0, events, seq, ts)
        else:
            self.execute(order, book, inst, limit, cap, events, seq, ts)
        book.publish(events, seq, ts)
        return events

    # -- matching -------------------------------------------------------------------------------

    def execute(
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
        guard = (
            None if self.cash_total <= MAX_BALANCE_VND
            else risk.proceeds_guard(self.accounts, self.cash_total, self.settlements)
        )
        made, stop = book.match(
            order.is_buy, limit, order.leaves, order.account, cap, inst.qty_step, guard
        )
        cap_left = cap or 0
        if made:
            cap_left = fills.settle_book_fills(
                self, order, made, inst, cap, cap_left, events, seq, ts
            )
        if guard is not None:
            for maker in guard.blocked:  # resting sells whose seller may take no more cash
                self.finish(maker, CANCELLED, "balance_limit", 0, events, seq, ts)
        if order.leaves == 0:
            if cap_left:
                self.accounts[order.account].cash_held_vnd -= cap_left  # unspent market cap
        elif stop is not None:
            self.finish(order, CANCELLED, stop, cap_left, events, seq, ts)
        elif limit is None or order.tif == "ioc" or order.tif == "fok":
            self.finish(order, CANCELLED, "ioc", cap_left, events, seq, ts)
        else:
            book.add(order)
            if requeue and order.expire_at is not None:
                heapq.heappush(self.gtd_heap, (order.expire_at, order.order_id))

    def finish(
        self,
        order: Order,
        status: str,
        reason: OrderCancelReason | None,
        extra_hold: int,
        events: list[Event],
        seq: int,
        ts: int,
    ) -> None:
        """End an order that is not resting: its remainder is cancelled with ``reason``, or
        expired (``status`` EXPIRED, no reason). Its holds are released: a limit buy's is
        price x leaves; ``extra_hold`` is only a market buy's cash cap left."""
        account = self.accounts[order.account]  # `risk.release_order`, written out
        if order.is_buy:
            account.cash_held_vnd -= order.price * order.leaves + (
                extra_hold if order.price == 0 else 0
            )
        else:
            account.holdings[order.symbol].held -= order.leaves
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
            assert reason is not None, order
            events.append(
                OrderCancelled(  # positional, in the field order of `OrderCancelled`
                    seq, ts, order.order_id, order.account, order.symbol,
                    "buy" if order.is_buy else "sell",  # side
                    reason, order.qty - order.leaves, order.leaves,
                )
            )

    # -- cancel and replace ---------------------------------------------------------------------

    def _not_open(
        self, cmd: CancelOrder | ReplaceOrder, order: Order | None, request: str
    ) -> list[Event]:
        """The refusal of a cancel or replace of an order that is not the sender's open one."""
        reason: CancelRejectReason
        if order is None:
            reason = "unknown_order"
        elif order.account != cmd.account:
            reason = "not_owner"
        else:
            reason = "order_not_open"
        return [
            CancelRejected(
                seq=cmd.seq, ts_ns=cmd.ts_ns, account=cmd.account, order_id=cmd.order_id,
                request=request, reason=reason,  # type: ignore[arg-type]
            )
        ]

    def cancel_order(self, cmd: CancelOrder, in_call: bool = False) -> list[Event]:
        """A cancel. On an instrument in its call the call desk takes it, and calls back with
        ``in_call`` for a book order (or a refusal). The hot path of a quarter of all
        commands, so written out flat: it is `finish` with the hold release inlined (a resting
        order's hold is exactly price * leaves)."""
        raw: Any = cmd  # the command's int objects, kept boxed for the event: see `_place`
        order_id = raw.order_id
        order = self.orders.get(order_id)
        if not in_call:
            calls = self.calls_running
            if calls and order is not None and order.symbol in calls:
                return self.auctions.calls.cancel(cmd, order)
        if order is None or order.account != cmd.account or not order.resting:
            return self._not_open(cmd, order, "cancel")
        symbol = order.symbol
        book = self.books[symbol]
        book.remove(order)
        leaves = order.leaves
        if order.is_buy:
            self.accounts[order.account].cash_held_vnd -= order.price * leaves
        else:
            self.accounts[order.account].holdings[symbol].held -= leaves
        transition(order, CANCELLED)
        seq = raw.seq
        ts = raw.ts_ns
        events: list[Event] = [
            OrderCancelled(  # positional, in the field order of `OrderCancelled`
                seq, ts, order_id, order.account, symbol,
                "buy" if order.is_buy else "sell",  # side
                "user",  # reason
                order.qty - leaves, leaves,  # filled_qty, leaves_qty
            )
        ]
        book.publish(events, seq, ts)
        return events

    def _replace(self, cmd: ReplaceOrder) -> list[Event]:
        order = self.orders.get(cmd.order_id)
        calls = self.calls_running
        if calls and order is not None and order.symbol in calls:
            return self.auctions.calls.refuse_replace(cmd)
        if order is None or order.account != cmd.account or not order.resting:
            return self._not_open(cmd, order, "replace")
        inst = self.instruments[order.symbol]
        new_qty = order.qty if cmd.qty is None else cmd.qty
        new_price = order.price if cmd.price_vnd is None else cmd.price_vnd
        filled = order.qty - order.leaves
        new_leaves = new_qty - filled
        reason: CancelRejectReason | None = None
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
        account = self.accounts[order.account]
        if reason is None:
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
            self.execute(order, book, inst, new_price, None, events, seq, ts, requeue=False)
        book.publish(events, seq, ts)
        return events

    # -- time and housekeeping ------------------------------------------------------------------

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

    # -- queries (read-only; not commands, not journaled): `engine.queries` ----------------------

    def depth(self, symbol: str, levels: int = 10) -> BookSnapshot | None:
        return queries.depth(self, symbol, levels)

    def best_bid_ask(self, symbol: str) -> tuple[int | None, int | None] | None:
        """(best bid, best ask), either None when that side is empty; None for an unknown
        symbol (as `depth`)."""
        book = self.books.get(symbol)
        return None if book is None else (book.best_bid, book.best_ask)

    def order_status(self, order_id: int) -> OrderView | None:
        o = self.orders.get(order_id)
        return None if o is None else queries.order_view(o)

    def order_views(self) -> Iterator[OrderView]:
        """Every order the engine remembers (open, or done and not purged), oldest first."""
        return queries.order_views(self.orders)

    def balances(self, account_id: str) -> AccountView | None:
        return queries.balances(self, account_id)

    def instrument(self, symbol: str) -> InstrumentView | None:
        inst = self.instruments.get(symbol)
        return None if inst is None else queries.instrument_view(inst)

    def instrument_views(self) -> list[InstrumentView]:
        """Every listed instrument, in listing order."""
        return [queries.instrument_view(i) for i in self.instruments.values()]

    def settlement_views(self) -> list[SettlementView]:
        """Every open settlement (pending, paid, delivered), oldest trade first."""
        return [queries.settlement_view(st) for st in self.settlements.values()]

    def settlement(self, trade_id: int) -> SettlementView | None:
        st = self.settlements.get(trade_id)
        return None if st is None else queries.settlement_view(st)

    def auction_views(self) -> list[AuctionView]:
        """Every lot auction the engine remembers (live, or closed and not purged), oldest
        first."""
        return [queries.auction_view(a) for a in self.auctions.auctions.values()]

    def insurance_terms(self) -> list[InsuranceTerms]:
        """Every herb-season's price-insurance terms, in the order they were first set."""
        return self.insurance.views()

    # -- state: snapshot, restore, hash, invariants ----------------------------------------------

    def snapshot(self) -> bytes:
        return encode_state(self)

    @classmethod
    def restore(cls, data: bytes, book_factory: BookFactory = Book) -> Exchange:
        ex = cls(book_factory)
        decode_state(data, ex)
        ex.cash_total = sum(a.cash_vnd for a in ex.accounts.values())
        return ex

    def state_hash(self) -> str:
        return hashlib.sha256(self.snapshot()).hexdigest()

    def _check(self) -> None:
        """Assert every invariant of the whole state (tests call this after random steps)."""
        auction_cash, auction_goods = self.auctions.holds()
        dvp_cash, dvp_goods = dvp.holds(self.settlements)
        held_cash: dict[str, int] = dict(auction_cash)
        held_goods: dict[tuple[str, str], int] = dict(auction_goods)
        for account_id, vnd in dvp_cash.items():
            held_cash[account_id] = held_cash.get(account_id, 0) + vnd
        for key, qty in dvp_goods.items():
            held_goods[key] = held_goods.get(key, 0) + qty
        dvp.check(self.settlements)
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
        self.insurance._check()
        assert self.cash_total == sum(a.cash_vnd for a in self.accounts.values())
        for account in self.accounts.values():
            account._check()
            assert account.cash_held_vnd == held_cash.get(account.account_id, 0), (
                account.account_id, account.cash_held_vnd, held_cash.get(account.account_id, 0)
            )
            assert account.cash_dvp_vnd == dvp_cash.get(account.account_id, 0), account
            for symbol, h in account.holdings.items():
                assert h.held == held_goods.get((account.account_id, symbol), 0)
                assert h.dvp == dvp_goods.get((account.account_id, symbol), 0)


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
