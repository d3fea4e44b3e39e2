"""`herbx consume --health-port`: the consumer process's `/healthz` shows its state, position,
lag in commands and seconds, gaps and duplicates, as `herbx serve`'s `/healthz` shows its
consumers; a failing store shows as `retrying` with the error and a growing lag, and the
consumer is live at the journal's end again once the store works."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from engine.durable.sequencer import Sequencer
from gateway.link.consume import Follower, serve_health
from loadtest.bench.gateway import free_port
from settlement.booker import Booker
from settlement.booking import Step
from settlement.schedule import Schedule
from settlement.sqlite_store import SqliteStore
from tests.test_recovery import StepClock, command_stream

CLOCK_START_NS = 1_800_000_000_000_000_000  # StepClock's start: the commands' stamps




class FlakyBooker(Booker):
    """A booker whose store fails the first ``failures`` writes (a database that is down)."""

    failures = 0

    async def offer(self, steps: Sequence[Step]) -> int:
        if FlakyBooker.failures > 0:
            FlakyBooker.failures -= 1
            raise ConnectionError("the database is down")
        return await super().offer(steps)


async def health(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(url) as r:
        assert r.status == 200
        doc = await r.json()
    assert doc["status"] == "ok"
    return doc


async def wait_for(http: aiohttp.ClientSession, url: str, ok: Any) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            doc = await health(http, url)
            if ok(doc["consumers"]["ledger"]):
                return doc
            await asyncio.sleep(0.02)


async def test_the_health_endpoint_shows_position_lag_and_failures(tmp_path: Path) -> None:
    cmds = command_stream(33, 120)
    with Sequencer(tmp_path / "engine", now_ns=StepClock(4), retain_from=lambda: 0) as sq:
        for cmd in cmds[:80]:
            sq.submit(cmd)
        sq.commit()
    FlakyBooker.failures = 3

    def make(exchange_of: Any) -> Booker:
        return FlakyBooker(SqliteStore(tmp_path / "ledger.sqlite"), Schedule.load(),
                           lambda _: None, owns_store=True)

    # the market's stamps are about 2026-01-15; the health's clock says 7 s after the first
    follower = Follower(tmp_path, make, poll_s=0.01, retry_max_s=0.05,
                        clock_ns=lambda: CLOCK_START_NS + 7 * 10**9)
    port = free_port()
    url = f"http://127.0.0.1:{port}/healthz"
    runner = await serve_health(follower, "ledger", "127.0.0.1", port)
    stop = asyncio.Event()
    task = asyncio.create_task(follower.run(stop))
    try:
        async with aiohttp.ClientSession() as http:
            doc = await wait_for(http, url, lambda c: c["errors"] >= 1)
            c = doc["consumers"]["ledger"]
            assert c["state"] in ("retrying", "starting")
            assert "the database is down" in c["last_error"]
            assert c["position"] == 0 and c["journal_seq"] == 80 and c["lag_commands"] == 80
            assert 6.9 < c["lag_s"] < 7.1  # the first unbooked command's age by its stamp

            doc = await wait_for(http, url, lambda c: c["state"] == "live" and c["position"])
            c = doc["consumers"]["ledger"]
            assert doc["seq"] == 80
            assert c == {"state": "live", "position": 80, "journal_seq": 80, "lag_commands": 0,
                         "lag_s": 0.0, "gaps": 0, "duplicates": 0, "errors": 3,
                         "last_error": c["last_error"]}

            with Sequencer(tmp_path / "engine", now_ns=StepClock(5),
                           retain_from=lambda: 0) as sq:  # the market writes on
                for cmd in cmds[80:]:
                    sq.submit(cmd)
                sq.commit()
            doc = await wait_for(http, url, lambda c: c["position"] == 120)
            assert doc["seq"] == 120 and doc["consumers"]["ledger"]["lag_commands"] == 0
    finally:
        stop.set()
        await task
        await runner.cleanup()
    assert follower.status()["state"] == "stopped"
