"""`herbx bench settlement`: book a seeded stream of real trades into a ledger store.

An I/O shell module (it reads the clock, writes a database); the core never imports it.

Workload: the engine benchmark's seeded order stream (`loadtest.bench.engine.generate`: one
buyer, one seller with one lot, about a third of the orders trade), restamped to start on
2026-09-21 so the repository's fee and levy schedule applies, is run through a fresh exchange
once, untimed, to collect every command's events; each trade goes through its whole delivery
versus payment right after the command that made it (one `SetTradeSettlement` command each
for paid, delivered and settled: the payment is the transaction that moves the money and the
goods and books the charges), so a trade costs the ledger its trade and payment transactions
and four DvP rows, as in a market where every trade settles. The timed part is the booker
(`settlement.booker.Booker.offer_all`): booking function and store together, fed
``BATCH_COMMANDS`` commands per database transaction with one batch in flight while the next
is booked. ``trades_per_s`` is trades booked per wall second of that loop, the median of
``RUNS`` runs, each into a fresh store. SQLite runs on a file in a temporary directory;
PostgreSQL in a fresh schema of ``--database-url`` that is dropped afterwards.
Because the wall clock of a shared machine says more about the neighbours than about the
ledger, each run also reports the CPU it cost per trade: this process's (booking and the
driver, all threads; SQLite's work included) and, for a PostgreSQL server on this machine,
the server backend's (from ``/proc``; None where it cannot be read), with the load average.
The last line printed is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from engine.exchange import Exchange
from engine.messages import (
    Command,
    Event,
    SetTradeSettlement,
    TradeExecuted,
    TradeSettlementChanged,
)
from grading.trace import TraceConfig, placeholder_gtin, trace_url
from loadtest.bench.engine import generate
from settlement.booker import Booker
from settlement.booking import Step
from settlement.schedule import Schedule

BATCH_COMMANDS = 16384  # about 5,000 trades per database transaction
RUNS = 3  # timed runs, each into a fresh store; the median is reported
ORDERS_PER_TRADE = 4  # about one trade in 3.4 orders: enough orders for the trades asked
T0_NS = 1_790_000_000 * 10**9  # 2026-09-21
DEFAULT_DATABASE_URL = "postgresql://127.0.0.1:5432/test"


def _backend_cpu_ns(pid: int | None) -> int | None:
    """User + system CPU of a local process (the PostgreSQL backend) from /proc, or None."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:  # another machine, or not ours to read
        return None
    return (int(fields[11]) + int(fields[12])) * 10**9 // os.sysconf("SC_CLK_TCK")


def _own_cpu_ns() -> int:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return int((usage.ru_utime + usage.ru_stime) * 10**9)


def stream(trades: int, seed: int) -> tuple[list[Step], int]:
    """Every command's (seq, events) of a seeded session with at least ``trades`` trades (or
    what the stream holds), and the number of trades in it."""
    cmds = generate(trades * ORDERS_PER_TRADE, seed)
    ex = Exchange()
    steps: list[Step] = []
    count = 0
    seq = 0

    def apply(cmd: Command, ts_ns: int) -> list[Event]:
        nonlocal seq
        seq += 1
        cmd.seq, cmd.ts_ns = seq, ts_ns
        events = ex.apply(cmd)
        steps.append((seq, events))
        return events

    for cmd in cmds:
        ts_ns = cmd.ts_ns + T0_NS
        made = [e.trade_id for e in apply(cmd, ts_ns) if isinstance(e, TradeExecuted)]
        for state in ("paid", "delivered", "settled"):
            for trade_id in made:
                done = apply(SetTradeSettlement(trade_id=trade_id, state=state), ts_ns)
                assert done and isinstance(done[0], TradeSettlementChanged), done
        count += len(made)
        if count >= trades:
            break
    return steps, count


async def run(store_kind: str, database_url: str, steps: list[Step]) -> dict[str, Any]:
    config = TraceConfig()
    gtin = placeholder_gtin(1, 1)
    codes: dict[str, str] = {}

    def trace(lot_id: str) -> str:
        code = codes.get(lot_id)
        if code is None:
            code = codes[lot_id] = trace_url(config, gtin, lot_id)
        return code

    with tempfile.TemporaryDirectory(prefix="herbx-bench-ledger-") as tmp:
        store: Any
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        if store_kind == "sqlite":
            from settlement.sqlite_store import SqliteStore

            store = SqliteStore(Path(tmp) / "ledger.sqlite3")
        else:
            from settlement.pg_store import PgStore

            store = PgStore(database_url, schema=schema)
        await store.open()
        try:
            backend = (int(await store.conn.fetchval("SELECT pg_backend_pid()"))
                       if store_kind == "postgres" else None)
            booker = Booker(store, Schedule.load(), trace)
            await booker.start()
            db0, cpu0, t0 = _backend_cpu_ns(backend), _own_cpu_ns(), time.perf_counter_ns()
            await booker.offer_all(steps[i:i + BATCH_COMMANDS]
                                   for i in range(0, len(steps), BATCH_COMMANDS))
            elapsed_ns = time.perf_counter_ns() - t0
            cpu_ns, db1 = _own_cpu_ns() - cpu0, _backend_cpu_ns(backend)
            txns = await store.transactions(limit=1)
            assert txns, "nothing booked"
            return {"elapsed_ns": elapsed_ns, "batches": booker.batches,
                    "booked_seq": booker.booked_seq, "cpu_ns": cpu_ns,
                    "db_cpu_ns": None if db0 is None or db1 is None else db1 - db0}
        finally:
            await store.close()
            if store_kind == "postgres":
                import asyncpg

                conn = await asyncpg.connect(database_url)
                await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
                await conn.close()


def main(store: str, database_url: str | None, trades: int, seed: int) -> int:
    url = database_url or DEFAULT_DATABASE_URL
    print(f"herbx bench settlement: {trades} trades, store {store}, seed {seed}, Python "
          f"{platform.python_version()} on {platform.machine()} ({os.cpu_count()} cpus)",
          file=sys.stderr)
    steps, count = stream(trades, seed)
    load = os.getloadavg()[0]
    runs = [asyncio.run(run(store, url, steps)) for _ in range(RUNS)]
    figures = sorted(runs, key=lambda r: int(r["elapsed_ns"]))[RUNS // 2]
    elapsed_ns = figures["elapsed_ns"]
    result = {
        "store": store,
        "trades": count,
        "commands": len(steps),
        "trades_per_s": count * 10**9 // elapsed_ns,
        "runs_trades_per_s": [count * 10**9 // r["elapsed_ns"] for r in runs],
        "seconds": round(elapsed_ns / 1e9, 3),
        "batch_commands": BATCH_COMMANDS,
        "batches": figures["batches"],
        "seed": seed,
        "cpus": os.cpu_count(),
        "load_avg_1m": round(load, 2),
        # CPU per trade of the median run: this process (all threads), and the PostgreSQL
        # backend when it runs here (its CPU clock ticks at 10 ms: about ±0.5 µs a trade at
        # 20,000 trades)
        "cpu_us_per_trade": round(figures["cpu_ns"] / count / 1000, 1),
        "db_cpu_us_per_trade": (None if figures["db_cpu_ns"] is None
                                else round(figures["db_cpu_ns"] / count / 1000, 1)),
        # the share of the median run's wall clock the server backend spent working: what is
        # left, it waited for this process (booking, the driver) or for a core
        "db_busy_pct": (None if figures["db_cpu_ns"] is None
                        else round(100 * figures["db_cpu_ns"] / elapsed_ns)),
    }
    print(f"{store}: {count} trades ({len(steps)} commands) booked in "
          f"{elapsed_ns // 10**6} ms", file=sys.stderr)
    print(json.dumps(result))
    return 0
