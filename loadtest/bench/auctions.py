"""`herbx bench auctions`: English bids per second and the cost of one tick over live Dutch
clocks. An I/O shell module (it reads the clock); the engine core never imports it.

Workload (seeded): ``auctions`` concurrent English auctions and ``bidders`` funded bidders
placing proxy maxima at random auctions. Every maximum keeps to the instrument's tick (an
off-tick bid is refused at once, which would time the refusal path): each is the auction's
highest maximum so far plus -3 to +7 increments of its tier, so most take the lead, some are
answered by the leader's proxy, a leader sometimes raises their own maximum, and some are
refused below the minimum next bid. Accepted and refused bids are counted (refusals by reason)
and reported; refusals are processed commands too. Then ``clocks``
Dutch clocks, each stepping every 100 ms, driven by ticks 100 ms apart, so every tick moves every
clock (the worst case) while the English auctions stay live and are scanned too. Commands are
built and stamped before the timer starts; the timer covers ``Exchange.apply`` only.
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import time
from typing import Any

from engine.auctions.increments import default_tiers, increment
from engine.exchange import Exchange
from engine.messages import (
    AddInstrument,
    AuctionBidRejected,
    Command,
    CreateAuction,
    Deposit,
    PlaceBid,
    ReceiveLot,
    Tick,
)

SYMBOL = "QUE-BARK-A"
MS = 1_000_000
S = 1_000 * MS


def run(
    bidders: int = 100, auctions: int = 1000, clocks: int = 1000, seed: int = 20261129,
    bids: int = 200_000, ticks: int = 200,
) -> dict[str, Any]:
    rng = random.Random(seed)
    ex = Exchange()
    seq = 0
    ts = 1_700_000_000 * S

    def do(cmd: Command) -> Any:
        nonlocal seq
        seq += 1
        cmd.seq = seq
        cmd.ts_ns = ts
        return ex.apply(cmd)

    do(AddInstrument(symbol=SYMBOL, herb="QUE-BARK", grade="A", tick_vnd=100))
    names = [f"B{i:03d}" for i in range(bidders)]
    for name in names:
        do(Deposit(account=name, amount_vnd=10**15))
    english_ids = []
    for i in range(auctions):
        do(ReceiveLot(lot_id=f"LE{i}", account="SELLER", symbol=SYMBOL, qty=100))
        ev = do(CreateAuction(kind="english", seller="SELLER", lot_id=f"LE{i}", qty=100,
                              start_ns=ts, end_ns=ts + 3600 * S, start_price_vnd=50_000,
                              reserve_vnd=80_000, extend_ns=60 * S, extension_cap_ns=600 * S))
        english_ids.append(ev[0].auction_id)

    # bids: proxy maxima around each auction's highest so far, in whole increments (so on the
    # tick: every increment is a multiple of it), random bidders
    top = dict.fromkeys(english_ids, 50_000)
    stream: list[PlaceBid] = []
    for _ in range(bids):
        aid = english_ids[rng.randrange(auctions)]
        price = top[aid] + rng.randrange(-3, 8) * increment(default_tiers(), top[aid])
        if price > top[aid]:
            top[aid] = price
        stream.append(PlaceBid(auction_id=aid, account=names[rng.randrange(bidders)],
                               price_vnd=price))
    assert all(cmd.price_vnd % 100 == 0 for cmd in stream)
    for cmd in stream:
        seq += 1
        cmd.seq = seq
        cmd.ts_ns = ts
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        refusals: list[Any] = []
        apply = ex.apply
        for cmd in stream:
            ev = apply(cmd)
            if type(ev[0]) is AuctionBidRejected:
                refusals.append(ev[0])
        bid_s = time.perf_counter() - t0
    finally:
        gc.enable()
    refused: dict[str, int] = {}
    for r in refusals:
        refused[r.reason] = refused.get(r.reason, 0) + 1

    for i in range(clocks):
        do(ReceiveLot(lot_id=f"LD{i}", account="SELLER", symbol=SYMBOL, qty=1000))
        do(CreateAuction(kind="dutch", seller="SELLER", lot_id=f"LD{i}", qty=1000, start_ns=ts,
                         start_price_vnd=10_000_000, step_vnd=100, interval_ns=100 * MS,
                         floor_vnd=100, min_qty=10))
    tick_ms: list[float] = []
    stepped = 0
    gc.collect()
    for _ in range(ticks):
        ts += 100 * MS
        tick = Tick()
        seq += 1
        tick.seq = seq
        tick.ts_ns = ts
        t0 = time.perf_counter()
        ev = ex.apply(tick)
        tick_ms.append((time.perf_counter() - t0) * 1000)
        stepped += len(ev)
    ex._check()
    tick_ms.sort()
    return {
        "workload": f"{auctions} english auctions, {bidders} bidders, {bids} proxy bids; "
        f"{clocks} dutch clocks stepping every 100 ms, {ticks} ticks 100 ms apart, "
        f"{auctions} english auctions live during the ticks",
        "bids": bids,
        "bids_accepted": bids - len(refusals),
        "bids_refused": len(refusals),
        "bids_refused_by_reason": dict(sorted(refused.items())),
        "bids_per_s": round(bids / bid_s),
        "clock_tick_ms": round(statistics.mean(tick_ms), 3),
        "clock_tick_p99_ms": round(tick_ms[int(len(tick_ms) * 0.99) - 1], 3),
        "clock_events_per_tick": stepped // ticks,
    }


def main(seed: int = 20261129) -> int:
    """`herbx bench auctions`: the figures as one JSON line (the last line of the output)."""
    from engine.tools.runtime import tune_gc

    tune_gc()  # as the server runs: see engine/tools/runtime.py
    print(json.dumps(run(seed=seed)))
    return 0


if __name__ == "__main__":
    main()
