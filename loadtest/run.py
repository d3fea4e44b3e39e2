"""`herbx loadtest`: start a market, seed load participants, run locust headless, summarise.

Single process (``gateways`` 0): ``herbx serve --demo`` (the demo market and its bots are the
background trading). Multi-process (``gateways`` K ≥ 1): ``herbx engine`` and K ``herbx
gateway`` processes over Redis (127.0.0.1:6379 unless ``redis_url``) under a prefix of their
own, the instruments listed through the API. Either way the load participants (traders,
bidders, cooperatives with graded lots in custody on every traded book, analysts, a lab) are
created, equipped with tokens and funded through the operator API, so they never act as a demo
account. Locust runs as its own process (gevent and asyncio do not mix) with
`loadtest/locustfile.py`; its CSV and HTML reports, the server logs, the config and the summary
go to ``var/loadtest/<UTC time>/``. The summary's last line is one JSON object with ``users``,
``requests_per_s``, ``order_ack_p99_ms``, ``feed_p99_ms`` and ``failures`` (and more).

``database_url``: the ledger and the tick store in PostgreSQL, in schemas of the run's own
(``herbx_load_<run>`` and its ``_ticks``, dropped afterwards), for every process of the market:
without it a multi-process market's gateways keep no ledger or tick store and answer
statements and tick reads with 503 (``no_ledger``, ``ticks_unavailable``), as a real one would
not.

``profile``: py-spy samples the engine-owning process for the whole run (``pip install
py-spy``; not a project dependency) and the summary lists where its time went.

Never imports locust or gevent (that would monkey-patch this process).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import math
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from loadtest.bench.gateway import free_port

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
AUCTION_SYMBOL = "QUE-BARK-A"
GROWING_AREA = {"code": "LC-LOAD-0001", "issuer": "Chi cục Trồng trọt và BVTV Lào Cai",
                "valid_from": "2024-01-01"}
LOT_QTY = 10**8  # kg in custody per cooperative and book: a run never sells out


def parse_duration(text: str) -> int:
    """``90``, ``60s``, ``5m``, ``1h`` -> seconds."""
    m = re.fullmatch(r"\s*(\d+)\s*([smh]?)\s*", text)
    if not m:
        raise ValueError(f"duration {text!r}: use e.g. 60s, 5m, 1h")
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


# -- the market's processes -----------------------------------------------------------------------


class Market:
    """The processes of the market under test, their logs in ``out``."""

    def __init__(self, out: Path, gateways: int, redis_url: str,
                 database_url: str | None = None) -> None:
        self.out, self.gateways, self.redis_url = out, gateways, redis_url
        self.database_url = database_url
        self.schema = "herbx_load_" + out.name.lower()  # the run's UTC time: [0-9tz]
        self.data = out / "data"
        self.operator = "hx_load_" + secrets.token_hex(12)
        self.prefix = f"herbx-load-{out.name}"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.hosts: list[str] = []

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        env = {**os.environ, "HERBX_OPERATOR_TOKEN": self.operator}
        with open(self.out / f"{name}.log", "wb") as log:
            p = subprocess.Popen([sys.executable, "-m", "gateway.cli", *args], cwd=ROOT,
                                 env=env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def _wait_ready(self, base: str, proc: subprocess.Popen[bytes], name: str) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited: " +
                                   (self.out / f"{name}.log").read_text(errors="replace")[-2000:])
            with contextlib.suppress(OSError), \
                    urllib.request.urlopen(f"{base}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not become ready")

    def start(self) -> None:
        common = ["--data-dir", str(self.data), "--log-level", "warning"]
        if self.database_url:
            common += ["--database-url", self.database_url, "--database-schema", self.schema]
        if self.gateways == 0:
            port = free_port()
            p = self._spawn("serve", ["serve", "--demo", "--port", str(port), *common])
            self.hosts.append(f"http://127.0.0.1:{port}")
            self._wait_ready(self.hosts[0], p, "serve")
            return
        redis = ["--redis-url", self.redis_url, "--redis-prefix", self.prefix]
        self._spawn("engine", ["engine", *redis, *common])
        for k in range(self.gateways):  # one at a time: the first creates the operator
            port = free_port()
            p = self._spawn(f"gateway-{k + 1}", ["gateway", "--port", str(port), *redis,
                                                 *common])
            self.hosts.append(f"http://127.0.0.1:{port}")
            self._wait_ready(self.hosts[-1], p, f"gateway-{k + 1}")

    def cpu_seconds(self) -> float:
        """CPU time the market's processes have used so far (Linux /proc)."""
        total = 0
        for p in self.procs:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        return total / os.sysconf("SC_CLK_TCK")

    @property
    def engine_pid(self) -> int:
        return self.procs[0].pid  # serve, or the engine

    def stop(self) -> None:
        for p in reversed(self.procs):  # gateways first, the engine last
            if p.poll() is None:
                p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.gateways:
            self._drop_streams()
        if self.database_url:
            self._drop_schemas()

    def _drop_schemas(self) -> None:
        async def drop() -> None:
            import asyncpg

            conn = await asyncpg.connect(self.database_url)
            try:
                for schema in (self.schema, f"{self.schema}_ticks"):
                    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await conn.close()

        try:
            asyncio.run(drop())
        except Exception as exc:  # the run's figures stand; say what is left behind
            print(f"loadtest: could not drop schema {self.schema}: {exc}", file=sys.stderr)

    def _drop_streams(self) -> None:
        async def drop() -> None:
            import redis.asyncio as aioredis

            r = aioredis.from_url(self.redis_url)
            try:
                keys = [k async for k in r.scan_iter(f"{self.prefix}:*")]
                if keys:
                    await r.delete(*keys)
            finally:
                await r.aclose()

        with contextlib.suppress(Exception):
            asyncio.run(drop())


# -- seeding through the API ----------------------------------------------------------------------


def pools(users: int) -> dict[str, int]:
    """Participants per user class: users of a class share them, a few users each."""
    def n(share: float, per: int, cap: int) -> int:
        return max(1, min(cap, math.ceil(users * share / per)))

    return {"traders": n(0.6, 4, 150), "bidders": n(0.15, 2, 60),
            "cooperatives": n(0.15, 4, 40), "analysts": n(0.1, 4, 20)}


def assay_figures(specs: list[str]) -> dict[str, list[dict[str, str]]]:
    """Grade A assay results per herb spec (the demo's figures, `gateway.demo.market`)."""
    from types import SimpleNamespace

    from gateway.demo.market import assay_results
    from grading.catalogue import load_catalogue

    gw = SimpleNamespace(catalogue=load_catalogue())  # what `assay_results` reads
    return {spec: [{"parameter": r.parameter, "value": str(r.value), "unit": r.unit}
                   for r in assay_results(gw, spec, "A")]  # type: ignore[arg-type]
            for spec in specs}


class Seeder:
    """REST calls as the operator and the participants it creates; a 429 waits its
    Retry-After (the rate limit is per token and seeding is a burst)."""

    def __init__(self, base: str, operator: str) -> None:
        self.base, self.operator = base, operator
        self.gate = asyncio.Semaphore(16)

    async def call(self, http: Any, method: str, path: str, token: str,
                   body: Any = None) -> Any:
        async with self.gate:
            for _ in range(100):
                async with http.request(method, self.base + path, json=body,
                                        headers={"Authorization": f"Bearer {token}"}) as r:
                    data = await r.json(content_type=None)
                    if r.status == 429:
                        await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                        continue
                    if r.status >= 400:
                        raise RuntimeError(f"seeding: {method} {path}: {r.status} {data}")
                    return data
        raise RuntimeError(f"seeding: {method} {path}: still rate limited")

    async def participant(self, http: Any, pid: str, role: str, number: int = 0) -> str:
        op = self.operator
        await self.call(http, "POST", "/api/v1/participants", op,
                        {"id": pid, "name": f"Load {pid}", "role": role, "number": number})
        return str((await self.call(http, "POST", f"/api/v1/participants/{pid}/tokens",
                                    op))["token"])

    async def lot(self, http: Any, coop: str, token: str, lab: str, spec: str, lot_id: str,
                  assays: list[dict[str, str]], harvest: str) -> None:
        await self.call(http, "POST", "/api/v1/lots", token, {
            "lot_id": lot_id, "spec_id": spec, "qty": LOT_QTY, "harvest_date": harvest,
            "growing_area": GROWING_AREA, "commune": "Xã Dương Quỳ"})
        await self.call(http, "POST", f"/api/v1/lots/{lot_id}/assays", lab,
                        {"sample_id": f"S-{lot_id}", "results": assays})
        await self.call(http, "POST", f"/api/v1/lots/{lot_id}/receive", self.operator,
                        {"qty_received": LOT_QTY})
        await self.call(http, "POST", f"/api/v1/lots/{lot_id}/list", token, {"venue": "book"})


async def seed(base: str, operator: str, users: int, symbols: int,
               listed: bool) -> dict[str, Any]:
    """Instruments (unless the demo listed them), then the load participants; returns the
    locustfile's config (hosts added by the caller)."""
    import aiohttp

    from gateway.demo.market import fair_price
    from grading.catalogue import load_catalogue
    from grading.instruments import instruments

    s = Seeder(base, operator)
    harvest = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86_400 * 20))
    async with aiohttp.ClientSession() as http:
        if not listed:
            await asyncio.gather(*(s.call(http, "POST", "/api/v1/instruments", operator, {
                "symbol": i.symbol, "herb": i.herb, "grade": i.grade, "unit": i.unit,
                "tick_vnd": i.tick_vnd, "band_bps": 2_000,
                "ref_price_vnd": fair_price(i.spec_id, i.grade, i.tick_vnd)})
                for i in instruments(load_catalogue())))
        insts = (await s.call(http, "GET", "/api/v1/instruments", operator))["instruments"]
        all_syms = [{"symbol": i["symbol"], "tick": i["tick_vnd"], "band_bps": i["band_bps"],
                     "ref": i["last_price"] or i["ref_price_vnd"],
                     "spec": i["symbol"].rsplit("-", 1)[0]} for i in insts]
        traded = [x for x in all_syms if x["symbol"].endswith("-A")][:symbols]
        assays = assay_figures(sorted({x["spec"] for x in traded}))
        n = pools(users)
        lab = await s.participant(http, "LD-LAB", "lab")
        people: dict[str, list[dict[str, Any]]] = {}
        roles = {"traders": ("LD-T", "trader"), "bidders": ("LD-B", "trader"),
                 "cooperatives": ("LD-C", "cooperative"), "analysts": ("LD-A", "analyst"),
                 "auctioneers": ("LD-AU", "cooperative")}
        for kind, (prefix, role) in roles.items():
            count = 1 if kind == "auctioneers" else n[kind]
            ids = [f"{prefix}{i:03d}" for i in range(1, count + 1)]
            numbers = [500 + 100 * list(roles).index(kind) + i for i in range(count)]
            tokens = await asyncio.gather(*(s.participant(http, pid, role, no)
                                            for pid, no in zip(ids, numbers, strict=True)))
            people[kind] = [{"id": pid, "token": t} for pid, t in zip(ids, tokens, strict=True)]
        await asyncio.gather(*(s.call(http, "POST", "/api/v1/deposits", operator,
                                      {"account": p["id"], "amount_vnd": 10**13})
                               for kind in ("traders", "bidders") for p in people[kind]))
        await asyncio.gather(*(s.lot(http, p["id"], p["token"], lab, x["spec"],
                                     f"LD{i:03d}-{j:02d}", assays[x["spec"]], harvest)
                               for i, p in enumerate(people["cooperatives"])
                               for j, x in enumerate(traded)))
    auction = next(x for x in all_syms if x["symbol"] == AUCTION_SYMBOL)
    assays.setdefault(auction["spec"], assay_figures([auction["spec"]])[auction["spec"]])
    return {"symbols": traded, "all_symbols": all_syms, "assays": assays, "lab": lab,
            "operator": operator, "auction_symbol": auction, "harvest_date": harvest,
            "growing_area": GROWING_AREA, **people}


# -- locust and its figures -----------------------------------------------------------------------


def listen_drops() -> int:
    """The kernel's count of connections dropped because a listen queue was full
    (``TcpExt ListenDrops``; this network namespace, every listener in it)."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        lines = [ln.split() for ln in Path("/proc/net/netstat").read_text().splitlines()
                 if ln.startswith("TcpExt:")]
        names, values = lines[0], lines[1]
        return int(values[names.index("ListenDrops")])
    return 0


def run_locust(out: Path, config: Path, users: int, seconds: int, processes: int,
               profile: bool = False) -> tuple[int, float]:
    """Locust's exit code and the CPU seconds it used (its own and its workers', from
    ``wait4``: not the profiler's, which is another child of this process)."""
    spawn_rate = max(1, min(users, 100))
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
           "-u", str(users), "-r", str(spawn_rate), "-t", f"{seconds}s",
           "--csv", str(out / "locust"), "--html", str(out / "report.html"),
           "--only-summary", "--stop-timeout", "5",
           "--exit-code-on-error", "0", "--loglevel", "WARNING"]
    if processes != 1:
        cmd += ["--processes", str(processes)]
    # GEVENT_RESOLVER=block: the hosts are IP literals, so resolving needs no thread pool (the
    # default resolver's hand-off to its threads took ~8% of locust's time, once per socket)
    env = {**os.environ, "HERBX_LOAD_CONFIG": str(config), "PYTHONPATH": str(ROOT),
           "GEVENT_RESOLVER": "block"}
    with open(out / "locust.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    # the load generator is profiled too: its CPU per request matters as much as the market's
    # when both share the machine (with --processes, py-spy follows the forked workers)
    spy = start_profile(out, proc.pid, seconds, "locust-profile.txt",
                        children=processes != 1) if profile else None
    deadline = time.monotonic() + seconds + 300
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            proc.kill()
        time.sleep(0.2)
    if spy is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            spy.wait(60)
    return proc.returncode, usage.ru_utime + usage.ru_stime


def read_stats(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _num(row: dict[str, Any], key: str) -> float:
    value = row.get(key) or "0"
    return 0.0 if value == "N/A" else float(value)


#: request types that are not requests to the market: feed messages, checks, refusal counts
NOT_REQUESTS = frozenset({"FEED", "REFUSED", "CHECK"})


def summarise(rows: list[dict[str, Any]], users: int, gateways: int,
              seconds: int) -> dict[str, Any]:
    rows = [r for r in rows if r["Name"] != "Aggregated"]
    reqs = [r for r in rows if r["Type"] not in NOT_REQUESTS]
    feed = [r for r in rows if r["Type"] == "FEED" and _num(r, "Request Count")]
    orders = [r for r in rows if r["Name"] == "POST /api/v1/orders"]
    refusals = {r["Name"]: int(_num(r, "Request Count")) for r in rows if r["Type"] == "REFUSED"}
    failures = sum(int(_num(r, "Failure Count")) for r in rows)
    return {
        "users": users, "gateways": gateways, "duration_s": seconds,
        "requests_per_s": round(sum(_num(r, "Requests/s") for r in reqs), 1),
        "requests": int(sum(_num(r, "Request Count") for r in reqs)),
        "order_ack_p50_ms": _num(orders[0], "50%") if orders else None,
        "order_ack_p99_ms": _num(orders[0], "99%") if orders else None,
        # the worst channel's p99 (locust keeps percentiles per row; they do not add up)
        "feed_p99_ms": max((_num(r, "99%") for r in feed), default=None),
        "feed_messages": int(sum(_num(r, "Request Count") for r in feed)),
        "failures": failures,
        "deliberate_refusals": sum(refusals.values()),
        "refusals": refusals,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'type':<8} {'name':<44} {'count':>8} {'fail':>5} {'/s':>7} "
             f"{'p50':>6} {'p95':>6} {'p99':>6}  (ms)"]
    for r in sorted((r for r in rows if r["Name"] != "Aggregated"),
                    key=lambda r: (r["Type"], -_num(r, "Request Count"))):
        if r["Type"] == "REFUSED":
            continue
        lines.append(f"{r['Type']:<8} {r['Name'][:44]:<44} {int(_num(r, 'Request Count')):>8} "
                     f"{int(_num(r, 'Failure Count')):>5} {_num(r, 'Requests/s'):>7.1f} "
                     f"{r['50%']:>6} {r['95%']:>6} {r['99%']:>6}")
    return "\n".join(lines)


def failure_lines(path: Path, limit: int = 8) -> list[str]:
    if not path.exists():
        return []
    rows = sorted(read_stats(path), key=lambda r: -int(r["Occurrences"]))
    return [f"  {r['Occurrences']:>6}x {r['Method']} {r['Name']}: {r['Error'][:90]}"
            for r in rows[:limit]]


# -- profile --------------------------------------------------------------------------------------


def start_profile(out: Path, pid: int, seconds: int, name: str = "server-profile.txt",
                  children: bool = False) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("loadtest: --profile needs py-spy (.venv/bin/pip install py-spy)", file=sys.stderr)
        return None
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(seconds),
                             "--rate", str(PROFILE_RATE), "--format", "raw", "--nonblocking",
                             # only the thread holding the GIL: where the process's one
                             # Python core goes (a thread waiting for the GIL or for a CPU
                             # is not counted as busy)
                             "--gil", "--threads", *(["--subprocesses"] if children else []),
                             "--output", str(out / name)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


PROFILE_RATE = 200  # py-spy samples per second


def profile_top(path: Path, seconds: int, n: int = 15) -> list[str]:
    """From py-spy's collapsed stacks (``--gil --threads``): how much of the run each thread
    held the GIL (py-spy samples only the thread holding it; not one that sleeps in a system
    call such as the event loop's poll or fdatasync, nor one waiting for the GIL), then the
    functions with the most samples on top of the stack (self) and anywhere on it
    (inclusive)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        k = int(count)
        head, *frames = stack.split(";")
        threads[re.sub(r"^thread \(\d+\): ", "", head).rstrip("_0123456789")] += k
        frames = [re.sub(r" \(/.*/(site-packages/)?", " (", f) for f in frames] or [head]
        total += k
        own[frames[-1]] += k
        for f in set(frames):
            inclusive[f] += k
    if not total:
        return []
    out = ["  threads, share of the run's wall time they held the GIL: " + ", ".join(
        f"{name} {100 * c / (PROFILE_RATE * seconds):.0f}%" for name, c in threads.most_common(4))]
    out.append(f"  samples {total}; self time:")
    out += [f"  {100 * c / total:5.1f}%  {f[:110]}" for f, c in own.most_common(n)]
    out.append("  on the stack (inclusive):")
    out += [f"  {100 * c / total:5.1f}%  {f[:110]}" for f, c in inclusive.most_common(n)
            if not f.startswith(("<module>", "run (", "_run_once", "run_forever",
                                 "run_until_complete", "main (", "serve ("))][:n]
    return out


#: main-thread samples by the first frame that names an area (else the event loop's C code)
AREAS = (("Pipeline", "pipeline: stamp, engine, journal hand-off, publish and WebSocket push"),
         ("_handle_request", "HTTP: parse, route, handle, reply"),
         ("RequestHandler", "HTTP: parse, route, handle, reply"),
         ("gateway/stream", "market data and WebSocket outside the pipeline"),
         ("gateway/demo", "demo bots"))


def profile_areas(path: Path) -> list[str]:
    """The main thread's samples by area of the server."""
    areas: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or "MainThread" not in stack.split(";", 1)[0]:
            continue
        area = next((name for key, name in AREAS if key in stack),
                    "event loop (uvloop's C code: socket reads and writes, timers)")
        areas[area] += int(count)
    total = sum(areas.values()) or 1
    return ["  main thread by area:"] + [f"  {100 * c / total:5.1f}%  {a}"
                                         for a, c in areas.most_common()]


# -- the command ----------------------------------------------------------------------------------


def main(*, users: int, duration: str, gateways: int = 0, symbols: int = 8,
         redis_url: str = "redis://127.0.0.1:6379/0", processes: int = 1,
         profile: bool = False, out_root: str = "var/loadtest",
         database_url: str | None = None) -> int:
    seconds = parse_duration(duration)
    out = Path(out_root).resolve() / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out.mkdir(parents=True)
    market = Market(out, gateways, redis_url, database_url)
    mode = "single process (herbx serve --demo)" if gateways == 0 else \
        f"herbx engine + {gateways} herbx gateway over Redis"
    if database_url:
        mode += f", ledger and ticks in PostgreSQL (schema {market.schema})"
    print(f"loadtest: {users} users for {seconds} s, {mode}; reports in {out}", flush=True)
    try:
        market.start()
        config = asyncio.run(seed(market.hosts[0], market.operator, users, symbols,
                                  listed=gateways == 0))
        config["hosts"] = market.hosts
        config_path = out / "config.json"
        config_path.write_text(json.dumps(config, indent=1))
        print(f"loadtest: seeded {sum(len(config[k]) for k in pools(users))} load "
              f"participants, {len(config['symbols'])} books; running locust ...", flush=True)
        spy = start_profile(out, market.engine_pid, seconds) if profile else None
        market_cpu0, load0, drops0 = market.cpu_seconds(), time.monotonic(), listen_drops()
        code, locust_s = run_locust(out, config_path, users, seconds, processes, profile)
        wall = time.monotonic() - load0
        market_s = market.cpu_seconds() - market_cpu0
        cpu = {"market": round(market_s / wall, 3), "locust": round(locust_s / wall, 3),
               "market_cpu_s": round(market_s, 1), "locust_cpu_s": round(locust_s, 1),
               "wall_s": round(wall, 1), "load_average_1min": round(os.getloadavg()[0], 1)}
        drops = listen_drops() - drops0
        if spy is not None:
            spy.wait(60)
    finally:
        market.stop()
    stats = out / "locust_stats.csv"
    if not stats.exists():
        print((out / "locust.log").read_text(errors="replace")[-3000:], file=sys.stderr)
        print(f"loadtest: locust wrote no statistics (exit {code})", file=sys.stderr)
        return 1
    rows = read_stats(stats)
    summary = summarise(rows, users, gateways, seconds)
    summary["machine"] = f"{os.cpu_count()} cpu, {sys.platform}"
    # CPU per request (feed included): the figure that does not depend on how much of the
    # machine the run got
    for who in ("market", "locust"):
        cpu[f"{who}_cpu_ms_per_request"] = round(
            1000 * cpu[f"{who}_cpu_s"] / max(1, summary["requests"]), 3)
    summary["cpu_cores_used"] = cpu
    # connections the kernel dropped at a full accept queue during the run (the machine's
    # count: another program's listener would show here too); each costs its client 1-60 s
    summary["listen_drops"] = drops
    summary["reports"] = str(out)
    print(table(rows))
    fails = failure_lines(out / "locust_failures.csv")
    if fails:
        print("failures:")
        print("\n".join(fails))
    if summary["refusals"]:
        print("deliberate refusals (successes of their requests): " +
              ", ".join(f"{k} {v}" for k, v in sorted(summary["refusals"].items())))
    if profile and (out / "server-profile.txt").exists():
        top = profile_top(out / "server-profile.txt", seconds)
        top[1:1] = profile_areas(out / "server-profile.txt")
        (out / "server-profile-top.txt").write_text("\n".join(top) + "\n")
        print("where the server's time went (py-spy):")
        print("\n".join(top[:19]))
    if profile and (out / "locust-profile.txt").exists():
        top = profile_top(out / "locust-profile.txt", seconds)
        (out / "locust-profile-top.txt").write_text("\n".join(top) + "\n")
        print("where locust's time went (py-spy): " + str(out / "locust-profile-top.txt"))
    print(f"CPU cores used during the run: market {cpu['market']} ({cpu['market_cpu_s']} s), "
          f"locust {cpu['locust']} ({cpu['locust_cpu_s']} s) in {cpu['wall_s']} s; load "
          f"average {cpu['load_average_1min']} on {os.cpu_count()} cores; per request "
          f"market {cpu['market_cpu_ms_per_request']} ms, locust "
          f"{cpu['locust_cpu_ms_per_request']} ms; connections dropped at a full accept "
          f"queue: {drops}")
    print(f"throughput {summary['requests_per_s']} req/s, order ack p99 "
          f"{summary['order_ack_p99_ms']} ms, feed p99 {summary['feed_p99_ms']} ms, "
          f"failures {summary['failures']}")
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))
    return 0
