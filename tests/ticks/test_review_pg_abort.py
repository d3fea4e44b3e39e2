"""Review check: an export whose client is dropped mid-stream (its write raises, as the stall
timeout does) gives its connection back in a usable state, on both stores."""

from __future__ import annotations

from typing import Any

import pytest

from settlement.ticks.store import TickQuery
from tests.ticks.conftest import tick


async def test_an_export_aborted_by_its_sink_leaves_the_store_usable(store: Any) -> None:
    await store.backfill([tick(k) for k in range(1, 12_001)], {"QUE-BARK-A": ("QUE-BARK", "A")})
    calls = 0

    async def stalled(data: bytes) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise TimeoutError("the client read nothing")

    for _ in range(8):  # more than the pool has connections: none may stay stuck in a COPY
        calls = 0
        with pytest.raises(TimeoutError):
            await store.export_csv(TickQuery(), stalled)
    assert len(await store.ticks(TickQuery(), 1000)) == 1000
    rows = [t async for chunk in store.export(TickQuery()) for t in chunk]
    assert len(rows) == 12_000
