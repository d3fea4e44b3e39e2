"""`herbx demo`: a seeded trading session of the Lào Cai herb market, replayed through the engine.

An I/O shell module (it prints and sleeps); the core never imports it. Five cooperatives bring
graded lots into custody, ten traders fund their accounts, a market maker keeps every book
two-sided around a slowly drifting fair price, and traders and cooperatives trade against it.
Every few simulated minutes the demo prints the top of each book and the trades since the last
print, with the lots each trade delivered. The same seed gives the same session, event for
event (the final state hash is printed to prove it).
"""

from __future__ import annotations

import random
import sys
import time
from collections import defaultdict

from engine.dvp import NEXT_STEP
from engine.exchange import Exchange
from engine.messages import (
    AddInstrument,
    CancelOrder,
    Command,
    Deposit,
    Event,
    OrderAccepted,
    PlaceOrder,
    ReceiveLot,
    SetTradeSettlement,
    Tick,
    TradeExecuted,
)

# symbol, herb, grade, tick, fair price VND/kg, Vietnamese name
INSTRUMENTS = [
    ("QUE-BARK-A", "QUE", "A", 100, 62_000, "Quế vỏ loại A"),
    ("QUE-BARK-B", "QUE", "B", 100, 48_000, "Quế vỏ loại B"),
    ("QUE-OIL-A", "QUE", "A", 1_000, 1_050_000, "Tinh dầu quế loại A"),
    ("TAMTHAT-ROOT-A", "TAMTHAT", "A", 1_000, 1_600_000, "Tam thất củ loại A"),
    ("ATISO-LEAF-A", "ATISO", "A", 100, 85_000, "Lá atisô loại A"),
]
COOPERATIVES = ["HTX-VANBAN", "HTX-BATXAT", "HTX-BACHA", "HTX-SAPA", "HTX-BAOYEN"]
TRADERS = [f"T{i:02d}" for i in range(1, 11)]
MAKER = "MM-01"
MINUTE_NS = 60 * 10**9
SESSION_START_NS = 1_795_770_000 * 10**9  # 2026-11-27 07:00 UTC+7 (00:00 UTC)


class Session:
    """Stamps commands like the sequencer does and keeps the events."""

    def __init__(self) -> None:
        self.ex = Exchange()
        self.seq = 0
        self.ts = SESSION_START_NS

    def do(self, cmd: Command) -> list[Event]:
        self.seq += 1
        cmd.seq = self.seq
        cmd.ts_ns = self.ts
        return self.ex.apply(cmd)


def setup(s: Session, rng: random.Random) -> None:
    for symbol, herb, grade, tick, fair, _ in INSTRUMENTS:
        s.do(AddInstrument(symbol=symbol, herb=herb, grade=grade, tick_vnd=tick,
                           band_bps=1_500, ref_price_vnd=fair))
    lot_no = 0
    for coop in [*COOPERATIVES, MAKER]:
        for symbol, *_ in INSTRUMENTS:
            lot_no += 1
            qty = rng.randrange(200, 2_000, 10) if coop != MAKER else 5_000
            s.do(ReceiveLot(lot_id=f"LC26-{symbol.split('-')[0]}-{lot_no:04d}", account=coop,
                            symbol=symbol, qty=qty))
    for trader in [*TRADERS, MAKER]:
        s.do(Deposit(account=trader, amount_vnd=50_000_000_000))


def fmt_vnd(v: int) -> str:
    return f"{v:,}".replace(",", ".")


def print_books(s: Session, out: list[str]) -> None:
    for symbol, *_, name in INSTRUMENTS:
        snap = s.ex.depth(symbol, 3)
        assert snap is not None
        bids = "  ".join(f"{q:>5} @ {fmt_vnd(p):>9}" for p, q in snap.bids) or "-"
        asks = "  ".join(f"{q:>5} @ {fmt_vnd(p):>9}" for p, q in snap.asks) or "-"
        out.append(f"  {symbol:<15} {name}")
        out.append(f"      bids  {bids}")
        out.append(f"      asks  {asks}")


def main(seed: int = 7, minutes: int = 30, pace_ms: int = 20) -> int:
    rng = random.Random(seed)
    s = Session()
    setup(s, rng)
    fair = {sym: price for sym, _, _, _, price, _ in INSTRUMENTS}
    ticks = {sym: tick for sym, _, _, tick, _, _ in INSTRUMENTS}
    maker_orders: dict[str, list[int]] = defaultdict(list)
    trades: list[TradeExecuted] = []
    volume: dict[str, int] = defaultdict(int)
    notional: dict[str, int] = defaultdict(int)
    print(f"HerbX demo: seed {seed}, {minutes} simulated minutes, {len(INSTRUMENTS)} books, "
          f"{len(COOPERATIVES)} cooperatives, {len(TRADERS)} traders, market maker {MAKER}")
    for minute in range(1, minutes + 1):
        s.ts = SESSION_START_NS + minute * MINUTE_NS
        events: list[Event] = list(s.do(Tick()))
        # the operator moves every open trade one step a minute (delivery versus payment):
        # paid a minute after the trade, then delivered, then settled
        for st in s.ex.settlement_views():
            events += s.do(SetTradeSettlement(trade_id=st.trade_id,
                                              state=NEXT_STEP[st.state]))
        for symbol, *_ in INSTRUMENTS:
            tick = ticks[symbol]
            # fair price drifts by up to 0.3% a minute
            fair[symbol] = max(tick, fair[symbol] + rng.randint(-3, 3) * fair[symbol] // 1000
                               // tick * tick)
            for oid in maker_orders.pop(symbol, []):
                events += s.do(CancelOrder(account=MAKER, order_id=oid))
            half_spread = max(tick, fair[symbol] // 400 // tick * tick)
            for level in range(3):
                for side, price in (("buy", fair[symbol] - half_spread - level * tick),
                                    ("sell", fair[symbol] + half_spread + level * tick)):
                    ev = s.do(PlaceOrder(account=MAKER, client_order_id=f"mm-{s.seq + 1}",
                                         symbol=symbol, side=side, price_vnd=price,  # type: ignore[arg-type]
                                         qty=rng.randrange(50, 300, 10)))
                    events += ev
                    maker_orders[symbol] += [e.order_id for e in ev if isinstance(e, OrderAccepted)]
            for _ in range(rng.randint(1, 4)):
                buy = rng.random() < 0.5
                account = rng.choice(TRADERS) if buy else rng.choice(COOPERATIVES)
                aggressive = rng.random() < 0.6
                offset = rng.randint(0, 4) * tick
                if buy:
                    price = fair[symbol] + (half_spread if aggressive else -half_spread - offset)
                else:
                    price = fair[symbol] - (half_spread if aggressive else -half_spread - offset)
                events += s.do(PlaceOrder(account=account, client_order_id=f"o-{s.seq + 1}",
                                          symbol=symbol, side="buy" if buy else "sell",
                                          price_vnd=price, qty=rng.randrange(10, 200, 10),
                                          tif="ioc" if aggressive else "gtc"))
        new = [e for e in events if isinstance(e, TradeExecuted)]
        for t in new:
            volume[t.symbol] += t.qty
            notional[t.symbol] += t.qty * t.price_vnd
        trades += new
        if minute % 5 == 0 or minute == minutes:
            clock = time.strftime("%H:%M", time.gmtime(s.ts // 10**9 + 7 * 3600))
            out = [f"\n== {clock} (UTC+7), seq {s.seq}: books (top 3) =="]
            print_books(s, out)
            recent = [t for t in trades if t.ts_ns > s.ts - 5 * MINUTE_NS]
            out.append(f"  trades in the last 5 minutes: {len(recent)}")
            for t in recent[-8:]:
                legs = ", ".join(f"{leg.lot_id}×{leg.qty}" for leg in t.lots)
                out.append(f"    #{t.trade_id:<5} {t.symbol:<15} {t.qty:>4} kg @ "
                           f"{fmt_vnd(t.price_vnd):>9}  {t.buyer} ← {t.seller}  lots: {legs}")
            if len(recent) > 8:
                out.append(f"    … and {len(recent) - 8} more")
            print("\n".join(out))
            sys.stdout.flush()
            if pace_ms:
                time.sleep(pace_ms * 5 / 1000)
    print("\n== session summary ==")
    for symbol, *_ in INSTRUMENTS:
        v = volume[symbol]
        vwap = notional[symbol] // v if v else 0
        print(f"  {symbol:<15} volume {v:>6} kg   VWAP {fmt_vnd(vwap):>9} VND/kg")
    s.ex._check()
    print(f"  {len(trades)} trades from {s.seq} commands; state hash {s.ex.state_hash()[:16]}")
    return 0
