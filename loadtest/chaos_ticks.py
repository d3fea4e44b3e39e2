"""The tick store's checks of `herbx chaos`, after each restart (the load paused).

Owns what "no tick lost or doubled" means: the tick writer (in `herbx serve`, in `herbx engine`,
or `herbx consume --consumer ticks` in its own process) has caught up with the market's seq,
and then

1. every trade of the journal is in the tick store exactly once, under the seq of the command
   that made it, with its price and quantity; no other tick is there (trade ids and seqs
   compared with the journal's ``TradeExecuted`` events, read by `loadtest.chaos_check`);
2. the stored bars equal the bars rebuilt from the stored ticks (`settlement.ticks.bars.bars_of`,
   in memory): every symbol, every interval.

Reads the tick store (the same store choice as the market, `gateway.link.ticks.tick_store`);
never writes it.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loadtest.chaos import Cluster
    from loadtest.chaos_check import CheckResult, JournalFacts


def open_ticks(cluster: Cluster) -> Any:
    from gateway.link.ticks import tick_store

    return tick_store(cluster.data_dir, cluster.database_url, cluster.database_schema)


async def tick_position(cluster: Cluster) -> int:
    """The tick writer's durable position (0 before its store exists)."""
    if not cluster.database_url and not (cluster.data_dir / "ticks.sqlite").exists():
        return 0
    store = open_ticks(cluster)
    await store.open()
    try:
        return int((await store.load_state())[0])
    finally:
        await store.close()


async def check_ticks(cluster: Cluster, facts: JournalFacts, res: CheckResult) -> None:
    from settlement.ticks.bars import bars_of
    from settlement.ticks.model import INTERVALS
    from settlement.ticks.store import MAX_BARS, TickQuery

    store = open_ticks(cluster)
    await store.open()
    try:
        ticks = [t async for page in store.export(TickQuery()) for t in page if not t.demo]
        stored_bars = {}
        for symbol in sorted({t.symbol for t in ticks}):
            for interval in INTERVALS:
                stored_bars[(symbol, interval)] = await store.bars(symbol, interval, None, None,
                                                                   MAX_BARS)
    finally:
        await store.close()
    counts = Counter(t.trade_id for t in ticks)
    res.ticks_stored = len(counts)
    res.tick_duplicates = sum(c - 1 for c in counts.values())
    missing = set(facts.trade_at) - set(counts)
    extra = set(counts) - set(facts.trade_at)
    if missing or extra or res.tick_duplicates:
        res.failures.append(f"tick store vs journal: {len(missing)} trades without a tick "
                            f"{sorted(missing)[:5]}, {len(extra)} ticks the journal lacks "
                            f"{sorted(extra)[:5]}, {res.tick_duplicates} trades stored twice")
    wrong = [t.trade_id for t in ticks if t.trade_id in facts.trade_at
             and facts.trade_at[t.trade_id] != (t.seq, t.price_vnd, t.qty)]
    if wrong:
        res.failures.append(f"{len(wrong)} ticks differ from their trade in the journal (seq, "
                            f"price or qty), e.g. trade {wrong[0]}")
    rebuilt = bars_of(ticks)
    bars_ok = True
    for (symbol, interval), bars in stored_bars.items():
        want = sorted((kb[0] for (s, iv, _), kb in rebuilt.items()
                       if s == symbol and iv == interval), key=lambda b: b.start_ns)
        res.bars_checked += len(want)
        if sorted(bars, key=lambda b: b.start_ns) != want:
            bars_ok = False
            res.failures.append(f"{symbol} {interval} bars: the {len(bars)} stored differ from "
                                f"the {len(want)} rebuilt from the ticks")
    res.ticks_ok = bars_ok and not (missing or extra or res.tick_duplicates or wrong)
