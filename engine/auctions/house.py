"""The auction desk: creates lot auctions, takes bids and Dutch buys, runs clocks and closes,
cancels.

Owns every lot auction and the call phases of books (`engine.auctions.call`). Sans-I/O like the
exchange that owns it: time arrives in commands, iteration that reaches events is over dicts in
creation order, a business refusal is an event with a reason code and changes nothing.

Custody: creating an auction moves the auctioned units of the lot out of the seller's holding
into the auction (``Auction.remaining``), lot-exact. Holding ``held`` is a count over all of a
holding's lots and book sells draw lots oldest first, so holding the goods there could let a
book trade deliver the auctioned lot; keeping them aside cannot. Unsold units go back to the
seller. Cash: an English leader holds maximum x qty, every sealed bid holds bid x qty, in the
bidder's ``cash_held_vnd`` like an order; `holds` reports them for the exchange's check.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from engine import fills, risk
from engine.auctions import call, dutch, english, sealed
from engine.auctions.increments import Tiers, default_tiers
from engine.auctions.model import CLOSED, OPEN, SCHEDULED, Auction, SealedBid, transition
from engine.market import Market
from engine.messages import (
    AuctionBidRejected,
    AuctionCancelled,
    AuctionClosed,
    AuctionCreated,
    AuctionExtended,
    AuctionOpened,
    BidAccepted,
    BidPlaced,
    BidVoided,
    CancelAuction,
    ClockTicked,
    CommandRejected,
    CreateAuction,
    DutchBuy,
    Event,
    LotLeg,
    Outbid,
    PlaceBid,
    SealedBidsOpened,
    Tick,
    TradeExecuted,
)
from engine.reasons import BidRejectReason, CloseReason, CommandRejectReason

MAX_LIVE_AUCTIONS = 100_000  # a bound on what one tick has to scan


class HouseState(msgspec.Struct, array_like=True):
    auctions: list[Auction]
    calls: list[call.CallState]


_state_decoder = msgspec.msgpack.Decoder(HouseState)
_encoder = msgspec.msgpack.Encoder()


class AuctionHouse:
    def __init__(self, exchange: Market, tiers: Tiers | None = None) -> None:
        self.exchange = exchange
        self.tiers: Tiers = list(tiers) if tiers is not None else default_tiers()
        self.auctions: dict[int, Auction] = {}  # every auction ever created
        self.timed: dict[int, Auction] = {}  # english and sealed not closed, creation order
        self.clocks: dict[int, Auction] = {}  # dutch not closed, creation order
        self.calls = call.CallDesk(exchange)

    # -- hooks the exchange calls -----------------------------------------------------------

    def on_tick(self, cmd: Tick) -> list[Event]:
        ts = cmd.ts_ns
        seq = cmd.seq
        events: list[Event] = []
        done: list[Auction] = []
        for a in self.timed.values():
            if a.status is SCHEDULED:
                if a.start_ns > ts:
                    continue
                self._open(a, events, seq, ts, ts)
            if a.close_ns <= ts:
                done.append(a)
        for a in done:
            self._close_timed(a, events, seq, ts)
        done = []
        for a in self.clocks.values():
            if a.status is SCHEDULED:
                if a.start_ns > ts:
                    continue
                # the clock started at its start time, not at this tick: it may have stepped
                # (or passed its floor) since, which the lines below publish
                self._open(a, events, seq, ts, a.start_ns)
            if a.next_step_ns > ts:
                continue
            moved = dutch.advance(a, ts)
            if moved == dutch.FLOOR_PASSED:
                done.append(a)
            else:
                events.append(
                    ClockTicked(
                        seq=seq, ts_ns=ts, auction_id=a.auction_id, price_vnd=a.clock_vnd,
                        remaining_qty=a.remaining, next_step_ns=a.next_step_ns,
                    )
                )
        for a in done:
            self._close(a, "floor_reached", None, 0, events, seq, ts)
        if self.calls.calls:
            events.extend(self.calls.on_tick(cmd))
        return events

    def encode_state(self) -> bytes:
        return _encoder.encode(HouseState(list(self.auctions.values()), self.calls.state()))

    def restore_state(self, raw: bytes) -> None:
        state = _state_decoder.decode(raw)
        for a in state.auctions:
            a.status = _STATUS[a.status]  # interned constants: the engine compares with `is`
            self.auctions[a.auction_id] = a
            if a.status is not CLOSED:
                (self.clocks if a.kind == "dutch" else self.timed)[a.auction_id] = a
        self.calls.restore(state.calls)

    def holds(self) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
        """(cash held per account, goods held per (account, symbol)) by auctions and calls.
        Lot auctions hold no goods in holdings (see the module docstring: they keep them in
        custody); `escrow` reports those."""
        cash: dict[str, int] = {}
        for a in self.timed.values():
            if a.kind == "english":
                if a.leader is not None:
                    cash[a.leader] = cash.get(a.leader, 0) + a.leader_max_vnd * a.qty
            else:
                for b in a.sealed.values():
                    cash[b.account] = cash.get(b.account, 0) + b.price_vnd * a.qty
        goods: dict[tuple[str, str], int] = {}
        self.calls.holds(cash, goods)
        return cash, goods

    def escrow(self) -> dict[tuple[str, str], int]:
        """Goods in auction custody per (seller, symbol)."""
        out: dict[tuple[str, str], int] = {}
        for live in (self.timed, self.clocks):
            for a in live.values():
                key = (a.seller, a.symbol)
                out[key] = out.get(key, 0) + a.remaining
        return out

    def purge(self, upto_id: int) -> int:
        """Forget the closed auctions created at or before ``upto_id`` (the exchange's
        `purge_orders` housekeeping); returns how many. Live auctions are never forgotten."""
        gone = [aid for aid, a in self.auctions.items() if aid <= upto_id and a.status is CLOSED]
        for aid in gone:
            del self.auctions[aid]
        return len(gone)

    def _check(self) -> None:
        for a in self.auctions.values():
            live = a.auction_id in (self.clocks if a.kind == "dutch" else self.timed)
            assert live == (a.status is not CLOSED), a
            assert a.sold_qty + a.remaining <= a.qty
            if a.status is CLOSED:
                assert a.remaining == 0
                continue
            assert a.remaining > 0 and a.remaining + a.sold_qty == a.qty
            if a.kind == "english" and a.leader is not None:
                assert a.start_price_vnd <= a.price_vnd <= a.leader_max_vnd
                assert a.second_max_vnd is None or a.second_max_vnd <= a.leader_max_vnd
                assert a.end_ns <= a.close_ns <= a.end_ns + a.extension_cap_ns
            elif a.kind == "sealed":
                assert all(b.price_vnd >= a.start_price_vnd for b in a.sealed.values())
            elif a.kind == "dutch" and a.status is OPEN:
                assert a.floor_vnd <= a.clock_vnd <= a.start_price_vnd
        self.calls._check()

    # -- create ------------------------------------------------------------------------------

    def create(self, cmd: CreateAuction) -> list[Event]:
        reason, detail = self._validate_create(cmd)
        ex = self.exchange
        if reason is not None:
            return [
                CommandRejected(
                    seq=cmd.seq, ts_ns=cmd.ts_ns, command="create_auction", reason=reason,
                    detail=detail, account=cmd.seller,
                )
            ]
        symbol = ex.lots[cmd.lot_id]
        inst = ex.instruments[symbol]
        holding = ex.accounts[cmd.seller].holdings[symbol]
        holding.take_lot(cmd.lot_id, cmd.qty)
        dutch_kind = cmd.kind == "dutch"
        a = Auction(
            auction_id=cmd.seq, kind=cmd.kind, seller=cmd.seller, lot_id=cmd.lot_id,
            symbol=symbol, qty=cmd.qty, start_ns=cmd.start_ns,
            end_ns=0 if dutch_kind else cmd.end_ns, start_price_vnd=cmd.start_price_vnd,
            reserve_vnd=None if dutch_kind else cmd.reserve_vnd,
            extend_ns=cmd.extend_ns if cmd.kind == "english" else 0,
            extension_cap_ns=cmd.extension_cap_ns if cmd.kind == "english" else 0,
            pricing=cmd.pricing if cmd.kind == "sealed" else "",
            step_vnd=cmd.step_vnd if dutch_kind else 0,
            interval_ns=cmd.interval_ns if dutch_kind else 0,
            floor_vnd=cmd.floor_vnd if dutch_kind else 0,
            min_qty=(cmd.min_qty or inst.qty_step) if dutch_kind else 0,
            restart_steps=cmd.restart_steps if dutch_kind else 0,
            tiers=list(self.tiers) if cmd.kind == "english" else [],
            remaining=cmd.qty,
        )
        a.status = SCHEDULED
        self.auctions[a.auction_id] = a
        (self.clocks if dutch_kind else self.timed)[a.auction_id] = a
        events: list[Event] = [
            AuctionCreated(
                seq=cmd.seq, ts_ns=cmd.ts_ns, auction_id=a.auction_id, kind=cmd.kind,
                seller=a.seller, lot_id=a.lot_id, symbol=symbol, qty=a.qty, start_ns=a.start_ns,
                end_ns=a.end_ns, start_price_vnd=a.start_price_vnd,
                reserve_set=a.reserve_vnd is not None, extend_ns=a.extend_ns,
                extension_cap_ns=a.extension_cap_ns,
                pricing=cmd.pricing if cmd.kind == "sealed" else None, step_vnd=a.step_vnd,
                interval_ns=a.interval_ns, floor_vnd=a.floor_vnd, min_qty=a.min_qty,
                restart_steps=a.restart_steps,
            )
        ]
        if a.start_ns <= cmd.ts_ns:
            self._open(a, events, cmd.seq, cmd.ts_ns, cmd.ts_ns)  # no clock runs before it exists
        return events

    def _validate_create(self, cmd: CreateAuction) -> tuple[CommandRejectReason | None, str]:
        ex = self.exchange
        if len(self.timed) + len(self.clocks) >= MAX_LIVE_AUCTIONS:
            return "too_many_auctions", f"at most {MAX_LIVE_AUCTIONS} live auctions"
        symbol = ex.lots.get(cmd.lot_id)
        if symbol is None:
            return "unknown_lot", cmd.lot_id
        inst = ex.instruments[symbol]
        if inst.halted:
            return "instrument_halted", symbol
        account = ex.accounts.get(cmd.seller)
        holding = None if account is None else account.holdings.get(symbol)
        if holding is None or holding.lot_qty(cmd.lot_id) == 0:
            return "lot_not_held", "the seller holds none of this lot"
        if cmd.qty <= 0 or cmd.qty % inst.qty_step:
            return "invalid_qty", f"a positive multiple of {inst.qty_step}"
        if cmd.qty > holding.lot_qty(cmd.lot_id):
            return "insufficient_goods", f"the lot has {holding.lot_qty(cmd.lot_id)}"
        if cmd.qty > holding.available:
            return "goods_held", "open sell orders hold these goods"
        if cmd.start_price_vnd <= 0:
            return "invalid_price", "start_price_vnd must be positive"
        tick = inst.tick_vnd
        for name, price in (("start_price_vnd", cmd.start_price_vnd),
                            ("reserve_vnd", cmd.reserve_vnd or 0), ("step_vnd", cmd.step_vnd),
                            ("floor_vnd", cmd.floor_vnd)):
            if price % tick:
                return "price_off_tick", f"{name} must be a multiple of {tick}"
        if cmd.kind == "dutch":
            if cmd.step_vnd <= 0 or cmd.interval_ns <= 0:
                return "invalid_clock", "step_vnd and interval_ns must be positive"
            if not 0 < cmd.floor_vnd <= cmd.start_price_vnd:
                return "invalid_floor", "0 < floor_vnd <= start_price_vnd"
            if cmd.min_qty < 0 or cmd.min_qty % inst.qty_step or cmd.min_qty > cmd.qty:
                return "invalid_min_qty", f"a multiple of {inst.qty_step}, at most qty"
            if cmd.restart_steps < 0:
                return "invalid_restart_steps", "restart_steps must not be negative"
            return None, ""
        if cmd.end_ns <= cmd.start_ns or cmd.end_ns <= cmd.ts_ns:
            return "invalid_end", "end_ns must be after start_ns and now"
        if cmd.reserve_vnd is not None and cmd.reserve_vnd <= 0:
            return "invalid_reserve", "reserve_vnd must be positive"
        if cmd.extend_ns < 0 or cmd.extension_cap_ns < 0:
            return "invalid_extension", "extend_ns and extension_cap_ns must not be negative"
        return None, ""

    def _open(self, a: Auction, events: list[Event], seq: int, ts: int, clock_ns: int) -> None:
        """Open ``a`` at ``ts``; a Dutch clock starts at ``clock_ns`` (its start time, or its
        creation when that is later)."""
        transition(a, OPEN)
        if a.kind == "dutch":
            dutch.start(a, clock_ns)
            price = a.clock_vnd
        else:
            a.close_ns = a.end_ns
            price = a.start_price_vnd
        events.append(
            AuctionOpened(
                seq=seq, ts_ns=ts, auction_id=a.auction_id, kind=a.kind,  # type: ignore[arg-type]
                price_vnd=price, close_ns=a.close_ns,
            )
        )

    # -- bids ----------------------------------------------------------------------------------

    def _refuse(
        self, cmd: PlaceBid | DutchBuy | CancelAuction, reason: BidRejectReason, detail: str = ""
    ) -> list[Event]:
        tag = type(cmd).__struct_config__.tag
        return [
            AuctionBidRejected(
                seq=cmd.seq, ts_ns=cmd.ts_ns, auction_id=cmd.auction_id, recipient=cmd.account,
                request=str(tag), reason=reason, detail=detail,
            )
        ]

    def _common(self, cmd: PlaceBid | DutchBuy) -> Auction | BidRejectReason:
        """The auction, or why it takes no bid now."""
        a = self.auctions.get(cmd.auction_id)
        if a is None:
            return "unknown_auction"
        if a.status is not OPEN:
            if a.status is SCHEDULED:
                return "auction_not_open"
            return "lot_gone" if a.kind == "dutch" and a.sold_qty == a.qty else (
                "auction_closed"
            )
        if a.kind != "dutch" and cmd.ts_ns >= a.close_ns:
            return "auction_closed"  # the closing tick has not run yet; time has
        if cmd.account == a.seller:
            return "own_lot"
        if cmd.price_vnd <= 0:
            return "invalid_price"
        inst = self.exchange.instruments[a.symbol]
        if inst.halted:
            return "instrument_halted"  # a halt stops bidding; closes still run on time
        if cmd.price_vnd % inst.tick_vnd:
            return "price_off_tick"
        return a

    def bid(self, cmd: PlaceBid) -> list[Event]:
        a = self._common(cmd)
        if isinstance(a, str):
            return self._refuse(cmd, a)
        if a.kind == "dutch":
            return self._refuse(cmd, "wrong_kind", "a dutch auction takes dutch_buy")
        if a.kind == "sealed":
            return self._sealed_bid(a, cmd)
        return self._english_bid(a, cmd)

    def _english_bid(self, a: Auction, cmd: PlaceBid) -> list[Event]:
        account = self.exchange.accounts.get(cmd.account)
        available = 0 if account is None else account.cash_vnd - account.cash_held_vnd
        new_max = cmd.price_vnd
        seq, ts = cmd.seq, cmd.ts_ns
        qty = a.qty
        events: list[Event] = []
        if cmd.account == a.leader:
            if new_max <= a.leader_max_vnd:
                return self._refuse(cmd, "bid_not_raised", "a maximum can only be raised")
            extra = (new_max - a.leader_max_vnd) * qty
            if extra > available:
                return self._refuse(cmd, "insufficient_cash", f"needs {extra} VND available")
            assert account is not None
            risk.hold_cash(account, extra)
            a.leader_max_vnd = new_max
            before = a.price_vnd
            a.price_vnd = english.after_own_raise(a)
            events.append(self._placed(a, cmd, True, new_max * qty))
            if a.price_vnd != before:  # the reserve jump; a raise alone stays private
                events.append(self._accepted(a, seq, ts))
            return events
        if new_max < english.min_next_bid(a):
            return self._refuse(
                cmd, "below_min_bid", f"the minimum next bid is {english.min_next_bid(a)}"
            )
        hold = new_max * qty
        if hold > available:
            return self._refuse(cmd, "insufficient_cash", f"needs {hold} VND available")
        assert account is not None
        a.bids += 1
        old = a.leader
        if old is None or new_max > a.leader_max_vnd:
            if old is not None:
                released = a.leader_max_vnd * qty
                risk.release_cash(self.exchange.accounts[old], released)
                a.second_max_vnd = a.leader_max_vnd
            risk.hold_cash(account, hold)
            a.leader = cmd.account
            a.leader_max_vnd = new_max
            a.leader_bid_id = seq
            a.price_vnd = english.visible_price(a)
            if old is not None:
                events.append(
                    Outbid(
                        seq=seq, ts_ns=ts, auction_id=a.auction_id, recipient=old,
                        price_vnd=a.price_vnd, released_vnd=released,
                    )
                )
            events.append(self._placed(a, cmd, True, hold))
            moved = english.extend(a, ts)
            events.append(self._accepted(a, seq, ts))
            if moved:
                events.append(
                    AuctionExtended(
                        seq=seq, ts_ns=ts, auction_id=a.auction_id, close_ns=a.close_ns,
                        extended_by_ns=moved, total_extension_ns=a.close_ns - a.end_ns,
                    )
                )
        else:
            # the leader's proxy outbids at once: nothing is held, the price rises
            a.second_max_vnd = new_max
            a.price_vnd = english.visible_price(a)
            events.append(self._placed(a, cmd, False, 0))
            events.append(self._accepted(a, seq, ts))
        return events

    def _placed(self, a: Auction, cmd: PlaceBid, leading: bool, held: int) -> BidPlaced:
        return BidPlaced(
            seq=cmd.seq, ts_ns=cmd.ts_ns, auction_id=a.auction_id, recipient=cmd.account,
            bid_id=cmd.seq, kind=a.kind, max_price_vnd=cmd.price_vnd,  # type: ignore[arg-type]
            leading=leading, price_vnd=a.price_vnd, held_vnd=held,
        )

    def _accepted(self, a: Auction, seq: int, ts: int) -> BidAccepted:
        return BidAccepted(
            seq=seq, ts_ns=ts, auction_id=a.auction_id, bid_id=seq, price_vnd=a.price_vnd,
            min_next_bid_vnd=english.min_next_bid(a), reserve_met=english.reserve_met(a),
            bids=a.bids, close_ns=a.close_ns,
        )

    def _sealed_bid(self, a: Auction, cmd: PlaceBid) -> list[Event]:
        price = cmd.price_vnd
        if price < a.start_price_vnd:
            return self._refuse(cmd, "below_min_bid", f"the minimum bid is {a.start_price_vnd}")
        account = self.exchange.accounts.get(cmd.account)
        available = 0 if account is None else account.cash_vnd - account.cash_held_vnd
        live = a.sealed.get(cmd.account)
        old = 0 if live is None else live.price_vnd
        if live is not None and price <= old:
            return self._refuse(cmd, "bid_not_raised", "a sealed bid can only be raised")
        extra = (price - old) * a.qty
        if extra > available:
            return self._refuse(cmd, "insufficient_cash", f"needs {extra} VND available")
        assert account is not None
        risk.hold_cash(account, extra)
        if live is None:
            a.sealed[cmd.account] = SealedBid(cmd.seq, cmd.account, price)
            a.bids += 1
        else:
            live.bid_id = cmd.seq  # a raise takes the time of the raise
            live.price_vnd = price
        return [self._placed(a, cmd, False, price * a.qty)]

    def dutch_buy(self, cmd: DutchBuy) -> list[Event]:
        a = self._common(cmd)
        if isinstance(a, str):
            return self._refuse(cmd, a)
        if a.kind != "dutch":
            return self._refuse(cmd, "wrong_kind", "only a dutch auction takes dutch_buy")
        qty = cmd.qty
        step = self.exchange.instruments[a.symbol].qty_step
        if qty <= 0 or qty % step:
            return self._refuse(cmd, "invalid_qty", f"a positive multiple of {step}")
        shown = dutch.price_at(a, cmd.ts_ns)
        if cmd.price_vnd != shown:
            # the price is a function of time: ticks only publish it, so a buy between ticks
            # pays what the clock shows at the buy's time (and one past the floor finds none)
            detail = "the clock has passed its floor" if shown is None else (
                f"the clock shows {shown}")
            return self._refuse(cmd, "stale_price", detail)
        if qty > a.remaining:
            return self._refuse(cmd, "qty_unavailable", f"{a.remaining} left")
        if qty < a.min_qty and qty != a.remaining:
            return self._refuse(
                cmd, "below_min_qty", f"at least {a.min_qty}, or the whole {a.remaining} left"
            )
        account = self.exchange.accounts.get(cmd.account)
        value = cmd.price_vnd * qty
        if account is None or account.cash_vnd - account.cash_held_vnd < value:
            return self._refuse(cmd, "insufficient_cash", f"needs {value} VND available")
        if not risk.seller_can_take(
                self.exchange.accounts[a.seller], value, self.exchange.cash_total,
                self.exchange.settlements):
            return self._refuse(cmd, "balance_limit", "the seller's cash would pass the ceiling")
        events: list[Event] = []
        self._trade(a, cmd.account, cmd.price_vnd, qty, cmd.seq, 0, events, cmd.seq, cmd.ts_ns)
        if a.remaining == 0:
            self._close(a, "sold_out", cmd.account, cmd.price_vnd, events, cmd.seq, cmd.ts_ns)
        else:
            dutch.restart(a, cmd.price_vnd, cmd.ts_ns)
            events.append(
                ClockTicked(
                    seq=cmd.seq, ts_ns=cmd.ts_ns, auction_id=a.auction_id,
                    price_vnd=a.clock_vnd, remaining_qty=a.remaining,
                    next_step_ns=a.next_step_ns, restarted=True,
                )
            )
        return events

    # -- cancel --------------------------------------------------------------------------------

    def cancel(self, cmd: CancelAuction) -> list[Event]:
        a = self.auctions.get(cmd.auction_id)
        if a is None:
            return self._refuse(cmd, "unknown_auction")
        if a.status is CLOSED or (
            a.status is OPEN and a.kind != "dutch" and cmd.ts_ns >= a.close_ns
        ):
            # past its close the outcome is decided (the closing tick settles it): calling it
            # off then would take a won lot from its winner
            return self._refuse(cmd, "auction_closed")
        if not cmd.by_operator:
            if cmd.account != a.seller:
                return self._refuse(cmd, "not_seller", "the operator or the seller cancels")
            if a.bids or a.sold_qty:
                return self._refuse(
                    cmd, "auction_has_bids", "after the first bid only the operator cancels"
                )
        seq, ts = cmd.seq, cmd.ts_ns
        by: Literal["operator", "seller"] = "operator" if cmd.by_operator else "seller"
        a.cancelled_by, a.cancel_reason = by, cmd.reason
        events: list[Event] = [
            AuctionCancelled(
                seq=seq, ts_ns=ts, auction_id=a.auction_id, by=by, reason=cmd.reason,
            )
        ]
        accounts = self.exchange.accounts
        voided: list[tuple[str, int, int]] = []  # (account, bid id, released VND)
        if a.leader is not None:
            voided.append((a.leader, a.leader_bid_id, a.leader_max_vnd * a.qty))
            a.leader = None
        for b in a.sealed.values():
            voided.append((b.account, b.bid_id, b.price_vnd * a.qty))
        a.sealed = {}  # void bids are never opened
        for account, bid_id, released in voided:
            risk.release_cash(accounts[account], released)
            events.append(
                BidVoided(
                    seq=seq, ts_ns=ts, auction_id=a.auction_id, recipient=account,
                    bid_id=bid_id, released_vnd=released,
                )
            )
        self._close(a, "cancelled", None, 0, events, seq, ts)
        return events

    # -- outcomes ------------------------------------------------------------------------------

    def _trade(
        self, a: Auction, buyer_id: str, price: int, qty: int, bid_id: int, release_vnd: int,
        events: list[Event], seq: int, ts: int,
    ) -> None:
        """Sell ``qty`` of the auctioned lot to the buyer at ``price``: the same
        `TradeExecuted` as the book (maker = the auction, taker = the winning bid), so
        settlement treats both alike. ``release_vnd`` is the bid's cash hold, which becomes the
        trade's DvP hold; the goods leave the auction's custody into the seller's DvP hold
        (delivery versus payment, `engine.dvp`)."""
        ex = self.exchange
        buyer = ex.accounts[buyer_id]
        seller = ex.accounts[a.seller]
        seller.holding(a.symbol).pend_incoming(qty)  # from the auction's custody
        a.remaining -= qty
        a.sold_qty += qty
        trade_id = fills.next_trade_id(ex)
        fills.open_trade(
            ex, trade_id, a.symbol, price, qty, buyer, seller, release_vnd,
            [LotLeg(a.lot_id, qty)], ts,
        )
        a.trade_ids.append(trade_id)
        # a whole-lot price is not a book price: it moves neither the band's reference nor a
        # call's (the trade is still published like any other)
        events.append(
            TradeExecuted(
                seq=seq, ts_ns=ts, trade_id=trade_id, symbol=a.symbol, price_vnd=price,
                qty=qty, aggressor="buy", maker_order_id=a.auction_id, taker_order_id=bid_id,
                buyer=buyer_id, seller=a.seller, maker_leaves_qty=a.remaining,
                taker_leaves_qty=0, lots=[LotLeg(a.lot_id, qty)],
            )
        )

    def _close_timed(self, a: Auction, events: list[Event], seq: int, ts: int) -> None:
        accounts = self.exchange.accounts
        if a.kind == "english":
            leader = a.leader
            if leader is None:
                self._close(a, "no_bids", None, 0, events, seq, ts)
            elif not english.reserve_met(a):
                risk.release_cash(accounts[leader], a.leader_max_vnd * a.qty)
                a.leader = None
                self._close(a, "reserve_not_met", None, 0, events, seq, ts)
            else:
                hold = a.leader_max_vnd * a.qty
                a.leader = None
                if not risk.seller_can_take(
                        accounts[a.seller], a.price_vnd * a.qty, self.exchange.cash_total,
                        self.exchange.settlements):
                    risk.release_cash(accounts[leader], hold)
                    self._close(a, "balance_limit", None, 0, events, seq, ts)
                    return
                self._trade(a, leader, a.price_vnd, a.qty, a.leader_bid_id, hold, events, seq, ts)
                self._close(a, "sold", leader, a.price_vnd, events, seq, ts)
            return
        win, price, reason = sealed.winner_and_price(a)
        for b in a.sealed.values():
            if b is not win:
                risk.release_cash(accounts[b.account], b.price_vnd * a.qty)
        if win is not None and not risk.seller_can_take(
            accounts[a.seller], price * a.qty, self.exchange.cash_total,
            self.exchange.settlements
        ):
            # the sale cannot happen, so nobody won: the opened bids name no winner
            risk.release_cash(accounts[win.account], win.price_vnd * a.qty)
            win, reason = None, "balance_limit"
        if a.sealed:
            # the bids stay on the closed auction (they hold nothing now) so that what was
            # opened here can be shown again after a restart
            bids, winning = sealed.opened(a, win)
            events.append(
                SealedBidsOpened(
                    seq=seq, ts_ns=ts, auction_id=a.auction_id, bids=bids,
                    winning_bidder=winning,
                )
            )
        if win is None:
            self._close(a, reason, None, 0, events, seq, ts)
        else:
            self._trade(
                a, win.account, price, a.qty, win.bid_id, win.price_vnd * a.qty, events, seq, ts
            )
            self._close(a, "sold", win.account, price, events, seq, ts)

    def _close(
        self, a: Auction, reason: CloseReason, winner: str | None, price: int, events: list[Event],
        seq: int, ts: int,
    ) -> None:
        unsold = a.remaining
        if unsold:
            self.exchange.accounts[a.seller].holding(a.symbol).add_lot(a.lot_id, unsold)
            a.remaining = 0
        transition(a, CLOSED)
        (self.clocks if a.kind == "dutch" else self.timed).pop(a.auction_id)
        outcome = "sold" if not unsold else "partly_sold" if a.sold_qty else "unsold"
        a.outcome, a.close_reason, a.winner = outcome, reason, winner
        a.final_price_vnd = price or None
        events.append(
            AuctionClosed(
                seq=seq, ts_ns=ts, auction_id=a.auction_id, kind=a.kind,  # type: ignore[arg-type]
                outcome=outcome,  # type: ignore[arg-type]
                reason=reason, sold_qty=a.sold_qty,
                unsold_qty=unsold, price_vnd=price or None, winner=winner,
                trade_ids=list(a.trade_ids),
            )
        )


_STATUS = {SCHEDULED: SCHEDULED, OPEN: OPEN, CLOSED: CLOSED}
