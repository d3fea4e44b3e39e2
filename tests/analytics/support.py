"""Builders shared by the analytics tests: daily bars and ticks of given figures."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from settlement.ticks.model import INTERVAL_NS, VN_OFFSET_NS, Bar, Tick

DAY_NS = INTERVAL_NS["1d"]


def day_ns(day: str) -> int:
    """The first ns of a Vietnam day."""
    return (dt.date.fromisoformat(day) - dt.date(1970, 1, 1)).days * DAY_NS - VN_OFFSET_NS


def bar(symbol: str, day: str, volume: int, notional: int, active_mg: int = 0,
        active_notional: int | None = None, demo_trades: int = 0, trades: int = 1) -> Bar:
    price = notional // volume
    return Bar(symbol=symbol, interval="1d", start_ns=day_ns(day), open_vnd=price,
               high_vnd=price, low_vnd=price, close_vnd=price, volume=volume,
               notional_vnd=notional, trades=trades, active_mg=active_mg,
               active_notional_vnd=notional if active_notional is None else active_notional,
               demo_trades=demo_trades)


def tick(symbol: str, ts_ns: int, price: int, qty: int, demo: bool = False, n: int = 0) -> Tick:
    herb, _, grade = symbol.rpartition("-")
    return Tick(seq=ts_ns % 10**9 + 1 + n, n=n, ts_ns=ts_ns, trade_id=n + 1, symbol=symbol,
                herb=herb.split("-")[0], grade=grade, venue="book", price_vnd=price, qty=qty,
                notional_vnd=price * qty, demo=demo)


def write_store(data_dir: Path, bars: list[Bar], ticks: list[Tick]) -> None:
    """A tick store file with the tables the readers query (settlement/ticks/readers.py)."""
    con = sqlite3.connect(data_dir / "ticks.sqlite")
    bar_cols = [f for f in Bar.__struct_fields__]
    tick_cols = [f for f in Tick.__struct_fields__]
    con.execute("CREATE TABLE instruments (symbol TEXT PRIMARY KEY, herb TEXT, grade TEXT)")
    con.execute(f"CREATE TABLE bars ({', '.join(bar_cols)})")
    con.execute(f"CREATE TABLE ticks ({', '.join(tick_cols)})")
    con.executemany("INSERT INTO instruments VALUES (?, ?, ?)",
                    [("QUE-BARK-A", "QUE", "A"), ("QUE-BARK-B", "QUE", "B")])
    con.executemany(f"INSERT INTO bars VALUES ({', '.join('?' * len(bar_cols))})",
                    [tuple(getattr(b, c) for c in bar_cols) for b in bars])
    con.executemany(f"INSERT INTO ticks VALUES ({', '.join('?' * len(tick_cols))})",
                    [tuple(getattr(t, c) for c in tick_cols) for t in ticks])
    con.commit()
    con.close()
