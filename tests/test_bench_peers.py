"""`herbx bench peers`: the adapter the external peer driver times, and the command's refusal
without the driver (the driver and the peers are not part of this repository, so the full run
is a benchmark, not a test)."""

from __future__ import annotations

import gc

from gateway.cli import main
from loadtest.bench.peers import peer_run, peer_run_default_gc

ADD, CROSS, CANCEL, MARKET = 0, 1, 2, 3

# the driver's tuples: (ADD|CROSS, oid, is_buy, price, qty), (CANCEL, oid), (MARKET, oid, is_buy,
# qty)
STREAM = [
    (ADD, 1, False, 100_000, 10),   # a sell rests at 100,000
    (ADD, 2, False, 100_100, 5),    # another one tick above
    (ADD, 3, True, 99_000, 7),      # a bid rests below
    (CROSS, 4, True, 100_000, 4),   # takes 4 of oid 1: one maker fill
    (CANCEL, 3),                    # the bid leaves
    (MARKET, 5, True, 8),           # takes 6 of oid 1 and 2 of oid 2: two fills
    (CANCEL, 2),                    # the rest of oid 2 leaves
    (MARKET, 6, False, 3),          # no bids: nothing trades
]


def test_the_adapter_counts_maker_fills_and_volume() -> None:
    assert peer_run(STREAM) == (3, 12)
    assert peer_run_default_gc(STREAM) == (3, 12)


def test_the_adapter_restores_the_collector_thresholds() -> None:
    before = gc.get_threshold()
    peer_run(STREAM)
    assert gc.get_threshold() == before


def test_bench_peers_needs_the_driver(capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert main(["bench", "peers", "--peer-driver", str(tmp_path / "missing.py")]) == 2
    assert "--peer-driver" in capsys.readouterr().err


def test_cpu_clock_times_the_adapter_on_the_drivers_stream(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``--clock cpu`` imports the driver's generator and adapters from its directory and
    prints the driver's JSON lines, timed by CPU time (a stand-in driver with this stream)."""
    import sys

    from loadtest.bench.peers import ADAPTER, ROOT, run_cpu

    driver = tmp_path / "peer_bench.py"
    driver.write_text(
        f"STREAM = {STREAM!r}\n"
        "PEERS = {}\n"
        "def generate_commands(n, seed):\n"
        "    return STREAM, {'trades': 3, 'volume': 12}\n"
    )
    lines = run_cpu(sys.executable, driver, len(STREAM), 42, 2, [ADAPTER], [str(ROOT)])
    runs = [line for line in lines if "run" in line]
    assert [line["match_ref"] for line in runs] == [True, True]
    assert lines[-1]["clock"] == "cpu" and int(lines[-1]["median_ops_per_s"]) > 0  # type: ignore[call-overload]
