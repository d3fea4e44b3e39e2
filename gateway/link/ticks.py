"""The tick data of a running market: which store, its writer, and where its live bars go.

Owns the choice made at start-up: the tick store is SQLite at ``<data-dir>/ticks.sqlite``
unless a PostgreSQL URL is given (``--database-url``: the ledger's database, schema ``ticks``,
or ``<schema>_ticks`` beside a ledger in ``--database-schema``, so that markets sharing a
database never share tick data);
its writer (`settlement.ticks.writer.TickWriter`) is a `settlement.consumer.Consumer` that
owns the store (its ``start`` opens it); once the market data exists, `live_bars` sends every bar
the writer changes to the channels ``bars:<symbol>:<interval>``. The feed
(`gateway.link.feed`) drives the writer, beside the ledger's booker.

Never writes anything itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.stream.bars import BarChannels
from gateway.stream.fanout import Hub
from gateway.stream.marketdata import MarketData
from settlement.ticks.writer import TickWriter

TICKS_FILE = "ticks.sqlite"


def tick_store(data_dir: Path, database_url: str | None,
               database_schema: str | None = None) -> Any:
    """The store (a `settlement.ticks.store.TickStore`), not yet opened."""
    if database_url:
        from settlement.ticks.pg import PgTickStore
        from settlement.ticks.schema import DEFAULT_PG_SCHEMA

        schema = f"{database_schema}_ticks" if database_schema else DEFAULT_PG_SCHEMA
        return PgTickStore(database_url, schema=schema)
    from settlement.ticks.sqlite import SqliteTickStore

    return SqliteTickStore(data_dir / TICKS_FILE)


def live_bars(writer: TickWriter, hub: Hub, market: MarketData) -> None:
    # the market data's table of channel seqs, so that heartbeats report the bar channels too
    writer.on_bars = BarChannels(hub, market.channel_seqs).publish
