"""Fixtures of the tick tests: a tick store of each kind, and ticks made to order.

PostgreSQL is real (postgresql://127.0.0.1:5432/test, or HERBX_TEST_DATABASE_URL); each test
gets its own schema, dropped afterwards. Without a PostgreSQL the postgres cases skip, except
under CI=true where they fail (`tests.settlement.conftest.require_pg`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from settlement.ticks.model import Tick
from settlement.ticks.pg import PgTickStore
from settlement.ticks.sqlite import SqliteTickStore
from tests.gateway.conftest import Market, settings, start
from tests.settlement.conftest import DATABASE_URL, Stores, require_pg

INSTRUMENTS = {"QUE-BARK-A": ("QUE-BARK", "A"), "QUE-BARK-B": ("QUE-BARK", "B"),
               "ATISO-LEAF-A": ("ATISO-LEAF", "A")}
T0 = 1_790_000_000_000_000_000  # 2026-09-21T14:13:20Z


def tick(seq: int, n: int = 0, *, ts_ns: int | None = None, symbol: str = "QUE-BARK-A",
         price: int = 60_000, qty: int = 10, active_mg: int | None = None,
         demo: bool = False) -> Tick:
    herb, grade = INSTRUMENTS[symbol]
    return Tick(seq=seq, n=n, ts_ns=T0 + seq * 10**9 if ts_ns is None else ts_ns,
                trade_id=seq * 10 + n, symbol=symbol, herb=herb, grade=grade, venue="book",
                price_vnd=price, qty=qty, notional_vnd=price * qty, active_mg=active_mg,
                price_per_kg_active_vnd=None if active_mg is None
                else price * qty * 10**6 // active_mg, demo=demo)


class TickStores(Stores):
    """The settlement tests' `Stores` (a file or a schema per test, opened again for a
    restart, dropped afterwards), opening tick stores."""

    def __init__(self, kind: str, tmp: Path) -> None:
        super().__init__(kind, tmp)
        self.path = tmp / "ticks.sqlite"

    async def open(self) -> Any:
        store: Any = (SqliteTickStore(self.path) if self.kind == "sqlite"
                      else PgTickStore(DATABASE_URL, schema=self.schema))
        await store.open()
        self.opened.append(store)
        return store


@pytest.fixture(params=["sqlite", "postgres"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TickStores]:
    if request.param == "postgres":
        await require_pg()
    s = TickStores(request.param, tmp_path)
    yield s
    await s.drop()


@pytest.fixture
async def store(stores: TickStores) -> Any:
    return await stores.open()


@pytest.fixture
async def market(tmp_path: Path) -> AsyncIterator[Market]:
    """The gateway tests' running market (its tick store in ``tmp_path/ticks.sqlite``)."""
    m = await start(settings(tmp_path))
    yield m
    await m.client.close()
