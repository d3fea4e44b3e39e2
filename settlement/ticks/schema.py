"""The tick store's schema: versioned migrations, one list for SQLite and PostgreSQL.

Owns the tables and indexes of the tick data (docs/analytics.md): ``ticks`` (one row per
trade, never a buyer or seller), ``bars`` (OHLC per symbol and interval, kept in the same
transaction as the ticks), ``instruments`` (symbol → herb, grade, from ``InstrumentAdded``) and
``tick_state`` (the writer's position, moved in the same transaction as the rows it covers) and
``tick_sources`` (the position of each other source of ticks, e.g. the demo history, kept apart
from the live writer's: its ticks have keys of their own, `settlement.ticks.store.source_seq`).
On SQLite the tables live in their own file (``<data_dir>/ticks.sqlite``); on PostgreSQL in their
own schema (``ticks`` unless configured) of the ledger's database, so the names never collide with
the ledger's. A released migration is never edited (add the next one). Must never hold queries:
the stores own those.
"""

from __future__ import annotations

from settlement.schema import Migration  # the ledger's migration record, reused

BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS tick_migrations (
    version INTEGER PRIMARY KEY,
    note TEXT NOT NULL
)"""

#: the PostgreSQL schema the tick tables live in unless configured otherwise
DEFAULT_PG_SCHEMA = "ticks"

TICK_COLUMNS = ("seq", "n", "ts_ns", "trade_id", "symbol", "herb", "grade", "venue",
                "price_vnd", "qty", "notional_vnd", "active_mg", "price_per_kg_active_vnd",
                "demo", "active_qty")
#: ``first_*``/``last_*`` are the (seq, n) keys of the open and close ticks, so that merging a
#: tick into a bar is right in any arrival order (open = earliest key, close = latest)
BAR_COLUMNS = ("symbol", "interval", "start_ns", "open_vnd", "high_vnd", "low_vnd",
               "close_vnd", "volume", "notional_vnd", "trades", "active_mg",
               "active_notional_vnd", "demo_trades", "first_seq", "first_n", "last_seq",
               "last_n")


_V1_COMMON = [
    """CREATE TABLE tick_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        last_seq BIGINT NOT NULL CHECK (last_seq >= 0)
    )""",
    "INSERT INTO tick_state (id, last_seq) VALUES (1, 0)",
    """CREATE TABLE instruments (
        symbol TEXT PRIMARY KEY, herb TEXT NOT NULL, grade TEXT NOT NULL
    )""",
    """CREATE TABLE ticks (
        seq BIGINT NOT NULL, n INTEGER NOT NULL CHECK (n >= 0), ts_ns BIGINT NOT NULL,
        trade_id BIGINT NOT NULL, symbol TEXT NOT NULL, herb TEXT NOT NULL,
        grade TEXT NOT NULL, venue TEXT NOT NULL CHECK (venue IN ('book', 'auction')),
        price_vnd BIGINT NOT NULL CHECK (price_vnd > 0), qty BIGINT NOT NULL CHECK (qty > 0),
        notional_vnd BIGINT NOT NULL CHECK (notional_vnd > 0),
        active_mg BIGINT CHECK (active_mg > 0), price_per_kg_active_vnd BIGINT,
        demo BOOLEAN NOT NULL,
        PRIMARY KEY (seq, n)
    )""",
    "CREATE INDEX ticks_symbol_ts ON ticks (symbol, ts_ns)",
    "CREATE INDEX ticks_herb_ts ON ticks (herb, ts_ns)",
    "CREATE INDEX ticks_ts ON ticks (ts_ns)",
    """CREATE TABLE bars (
        symbol TEXT NOT NULL, interval TEXT NOT NULL CHECK (interval IN ('1m', '5m', '1h', '1d')),
        start_ns BIGINT NOT NULL,
        open_vnd BIGINT NOT NULL, high_vnd BIGINT NOT NULL, low_vnd BIGINT NOT NULL,
        close_vnd BIGINT NOT NULL, volume BIGINT NOT NULL CHECK (volume > 0),
        notional_vnd BIGINT NOT NULL, trades BIGINT NOT NULL CHECK (trades > 0),
        active_mg BIGINT NOT NULL, active_notional_vnd BIGINT NOT NULL,
        demo_trades BIGINT NOT NULL,
        first_seq BIGINT NOT NULL, first_n INTEGER NOT NULL,
        last_seq BIGINT NOT NULL, last_n INTEGER NOT NULL,
        PRIMARY KEY (symbol, interval, start_ns)
    )""",
]

_V2_COMMON = [
    """CREATE TABLE tick_sources (
        source TEXT PRIMARY KEY, last_seq BIGINT NOT NULL CHECK (last_seq >= 0)
    )""",
    "INSERT INTO tick_sources (source, last_seq) VALUES ('demo_history', 0)",
]

#: A page of ticks of a symbol or herb product after a cursor walks these in key order and
#: stops at its limit; with only the ``(…, ts_ns)`` indexes each page read and sorted every
#: tick of the symbol (a public REST page, or an export chunk, cost the whole symbol).
_V3_COMMON = [
    "CREATE INDEX ticks_symbol_key ON ticks (symbol, seq, n)",
    "CREATE INDEX ticks_herb_key ON ticks (herb, seq, n)",
]

MIGRATIONS: list[Migration] = [
    Migration(1, "ticks, bars, instruments, writer position", _V1_COMMON, [], []),
    Migration(2, "positions of other tick sources (the demo history)", _V2_COMMON, [], []),
    Migration(3, "pages by symbol or herb in key order", _V3_COMMON, [], []),
    Migration(4, "kg of a trade's assayed legs (the bars' active side)",
              ["ALTER TABLE ticks ADD COLUMN active_qty BIGINT CHECK (active_qty > 0)"], [], []),
]
LATEST = MIGRATIONS[-1].version

