"""Issue 15: `herbx loadtest` runs locust against a real market and prints its summary.

A few users for a few seconds, single process and (with Redis) engine + one gateway: the
summary's last line is one JSON object with the issue's keys, locust sent requests of every
user class, the feed delivered messages whose latency was measured, and nothing failed except
the refusals the load provokes on purpose. (Figures are for `docs/benchmarks.md`, not here.)
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KEYS = {"users", "requests_per_s", "order_ack_p99_ms", "feed_p99_ms", "failures"}

# find_spec, not import: importing locust would monkey-patch this process with gevent
HAVE_LOCUST = importlib.util.find_spec("locust") is not None

pytestmark = pytest.mark.skipif(
    not HAVE_LOCUST, reason="locust is not installed (pip install -e '.[load]')")


def _up(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _need(port: int, what: str) -> None:
    if not _up(port):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} is not running at 127.0.0.1:{port} (CI needs it)")
        pytest.skip(f"{what} is not running at 127.0.0.1:{port}")


def _loadtest(tmp_path: Path, *args: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "loadtest", "--users", "12", "--duration", "8s",
         "--symbols", "3", "--out", str(tmp_path), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary.keys() >= KEYS, summary
    assert summary["users"] == 12
    assert summary["failures"] == 0, result.stdout[-4000:]
    assert summary["requests_per_s"] > 0 and summary["order_ack_p99_ms"] is not None
    cpu = summary["cpu_cores_used"]
    assert isinstance(cpu, dict) and cpu["market_cpu_ms_per_request"] > 0
    assert cpu["locust_cpu_ms_per_request"] > 0 and isinstance(summary["listen_drops"], int)
    run = Path(str(summary["reports"]))
    assert (run / "locust_stats.csv").exists() and (run / "report.html").exists()
    log = (run / "locust.log").read_text()
    assert "Traceback" not in log and "Warning" not in log, log[-3000:]
    stats = (run / "locust_stats.csv").read_text()
    for name in ("POST /api/v1/orders", "GET /api/v1/auctions", "GET /api/v1/balances",
                 "connect", "subscribe"):
        assert f",{name}," in stats, name  # each user class reached the market
    return summary


def test_loadtest_single_process(tmp_path: Path) -> None:
    summary = _loadtest(tmp_path)
    assert summary["gateways"] == 0
    assert summary["feed_messages"] > 0 and summary["feed_p99_ms"] is not None


def test_loadtest_engine_and_gateway_over_redis(tmp_path: Path) -> None:
    """With ``--database-url`` the gateways read the ledger and the ticks the engine writes in
    PostgreSQL: statements and tick reads are answered, not refused for want of a store, and
    the run's schemas are dropped afterwards."""
    _need(6379, "Redis")
    _need(5432, "PostgreSQL")
    url = "postgresql://127.0.0.1:5432/test"
    summary = _loadtest(tmp_path, "--gateways", "1", "--database-url", url)
    assert summary["gateways"] == 1
    refusals = summary["refusals"]
    assert isinstance(refusals, dict)
    assert not {"no_ledger", "ticks_unavailable"} & refusals.keys(), refusals
    schema = "herbx_load_" + Path(str(summary["reports"])).name.lower()

    async def schemas_left() -> list[str]:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
                                    schema + "%")
        finally:
            await conn.close()
        return [r["nspname"] for r in rows]

    assert asyncio.run(schemas_left()) == []
