"""`herbx bench engine`: seeded order flow through the exchange, in memory or journaled.

An I/O shell module (it reads the clock and writes files); the core never imports it.

Workload (the engine issue's): about 60% passive limit adds near the mid, 25% cancels of resting
orders, 10% crossing limits, 5% market orders; prices 50,000-500,000 VND/kg with tick 100;
quantities 1-500 kg. Every order passes the risk check: all buys come from one well-funded
account and all sells from one account with goods in custody, so self-trade prevention never
fires (a buy only meets sells). The stream is generated up front against a shadow exchange
(so cancels aim at orders that are resting and crosses at the real opposite best); only the
replay into a fresh exchange is timed.

The process's garbage collector is tuned as the server's is (`engine.tools.runtime.tune_gc`).
``--compiled`` runs the same benchmark on the mypyc build of the core (`engine.tools.compiled`).
Figures: ``commands_per_s`` is the median of three timed replays (after one untimed warm-up
replay) without per-command timing (``cpu_commands_per_s``: the same replays by this process's
CPU time, steadier on a shared machine; ``runs_gc``: the cyclic collector's collections in each
replay and the CPU milliseconds spent in them); ``p50_ns``/``p99_ns``/
``p999_ns`` from a second run that times every ``apply``; with ``--journal DIR`` the first run
goes through the sequencer (stamp, journal, apply) with a group commit (fdatasync) every
``COMMIT_EVERY`` commands. ``--resting N`` also fills a fresh exchange with N non-crossing
resting orders and reports ``bytes_per_resting_order`` from the growth of the resident set.
The last line printed is one JSON object.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from engine.exchange import Exchange
from engine.messages import (
    AddInstrument,
    CancelOrder,
    Command,
    Deposit,
    PlaceOrder,
    ReceiveLot,
    TradeExecuted,
)

SYMBOL = "QUE-BARK-A"
BUYER = "BUYER"
SELLER = "SELLER"
PRICE_MIN, PRICE_MAX, TICK = 50_000, 500_000, 100
QTY_MIN, QTY_MAX = 1, 500
COMMIT_EVERY = 512
RUNS = 3  # timed in-memory replays after one warm-up; the median is reported
MIX = (0.60, 0.25, 0.10, 0.05)  # passive adds, cancels, crossing limits, market orders


def setup_commands(orders: int) -> list[Command]:
    """The instrument, the buyer's cash and the seller's goods: enough for every order."""
    return [
        AddInstrument(symbol=SYMBOL, herb="QUE", grade="A", tick_vnd=TICK),
        Deposit(account=BUYER, amount_vnd=orders * QTY_MAX * PRICE_MAX * 2),
        ReceiveLot(lot_id="LOT-1", account=SELLER, symbol=SYMBOL, qty=orders * QTY_MAX),
    ]


def generate(orders: int, seed: int) -> list[Command]:
    """The seeded stream (setup first), stamped with seq and a 1 µs clock."""
    rng = random.Random(seed)
    shadow = Exchange()
    cmds = setup_commands(orders)
    for seq, setup_cmd in enumerate(cmds, 1):
        setup_cmd.seq = seq
        setup_cmd.ts_ns = seq * 1000
        shadow.apply(setup_cmd)
    book = shadow.books[SYMBOL]
    resting: list[int] = []
    pos: dict[int, int] = {}

    def drop(oid: int) -> None:
        i = pos.pop(oid)
        last = resting.pop()
        if i < len(resting):
            resting[i] = last
            pos[last] = i

    c1, c2, c3 = MIX[0], MIX[0] + MIX[1], MIX[0] + MIX[1] + MIX[2]
    anchor = 275_000
    seq = len(cmds)
    for _ in range(orders):
        seq += 1
        r = rng.random()
        is_buy = rng.random() < 0.5
        qty = rng.randint(QTY_MIN, QTY_MAX)
        bb, ba = book.best_bid, book.best_ask
        if c1 <= r < c2 and resting:
            oid = resting[rng.randrange(len(resting))]
            owner = shadow.orders[oid].account
            cmd: Command = CancelOrder(account=owner, order_id=oid)
        elif r >= c3:
            account = BUYER if is_buy else SELLER
            cap = qty * PRICE_MAX if is_buy else None
            cmd = PlaceOrder(account=account, client_order_id=f"c{seq}", symbol=SYMBOL,
                             side="buy" if is_buy else "sell", order_type="market", qty=qty,
                             tif="ioc", cash_cap_vnd=cap)
        else:
            opp = ba if is_buy else bb
            if r >= c2 and opp is not None:
                j = rng.randint(0, 5) * TICK
                price = opp + j if is_buy else opp - j
            else:
                if bb is not None and ba is not None:
                    mid = (bb + ba) // 2 // TICK * TICK
                elif bb is not None:
                    mid = bb + TICK
                elif ba is not None:
                    mid = ba - TICK
                else:
                    anchor += rng.choice((-TICK, 0, TICK))
                    mid = anchor
                off = (1 + int(rng.expovariate(1 / 8))) * TICK
                price = mid - off if is_buy else mid + off
                if is_buy and ba is not None and price >= ba:
                    price = ba - TICK
                if not is_buy and bb is not None and price <= bb:
                    price = bb + TICK
            price = min(PRICE_MAX, max(PRICE_MIN, price))
            cmd = PlaceOrder(account=BUYER if is_buy else SELLER, client_order_id=f"c{seq}",
                             symbol=SYMBOL, side="buy" if is_buy else "sell", price_vnd=price,
                             qty=qty)
        cmd.seq = seq
        cmd.ts_ns = seq * 1000
        cmds.append(cmd)
        for e in shadow.apply(cmd):
            if type(e) is TradeExecuted and e.maker_leaves_qty == 0:
                drop(e.maker_order_id)
        if isinstance(cmd, CancelOrder):
            drop(cmd.order_id)
        elif shadow.orders.get(seq) is not None and shadow.orders[seq].resting:
            pos[seq] = len(resting)
            resting.append(seq)
    return cmds


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_throughput(cmds: list[Command]) -> tuple[int, Exchange, int, tuple[int, int]]:
    """Replay ``cmds`` into a fresh exchange; (elapsed ns, the exchange, CPU ns of this
    process over the same span: what it cost when other processes share the cores, and the
    cyclic collector's part of it: (collections, CPU ns inside them))."""
    ex = Exchange()
    apply = ex.apply
    gc.collect()
    collections = [0, 0, 0]  # count, CPU ns inside them, when the current one started

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections[2] = time.process_time_ns()
        else:
            collections[0] += 1
            collections[1] += time.process_time_ns() - collections[2]

    gc.callbacks.append(on_gc)
    try:
        c0 = time.process_time_ns()
        t0 = time.perf_counter_ns()
        for cmd in cmds:
            apply(cmd)
        elapsed, cpu = time.perf_counter_ns() - t0, time.process_time_ns() - c0
    finally:
        gc.callbacks.remove(on_gc)
    return elapsed, ex, cpu, (collections[0], collections[1])


def run_latency(cmds: list[Command]) -> tuple[list[int], dict[str, int]]:
    """Time every ``apply``; (the latencies, the mean ns per kind of command: a passive limit
    order, a limit order that traded, a market order, a cancel)."""
    ex = Exchange()
    apply = ex.apply
    clock = time.perf_counter_ns
    out = [0] * len(cmds)
    kinds: list[str] = [""] * len(cmds)
    gc.collect()
    for i, cmd in enumerate(cmds):
        t0 = clock()
        events = apply(cmd)
        out[i] = clock() - t0
        if type(cmd) is CancelOrder:
            kinds[i] = "cancel"
        elif type(cmd) is PlaceOrder:
            if cmd.order_type == "market":
                kinds[i] = "market"
            elif any(type(e) is TradeExecuted for e in events):
                kinds[i] = "limit_traded"
            else:
                kinds[i] = "limit_passive"
    totals: dict[str, list[int]] = {}
    for kind, ns in zip(kinds, out, strict=True):
        if kind:
            pair = totals.setdefault(kind, [0, 0])
            pair[0] += ns
            pair[1] += 1
    return out, {kind: total // count for kind, (total, count) in sorted(totals.items())}


def run_journaled(cmds: list[Command], directory: Path) -> int:
    """Through the sequencer into a fresh data directory: stamp, journal, apply, and a group
    commit (fdatasync) every COMMIT_EVERY commands."""
    from engine.durable.sequencer import Sequencer, drive

    if directory.exists():
        shutil.rmtree(directory)
    seq = Sequencer(directory, snapshot_every=0)
    try:
        gc.collect()
        t0 = time.perf_counter_ns()
        drive(seq, cmds, COMMIT_EVERY)
        return time.perf_counter_ns() - t0
    finally:
        seq.close()


def fill_resting(n: int) -> tuple[int, Exchange]:
    """A fresh exchange with ``n`` resting orders (half bids below 250,000, half asks above),
    commands made and dropped one by one; returns the resident-set growth in bytes."""
    ex = Exchange()
    for seq, cmd in enumerate(setup_commands(n), 1):
        cmd.seq = seq
        ex.apply(cmd)
    gc.collect()
    before = rss_bytes()
    rng = random.Random(7)
    seq = 3
    for i in range(n):
        seq += 1
        is_buy = i % 2 == 0
        ticks = rng.randint(1, 2000)
        price = 250_000 - ticks * TICK if is_buy else 250_000 + ticks * TICK
        cmd = PlaceOrder(account=BUYER if is_buy else SELLER, client_order_id=f"c{seq}",
                         symbol=SYMBOL, side="buy" if is_buy else "sell", price_vnd=price,
                         qty=rng.randint(QTY_MIN, QTY_MAX))
        cmd.seq = seq
        ex.apply(cmd)
    gc.collect()
    return rss_bytes() - before, ex


def percentile(sorted_ns: list[int], per_mille: int) -> int:
    """The value at ``per_mille``/1000 of a sorted list (500 = median, 999 = p99.9)."""
    return sorted_ns[min(len(sorted_ns) - 1, len(sorted_ns) * per_mille // 1000)]


def main(
    orders: int, seed: int, journal: str | None = None, resting: int = 0, compiled: bool = False
) -> int:
    from engine.tools.compiled import build, is_compiled

    if compiled and not is_compiled():
        # run this same benchmark in a child process that imports the mypyc build first
        target = build()
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); from loadtest.bench.engine import main; "
            "sys.exit(main(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] or None, "
            "int(sys.argv[5]), True))"
        )
        args = [str(target), str(orders), str(seed), journal or "", str(resting)]
        return subprocess.run([sys.executable, "-c", code, *args], check=False).returncode
    from engine.tools.runtime import tune_gc

    print(f"herbx bench engine: {orders} orders, seed {seed}, Python {platform.python_version()}"
          f" on {platform.machine()} ({os.cpu_count()} cpus)", file=sys.stderr)
    cmds = generate(orders, seed)
    n = len(cmds)
    tune_gc()  # as the server does after recovery (engine/tools/runtime.py): the input is frozen
    # one untimed warm-up replay (the allocator's arenas and the dicts' memory come from the
    # OS once), then RUNS timed replays, each into a fresh exchange; the median is reported
    run_throughput(cmds)
    runs = []
    cpu_runs = []
    gc_runs = []
    for _ in range(RUNS):
        elapsed_ns, ex, cpu_ns, gc_run = run_throughput(cmds)
        runs.append(elapsed_ns)
        cpu_runs.append(cpu_ns)
        gc_runs.append(gc_run)
    elapsed_ns = sorted(runs)[len(runs) // 2]
    trades = ex.trade_seq
    resting_now = sum(o.resting for o in ex.orders.values())
    result: dict[str, object] = {
        "compiled": is_compiled(),
        "orders": orders,
        "seed": seed,
        "commands": n,
        "commands_per_s": n * 10**9 // elapsed_ns,
        "runs_commands_per_s": [n * 10**9 // r for r in runs],
        # the same replays by CPU time: steadier than wall time on a shared machine
        "cpu_commands_per_s": n * 10**9 // sorted(cpu_runs)[len(cpu_runs) // 2],
        # the cyclic collector inside each timed replay: [collections, CPU ms inside them]
        "runs_gc": [[count, ns // 10**6] for count, ns in gc_runs],
        "trades": trades,
        "resting_orders": resting_now,
    }
    print(f"in memory: {n} commands in {elapsed_ns // 10**6} ms (median)", file=sys.stderr)
    latencies, by_kind = run_latency(cmds)
    lat = sorted(latencies)
    result |= {"p50_ns": percentile(lat, 500), "p99_ns": percentile(lat, 990),
               "p999_ns": percentile(lat, 999), "mean_ns_by_kind": by_kind}
    if journal is not None:
        fresh = generate(orders, seed)  # the sequencer stamps in place: give it its own copy
        journal_ns = run_journaled(fresh, Path(journal))
        size = sum(f.stat().st_size for f in Path(journal).rglob("*") if f.is_file())
        # with --journal, commands_per_s is the journaled rate; the in-memory one stays beside it
        result |= {"journal": True, "in_memory_commands_per_s": result["commands_per_s"],
                   "commands_per_s": n * 10**9 // journal_ns, "commit_every": COMMIT_EVERY,
                   "journal_bytes": size}
        print(f"journaled: {n} commands in {journal_ns // 10**6} ms, {size} bytes",
              file=sys.stderr)
    if resting:
        del cmds, ex
        grown, rex = fill_resting(resting)
        count = sum(o.resting for o in rex.orders.values())
        result |= {"resting": count, "bytes_per_resting_order": grown // count}
        print(f"resting: {count} orders grew the resident set by {grown} bytes", file=sys.stderr)
    result["peak_rss_bytes"] = peak_rss_bytes()
    print(json.dumps(result))
    return 0

