"""The ledger's schema: versioned migrations, one list for both stores.

Owns the tables, constraints and triggers. A migration is applied once, in order, at start-up,
and recorded in ``schema_migrations``; a released migration is never edited (add the next
one). The dialect differences (trigger syntax) are the only per-store parts. Must never hold
queries: the stores own those.
"""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

Dialect = Literal["sqlite", "postgres"]

BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    note TEXT NOT NULL
)"""

_IMMUTABLE = ("transactions", "trade_lots", "postings")


class Migration(Struct, frozen=True):
    version: int
    note: str
    common: list[str]
    sqlite: list[str]
    postgres: list[str]

    def statements(self, dialect: Dialect) -> list[str]:
        return self.common + (self.sqlite if dialect == "sqlite" else self.postgres)


_V1_COMMON = [
    """CREATE TABLE booker_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        last_seq BIGINT NOT NULL CHECK (last_seq >= 0)
    )""",
    "INSERT INTO booker_state (id, last_seq) VALUES (1, 0)",
    """CREATE TABLE invoice_series (
        year INTEGER PRIMARY KEY,
        last_no BIGINT NOT NULL CHECK (last_no >= 0)
    )""",
    "CREATE TABLE instruments (symbol TEXT PRIMARY KEY, herb TEXT NOT NULL)",
    """CREATE TABLE transactions (
        seq BIGINT NOT NULL, n INTEGER NOT NULL, kind TEXT NOT NULL, ts_ns BIGINT NOT NULL,
        account TEXT, ref TEXT, trade_id BIGINT, symbol TEXT, buyer TEXT, seller TEXT,
        price_vnd BIGINT NOT NULL, qty BIGINT NOT NULL, notional_vnd BIGINT NOT NULL,
        fee_vnd BIGINT NOT NULL, levy_vnd BIGINT NOT NULL, tax_vnd BIGINT NOT NULL,
        invoice_year INTEGER, invoice_no BIGINT, reverses_seq BIGINT, reverses_n INTEGER,
        PRIMARY KEY (seq, n),
        UNIQUE (invoice_year, invoice_no)
    )""",
    """CREATE TABLE trade_lots (
        seq BIGINT NOT NULL, n INTEGER NOT NULL, leg INTEGER NOT NULL, lot_id TEXT NOT NULL,
        qty BIGINT NOT NULL CHECK (qty > 0), trace_url TEXT, active_content TEXT,
        price_per_kg_active_vnd BIGINT, resale BOOLEAN NOT NULL,
        PRIMARY KEY (seq, n, leg)
    )""",
    # no secondary indexes yet: each costs the booker on every row, and is added by the
    # migration of the query that needs it (statements by account, transactions by lot)
    """CREATE TABLE postings (
        seq BIGINT NOT NULL, n INTEGER NOT NULL, i INTEGER NOT NULL,
        account TEXT NOT NULL, unit TEXT NOT NULL,
        amount BIGINT NOT NULL CHECK (amount <> 0),
        PRIMARY KEY (seq, n, i)
    )""",
    """CREATE TABLE balances (
        account TEXT NOT NULL, unit TEXT NOT NULL, balance BIGINT NOT NULL,
        nonneg BOOLEAN NOT NULL,
        PRIMARY KEY (account, unit),
        CONSTRAINT balance_nonneg CHECK (NOT nonneg OR balance >= 0)
    )""",
]

_V1_SQLITE = [
    f"""CREATE TRIGGER {t}_no_{op.lower()} BEFORE {op} ON {t}
        BEGIN SELECT RAISE(ABORT, 'ledger rows are immutable'); END"""
    for t in _IMMUTABLE for op in ("UPDATE", "DELETE")
]

_V1_POSTGRES = [
    """CREATE FUNCTION ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'ledger rows are immutable (% on %)', TG_OP, TG_TABLE_NAME; END
    $$""",
    *[f"""CREATE TRIGGER {t}_immutable BEFORE UPDATE OR DELETE ON {t}
          FOR EACH ROW EXECUTE FUNCTION ledger_immutable()""" for t in _IMMUTABLE],
    *[f"""CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t}
          FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable()""" for t in _IMMUTABLE],
]

# The report queries' indexes (settlement.store.Where): transactions by participant (buyer,
# seller, or the account of a cash or goods movement), by trade id (the trace page's invoice
# look-up), by lot (legs, and goods in and out by ``ref``), by trace code. Each costs the booker
# on every row it writes (docs/benchmarks.md): a trade adds five entries (buyer, seller, trade
# id, and per leg lot id and trace code). The cursor (seq, n) rides in the participant indexes
# so that a page is one index range.
_V2_COMMON = [
    "CREATE INDEX transactions_buyer ON transactions (buyer, seq, n)",
    "CREATE INDEX transactions_seller ON transactions (seller, seq, n)",
    # partial: trades (most rows) have neither an account nor a ref, and add no entry
    "CREATE INDEX transactions_account ON transactions (account, seq, n) "
    "WHERE account IS NOT NULL",
    "CREATE INDEX transactions_trade_id ON transactions (trade_id)",
    "CREATE INDEX transactions_ref ON transactions (ref) WHERE ref IS NOT NULL",
    "CREATE INDEX trade_lots_lot_id ON trade_lots (lot_id)",
    "CREATE INDEX trade_lots_trace_url ON trade_lots (trace_url)",
]

# Delivery versus payment: one row per step of a trade (pending at the trade, then paid,
# delivered, settled or failed), append-only like the ledger; a trade's state is its latest
# row. The key refuses a step twice; trade_seq/trade_n name the trade's own transaction.
_V3_COMMON = [
    """CREATE TABLE dvp_changes (
        trade_id BIGINT NOT NULL, state TEXT NOT NULL, seq BIGINT NOT NULL,
        ts_ns BIGINT NOT NULL, trade_seq BIGINT NOT NULL, trade_n INTEGER NOT NULL,
        PRIMARY KEY (trade_id, state),
        CHECK (state IN ('pending', 'paid', 'delivered', 'settled', 'failed'))
    )""",
]

_V3_SQLITE = [
    f"""CREATE TRIGGER dvp_changes_no_{op.lower()} BEFORE {op} ON dvp_changes
        BEGIN SELECT RAISE(ABORT, 'ledger rows are immutable'); END"""
    for op in ("UPDATE", "DELETE")
]

_V3_POSTGRES = [
    """CREATE TRIGGER dvp_changes_immutable BEFORE UPDATE OR DELETE ON dvp_changes
       FOR EACH ROW EXECUTE FUNCTION ledger_immutable()""",
    """CREATE TRIGGER dvp_changes_no_truncate BEFORE TRUNCATE ON dvp_changes
       FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable()""",
]

# SQLite only: dvp_changes again, with the same columns, key and allowed states, because
# SQLite evaluates a CHECK's ``IN (list)`` by building a small table for every row inserted
# (about 2 µs a row, half of what a DvP row cost; the same test as ``=`` comparisons costs
# nothing measurable), and WITHOUT ROWID (the key is the table: one b-tree per row, not two).
# PostgreSQL's IN is a plain comparison: nothing changes there.
_DVP_STATES = ("pending", "paid", "delivered", "settled", "failed")
_V4_SQLITE = [
    """CREATE TABLE dvp_changes_v4 (
        trade_id BIGINT NOT NULL, state TEXT NOT NULL, seq BIGINT NOT NULL,
        ts_ns BIGINT NOT NULL, trade_seq BIGINT NOT NULL, trade_n INTEGER NOT NULL,
        PRIMARY KEY (trade_id, state),
        CHECK (""" + " OR ".join(f"state = '{state}'" for state in _DVP_STATES) + """)
    ) WITHOUT ROWID""",
    "INSERT INTO dvp_changes_v4 (trade_id, state, seq, ts_ns, trade_seq, trade_n) "
    "SELECT trade_id, state, seq, ts_ns, trade_seq, trade_n FROM dvp_changes",
    *[f"DROP TRIGGER dvp_changes_no_{op.lower()}" for op in ("UPDATE", "DELETE")],
    "DROP TABLE dvp_changes",
    "ALTER TABLE dvp_changes_v4 RENAME TO dvp_changes",
    *_V3_SQLITE,
]

# Fewer index entries per trade, the booking rate's largest cost on PostgreSQL (every entry is a
# b-tree insert and a WAL record; docs/benchmarks.md). Nothing a query needs is lost:
# - a transaction by trade id goes through dvp_changes, whose key (trade_id, state) already
#   names the seq of every transaction of a trade (pending: the trade, paid: the payment,
#   failed: the reversal), so transactions (trade_id) is dropped (two entries a trade);
# - a trace code names its lot (`grading.trace.parse_trace_url`: ``…/10/<lot>``), so a leg is
#   found by trace code through the lot id index, and trade_lots (trace_url) is dropped;
# - PostgreSQL: the invoice number is unique through a partial index of the rows that have one
#   (trades), not a constraint that indexed every payment, reversal and movement with NULLs.
#   (SQLite keeps its table constraint: dropping one there means rebuilding the table.)
# Payments no longer write lot legs (their trade's legs are the invoice's; booking), which is
# not a schema change: a ledger booked before keeps its payments' legs, and the queries by lot
# and trace code find a payment through its trade either way.
_V5_COMMON = [
    "DROP INDEX transactions_trade_id",
    "DROP INDEX trade_lots_trace_url",
]
_V5_POSTGRES = [
    "ALTER TABLE transactions DROP CONSTRAINT transactions_invoice_year_invoice_no_key",
    "CREATE UNIQUE INDEX transactions_invoice ON transactions (invoice_year, invoice_no) "
    "WHERE invoice_no IS NOT NULL",
]

MIGRATIONS: list[Migration] = [
    Migration(1, "ledger, invoices, booked position, immutability", _V1_COMMON, _V1_SQLITE,
              _V1_POSTGRES),
    Migration(2, "report indexes: participant, trade id, lot, trace code", _V2_COMMON, [], []),
    Migration(3, "delivery versus payment: dvp_changes", _V3_COMMON, _V3_SQLITE, _V3_POSTGRES),
    Migration(4, "SQLite: dvp_changes without rowid, its state CHECK without IN", [],
              _V4_SQLITE, []),
    Migration(5, "fewer index entries: trade id through dvp_changes, trace code through the "
              "lot, PostgreSQL's invoice key partial", _V5_COMMON, [], _V5_POSTGRES),
]
LATEST = MIGRATIONS[-1].version
