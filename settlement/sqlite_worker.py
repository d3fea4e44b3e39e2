"""One SQLite file in WAL mode, reached only from one dedicated worker thread.

Owns what the embedded stores (the ledger, `settlement.sqlite_store`; the ticks,
`settlement.ticks.sqlite`) share: the connection never leaves its thread, so the event loop
only awaits and never waits on the disk; ``journal_mode=WAL`` and ``synchronous=NORMAL`` (a
power cut may lose the last commits, never corrupt: each store's position moves with its data,
so what was lost is written again from the journal). A store opened again after `close` gets a
new thread. Never knows a schema or a query.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class SqliteWorker:
    def __init__(self, path: Path | str, thread_name: str) -> None:
        self.path = Path(path)
        self._thread_name = thread_name
        self._pool: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            assert self._db is not None, f"{self.path.name} not open"
            return fn(self._db)
        assert self._pool is not None, f"{self.path.name} not open"
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def _connect(self) -> bool:
        """Open the connection on a new worker thread; False (nothing done) when it is open."""
        if self._db is not None:
            return False

        def connect() -> None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._db = db
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._thread_name)
        await asyncio.get_running_loop().run_in_executor(self._pool, connect)
        return True

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return

        def shut() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None
        await asyncio.get_running_loop().run_in_executor(pool, shut)
        pool.shutdown(wait=True)
