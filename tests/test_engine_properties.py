"""Property tests on random command streams (hypothesis).

The same stream runs through an exchange on the fast book and one on the naive reference book;
every event must agree byte for byte, every invariant (`Exchange._check`: no crossed book at
rest, holds equal to open orders, nothing negative) must hold after every command, cash and
goods must be conserved, fills must add up, and a snapshot taken mid-way plus a replay of the
rest must give the live state hash and the same events. Random settlement commands (delivery
versus payment) run among the orders: each account's cash and goods must be exactly what its
deposits, lot receipts and *paid* trades make them (nothing moves at the trade or at a failure),
and holds + available = total.
"""

from __future__ import annotations

import random
from collections import defaultdict

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.exchange import Exchange
from engine.messages import (
    AddInstrument,
    CancelOrder,
    CashDeposited,
    CashWithdrawn,
    Command,
    Deposit,
    Event,
    LotReceived,
    LotWithdrawn,
    OrderAccepted,
    PlaceOrder,
    PurgeOrders,
    ReceiveLot,
    ReplaceOrder,
    SetTradeSettlement,
    Tick,
    TradeExecuted,
    TradeSettlementChanged,
    Withdraw,
    WithdrawLot,
)
from engine.naive_book import NaiveBook

SYMBOLS = ["QUE-BARK-A", "ATISO-LEAF-B"]
ACCOUNTS = ["A", "B", "C"]
PRICES = [9_800, 9_900, 10_000, 10_100, 10_200]

place = st.tuples(
    st.just("place"),
    st.sampled_from(ACCOUNTS),
    st.sampled_from(SYMBOLS),
    st.sampled_from(["buy", "sell"]),
    st.sampled_from(["limit"] * 6 + ["market"]),
    st.sampled_from(PRICES),
    st.integers(1, 40),
    st.sampled_from(["gtc", "gtc", "gtc", "ioc", "fok", "gtd"]),
    st.booleans(),
)
# cancels and replaces aim at an earlier order, usually as its owner (None), sometimes not
owner = st.one_of(st.none(), st.none(), st.none(), st.sampled_from(ACCOUNTS))
cancel = st.tuples(st.just("cancel"), owner, st.integers(0, 60))
replace = st.tuples(
    st.just("replace"), owner, st.integers(0, 60),
    st.one_of(st.none(), st.integers(1, 50)), st.one_of(st.none(), st.sampled_from(PRICES)),
)
tick = st.tuples(st.just("tick"))
cash = st.tuples(st.just("cash"), st.sampled_from(ACCOUNTS), st.integers(-300_000, 300_000))
lot = st.tuples(st.just("lot"), st.sampled_from(ACCOUNTS), st.sampled_from(SYMBOLS),
                st.integers(1, 60), st.booleans())
purge = st.tuples(st.just("purge"), st.integers(0, 60))
SETTLE_STATES = ["paid", "paid", "paid", "delivered", "settled", "failed"]
settle = st.tuples(st.just("settle"), st.integers(1, 40), st.sampled_from(SETTLE_STATES))
ops = st.lists(
    st.one_of(place, place, place, place, cancel, replace, tick, cash, lot, purge, settle,
              settle),
    min_size=5, max_size=150,
)


def build(stream: list[tuple]) -> list[Command]:
    """Turn drawn tuples into stamped commands (order ids are seqs, so cancels aim at them)."""
    cmds: list[Command] = [
        AddInstrument(symbol=s, herb=s.split("-")[0], grade=s[-1], tick_vnd=100) for s in SYMBOLS
    ]
    for a in ACCOUNTS:
        cmds.append(Deposit(account=a, amount_vnd=2_000_000))
        for s in SYMBOLS:
            cmds.append(ReceiveLot(lot_id=f"{a}-{s}-0", account=a, symbol=s, qty=100))
    ts = 1_000
    placed: list[tuple[int, str]] = []
    lots = 0
    for op in stream:
        seq = len(cmds) + 1
        if op[0] == "place":
            _, acct, sym, side, typ, price, qty, tif, post = op
            kw: dict = {}
            if typ == "limit":
                kw["price_vnd"] = price
                kw["post_only"] = post and tif in ("gtc", "gtd")
            elif side == "buy":
                kw["cash_cap_vnd"] = price * qty
            if tif == "gtd":
                kw["expire_at_ns"] = ts + 2
            elif typ == "market" and tif != "fok":
                tif = "ioc"
            cmds.append(PlaceOrder(account=acct, client_order_id=f"o{seq}", symbol=sym,
                                   side=side, order_type=typ, qty=qty, tif=tif, **kw))
            placed.append((seq, acct))
        elif op[0] == "cancel" and placed:
            order_id, acct = placed[-1 - op[2] % len(placed)]
            cmds.append(CancelOrder(account=op[1] or acct, order_id=order_id))
        elif op[0] == "replace" and placed:
            order_id, acct = placed[-1 - op[2] % len(placed)]
            cmds.append(ReplaceOrder(account=op[1] or acct, order_id=order_id,
                                     qty=op[3], price_vnd=op[4]))
        elif op[0] == "tick":
            ts += 1
            cmds.append(Tick())
        elif op[0] == "purge" and placed:
            cmds.append(PurgeOrders(upto_order_id=placed[-1 - op[1] % len(placed)][0]))
        elif op[0] == "cash":
            amount = op[2]
            if amount >= 0:
                cmds.append(Deposit(account=op[1], amount_vnd=amount))
            else:
                cmds.append(Withdraw(account=op[1], amount_vnd=-amount))
        elif op[0] == "settle":
            cmds.append(SetTradeSettlement(trade_id=op[1], state=op[2]))
        elif op[0] == "lot":
            _, acct, sym, qty, withdraw = op
            if withdraw:
                cmds.append(WithdrawLot(lot_id=f"{acct}-{sym}-0", account=acct))
            else:
                lots += 1
                cmds.append(ReceiveLot(lot_id=f"X{lots}", account=acct, symbol=sym, qty=qty))
    # time moves only at ticks: every command carries the time of the last tick before it
    ts = 1_000
    for i, cmd in enumerate(cmds, 1):
        if isinstance(cmd, Tick):
            ts += 1
        cmd.seq = i
        cmd.ts_ns = ts
    return cmds


def run(cmds: list[Command], ex: Exchange) -> list[list[Event]]:
    out = []
    for cmd in cmds:
        out.append(ex.apply(cmd))
        ex._check()
    return out


def encode(events: list[list[Event]]) -> list[bytes]:
    return [msgspec.msgpack.encode(e) for e in events]


def check_conservation(ex: Exchange, events: list[list[Event]]) -> None:
    cash_in = 0
    goods_in: dict[str, int] = defaultdict(int)
    filled: dict[int, int] = defaultdict(int)
    # what each account owns, from the events: only deposits, withdrawals, lot receipts and
    # withdrawals, and payments move anything (delivery versus payment)
    cash: dict[str, int] = defaultdict(int)
    goods: dict[tuple[str, str], int] = defaultdict(int)
    for batch in events:
        for e in batch:
            if isinstance(e, CashDeposited):
                cash_in += e.amount_vnd
                cash[e.account] += e.amount_vnd
            elif isinstance(e, CashWithdrawn):
                cash_in -= e.amount_vnd
                cash[e.account] -= e.amount_vnd
            elif isinstance(e, LotReceived):
                goods_in[e.symbol] += e.qty
                goods[e.account, e.symbol] += e.qty
            elif isinstance(e, LotWithdrawn):
                goods_in[e.symbol] -= e.qty
                goods[e.account, e.symbol] -= e.qty
            elif isinstance(e, TradeExecuted):
                filled[e.maker_order_id] += e.qty
                filled[e.taker_order_id] += e.qty
                assert sum(leg.qty for leg in e.lots) == e.qty
            elif isinstance(e, TradeSettlementChanged) and e.to_state == "paid":
                assert e.value_vnd == e.price_vnd * e.qty
                cash[e.buyer] -= e.value_vnd
                cash[e.seller] += e.value_vnd
                goods[e.buyer, e.symbol] += e.qty
                goods[e.seller, e.symbol] -= e.qty
    assert sum(a.cash_vnd for a in ex.accounts.values()) == cash_in
    for s in SYMBOLS:
        held = sum(a.holdings[s].qty for a in ex.accounts.values() if s in a.holdings)
        assert held == goods_in[s]
    for a in ex.accounts.values():
        assert a.cash_vnd == cash[a.account_id], a.account_id
        view = ex.balances(a.account_id)
        assert view is not None
        assert view.cash_held_vnd + view.cash_available_vnd == view.cash_vnd
        assert 0 <= view.cash_dvp_vnd <= view.cash_held_vnd
        for g in view.goods:
            assert g.qty == goods[a.account_id, g.symbol], (a.account_id, g.symbol)
            assert g.held_qty + g.available_qty == g.qty
            assert sum(q for _, q in g.lots) + g.dvp_qty == g.qty
    for o in ex.orders.values():
        assert o.qty - o.leaves == filled[o.order_id], o  # filled + leaves == qty


def check_trade_prices(events: list[list[Event]]) -> None:
    """Within one command, an aggressor meets better prices first and never passes its limit."""
    for batch in events:
        accepted = {e.order_id: e for e in batch if isinstance(e, OrderAccepted)}
        trades = [e for e in batch if isinstance(e, TradeExecuted)]
        prices = [t.price_vnd for t in trades]
        if trades and trades[0].aggressor == "buy":
            assert prices == sorted(prices)
        elif trades:
            assert prices == sorted(prices, reverse=True)
        for t in trades:
            o = accepted.get(t.taker_order_id)
            if o is not None and o.price_vnd is not None:
                assert t.price_vnd <= o.price_vnd if o.side == "buy" else t.price_vnd >= o.price_vnd


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_fast_book_agrees_with_naive_and_invariants_hold(stream: list[tuple]) -> None:
    cmds = build(stream)
    fast = Exchange()
    fast_events = run(cmds, fast)
    naive = Exchange(NaiveBook)
    naive_events = run(build(stream), naive)
    assert encode(fast_events) == encode(naive_events)
    assert fast.state_hash() == naive.state_hash()
    check_conservation(fast, fast_events)
    check_trade_prices(fast_events)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops, st.integers(0, 200))
def test_snapshot_plus_replay_equals_live(stream: list[tuple], cut: int) -> None:
    cmds = build(stream)
    cut = min(cut, len(cmds))
    live = Exchange()
    live_events = run(cmds, live)
    first = Exchange()
    run(cmds[:cut], first)
    restored = Exchange.restore(first.snapshot())
    assert restored.state_hash() == first.state_hash()
    replayed = run(build(stream)[cut:], restored)
    assert encode(replayed) == encode(live_events[cut:])
    assert restored.state_hash() == live.state_hash()


def random_stream(seed: int, n: int) -> list[tuple]:
    """A long seeded stream of the same op shapes, for coverage that hypothesis' short lists
    do not reach (deep books, long sweeps, many replaces)."""
    rng = random.Random(seed)
    out: list[tuple] = []
    for _ in range(n):
        r = rng.random()
        if r < 0.55:
            tif = rng.choice(["gtc", "gtc", "gtc", "ioc", "fok", "gtd"])
            out.append(("place", rng.choice(ACCOUNTS), rng.choice(SYMBOLS),
                        rng.choice(["buy", "sell"]), "market" if rng.random() < 0.08 else "limit",
                        rng.choice(PRICES), rng.randint(1, 40), tif, rng.random() < 0.2))
        elif r < 0.75:
            out.append(("cancel", None if rng.random() < 0.9 else rng.choice(ACCOUNTS),
                        rng.randint(0, 30)))
        elif r < 0.85:
            out.append(("replace", None if rng.random() < 0.9 else rng.choice(ACCOUNTS),
                        rng.randint(0, 30), rng.choice([None, rng.randint(1, 50)]),
                        rng.choice([None, rng.choice(PRICES)])))
        elif r < 0.89:
            out.append(("tick",))
        elif r < 0.9:
            out.append(("purge", rng.randint(0, 30)))
        elif r < 0.96:
            # trade ids are handed out in order: aim near the ones the stream has made so far
            made = max(1, len(out) // 14)
            out.append(("settle", rng.randint(1, made), rng.choice(SETTLE_STATES)))
        elif r < 0.98:
            out.append(("cash", rng.choice(ACCOUNTS), rng.randint(-300_000, 600_000)))
        else:
            out.append(("lot", rng.choice(ACCOUNTS), rng.choice(SYMBOLS), rng.randint(1, 60),
                        rng.random() < 0.3))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_seeded_long_streams(seed: int) -> None:
    stream = random_stream(seed, 1500)
    fast = Exchange()
    fast_events = run(build(stream), fast)
    naive_events = run(build(stream), Exchange(NaiveBook))
    assert encode(fast_events) == encode(naive_events)
    check_conservation(fast, fast_events)
    check_trade_prices(fast_events)
    trades = sum(isinstance(e, TradeExecuted) for batch in fast_events for e in batch)
    assert trades > 50, "the stream should trade"
    moved = [e.to_state for batch in fast_events for e in batch
             if isinstance(e, TradeSettlementChanged)]
    assert moved.count("paid") > 5 and "failed" in moved, "the stream should settle trades"
    cut = len(fast_events) // 2
    first = Exchange()
    cmds = build(stream)
    run(cmds[:cut], first)
    restored = Exchange.restore(first.snapshot())
    assert encode(run(cmds[cut:], restored)) == encode(fast_events[cut:])
    assert restored.state_hash() == fast.state_hash()
