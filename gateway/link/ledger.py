"""The settlement ledger of a running market: which store, which trace codes, which booker.

Owns the choice made at start-up (`herbx serve`, and `herbx engine` in multi-process mode):
the ledger is SQLite at ``<data-dir>/ledger.sqlite`` unless a PostgreSQL URL is given
(``--database-url`` / ``HERBX_DATABASE_URL``, optionally ``--database-schema``); its booker
(`settlement.booker.Booker`) owns the store, so the feed's start applies the migrations. Trace
codes are those the lot pages print (`grading.trace.lot_trace_url` of a recorded lot; None for
goods received without a lot record).

Never books or writes anything itself.
"""

from __future__ import annotations

from pathlib import Path

from gateway.lots import LotViews
from grading.catalogue import Catalogue
from grading.trace import TraceConfig, lot_trace_url
from settlement.booker import Booker
from settlement.booking import TraceResolver
from settlement.schedule import Schedule
from settlement.store import Store


def ledger_store(data_dir: Path, database_url: str | None,
                 schema: str | None = None) -> Store:
    """The store, not yet opened (the booker opens it)."""
    if database_url:
        from settlement.pg_store import PgStore

        return PgStore(database_url, schema=schema)
    from settlement.sqlite_store import LEDGER_FILE, SqliteStore

    return SqliteStore(data_dir / LEDGER_FILE)


def lot_trace(lots: LotViews, catalogue: Catalogue, config: TraceConfig) -> TraceResolver:
    """The trace URL of a recorded lot, as its lot page shows it; None without a record."""
    def resolve(lot_id: str) -> str | None:
        lot = lots.get(lot_id)
        return None if lot is None else lot_trace_url(config, lot, catalogue.get(lot.spec_id))
    return resolve


def ledger_booker(store: Store, lots: LotViews, catalogue: Catalogue,
                  config: TraceConfig) -> Booker:
    return Booker(store, Schedule.load(), lot_trace(lots, catalogue, config), owns_store=True)
