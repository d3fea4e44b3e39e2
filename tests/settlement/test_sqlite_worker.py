"""The embedded stores' shared worker (`settlement.sqlite_worker`): a store closed (as the feed
closes a consumer after a failed write) opens again on a new thread and keeps its data."""

from __future__ import annotations

from pathlib import Path

from settlement.sqlite_store import SqliteStore
from settlement.ticks.sqlite import SqliteTickStore


async def test_a_closed_ledger_opens_again(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "ledger.sqlite")
    await store.open()
    version = await store.schema_version()
    await store.close()
    await store.close()  # closing twice is harmless
    await store.open()
    try:
        assert await store.schema_version() == version
        assert (await store.load_state()).last_seq == 0
    finally:
        await store.close()


async def test_a_closed_tick_store_opens_again(tmp_path: Path) -> None:
    store = SqliteTickStore(tmp_path / "ticks.sqlite")
    await store.open()
    await store.open()  # opening an open store does nothing
    await store.close()
    await store.open()
    try:
        assert (await store.load_state())[0] == 0
    finally:
        await store.close()
