"""The uniform-price call auction that opens or re-opens an instrument's book.

Owns the call phase of instruments: orders placed during a call are accepted (their holds
taken) but kept here, outside the continuous `Book`, so the book never rests crossed; an
indicative price and volume is published whenever it changes; the close (``end_call`` or a
tick at ``close_at_ns``) executes every crossing order at one price and hands the remainder to
continuous trading. Orders already resting in the book when the call starts take part too,
ahead of call orders at the same price (they are older).

Price choice (`equilibrium`), in order: maximum executable volume; minimum imbalance; the side
of the imbalance (highest price if buyers are left over, lowest if sellers are); closest to the
reference price, the higher when two are equally close (and the higher without a reference).
Candidates are the limit prices of the orders; with only market orders, the reference price.
Orders better than the price fill fully, orders at the price in time priority. Self-trade
prevention: where that pairing would match an account with itself, the newer order of the
pair is cancelled (``self_trade``) and the price chosen again without it.

While a call runs on an instrument, the exchange hands its cancels here (`cancel`: call orders
are cancelled here, book orders through the exchange, and the indicative price follows) and
refuses replaces (`refuse_replace`: ``replace_not_allowed_in_call``, cancel and enter again).
FOK and post-only orders are refused in a call. Holds, fills and the continuous path are the
exchange's, reached through `engine.market.Market` and the public functions of `engine.risk`
and `engine.fills`. It never matches during the call and never reads the clock.
"""

from __future__ import annotations

import msgspec

from engine import dvp, fills, risk
from engine.accounts import MAX_BALANCE_VND, Account
from engine.book import OrderBook
from engine.dvp import Settlement
from engine.instruments import CALL, CONTINUOUS, Instrument
from engine.market import Market
from engine.messages import (
    CallStarted,
    CallUncrossed,
    CancelOrder,
    CancelRejected,
    CommandRejected,
    EndCall,
    Event,
    IndicativePrice,
    OrderAccepted,
    OrderRejected,
    PlaceOrder,
    ReplaceOrder,
    StartCall,
    Tick,
    TradeExecuted,
)
from engine.order import CANCELLED, EXPIRED, FILLED, PARTIALLY_FILLED, Order, transition
from engine.reasons import CommandRejectReason, OrderCancelReason, OrderRejectReason

__all__ = ["CALL", "CONTINUOUS", "CallDesk", "CallState", "equilibrium"]

MAX_CALL_ORDERS = 100_000  # per instrument: the uncross is O(candidates x orders)


class CallState(msgspec.Struct, array_like=True):
    symbol: str
    close_at_ns: int | None
    orders: dict[int, int]  # order id -> market buy cash cap (0 otherwise), arrival order
    indicative: tuple[int | None, int, int] | None = None  # last published (price, vol, imb)


class Side:
    """One order's part in the uncross: ``limit`` None for a market order."""

    __slots__ = ("order", "limit", "cap")

    def __init__(self, order: Order, limit: int | None, cap: int) -> None:
        self.order = order
        self.limit = limit
        self.cap = cap  # a market buy's cash cap, else 0


def _qty_at(s: Side, price: int, step: int) -> int:
    if s.cap:
        afford = s.cap // price
        afford -= afford % step
        return s.order.leaves if s.order.leaves < afford else afford
    return s.order.leaves


def equilibrium(
    buys: list[Side], sells: list[Side], ref: int | None, step: int
) -> tuple[int | None, int, int]:
    """(price or None, executable volume, imbalance = demand - supply at that price)."""
    candidates = sorted({s.limit for s in buys + sells if s.limit is not None})
    if not candidates:
        if ref is None or not buys or not sells:
            return None, 0, 0
        candidates = [ref]
    best: list[tuple[int, int, int]] = []  # (price, volume, imbalance)
    for p in candidates:
        demand = sum(_qty_at(b, p, step) for b in buys if b.limit is None or b.limit >= p)
        supply = sum(s.order.leaves for s in sells if s.limit is None or s.limit <= p)
        best.append((p, min(demand, supply), demand - supply))
    top = max(v for _, v, _ in best)
    if top == 0:
        return None, 0, 0
    tied = [c for c in best if c[1] == top]
    least = min(abs(i) for _, _, i in tied)
    tied = [c for c in tied if abs(c[2]) == least]
    if all(i > 0 for _, _, i in tied):
        chosen = tied[-1]  # buyers left over: the highest price
    elif all(i < 0 for _, _, i in tied):
        chosen = tied[0]  # sellers left over: the lowest price
    elif ref is None:
        chosen = tied[-1]
    else:
        chosen = min(tied, key=lambda c: (abs(c[0] - ref), -c[0]))
    return chosen


class CallDesk:
    def __init__(self, market: Market) -> None:
        self.exchange = market
        self.calls: dict[str, CallState] = {}  # symbol -> its running call

    # -- cancel and replace on an instrument in its call (the exchange hands them here) --------

    def cancel(self, cmd: CancelOrder, order: Order) -> list[Event]:
        """A cancel of ``order``, whose instrument is in its call."""
        ex = self.exchange
        state = self.calls[order.symbol]
        if cmd.order_id not in state.orders or order.account != cmd.account:
            events = ex.cancel_order(cmd, in_call=True)  # a book order, or the refusal
            if events and type(events[0]) is CancelRejected:
                return events  # a refusal changes nothing, the indicative price included
        else:
            cap = state.orders.pop(cmd.order_id)
            events = []
            ex.finish(order, CANCELLED, "user", cap, events, cmd.seq, cmd.ts_ns)
        self._indicate(state, events, cmd.seq, cmd.ts_ns)
        return events

    def refuse_replace(self, cmd: ReplaceOrder) -> list[Event]:
        """A replace of an order whose instrument is in its call."""
        return [
            CancelRejected(
                seq=cmd.seq, ts_ns=cmd.ts_ns, account=cmd.account, order_id=cmd.order_id,
                request="replace", reason="replace_not_allowed_in_call",
                detail="cancel and enter a new order during the call",
            )
        ]

    # -- commands ------------------------------------------------------------------------------

    def start(self, cmd: StartCall) -> list[Event]:
        ex = self.exchange
        inst = ex.instruments.get(cmd.symbol)
        reason: CommandRejectReason | None = None
        if inst is None:
            reason = "unknown_symbol"
        elif cmd.symbol in self.calls:
            reason = "already_in_call"
        elif cmd.close_at_ns is not None and cmd.close_at_ns <= cmd.ts_ns:
            reason = "close_in_past"
        if reason is not None or inst is None:
            assert reason is not None
            return [
                CommandRejected(
                    seq=cmd.seq, ts_ns=cmd.ts_ns, command="start_call", reason=reason,
                    detail=cmd.symbol,
                )
            ]
        reopening = inst.halted
        inst.halted = False  # a call re-opens a halted book
        inst.phase = CALL
        state = self.calls[cmd.symbol] = CallState(cmd.symbol, cmd.close_at_ns, {})
        events: list[Event] = [
            CallStarted(
                seq=cmd.seq, ts_ns=cmd.ts_ns, symbol=cmd.symbol, close_at_ns=cmd.close_at_ns,
                reopening=reopening,
            )
        ]
        self._indicate(state, events, cmd.seq, cmd.ts_ns)
        return events

    def end(self, cmd: EndCall) -> list[Event]:
        ex = self.exchange
        state = self.calls.get(cmd.symbol)
        reason: CommandRejectReason | None = None
        if state is None:
            reason = "not_in_call"
        elif ex.instruments[cmd.symbol].halted:
            reason = "instrument_halted"
        if reason is not None or state is None:
            assert reason is not None
            return [
                CommandRejected(
                    seq=cmd.seq, ts_ns=cmd.ts_ns, command="end_call", reason=reason,
                    detail=cmd.symbol,
                )
            ]
        events: list[Event] = []
        self._uncross(state, events, cmd.seq, cmd.ts_ns)
        return events

    def on_tick(self, cmd: Tick) -> list[Event]:
        ts = cmd.ts_ns
        events: list[Event] = []
        ex = self.exchange
        for state in list(self.calls.values()):
            self._expire(state, events, cmd.seq, ts)
            close = state.close_at_ns
            if close is not None and close <= ts and not ex.instruments[state.symbol].halted:
                self._uncross(state, events, cmd.seq, ts)
            else:
                self._indicate(state, events, cmd.seq, ts)  # book orders may have expired
        return events

    def place(
        self, cmd: PlaceOrder, account: Account, hold: int, price: int, tif: str
    ) -> list[Event]:
        """An order that passed the exchange's validation and risk check, on an instrument in
        its call phase: accept it and keep it for the uncross."""
        ex = self.exchange
        state = self.calls[cmd.symbol]
        reason: OrderRejectReason | None = None
        if cmd.post_only:
            reason = "post_only_not_allowed_in_call"
        elif tif == "fok":
            reason = "fok_not_allowed_in_call"
        elif len(state.orders) >= MAX_CALL_ORDERS:
            reason = "call_full"
        if reason is not None:
            return [
                OrderRejected(
                    seq=cmd.seq, ts_ns=cmd.ts_ns, account=cmd.account,
                    client_order_id=cmd.client_order_id, symbol=cmd.symbol, reason=reason,
                )
            ]
        is_buy = cmd.side == "buy"
        seq = cmd.seq
        order = Order(
            seq, cmd.account, cmd.client_order_id, cmd.symbol, is_buy, price, cmd.qty, tif,
            False, cmd.expire_at_ns,
        )
        ex.orders[seq] = order
        account.orders_by_cid[cmd.client_order_id] = seq
        if is_buy:
            risk.hold_cash(account, hold)
        else:
            risk.hold_goods(account, cmd.symbol, cmd.qty)
        state.orders[seq] = hold if price == 0 and is_buy else 0
        events: list[Event] = [
            OrderAccepted(
                seq=seq, ts_ns=cmd.ts_ns, order_id=seq, account=cmd.account,
                client_order_id=cmd.client_order_id, symbol=cmd.symbol, side=cmd.side,
                order_type=cmd.order_type, price_vnd=cmd.price_vnd, qty=cmd.qty,
                tif=tif,  # type: ignore[arg-type]
                expire_at_ns=cmd.expire_at_ns,
            )
        ]
        self._indicate(state, events, seq, cmd.ts_ns)
        return events

    # -- the uncross ---------------------------------------------------------------------------

    def _sides(self, state: CallState) -> tuple[list[Side], list[Side]]:
        """Buys and sells in priority order: market first, then price, then time (book orders,
        older, before call orders at the same price)."""
        ex = self.exchange
        book = ex.books[state.symbol]
        buys = [Side(o, o.price, 0) for o in book.resting_orders(True)]
        sells = [Side(o, o.price, 0) for o in book.resting_orders(False)]
        for oid, cap in state.orders.items():
            o = ex.orders[oid]
            s = Side(o, o.price or None, cap)
            (buys if o.is_buy else sells).append(s)
        buys.sort(key=lambda s: -(s.limit if s.limit is not None else 1 << 62))
        sells.sort(key=lambda s: s.limit if s.limit is not None else -1)
        return buys, sells

    def indicative(self, symbol: str) -> tuple[int | None, int, int]:
        state = self.calls[symbol]
        inst = self.exchange.instruments[symbol]
        buys, sells = self._sides(state)
        return equilibrium(buys, sells, inst.reference_price(), inst.qty_step)

    def _expire(self, state: CallState, events: list[Event], seq: int, ts: int) -> None:
        """Call orders whose time has come by ``ts`` expire (book orders expire through the
        exchange's GTD heap before each command)."""
        ex = self.exchange
        for oid in [o for o in state.orders
                    if (e := ex.orders[o].expire_at) is not None and e <= ts]:
            del state.orders[oid]
            ex.finish(ex.orders[oid], EXPIRED, None, 0, events, seq, ts)

    def _indicate(self, state: CallState, events: list[Event], seq: int, ts: int) -> None:
        """Publish the indicative price if it changed, counting no order past its time."""
        self._expire(state, events, seq, ts)
        now = self.indicative(state.symbol)
        if now != state.indicative:
            state.indicative = now
            events.append(
                IndicativePrice(
                    seq=seq, ts_ns=ts, symbol=state.symbol, price_vnd=now[0], volume=now[1],
                    imbalance_qty=now[2],
                )
            )

    def _uncross(self, state: CallState, events: list[Event], seq: int, ts: int) -> None:
        ex = self.exchange
        symbol = state.symbol
        inst = ex.instruments[symbol]
        book = ex.books[symbol]
        step = inst.qty_step
        # call orders whose time has come expire before the uncross, never after trading in it
        self._expire(state, events, seq, ts)
        # Self-trade prevention, as the continuous book does it (the incoming order of a
        # self-match is cancelled): wherever pairing in priority order would match an account
        # with itself, the newer order of the pair is cancelled. The cash ceiling, as
        # continuous matching keeps it: a sell whose proceeds would carry its seller past
        # `MAX_BALANCE_VND` is cancelled (``balance_limit``). Either way the price is chosen
        # again without the cancelled orders; each round cancels at least one, so this ends.
        while True:
            buys, sells = self._sides(state)
            price, volume, imbalance = equilibrium(buys, sells, inst.reference_price(), step)
            if price is None:
                break
            reason: OrderCancelReason = "self_trade"
            cancel = _self_matches(buys, sells, price, step)
            if not cancel and ex.cash_total > MAX_BALANCE_VND:
                # below the ceiling in total, no seller can pass it (as `risk.proceeds_guard`)
                reason = "balance_limit"
                cancel = _over_ceiling(ex.accounts, ex.settlements, sells, price, volume)
            if not cancel:
                break
            for o in cancel:
                if o.resting:
                    book.remove(o)
                    cap = 0
                else:
                    cap = state.orders.pop(o.order_id)
                ex.finish(o, CANCELLED, reason, cap, events, seq, ts)
        caps = dict(state.orders)  # market buys' cash left
        if price is not None:
            buy_fills = _allocate(buys, price, volume, step, True)
            sell_fills = _allocate(sells, price, volume, step, False)
            self._execute(inst, book, buy_fills, sell_fills, price, caps, events, seq, ts)
        # continuous trading starts with the remainders, in time priority: a limit remainder
        # goes through the continuous path, so it trades with any book order it still crosses
        # (cash-capped market buys can take the volume ahead of a better-priced limit buy) and
        # the book never rests crossed; market remainders are cancelled
        del self.calls[symbol]
        inst.phase = CONTINUOUS
        for oid in state.orders:
            o = ex.orders[oid]
            cap_left = caps[oid]
            if o.leaves == 0:
                if cap_left:
                    risk.release_cash(ex.accounts[o.account], cap_left)
            elif o.price == 0:
                ex.finish(o, CANCELLED, "ioc", cap_left, events, seq, ts)
            else:
                ex.execute(o, book, inst, o.price, None, events, seq, ts)
        book.publish(events, seq, ts)
        events.append(
            CallUncrossed(
                seq=seq, ts_ns=ts, symbol=symbol, price_vnd=price, volume=volume,
                imbalance_qty=imbalance,
            )
        )

    def _execute(
        self, inst: Instrument, book: OrderBook, buy_fills: list[tuple[Side, int]],
        sell_fills: list[tuple[Side, int]], price: int, caps: dict[int, int],
        events: list[Event], seq: int, ts: int,
    ) -> None:
        """Pair the allocations in priority order and open each pair's trade at ``price`` the
        way the exchange opens a fill's (`engine.fills.open_trade`): the buyer's hold for the
        quantity becomes a DvP hold of the trade's value (so a buy filled below its limit gets
        the difference back), goods move from the seller's lots, oldest first, into its DvP
        hold."""
        ex = self.exchange
        accounts = ex.accounts
        symbol = inst.symbol
        i = j = 0
        bq = buy_fills[0][1] if buy_fills else 0
        sq = sell_fills[0][1] if sell_fills else 0
        while i < len(buy_fills) and j < len(sell_fills):
            b = buy_fills[i][0].order
            s = sell_fills[j][0].order
            q = bq if bq < sq else sq
            value = price * q
            buyer = accounts[b.account]
            seller = accounts[s.account]
            if b.price == 0:
                caps[b.order_id] -= value
                release = value
            else:
                release = b.price * q
            legs = seller.holdings[symbol].pend(q)
            trade_id = fills.next_trade_id(ex)
            fills.open_trade(ex, trade_id, symbol, price, q, buyer, seller, release, legs, ts)
            for o in (b, s):
                if o.resting:
                    if o.leaves == q:
                        book.remove(o)
                    else:
                        book.reduce(o, o.leaves - q)
                        continue
                o.leaves -= q
            transition(b, FILLED if b.leaves == 0 else PARTIALLY_FILLED)
            transition(s, FILLED if s.leaves == 0 else PARTIALLY_FILLED)
            maker, taker = (b, s) if b.order_id < s.order_id else (s, b)
            events.append(
                TradeExecuted(
                    seq=seq, ts_ns=ts, trade_id=trade_id, symbol=symbol,
                    price_vnd=price, qty=q, aggressor="buy" if taker is b else "sell",
                    maker_order_id=maker.order_id, taker_order_id=taker.order_id,
                    buyer=b.account, seller=s.account, maker_leaves_qty=maker.leaves,
                    taker_leaves_qty=taker.leaves, lots=legs,
                )
            )
            bq -= q
            sq -= q
            if bq == 0:
                i += 1
                bq = buy_fills[i][1] if i < len(buy_fills) else 0
            if sq == 0:
                j += 1
                sq = sell_fills[j][1] if j < len(sell_fills) else 0
        inst.last_price_vnd = price

    # -- state ---------------------------------------------------------------------------------

    def state(self) -> list[CallState]:
        return list(self.calls.values())

    def restore(self, states: list[CallState]) -> None:
        for state in states:
            self.calls[state.symbol] = state
            self.exchange.instruments[state.symbol].phase = CALL

    def holds(self, cash: dict[str, int], goods: dict[tuple[str, str], int]) -> None:
        orders = self.exchange.orders
        for state in self.calls.values():
            for oid, cap in state.orders.items():
                o = orders[oid]
                if o.is_buy:
                    cash[o.account] = cash.get(o.account, 0) + (cap or o.price * o.leaves)
                else:
                    key = (o.account, o.symbol)
                    goods[key] = goods.get(key, 0) + o.leaves

    def _check(self) -> None:
        ex = self.exchange
        for symbol, state in self.calls.items():
            assert ex.instruments[symbol].phase is CALL
            for oid in state.orders:
                o = ex.orders[oid]
                assert o.symbol == symbol and not o.resting and o.status == "new", o
        for inst in ex.instruments.values():
            assert (inst.phase is CALL) == (inst.symbol in self.calls)


def _self_matches(buys: list[Side], sells: list[Side], price: int, step: int) -> list[Order]:
    """Pair the orders that accept ``price`` in priority order without trading (the pairing
    `_allocate` and `CallDesk._execute` do); return the newer order of each pair whose buyer
    and seller are one account, skipping it as if cancelled. O(orders)."""
    out: list[Order] = []
    bs = [b for b in buys if b.limit is None or b.limit >= price]
    ss = [s for s in sells if s.limit is None or s.limit <= price]
    i = j = 0
    bq = _qty_at(bs[0], price, step) if bs else 0
    sq = ss[0].order.leaves if ss else 0
    while i < len(bs) and j < len(ss):
        if bq == 0:
            i += 1
            bq = _qty_at(bs[i], price, step) if i < len(bs) else 0
            continue
        b, s = bs[i].order, ss[j].order
        if b.account == s.account:
            if b.order_id > s.order_id:
                out.append(b)
                bq = 0
            else:
                out.append(s)
                j += 1
                sq = ss[j].order.leaves if j < len(ss) else 0
            continue
        q = bq if bq < sq else sq
        bq -= q
        sq -= q
        if sq == 0:
            j += 1
            sq = ss[j].order.leaves if j < len(ss) else 0
    return out


def _over_ceiling(
    accounts: dict[str, Account], settlements: dict[int, Settlement], sells: list[Side],
    price: int, volume: int,
) -> list[Order]:
    """The sells that, filled at ``price`` in priority order (as `_allocate` gives ``volume``
    out), would carry their seller's cash past `MAX_BALANCE_VND`: the first such sell of each
    seller, counting what that seller's earlier sells already take in. O(orders)."""
    out: list[Order] = []
    proceeds: dict[str, int] = {}
    blocked: set[str] = set()
    left = volume
    for s in sells:
        if not left:
            break
        if s.limit is not None and s.limit > price:
            break
        o = s.order
        q = o.leaves if o.leaves < left else left
        left -= q
        if o.account in blocked:
            continue
        taken = proceeds.get(o.account, 0) + price * q
        if (accounts[o.account].cash_vnd + dvp.incoming(settlements, o.account) + taken
                > MAX_BALANCE_VND):
            blocked.add(o.account)
            out.append(o)
        else:
            proceeds[o.account] = taken
    return out


def _allocate(
    sides: list[Side], price: int, volume: int, step: int, is_buy: bool
) -> list[tuple[Side, int]]:
    """Give ``volume`` to the orders that accept ``price``, in priority order."""
    out: list[tuple[Side, int]] = []
    left = volume
    for s in sides:
        if not left:
            break
        if s.limit is not None and (s.limit < price if is_buy else s.limit > price):
            break  # sorted: no later order accepts the price either
        q = _qty_at(s, price, step) if is_buy else s.order.leaves
        if q > left:
            q = left
        if q:
            out.append((s, q))
            left -= q
    assert left == 0, (left, volume)
    return out
