"""Multi-process mode with PostgreSQL: `herbx engine` writes the tick store beside its ledger
(a consumer of its feed), and a `herbx gateway` given the same --database-url reads it: ticks,
bars, indices and insurance figures, instead of 503 ticks_unavailable. Real Redis and
PostgreSQL; skips without them (fails instead when CI=true)."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
import uuid
from pathlib import Path

import msgspec

from gateway.link.redis_link import keys
from settlement.ticks.model import VN_OFFSET_NS
from tests.gateway.conftest import settings, start
from tests.gateway.test_ledger_engine import REDIS_URL, ROOT, commands, redis_or_skip
from tests.gateway.test_ledger_feed import pg_schema  # noqa: F401, F811  (a fixture)
from tests.settlement.conftest import DATABASE_URL

P = "/api/v1"


async def test_the_engine_writes_ticks_and_a_gateway_reads_them(tmp_path: Path,
                                                               pg_schema: str) -> None:  # noqa: F811
    redis = await redis_or_skip()
    prefix = f"herbx-test-{uuid.uuid4().hex[:8]}"
    commands_key, journal_key = keys(prefix)
    db = ["--database-url", DATABASE_URL, "--database-schema", pg_schema]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "engine", "--redis-url", REDIS_URL,
         "--redis-prefix", prefix, "--data-dir", str(tmp_path / "engine-proc"),
         "--tick-ms", "0", "--log-level", "warning", *db],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    m = None
    try:
        sent = commands()  # 20 trades of 10 kg at 61,500 on QUE-BARK-A
        encode = msgspec.msgpack.Encoder().encode
        for i, cmd in enumerate(sent):
            await redis.xadd(commands_key, {"c": encode(cmd), "g": "t", "r": str(i)})
        async with asyncio.timeout(60):  # a liveness bound, not a timing assertion
            while await redis.xlen(journal_key) < len(sent):
                await asyncio.sleep(0.05)
        m = await start(settings(tmp_path / "gw", mode="gateway", redis_url=REDIS_URL,
                                 redis_prefix=prefix, database_url=DATABASE_URL,
                                 database_schema=pg_schema), seed=False)
        store = m.gw.ticks
        assert store is not None and store.name == "postgres"
        async with asyncio.timeout(60):  # the engine's tick writer reaches the journal's end
            while (await store.load_state())[0] < len(sent):
                await asyncio.sleep(0.05)
        c = m.client
        r = await c.get(f"{P}/ticks?symbol=QUE-BARK-A&limit=100")
        assert r.status == 200, await r.text()
        ticks = (await r.json())["ticks"]
        assert len(ticks) == 20 and {(t["price"], t["qty"], t["demo"]) for t in ticks} == {
            (61_500, 10, False)}
        r = await c.get(f"{P}/bars/QUE-BARK-A?interval=1d")
        [bar] = (await r.json())["bars"]
        assert (bar["volume"], bar["trades"], bar["vwap"]) == (200, 20, 61_500)
        r = await c.get(f"{P}/indices/QUE-BARK")
        assert r.status == 200, await r.text()
        [point] = (await r.json())["points"]
        assert (point["index"], point["vwap"], point["volume"]) == ("100.0000", 61_500, 200)
        today = dt.date(1970, 1, 1) + dt.timedelta(
            days=(ticks[0]["ts_ns"] + VN_OFFSET_NS) // 86_400_000_000_000)
        terms = {"floor_vnd": 62_000, "window_from": today.isoformat(),
                 "window_to": today.isoformat(), "min_volume_kg": 200}
        r = await c.put(f"{P}/insurance/QUE-BARK/2026", json=terms, headers=m.h("operator"))
        assert r.status == 201, await r.text()
        season = await r.json()
        assert (season["status"], season["reference_vnd"], season["payout_per_kg_vnd"]) == (
            "ok", 61_500, 500)
    finally:
        if m is not None:
            await m.client.close()
        proc.terminate()
        _, err = proc.communicate(timeout=60)
        await redis.delete(commands_key, journal_key)
        await redis.aclose()
    assert proc.returncode == 0, err.decode()


async def test_a_gateway_without_a_database_keeps_no_tick_store(tmp_path: Path) -> None:
    redis = await redis_or_skip()
    await redis.aclose()
    prefix = f"herbx-test-{uuid.uuid4().hex[:8]}"
    m = await start(settings(tmp_path, mode="gateway", redis_url=REDIS_URL,
                             redis_prefix=prefix), seed=False)
    try:
        for path in ("ticks?symbol=QUE-BARK-A", "insurance"):
            r = await m.client.get(f"{P}/{path}", headers=m.h("operator"))
            assert r.status == 503 and (await r.json())["code"] == "ticks_unavailable"
    finally:
        await m.client.close()
