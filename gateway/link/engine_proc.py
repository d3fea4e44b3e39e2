"""`herbx engine`: the engine half of multi-process mode (see `gateway.link.redis_link`).

Owns the command's work: logging, the event loop, signals, the engine process's run, and the
settlement ledger it books and the tick store it writes beside its sequencer
(`gateway.link.ledger`, `gateway.link.ticks`; gateways only read them).
Never parses the command line (`gateway.cli` does) and never serves HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from settlement.consumer import Consumer


def main(*, redis_url: str | None, data_dir: str, prefix: str, tick_ms: int, log_level: str,
         order_retention_s: float = 3600.0, database_url: str | None = None,
         database_schema: str | None = None, public_url: str = "") -> int:
    if not redis_url:
        print("herbx engine: --redis-url (or HERBX_REDIS_URL) is required", file=sys.stderr)
        return 2
    url = redis_url  # narrowed to str for the coroutine below
    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from engine.tools.compiled import core_note, is_compiled
    from engine.tools.runtime import tune_gc
    from gateway.link.redis_engine import run_engine

    logging.getLogger("herbx.core").log(logging.INFO if is_compiled() else logging.WARNING,
                                        core_note())

    def consumers(exchange_of: Callable[[], Any]) -> list[Consumer]:
        return [engine_ledger(Path(data_dir), exchange_of, database_url, database_schema,
                              public_url), engine_ticks(Path(data_dir), database_url,
                                                        database_schema)]

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"herbx engine: data {data_dir}, streams {prefix}:commands -> {prefix}:journal",
              flush=True)
        await run_engine(url, Path(data_dir), prefix, tick_ms=tick_ms, stop=stop,
                         order_retention_s=order_retention_s, consumers_of=consumers)

    from engine.durable.journal import JournalCorrupt

    tune_gc()
    try:
        asyncio.run(run())
    except (OSError, JournalCorrupt) as exc:  # a held, unreadable or older-rules data directory
        print(f"herbx engine: {exc}", file=sys.stderr)
        return 2
    return 0


def engine_ledger(data_dir: Path, exchange_of: Callable[[], Any], database_url: str | None,
                  database_schema: str | None, public_url: str) -> Consumer:
    """The engine process's booker: the same store choice and trace codes as `herbx serve`."""
    from gateway.app import trace_config
    from gateway.config import Settings
    from gateway.link.ledger import ledger_booker, ledger_store
    from gateway.lots import LotViews
    from grading.catalogue import load_catalogue

    config = trace_config(Settings(public_url=public_url))  # a gateway's, on its defaults
    store = ledger_store(data_dir, database_url, database_schema)
    return ledger_booker(store, LotViews(exchange_of), load_catalogue(), config)


def engine_ticks(data_dir: Path, database_url: str | None,
                 database_schema: str | None) -> Consumer:
    """The engine process's tick writer: the same store choice as `herbx serve` (PostgreSQL
    with a database URL, which the gateways then read; else ``<data-dir>/ticks.sqlite``). No
    live bars: the gateways' WebSocket channels are theirs, and this process has none."""
    from gateway.link.ticks import tick_store
    from settlement.ticks.writer import TickWriter

    return TickWriter(tick_store(data_dir, database_url, database_schema))
