"""`herbx bench peers`: our engine side by side with other matching engines, in one sitting.

An I/O shell module (it creates virtual environments, runs pip and child processes, reads the
clock); the core never imports it.

The peer driver (``peer_bench.py``, the engine issue's benchmark driver) is not part of this
repository: give its path with ``--peer-driver`` (or ``HERBX_PEER_DRIVER``). This command installs
the peers from PyPI into throwaway virtual environments under ``--workdir`` (never into the
project's ``.venv``; they are reused by a later run), then runs, one after the other:

1. Python 3.11: liquibook 2.0.1 and pyorderbook 0.4.9 beside our interpreted core
   (`peer_run`, this module's adapter);
2. Python 3.11: our compiled core (the mypyc build of `engine.tools.compiled`, first on the
   path), the same adapter;
3. Python 3.12 (``--python312``, else ``python3.12`` on the path or pyenv's): matching-engine
   0.1.1, which needs it.

Each run is the driver's: N commands, seed, the median of ``--runs`` runs. The load average
before and after is printed too, since the figures mean something only side by side. The last
line is one JSON object with every engine's median ops/s and its ratio to liquibook.
``--clock cpu`` times the same engines on the same stream by each process's CPU time instead of
the driver's wall clock (`CPU_CHILD` imports the driver's generator and adapters): on a machine
that other work shares, the wall-clock ratios move by tens of percent between sittings, the
CPU-time ones much less.

`peer_run` feeds the driver's tuples to a fresh `Exchange` as `PlaceOrder` / `CancelOrder`
commands built and stamped inside the timed loop (as every peer's adapter builds its own
orders), with one funded buyer and one seller with goods so that every order passes the risk
check, and counts maker fills and volume, which the driver checks against its reference book.
The process's garbage collector runs with the server's thresholds during the run
(`engine.tools.runtime.GEN0_THRESHOLD`: `herbx serve` and `herbx engine` run that way) and is
restored after; ``peer_run_default_gc`` is the same adapter with CPython's defaults.
"""

from __future__ import annotations

import gc
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from engine.exchange import Exchange
from engine.messages import CancelOrder, Command, PlaceOrder, TradeExecuted
from loadtest.bench.engine import BUYER, PRICE_MAX, SELLER, SYMBOL, setup_commands

ROOT = Path(__file__).resolve().parent.parent.parent
# ``--clock cpu``: the same engines, stream and runs, timed by the process's CPU time
# (`time.process_time`) instead of the driver's wall clock, so that other work on a shared
# machine does not count. Run in each peer's virtual environment with the driver's directory as
# the working directory; it imports the driver's generator and adapters (nothing is copied) and
# prints the driver's JSON lines with the CPU figures in place of the wall ones.
CPU_CHILD = """
import gc, importlib, json, logging, statistics, sys, time
sys.path.insert(0, ".")
import peer_bench as pb
n, seed, runs, names = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
logging.disable(logging.CRITICAL)
cmds, exp = pb.generate_commands(n, seed)
for name in names:
    if name in pb.PEERS:
        fn = pb.PEERS[name][0]
    else:
        mod, _, func = name.partition(":")
        fn = getattr(importlib.import_module(mod), func)
    times = []
    for i in range(runs):
        gc.collect()
        t = time.process_time()
        trades, vol = fn(cmds)
        dt = time.process_time() - t
        times.append(dt)
        print(json.dumps({"peer": name, "n": n, "run": i + 1, "cpu_seconds": round(dt, 4),
                          "ops_per_s": round(n / dt), "trades": trades, "volume": int(vol),
                          "match_ref": trades == exp["trades"] and int(vol) == exp["volume"]}),
              flush=True)
    med = statistics.median(times)
    print(json.dumps({"peer": name, "n": n, "runs": runs, "clock": "cpu",
                      "median_cpu_seconds": round(med, 4), "median_ops_per_s": round(n / med)}),
          flush=True)
"""
PEERS_311 = ("sortedcontainers==2.4.0", "liquibook==2.0.1", "pyorderbook==0.4.9")
PEERS_312 = ("sortedcontainers==2.4.0", "matching-engine==0.1.1")
ADAPTER = "loadtest.bench.peers:peer_run"


def _feed(stream: list[tuple]) -> tuple[int, int]:  # type: ignore[type-arg]
    ex = Exchange()
    setup = setup_commands(len(stream))
    for seq, setup_cmd in enumerate(setup, 1):
        setup_cmd.seq = seq
        ex.apply(setup_cmd)
    apply = ex.apply
    # the driver's order id -> our order id, negated for a sell (so the owner is known without a
    # tuple per order: one object fewer for the collector per order)
    ids: dict[int, int] = {}
    seq = len(setup)
    trades = volume = 0
    for c in stream:
        seq += 1
        kind = c[0]
        if kind == 2:  # cancel
            signed = ids.pop(c[1], 0)
            cmd: Command = CancelOrder(seq=seq, account=BUYER if signed >= 0 else SELLER,
                                       order_id=signed if signed >= 0 else -signed)
        else:
            is_buy = c[2]
            account = BUYER if is_buy else SELLER
            ids[c[1]] = seq if is_buy else -seq
            if kind == 3:  # market, IOC
                cmd = PlaceOrder(seq=seq, account=account, client_order_id=str(seq),
                                 symbol=SYMBOL, side="buy" if is_buy else "sell",
                                 order_type="market", qty=c[3], tif="ioc",
                                 cash_cap_vnd=c[3] * PRICE_MAX if is_buy else None)
            else:
                cmd = PlaceOrder(seq=seq, account=account, client_order_id=str(seq),
                                 symbol=SYMBOL, side="buy" if is_buy else "sell",
                                 price_vnd=c[3], qty=c[4])
        for e in apply(cmd):
            if type(e) is TradeExecuted:
                trades += 1
                volume += e.qty
    return trades, volume


def peer_run(stream: list[tuple]) -> tuple[int, int]:  # type: ignore[type-arg]
    """The driver's adapter (``--extra loadtest.bench.peers:peer_run``): (maker fills, volume),
    with the server's garbage-collector thresholds."""
    from engine.tools.runtime import GEN0_THRESHOLD

    before = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, 20, 100)
    try:
        return _feed(stream)
    finally:
        gc.set_threshold(*before)


def peer_run_default_gc(stream: list[tuple]) -> tuple[int, int]:  # type: ignore[type-arg]
    """The same adapter under CPython's default collector thresholds."""
    return _feed(stream)


def _python312(given: str | None) -> str | None:
    """The first Python 3.12 that runs: ``given``, pyenv's, then ``python3.12`` on the path (a
    pyenv shim may be on the path without a 3.12 selected)."""
    pyenv = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    for candidate in ([given] if given else [*reversed(pyenv), shutil.which("python3.12")]):
        if candidate is None:
            continue
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                               capture_output=True, text=True, check=False)
        if probe.returncode == 0 and probe.stdout.strip() == "(3, 12)":
            return candidate
    return None


def _venv(python: str, where: Path, packages: tuple[str, ...]) -> Path:
    """A throwaway virtual environment with ``packages`` (made once, then reused)."""
    stamp = where / ".herbx-peers"
    wanted = "\n".join(packages)
    if not (stamp.exists() and stamp.read_text() == wanted):
        shutil.rmtree(where, ignore_errors=True)
        subprocess.run([python, "-m", "venv", str(where)], check=True)
        subprocess.run([str(where / "bin" / "pip"), "install", "--quiet", *packages],
                       check=True)
        stamp.write_text(wanted)
    return where / "bin" / "python"


def _run(python: Path | str, driver: Path, args: list[str], pythonpath: list[str]
         ) -> list[dict[str, object]]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(pythonpath))
    out = subprocess.run([str(python), str(driver), *args], env=env, cwd=driver.parent,
                         capture_output=True, text=True, check=False)
    return _lines(out)


def run_cpu(python: Path | str, driver: Path, n: int, seed: int, runs: int, names: list[str],
             pythonpath: list[str]) -> list[dict[str, object]]:
    """As `_run`, timed by CPU time (`CPU_CHILD`); ``names`` are the driver's peer names or
    ``MODULE:FUNC`` adapters."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(pythonpath))
    out = subprocess.run([str(python), "-c", CPU_CHILD, str(n), str(seed), str(runs), *names],
                         env=env, cwd=driver.parent, capture_output=True, text=True, check=False)
    return _lines(out)


def _lines(out: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    if out.returncode != 0:
        raise RuntimeError(f"peer driver failed:\n{out.stdout}\n{out.stderr}")
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    for line in lines:
        print(json.dumps(line), file=sys.stderr)
    return lines


def main(driver: str | None, orders: int, seed: int, runs: int, workdir: str | None,
         python312: str | None, clock: str = "wall") -> int:
    if not driver or not Path(driver).is_file():
        print("herbx bench peers: give the peer driver peer_bench.py with --peer-driver PATH (or "
              "HERBX_PEER_DRIVER); it is not part of this repository", file=sys.stderr)
        return 2
    drv = Path(driver).resolve()
    work = Path(workdir) if workdir else Path(tempfile.gettempdir()) / "herbx-peers"
    work.mkdir(parents=True, exist_ok=True)
    import msgspec

    from engine.tools.compiled import build

    py311 = _venv(sys.executable, work / "py311",
                  (*PEERS_311, f"msgspec=={msgspec.__version__}"))
    py312_exe = _python312(python312)
    common = ["-n", str(orders), "--seed", str(seed), "--runs", str(runs)]
    load_before = os.getloadavg()
    medians: dict[str, int] = {}
    match: dict[str, bool] = {}

    def collect(lines: list[dict[str, object]], rename: dict[str, str]) -> None:
        for line in lines:
            name = rename.get(str(line.get("peer")), str(line.get("peer")))
            if "median_ops_per_s" in line:
                medians[name] = int(line["median_ops_per_s"])  # type: ignore[call-overload]
            if "match_ref" in line:
                match[name] = bool(match.get(name, True) and line["match_ref"])

    cpu = clock == "cpu"

    def run(python: Path | str, peers: list[str], path: list[str]) -> list[dict[str, object]]:
        if cpu:
            return run_cpu(python, drv, orders, seed, runs, peers, path)
        builtin = ",".join(p for p in peers if ":" not in p)
        extra = [a for p in peers if ":" in p for a in ("--extra", p)]
        return _run(python, drv, [*common, "--peers", builtin, *extra], path)

    collect(run(py311, ["liquibook", "pyorderbook", ADAPTER], [str(ROOT)]),
            {ADAPTER: "herbx-interpreted"})
    try:
        target = build()
    except Exception as exc:  # no C compiler: the row is left out, and said so
        print(f"herbx bench peers: no compiled core ({exc})", file=sys.stderr)
    else:
        path = [str(target), str(ROOT)]
        probe = subprocess.run(
            [str(py311), "-c", "from engine.tools.compiled import is_compiled; "
             "print(is_compiled())"], env=dict(os.environ, PYTHONPATH=os.pathsep.join(path)),
            cwd=drv.parent, capture_output=True, text=True, check=False)
        if probe.stdout.strip() != "True":  # the row would silently time the interpreted core
            raise RuntimeError(f"the compiled core did not load: {probe.stderr}")
        collect(run(py311, [ADAPTER], path), {ADAPTER: "herbx-compiled"})
    if py312_exe is None:
        print("herbx bench peers: no Python 3.12 found (--python312): matching-engine left out",
              file=sys.stderr)
    else:
        py312 = _venv(py312_exe, work / "py312", PEERS_312)
        collect(run(py312, ["matching-engine"], []), {})
    load_after = os.getloadavg()
    base = medians.get("liquibook")
    print(f"{'engine':<22} {'ops/s':>10} {'vs liquibook':>13}", file=sys.stderr)
    for name, ops in medians.items():
        ratio = f"{ops / base:.2f}" if base else "-"
        print(f"{name:<22} {ops:>10,} {ratio:>13}", file=sys.stderr)
    result = {
        "orders": orders, "seed": seed, "runs": runs, "clock": clock,
        "median_ops_per_s": medians,
        "vs_liquibook": {k: round(v / base, 2) for k, v in medians.items()} if base else {},
        "match_ref": match,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
    }
    print(json.dumps(result))
    return 0
