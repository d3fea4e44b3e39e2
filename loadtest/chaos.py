"""`herbx chaos`: crash recovery under load (issue 15).

Owns one chaos run: start a market (`herbx serve`, or in ``multi`` mode a private Redis,
`herbx engine` and two `herbx gateway` processes), drive it with a small asyncio client of the
public REST and WebSocket API (`loadtest.chaos_load`), SIGKILL a process at seeded random
moments (the server; in ``multi`` mode the engine; with ``--consumer`` also the external ledger
booker and the external tick writer, two `herbx consume` processes), or stop and start a
service (Redis, PostgreSQL), restart it, and after each restart check that order entry resumes
and then (`loadtest.chaos_check`): every order acknowledged (201) before the kill is known with
its fills and none is doubled, every trade of the journal is booked exactly once and is in the
tick store exactly once, the trial balance is zero, `herbx reconcile` passes, the gateways
serve the journal's book, and the WebSocket subscribers' books equal a fresh snapshot. Every
error answer must be clear (problem+json, never a 500). The last output line is one JSON
object.

Never imports the market's code to drive it (only the public API, as a client would); it reads
the data directory and the ledger after the fact, as `herbx reconcile` does.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtest.bench.gateway import free_port
from loadtest.chaos_check import CheckResult, check_market
from loadtest.chaos_load import Load
from loadtest.chaos_services import PrivatePostgres, unavailable

ROOT = Path(__file__).resolve().parents[1]
OPERATOR_TOKEN = "chaos-operator-" + "0" * 8  # the fresh market's operator (HERBX_OPERATOR_TOKEN)
READY_TIMEOUT_S = 60.0
RESUME_TIMEOUT_S = 30.0  # after a restart, the first order must be acknowledged within this
EXTERNAL = ("consumer", "ticks")  # the `herbx consume` processes of --consumer




def herbx(*args: str) -> list[str]:
    return [sys.executable, "-m", "gateway.cli", *args]


@dataclass
class Proc:
    """One process of the market under test, restartable with the same command line."""

    name: str
    argv: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    kills: int = 0

    def start(self, env: dict[str, str]) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(self.argv, cwd=ROOT, env=env, stdout=out,
                                          stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait()
        self.kills += 1

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM (drains and commits), SIGKILL after ``timeout_s``."""
        p = self.popen
        if p is None or p.poll() is not None:
            return None if p is None else p.returncode
        p.terminate()
        try:
            return p.wait(timeout_s)
        except subprocess.TimeoutExpired:
            p.kill()
            return p.wait()

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


@dataclass
class Cluster:
    """The processes of a market and where to reach it."""

    mode: str
    data_dir: Path
    work: Path
    database_url: str | None
    consumer: bool  # the ledger and the ticks are written by `herbx consume` processes
    database_schema: str | None = None  # the ledger's PostgreSQL schema (ticks: <schema>_ticks)
    procs: dict[str, Proc] = field(default_factory=dict)
    health: dict[str, str] = field(default_factory=dict)  # `herbx consume` process -> /healthz
    gateways: list[str] = field(default_factory=list)  # http://127.0.0.1:PORT
    redis_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    restart: tuple[str, ...] = ()  # services stopped and started under load: redis, postgres
    pg: PrivatePostgres | None = None
    revived: int = 0  # market processes that exited on their own and were started again

    def setup(self) -> None:
        self.env = {**os.environ, "HERBX_OPERATOR_TOKEN": OPERATOR_TOKEN,
                    "HERBX_LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1"}
        for k in ("HERBX_DATABASE_URL", "HERBX_REDIS_URL", "HERBX_PORT", "HERBX_DATA_DIR",
                  "HERBX_DEMO"):
            self.env.pop(k, None)
        db = ["--database-url", self.database_url] if self.database_url else []
        if self.database_schema:  # so that the ticks too are the run's (<schema>_ticks)
            db += ["--database-schema", self.database_schema]
        market = ["--data-dir", str(self.data_dir), "--tick-ms", "0",
                  "--order-retention-s", "0"]
        http = ["--rate-per-s", "1000000", "--rate-burst", "1000000", "--conflate-ms", "0"]
        if self.mode == "serve":
            port = free_port()
            extra = ["--no-consumers"] if self.consumer else []
            self.add("serve", herbx("serve", "--port", str(port), *market, *http, *db, *extra))
            self.gateways = [f"http://127.0.0.1:{port}"]
        else:
            rport = free_port()
            redis = shutil.which("redis-server")
            if redis is None:
                raise RuntimeError("multi mode needs redis-server on the PATH")
            # a Redis that is restarted keeps its streams (append-only file, as a real one
            # would); one that is only killed around needs no persistence
            persist = (["--appendonly", "yes", "--appendfsync", "always", "--dir",
                        str(self.work)] if "redis" in self.restart else ["--appendonly", "no"])
            self.add("redis", [redis, "--port", str(rport), "--bind", "127.0.0.1",
                               "--save", "", *persist, "--daemonize", "no"])
            self.redis_url = f"redis://127.0.0.1:{rport}/0"
            link = ["--redis-url", self.redis_url, "--redis-prefix", "chaos"]
            self.add("engine", herbx("engine", *link, *market, *db))
            for i in range(2):
                port = free_port()
                self.add(f"gateway{i}", herbx("gateway", "--port", str(port), *link, *http, *db,
                                              "--data-dir", str(self.data_dir),
                                              "--tick-ms", "0"))
                self.gateways.append(f"http://127.0.0.1:{port}")
        if self.consumer:
            for name, kind in zip(EXTERNAL, ("ledger", "ticks"), strict=True):
                port = free_port()
                self.add(name, herbx("consume", "--consumer", kind, "--data-dir",
                                     str(self.data_dir), "--poll-ms", "20", "--health-port",
                                     str(port), *db))
                self.health[name] = f"http://127.0.0.1:{port}/healthz"

    def add(self, name: str, argv: list[str]) -> None:
        self.procs[name] = Proc(name, argv, self.work / f"{name}.log")

    def start_all(self) -> None:
        """Every process but the external consumers, which follow a journal that must exist."""
        for p in self.procs.values():
            if p.name in EXTERNAL:
                continue
            p.start(self.env)
            if p.name == "redis":
                wait_port(self.redis_url or "")

    def stop_all(self) -> dict[str, int | None]:
        codes = {}
        for name in reversed(list(self.procs)):  # gateways, then the engine, then Redis
            codes[name] = self.procs[name].stop()
        return codes

    @property
    def victims(self) -> list[str]:
        """What a kill may hit: the market's writer, the external consumers if there are any,
        and the services to restart."""
        main = "serve" if self.mode == "serve" else "engine"
        return [main, *(EXTERNAL if self.consumer else ()), *self.restart]

    def stop_service(self, name: str) -> None:
        if name == "postgres":
            assert self.pg is not None
            self.pg.stop("immediate")  # a crash: no checkpoint, WAL recovery at the start
        else:  # a crash too: SIGKILL; its append-only file (fsync always) keeps every write
            self.procs[name].kill()

    def start_service(self, name: str) -> None:
        if name == "postgres":
            assert self.pg is not None
            self.pg.start()
        else:
            self.procs[name].start(self.env)
            wait_port(self.redis_url or "")

    def revive(self) -> list[str]:
        """Start again the market's processes that exited on their own (what a supervisor
        such as systemd does); none should (`herbx engine` and the gateways ride out a Redis
        restart): counted in ``revived``, which the tests want 0."""
        dead = [p for p in self.procs.values()
                if p.name != "redis" and p.popen is not None and not p.alive()]
        for p in dead:
            p.start(self.env)
        self.revived += len(dead)
        return [p.name for p in dead]


def wait_port(url: str) -> None:
    host, port = url.split("//", 1)[1].split("/")[0].split(":")
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        with suppress(OSError), socket.create_connection((host, int(port)), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {url}")


async def wait_ready(http: Any, bases: list[str]) -> None:
    import aiohttp

    deadline = asyncio.get_running_loop().time() + READY_TIMEOUT_S
    for base in bases:
        while True:
            with suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
                async with http.get(f"{base}/readyz") as r:
                    if r.status == 200:
                        break
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"{base} not ready after {READY_TIMEOUT_S:.0f}s")
            await asyncio.sleep(0.05)


async def reads_served(http: Any, bases: list[str], down: str = "the engine") -> list[str]:
    """The public reads every gateway must answer while the engine (or Redis) is down."""
    from loadtest.chaos_load import SYMBOL

    failures = []
    for base in bases:
        for path in (f"/api/v1/instruments/{SYMBOL}/book", f"/api/v1/instruments/{SYMBOL}/trades",
                     "/api/v1/instruments"):
            try:
                async with http.get(f"{base}{path}") as r:
                    if r.status != 200:
                        failures.append(f"{base}{path}: {r.status} while {down} was down")
            except Exception as exc:  # noqa: BLE001 - any failure to answer is the finding
                failures.append(f"{base}{path}: {exc!r} while {down} was down")
    return failures


async def run(*, kills: int, seed: int, database_url: str | None, mode: str,
              data_dir: Path | None, consumer: bool, workers: int, subscribers: int,
              load_s: tuple[float, float], restart: tuple[str, ...] = (),
              only: tuple[str, ...] = (), out: Any = sys.stdout) -> dict[str, Any]:
    """One chaos run; ``only``: kill only these (default: any of `Cluster.victims`)."""
    import aiohttp

    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="herbx-chaos-"))
    data = data_dir or work / "data"
    data.mkdir(parents=True, exist_ok=True)
    pg = None
    if "postgres" in restart:  # never a server we do not own: a private cluster
        pg = PrivatePostgres(work / "pg", free_port())
        await asyncio.to_thread(pg.init)
        await asyncio.to_thread(pg.start)
        database_url = pg.url
    db_url = database_url and await fresh_schema(database_url)
    schema = db_url.rsplit("search_path=", 1)[1] if db_url else None
    cluster = Cluster(mode, data, work, db_url, consumer, database_schema=schema,
                      restart=restart, pg=pg)
    cluster.setup()
    t0 = time.monotonic()
    results: list[CheckResult] = []
    load: Load | None = None
    read_failures: list[str] = []
    outage_acks = 0  # orders acknowledged while a restarted service was down
    outage_503 = 0  # order entries answered 503 (a clear refusal) while a service was down
    outage_probes = 0  # probe orders refused clearly (503 problem+json) while Redis was down
    resume_s: list[float] = []  # from each restart to the first order acknowledged after it

    def say(line: str) -> None:
        print(f"[{time.monotonic() - t0:7.2f}s] {line}", file=out, flush=True)

    say(f"chaos: mode {mode}, {kills} kills, seed {seed}, data {data}, logs {work}"
        f"{', external ledger booker' if consumer else ''}"
        f"{', ledger in PostgreSQL' if db_url else ''}")
    run_failures: list[str] = []
    cluster.start_all()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            await wait_ready(http, cluster.gateways)
            if consumer:
                for name in EXTERNAL:
                    cluster.procs[name].start(cluster.env)
            load = Load(http, cluster.gateways, OPERATOR_TOKEN, rng=random.Random(seed + 1),
                        workers=workers, subscribers=subscribers)
            await load.setup()
            load.start()
            for k in range(1, kills + 1):
                await asyncio.sleep(rng.uniform(*load_s))
                victim = rng.choice(only or cluster.victims)
                acked_before = len(load.acked)
                if victim in restart:
                    await asyncio.to_thread(cluster.stop_service, victim)
                    down_from = len(load.acked)  # it is down now
                    refused_from = load.statuses[503]
                    say(f"kill {k}: {victim} stopped ({acked_before} orders acknowledged so "
                        f"far)")
                    await asyncio.sleep(rng.uniform(0.5, 1.5))  # the market without it
                    if victim == "redis":  # the gateways serve reads from their replicas
                        read_failures += await reads_served(http, cluster.gateways, "Redis")
                        for base in cluster.gateways:  # and refuse order entry clearly
                            problem = await load.probe(base)
                            if problem is None:
                                outage_probes += 1
                            else:
                                run_failures.append(f"an order on {base} while Redis was "
                                                    f"down: {problem}")
                    outage_acks += len(load.acked) - down_from
                    outage_503 += load.statuses[503] - refused_from
                    await asyncio.to_thread(cluster.start_service, victim)
                    await asyncio.sleep(0.3)
                else:
                    cluster.procs[victim].kill()
                    say(f"kill {k}: SIGKILL {victim} ({acked_before} orders acknowledged so "
                        f"far)")
                    await asyncio.sleep(rng.uniform(0.0, 0.3))  # load meets a dead market
                    if victim == "engine":  # the gateways keep serving reads meanwhile
                        read_failures += await reads_served(http, cluster.gateways)
                    cluster.procs[victim].start(cluster.env)
                restarted = time.monotonic()
                revived = cluster.revive()
                if revived:
                    say(f"  restarted {', '.join(revived)}, which had exited")
                await wait_ready(http, cluster.gateways)
                resume_s.append(await order_entry_resumes(load, len(load.acked), restarted))
                await asyncio.sleep(rng.uniform(0.1, 0.5))  # trading goes on after the restart
                await load.pause()
                res = await check_market(http, cluster, load)
                results.append(res)
                say(f"check {k}: {res.line()}")
                if not res.ok:
                    break
                load.resume()
            await load.stop()
    except Exception as exc:  # noqa: BLE001 - reported in the summary, which always comes
        run_failures.append(f"the run failed: {type(exc).__name__}: {exc}")
        say(run_failures[-1])
        if load is not None:
            with suppress(Exception):
                await load.stop()
    finally:
        codes = cluster.stop_all()
        if pg is not None:
            with suppress(Exception):
                await asyncio.to_thread(pg.stop, "fast")
    summary = summarize(results, load_acked=len(load.acked) if load else 0)
    summary["failures"] = run_failures + summary["failures"]
    if mode == "multi":
        summary["reads_while_engine_down_ok"] = not read_failures
        summary["failures"] += read_failures[:5]
    unclear = load.unclear if load else []
    summary["failures"] += [f"an unclear answer: {u}" for u in unclear[:5]]
    summary.update({"mode": mode, "seed": seed, "seconds": round(time.monotonic() - t0, 1),
                    "orders_sent": load.sent if load else 0,
                    "cancels": load.cancels if load else 0,
                    "ws_resyncs": load.resyncs() if load else 0,
                    "restart": list(restart), "acked_during_outages": outage_acks,
                    "refused_during_outages": outage_503, "probes_refused": outage_probes,
                    "unclear_answers": len(unclear),
                    "resume_s_max": round(max(resume_s, default=0.0), 2),
                    "victims": dict(sorted((n, p.kills) for n, p in cluster.procs.items()
                                           if p.kills)),
                    "revived": cluster.revived, "clean_exit": all(
                        c in (0, None) for n, c in codes.items() if n != "redis")})
    passed = not summary["failures"] and summary["reconcile_ok"] and summary["acked_lost"] == 0
    if passed and data_dir is None:
        shutil.rmtree(work, ignore_errors=True)  # keep the logs of a failed run
    else:
        summary["logs"] = str(work)
    if db_url and pg is None:  # a schema in someone's database: drop it, unless it failed
        if passed:
            await drop_schema(db_url)
        else:
            summary["ledger_schema"] = db_url.rsplit("search_path=", 1)[1]
    print(json.dumps(summary), file=out, flush=True)
    return summary


async def order_entry_resumes(load: Load, acked: int, since: float) -> float:
    """Seconds from ``since`` (the restart) until an order is acknowledged after ``acked``
    were; raises when none is within `RESUME_TIMEOUT_S` (order entry did not resume)."""
    deadline = time.monotonic() + RESUME_TIMEOUT_S
    while len(load.acked) <= acked:
        if time.monotonic() > deadline:
            raise RuntimeError(f"order entry did not resume: no order acknowledged in "
                               f"{RESUME_TIMEOUT_S:.0f}s after the restart")
        await asyncio.sleep(0.01)
    return time.monotonic() - since


def summarize(results: list[CheckResult], load_acked: int) -> dict[str, Any]:
    last = results[-1] if results else None
    return {
        "kills": len(results),
        "acked_orders": load_acked,
        "acked_lost": sum(r.acked_lost for r in results),
        "trades_booked": last.trades_booked if last else 0,
        "duplicates": sum(r.duplicates for r in results),
        "trial_balance": max((abs(r.trial_balance) for r in results), default=0),
        "reconcile_ok": bool(results) and all(r.reconcile_ok for r in results),
        "trades_journal": last.trades_journal if last else 0,
        "ticks_stored": last.ticks_stored if last else 0,
        "tick_duplicates": sum(r.tick_duplicates for r in results),
        "ticks_ok": bool(results) and all(r.ticks_ok for r in results),
        "ws_books_ok": bool(results) and all(r.ws_ok for r in results),
        "failures": [f for r in results for f in r.failures][:20],
    }


async def fresh_schema(url: str) -> str:
    """A new schema for this run's ledger, named in the URL (asyncpg passes unknown query
    parameters on as server settings: ``search_path``), so that `herbx reconcile` with the
    same URL reads the same ledger."""
    import asyncpg

    schema = f"herbx_chaos_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    return f"{url}{'&' if '?' in url else '?'}search_path={schema}"


async def drop_schema(url: str) -> None:
    import asyncpg

    base, schema = url.rsplit("search_path=", 1)
    conn = await asyncpg.connect(base.rstrip("?&"))
    try:
        for name in (schema, f"{schema}_ticks"):  # the ledger's, and the tick store's
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


def main(*, kills: int, seed: int, database_url: str | None, mode: str, data_dir: str | None,
         consumer: bool, workers: int = 8, subscribers: int = 3, restart: str = "",
         only: str = "") -> int:
    services = tuple(x for x in restart.split(",") if x)
    victims = tuple(x for x in only.split(",") if x)
    can = ["serve" if mode == "serve" else "engine", *(EXTERNAL if consumer else ()), *services]
    if any(v not in can for v in victims):
        print(f"herbx chaos: --only {only}: this run can kill {', '.join(can)}",
              file=sys.stderr)
        return 2
    if any(x not in ("redis", "postgres") for x in services):
        print(f"herbx chaos: --restart takes redis and/or postgres, not {restart}",
              file=sys.stderr)
        return 2
    if "redis" in services and mode != "multi":
        print("herbx chaos: --restart redis needs --mode multi", file=sys.stderr)
        return 2
    if "postgres" in services:
        if database_url:
            print("herbx chaos: --restart postgres runs a private cluster; it never stops the "
                  "server of --database-url", file=sys.stderr)
            return 2
        why = unavailable()
        if why:
            print(f"herbx chaos: --restart postgres: {why}", file=sys.stderr)
            return 2
    if mode not in ("serve", "multi"):
        print(f"herbx chaos: unknown --mode {mode}", file=sys.stderr)
        return 2
    if consumer and mode != "serve":
        print("herbx chaos: --consumer is for --mode serve (`herbx engine` books in process)",
              file=sys.stderr)
        return 2
    if data_dir and Path(data_dir).exists() and any(Path(data_dir).iterdir()):
        print(f"herbx chaos: {data_dir} is not empty (a chaos run needs a fresh market)",
              file=sys.stderr)
        return 2
    summary = asyncio.run(run(kills=kills, seed=seed, database_url=database_url, mode=mode,
                              data_dir=Path(data_dir) if data_dir else None, consumer=consumer,
                              workers=workers, subscribers=subscribers, load_s=(0.5, 2.0),
                              restart=services, only=victims))
    ok = (summary["kills"] == kills and summary["acked_lost"] == 0
          and summary.get("reads_while_engine_down_ok", True)
          and summary["duplicates"] == 0 and summary["trial_balance"] == 0
          and summary["reconcile_ok"] and summary["ws_books_ok"] and summary["ticks_ok"]
          and not summary["failures"])
    return 0 if ok else 1
