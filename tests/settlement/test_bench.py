"""`herbx bench settlement`: books real trades into each store; the last line is one JSON
object with the store and the rate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.settlement.conftest import require_pg

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_bench_settlement_last_line_is_json(store: str) -> None:
    if store == "postgres":
        await require_pg()
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "bench", "settlement", "--store", store,
         "--trades", "1500", "--seed", "3"],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["store"] == store
    assert figures["trades"] >= 1500 and figures["trades_per_s"] > 0
    assert figures["batches"] >= 1
    assert figures["cpu_us_per_trade"] > 0  # this process's CPU per trade: booking included
    assert "db_cpu_us_per_trade" in figures and "load_avg_1m" in figures
    if store == "sqlite":
        assert figures["db_cpu_us_per_trade"] is None  # no server: its work is ours
        assert figures["db_busy_pct"] is None
    elif figures["db_cpu_us_per_trade"] is not None:  # a server on this machine
        # the server's CPU over the median run's wall clock, as the other figures state them
        busy = 100 * figures["db_cpu_us_per_trade"] * figures["trades"] / 1e6 / figures["seconds"]
        assert figures["db_busy_pct"] >= 0 and abs(figures["db_busy_pct"] - busy) <= 2
