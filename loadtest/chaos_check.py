"""The checks `herbx chaos` runs after each restart, with the load paused.

Owns what "nothing was lost" means after a kill:

1. the ledger and the tick store caught up: their positions reach the market's seq (`/healthz`
   of `herbx serve`, or the stores' own positions when another process writes them; a
   `herbx consume` process's own `/healthz` must then agree, with no gap);
2. the journal (replayed from seq 0, read only) and the ledger agree: every trade of the
   journal is booked, none twice, no other; the balances net to zero per unit;
3. every acknowledged order is known: in the journal (accepted with its client order id and
   owner, with at least the fills the client saw, each one booked), and, for the orders
   acknowledged since the last check, through the API (`GET /api/v1/orders/{id}`, its filled
   quantity equal to the sum of its trades in the journal); no client order id was accepted
   twice;
4. `herbx reconcile --strict` exits 0;
5. the tick store holds every trade of the journal once and its bars equal a rebuild from its
   ticks (`loadtest.chaos_ticks`);
6. every gateway is at the journal's seq and serves the book the journal's replay ends with
   (in multi mode: its replica resynced after the engine or Redis came back); every WebSocket
   subscriber has reconnected and its book (proven by the checksums on the way) equals a fresh
   REST snapshot of its gateway.

Reads the data directory, the ledger and the tick store; never writes any of them.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from loadtest.chaos import Cluster
    from loadtest.chaos_load import Load

from loadtest.chaos_ticks import check_ticks, tick_position

CATCH_UP_TIMEOUT_S = 120.0
WS_TIMEOUT_S = 30.0


@dataclass
class CheckResult:
    acked_lost: int = 0
    trades_booked: int = 0
    trades_journal: int = 0
    duplicates: int = 0
    trial_balance: int = 0
    reconcile_ok: bool = False
    ws_ok: bool = False
    orders_checked: int = 0
    ticks_ok: bool = False
    ticks_stored: int = 0  # trades in the tick store
    tick_duplicates: int = 0
    bars_checked: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (not self.failures and self.reconcile_ok and self.ws_ok and self.ticks_ok
                and self.acked_lost == 0 and self.duplicates == 0 and self.trial_balance == 0)

    def line(self) -> str:
        return (f"{'ok' if self.ok else 'FAILED'}: {self.trades_booked} trades booked of "
                f"{self.trades_journal} journaled, {self.duplicates} duplicates, trial balance "
                f"{self.trial_balance}, {self.orders_checked} orders checked by GET, "
                f"{self.acked_lost} acknowledged lost, reconcile {self.reconcile_ok}, "
                f"{self.ticks_stored} ticks ({self.tick_duplicates} twice, "
                f"{self.bars_checked} bars rebuilt equal: {self.ticks_ok}), books {self.ws_ok}"
                + "".join(f"\n    {f}" for f in self.failures[:10]))


@dataclass
class JournalFacts:
    """What the journal says, replayed from seq 0."""

    last_seq: int = 0
    trades: dict[int, int] = field(default_factory=dict)  # trade id -> qty
    trade_at: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # -> seq, price, qty
    filled: Counter[int] = field(default_factory=Counter)  # order id -> filled qty
    accepted: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (owner, coid)
    coids: Counter[tuple[str, str]] = field(default_factory=Counter)  # (owner, coid) accepted
    book: tuple[list[list[int]], list[list[int]]] = ([], [])  # the chaos book at the end


def journal_facts(engine_dir: Path) -> JournalFacts:
    """The journal replayed from seq 0 (no snapshot: the restore `settlement.resume` uses,
    from empty), read only."""
    from engine.durable.journal import JournalReader
    from engine.durable.sequencer import restore_newest
    from engine.exchange import Exchange
    from engine.messages import OrderAccepted, TradeExecuted
    from loadtest.chaos_load import SYMBOL

    facts = JournalFacts()
    restored = restore_newest(engine_dir, at_most_seq=0)
    exchange = cast(Exchange, restored.engine)  # the default factory builds an `Exchange`
    for cmd in JournalReader(engine_dir / "journal", after_seq=restored.seq, repair=False):
        facts.last_seq = cmd.seq
        for e in exchange.apply(cmd):
            if type(e) is TradeExecuted:
                facts.trades[e.trade_id] = e.qty
                facts.trade_at[e.trade_id] = (e.seq, e.price_vnd, e.qty)
                facts.filled[e.maker_order_id] += e.qty
                facts.filled[e.taker_order_id] += e.qty
            elif type(e) is OrderAccepted:
                facts.accepted[e.order_id] = (e.account, e.client_order_id)
                facts.coids[(e.account, e.client_order_id)] += 1
    depth = exchange.depth(SYMBOL, 1000)
    if depth is not None:
        facts.book = ([list(x) for x in depth.bids], [list(x) for x in depth.asks])
    return facts


def open_store(data_dir: Path, database_url: str | None) -> Any:
    if database_url:
        from settlement.pg_store import PgStore

        return PgStore(database_url)
    from settlement.sqlite_store import LEDGER_FILE, SqliteStore

    return SqliteStore(data_dir / LEDGER_FILE)


async def ledger_position(data_dir: Path, database_url: str | None) -> int:
    store = open_store(data_dir, database_url)
    await store.open()
    try:
        return int((await store.load_state()).last_seq)
    finally:
        await store.close()


async def market_seq(http: Any, base: str) -> int:
    async with http.get(f"{base}/readyz") as r:
        return int((await r.json())["seq"])


async def caught_up(http: Any, cluster: Cluster) -> int:
    """Wait until the ledger has booked and the tick store holds everything the market
    committed; the market's seq."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CATCH_UP_TIMEOUT_S
    base = cluster.gateways[0]
    while True:
        seq = max([await market_seq(http, b) for b in cluster.gateways])
        if cluster.mode == "serve" and not cluster.consumer:
            async with http.get(f"{base}/healthz") as r:
                consumers = (await r.json())["consumers"]
            behind = [name for name in ("ledger", "ticks")
                      if not (consumers[name]["state"] == "live"
                              and consumers[name]["position"] >= seq)]
        else:
            behind = [name for name, pos in (
                ("ledger", await ledger_position(cluster.data_dir, cluster.database_url)),
                ("ticks", await tick_position(cluster))) if pos < seq]
        if not behind:
            return seq
        if loop.time() > deadline:
            raise RuntimeError(f"{' and '.join(behind)} did not reach seq {seq} in "
                               f"{CATCH_UP_TIMEOUT_S:.0f}s")
        await asyncio.sleep(0.1)


async def check_health(http: Any, cluster: Cluster, seq: int, res: CheckResult) -> None:
    """The `herbx consume` processes' own `/healthz` (`--health-port`) agrees with their stores:
    live at the market's seq (it may take a poll to see its own write), no gap."""
    loop = asyncio.get_running_loop()
    for name, url in cluster.health.items():
        deadline = loop.time() + CATCH_UP_TIMEOUT_S
        while True:
            async with http.get(url) as r:
                c = next(iter((await r.json())["consumers"].values()))
            if c["state"] == "live" and c["position"] >= seq and c["lag_commands"] == 0:
                break
            if loop.time() > deadline:
                res.failures.append(f"{name}'s /healthz is {c['state']} at {c['position']} "
                                    f"(lag {c['lag_commands']}), its store at {seq}")
                break
            await asyncio.sleep(0.05)
        if c["gaps"]:
            res.failures.append(f"{name}'s /healthz counts {c['gaps']} gaps")


async def ledger_facts(data_dir: Path, database_url: str | None) -> tuple[list[int], int, int]:
    """Trade ids of the booked trades (with repeats), (seq, n) repeats, the trial balance
    (the sum over units of the absolute net of every balance)."""
    store = open_store(data_dir, database_url)
    await store.open()
    try:
        txns = await store.transactions()
        balances = await store.balances()
    finally:
        await store.close()
    keys = Counter((t.seq, t.n) for t in txns)
    nets: Counter[str] = Counter()
    for (_, unit), amount in balances.items():
        nets[unit] += amount
    return ([t.trade_id for t in txns if t.kind == "trade"],
            sum(c - 1 for c in keys.values()), sum(abs(v) for v in nets.values()))


def reconcile(cluster: Cluster) -> tuple[bool, str]:
    argv = [sys.executable, "-m", "gateway.cli", "reconcile", "--data-dir",
            str(cluster.data_dir), "--strict"]
    if cluster.database_url:
        argv += ["--database-url", cluster.database_url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False,
                          env=cluster.env, cwd=Path(__file__).resolve().parents[1])
    lines = done.stdout.strip().splitlines()
    last = lines[-1] if lines else done.stderr.strip()[-300:]
    return done.returncode == 0, last


async def check_orders(http: Any, load: Load, facts: JournalFacts, booked: set[int],
                       res: CheckResult) -> None:
    sem = asyncio.Semaphore(16)

    async def by_api(a: Any) -> None:
        async with sem:
            status, doc = await load.call("GET", f"/api/v1/orders/{a.order_id}",
                                          load.tokens[a.owner], base=a.gateway)
        want = facts.filled.get(a.order_id, 0)
        if status != 200 or doc["client_order_id"] != a.client_order_id:
            res.acked_lost += 1
            res.failures.append(f"order {a.order_id} ({a.client_order_id}): GET {status}")
        elif doc["filled_qty"] != want:
            res.failures.append(f"order {a.order_id}: filled {doc['filled_qty']} by the API, "
                                f"{want} by the journal")
        a.checked = True

    twice = [k for k, n in facts.coids.items() if n > 1]
    if twice:
        res.failures.append(f"{len(twice)} client order ids accepted twice (a doubled order), "
                            f"e.g. {twice[0]}")
    fresh = []
    for a in load.acked:
        if facts.accepted.get(a.order_id) != (a.owner, a.client_order_id):
            res.acked_lost += 1
            res.failures.append(f"acknowledged order {a.order_id} ({a.client_order_id}) is "
                                f"not in the journal")
            continue
        if facts.filled.get(a.order_id, 0) < a.filled_qty:
            res.failures.append(f"order {a.order_id}: {a.filled_qty} filled at its "
                                f"acknowledgement, {facts.filled.get(a.order_id, 0)} now")
        for tid in a.trade_ids:
            if tid not in facts.trades or tid not in booked:
                res.failures.append(f"order {a.order_id}: trade {tid} of its acknowledgement "
                                    f"is {'not booked' if tid in facts.trades else 'lost'}")
        if not a.checked:
            fresh.append(a)
    await asyncio.gather(*(by_api(a) for a in fresh))
    res.orders_checked = len(fresh)


async def check_books(http: Any, cluster: Cluster, load: Load, facts: JournalFacts,
                      res: CheckResult) -> None:
    from loadtest.chaos_load import SYMBOL

    loop = asyncio.get_running_loop()
    deadline = loop.time() + WS_TIMEOUT_S
    for base in cluster.gateways:  # a gateway's replica may be a moment behind the engine
        while (seq := await market_seq(http, base)) < facts.last_seq:
            if loop.time() > deadline:
                res.failures.append(f"{base} is at seq {seq}, the journal at {facts.last_seq}")
                return
            await asyncio.sleep(0.02)
    snaps = {}
    for base in cluster.gateways:
        async with http.get(f"{base}/api/v1/instruments/{SYMBOL}/book?depth=1000") as r:
            snaps[base] = await r.json()
    levels = {b: (s["bids"], s["asks"]) for b, s in snaps.items()}
    if len({json.dumps(v) for v in levels.values()}) > 1:
        res.failures.append(f"the gateways show different books: {levels}")
    for base, book in levels.items():
        if list(book) != list(facts.book):
            res.failures.append(f"{base}'s book differs from the journal's replay at seq "
                                f"{facts.last_seq}")
    for sub in load.subs:
        snap = snaps[sub.base]
        while not (sub.connected and sub.book.seq == snap["seq"]):
            if loop.time() > deadline:
                res.failures.append(f"a subscriber of {sub.base} is at seq {sub.book.seq}, "
                                    f"the book at {snap['seq']} (connected {sub.connected})")
                return
            await asyncio.sleep(0.02)
        bids, asks = sub.book.levels()
        if [list(x) for x in bids] != snap["bids"] or [list(x) for x in asks] != snap["asks"]:
            res.failures.append(f"a subscriber's book differs from the snapshot at seq "
                                f"{snap['seq']}")
            return
    res.ws_ok = True


async def check_market(http: Any, cluster: Cluster, load: Load) -> CheckResult:
    res = CheckResult()
    try:
        seq = await caught_up(http, cluster)
        await check_health(http, cluster, seq, res)
        facts = await asyncio.to_thread(journal_facts, cluster.data_dir / "engine")
        trade_ids, key_repeats, res.trial_balance = await ledger_facts(
            cluster.data_dir, cluster.database_url)
        counts = Counter(trade_ids)
        res.duplicates = key_repeats + sum(c - 1 for c in counts.values())
        res.trades_booked = len(counts)
        res.trades_journal = len(facts.trades)
        missing = set(facts.trades) - set(counts)
        extra = set(counts) - set(facts.trades)
        if missing or extra:
            res.failures.append(f"ledger vs journal: {len(missing)} trades not booked "
                                f"{sorted(missing)[:5]}, {len(extra)} booked that the journal "
                                f"lacks {sorted(extra)[:5]}")
        await check_orders(http, load, facts, set(counts), res)
        res.reconcile_ok, line = await asyncio.to_thread(reconcile, cluster)
        if not res.reconcile_ok:
            res.failures.append(f"herbx reconcile: {line}")
        await check_ticks(cluster, facts, res)
        await check_books(http, cluster, load, facts, res)
    except Exception as exc:  # noqa: BLE001 - a check that cannot run is a failed check
        res.failures.append(f"check failed: {type(exc).__name__}: {exc}")
    return res
