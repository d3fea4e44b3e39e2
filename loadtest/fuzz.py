"""`herbx fuzz`: fuzzing that stays — schemathesis against the served OpenAPI document and
hostile WebSocket frames, then a SIGKILL and a restart that must keep every acknowledged order.

One campaign (`campaign`), used at length by ``make fuzz`` and, bounded, by
``tests/gateway/test_fuzz_restart.py``:

1. ``herbx serve`` on a fresh data directory; a trader, a cooperative with a lot in custody, a
   lab, an analyst, one instrument, cash, one resting order (so ids exist to find).
2. ``st run`` once per role (trader, cooperative, lab, analyst, operator) over every phase —
   examples, coverage, fuzzing and stateful (the links between operations are inferred by
   schemathesis from the document: an order's id feeds GET/PATCH/DELETE of that order, and so
   on) — with the checks ``not_a_server_error`` and ``response_schema_conformance``: no 5xx,
   and every documented response matches its schema.
3. ``ws_examples`` WebSocket frames drawn by `frames` (random JSON, truncated JSON, huge
   numbers, deep nesting, invalid UTF-8 in a text frame, binary frames, unknown channels and
   ops): each is answered with an error or a clean protocol close (never 1011, never a dropped
   TCP connection), and the server still answers a ping on a new connection.
4. SIGKILL (no clean shutdown), start again: every order the server acknowledged (201 in the
   HAR files) is there with its client order id, and the state read through the API is what
   it was before the kill.

The last line of ``herbx fuzz`` is one JSON object: ``cases`` tried, ``failures``, and more.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from loadtest.bench.gateway import free_port

ROOT = Path(__file__).resolve().parents[1]
OPERATOR = "hx_fuzz_operator_token_0123456789ab"
SYMBOL = "QUE-BARK-A"
LOT = "LOT-C1"  # the cooperative's lot, listed on the book (something to list, delist, sell)
ROLES = (("T1", "trader"), ("C1", "cooperative"), ("L1", "lab"), ("A1", "analyst"))
#: close codes a server may use on a hostile frame: going away, protocol error, unsupported
#: data, invalid payload (UTF-8), policy violation, too big. 1011 (internal error) is a bug.
CLEAN_CLOSES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009})


class Server:
    """``herbx serve`` in a subprocess on ``data_dir`` (rate limits off: the fuzzer is one
    token making thousands of requests)."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir, self.port = data_dir, port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "HERBX_OPERATOR_TOKEN": OPERATOR}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log = self.data_dir.parent / f"server-{time.monotonic_ns()}.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve", "--data-dir", str(self.data_dir),
                 "--port", str(self.port), "--tick-ms", "200", "--rate-per-s", "100000",
                 "--rate-burst", "100000"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited:\n" + self.log_text())
            try:
                if self.call("GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become ready\n" + self.log_text())

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def call(self, method: str, path: str, token: str | None = None,
             body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")


def seed_market(server: Server) -> tuple[dict[str, str], dict[int, str]]:
    """Participants with tokens, the instrument, cash, a lot in custody and one resting order;
    returns the tokens (by participant and by role) and the acknowledged order."""
    tokens = {"operator": OPERATOR}
    for pid, role in ROLES:
        status, body = server.call("POST", "/api/v1/participants", OPERATOR,
                                   {"id": pid, "name": pid, "role": role, "number": 7})
        assert status == 201, body
        status, body = server.call("POST", f"/api/v1/participants/{pid}/tokens", OPERATOR)
        tokens[pid] = tokens[role] = body["token"]
    steps: list[tuple[str, str, str, Any]] = [
        ("POST", "/api/v1/instruments", OPERATOR,
         {"symbol": SYMBOL, "herb": "QUE", "grade": "A", "tick_vnd": 100}),
        ("POST", "/api/v1/deposits", OPERATOR, {"account": "T1", "amount_vnd": 10**12}),
    ]
    for method, path, token, body in steps:
        status, answer = server.call(method, path, token, body)
        assert status == 201, answer
    from loadtest.run import assay_figures

    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86_400 * 20))
    lot_steps: list[tuple[str, str, str, Any]] = [
        ("POST", "/api/v1/lots", tokens["C1"], {
            "lot_id": LOT, "spec_id": "QUE-BARK", "qty": 5_000, "harvest_date": day,
            "commune": "Xã Dương Quỳ", "growing_area": {
                "code": "LC-FUZZ-0001", "issuer": "fuzz", "valid_from": "2024-01-01"}}),
        ("POST", f"/api/v1/lots/{LOT}/assays", tokens["L1"],
         {"sample_id": "S-fuzz", "results": assay_figures(["QUE-BARK"])["QUE-BARK"]}),
        ("POST", f"/api/v1/lots/{LOT}/receive", OPERATOR, {"qty_received": 5_000}),
        ("POST", f"/api/v1/lots/{LOT}/list", tokens["C1"], {"venue": "book"}),
    ]
    for method, path, token, body in lot_steps:
        status, answer = server.call(method, path, token, body)
        assert status in (200, 201), (path, answer)
    status, body = server.call("POST", "/api/v1/orders", tokens["T1"], {
        "symbol": SYMBOL, "side": "buy", "price": 60_000, "qty": 10,
        "client_order_id": "seed-1"})
    assert status == 201, body
    return tokens, {body["order_id"]: "seed-1"}


def operations_of(server: Server, role: str) -> list[str]:
    """Operation ids the role may call (``x-roles`` of the served document; public ones too),
    so that a role's examples are spent where it gets past the role check (a 403 for every
    other operation is tested in tests/gateway/test_gateway_roles.py)."""
    doc = server.call("GET", "/api/v1/openapi.json")[1]
    return sorted(op["operationId"] for ops in doc["paths"].values() for op in ops.values()
                  if isinstance(op, dict) and "operationId" in op
                  and ("x-roles" not in op or role in op["x-roles"]))


def schemathesis(server: Server, token: str, out: Path, name: str, *, seed: int,
                 examples: int, operations: list[str] | None = None,
                 phases: str = "examples,coverage,fuzzing,stateful",
                 checks: str = "not_a_server_error,response_schema_conformance",
                 ) -> dict[str, Any]:
    """One ``st run`` as the holder of ``token`` (over ``operations``, default all); its JSON
    report's figures and the HAR path."""
    st_bin = Path(sys.executable).with_name("st")
    har, report = out / f"{name}.har", out / f"{name}.json"
    include = [arg for op in operations or [] if op != "revoke_tokens"
               for arg in ("--include-operation-id", op)]
    result = subprocess.run(
        [str(st_bin), "run", f"{server.base}/api/v1/openapi.json",
         "-H", f"Authorization: Bearer {token}", "--checks", checks,
         "--max-examples", str(examples), "--seed", str(seed), "--workers", "2", "--no-color",
         "--output-sanitize", "false",  # the HAR keeps Idempotency-Key values as sent
         "--phases", phases, "--generation-database", "none", "--request-timeout", "20",
         "--report", "har,json", "--report-har-path", str(har),
         "--report-json-path", str(report),
         # revoking tokens would lock the fuzzer out of its own market (it may: it registers
         # a second operator, then revokes the first one's tokens)
         "--exclude-operation-id", "revoke_tokens", *include],
        capture_output=True, text=True, timeout=3600, cwd=out)
    (out / f"{name}.txt").write_text(result.stdout + result.stderr)
    if not report.exists():
        raise RuntimeError(f"schemathesis wrote no report ({result.returncode}):\n"
                           + result.stdout[-3000:] + result.stderr[-2000:])
    data = json.loads(report.read_text())
    cases = data["test_cases"]
    return {"cases": cases["generated"], "failures": cases["unique_failures"],
            "errors": len(data["errors"]), "exit_code": result.returncode, "har": str(har),
            "tail": "" if result.returncode == 0 else result.stdout[-4000:]}


def acknowledged_orders(har: Path) -> dict[int, str]:
    """order id -> client order id of every order the server answered 201 to."""
    acked: dict[int, str] = {}
    if not har.exists():
        return acked
    for entry in json.loads(har.read_text())["log"]["entries"]:
        req, resp = entry["request"], entry["response"]
        if (req["method"] == "POST" and req["url"].endswith("/api/v1/orders")
                and resp["status"] == 201):
            body = json.loads(resp["content"]["text"])
            acked[body["order_id"]] = body["client_order_id"]
    return acked


def state(server: Server, tokens: dict[str, str]) -> dict[str, Any]:
    """The market as the API shows it: orders and balances, instruments, participants, books."""
    out: dict[str, Any] = {}
    for who in ("T1", "C1"):
        out[f"orders {who}"] = server.call("GET", "/api/v1/orders?status=all&limit=1000",
                                           tokens[who])
        out[f"balances {who}"] = server.call("GET", "/api/v1/balances", tokens[who])
    out["instruments"] = server.call("GET", "/api/v1/instruments")
    out["participants"] = server.call("GET", "/api/v1/participants", OPERATOR)
    for sym in [i["symbol"] for i in out["instruments"][1]["instruments"]]:
        book = server.call("GET", f"/api/v1/instruments/{sym}/book?depth=1000")
        out[f"book {sym}"] = (book[0], {k: book[1][k] for k in ("bids", "asks", "checksum")})
    return out


# -- WebSocket frames -----------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**80), 2**80) | st.text(max_size=30)
    | st.sampled_from(["book:QUE-BARK-A", "trades:NOPE", "weather", "book:", "orders", "op"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12)
_OPS = st.sampled_from(["subscribe", "unsubscribe", "snapshot", "order", "cancel", "replace",
                        "bid", "dutch_buy", "ping", "auth", "", "SUBSCRIBE", "nope", "__proto__"])
_CHANNELS = st.lists(st.one_of(
    st.sampled_from(["book:QUE-BARK-A", "trades:QUE-BARK-A", "ticker", "orders", "auctions"]),
    st.sampled_from(["book:NOPE", "weather", "book:", ":", "auction:-1", "auction:99999999",
                     "book:QUE-BARK-A\x00", "BOOK:QUE-BARK-A", "trades:" + "X" * 300]),
    st.text(max_size=40)), max_size=70)
#: numbers as JSON text: past int64, past a double, and longer than Python's int parsing limit
_HUGE = st.sampled_from(["1" + "0" * 30, "-1" + "0" * 30, str(2**63), str(2**64 + 1), "1e308",
                         "-1e999", "1e999", "1" + "0" * 5000, "0." + "0" * 400 + "1"])


def _nest(depth: int, kind: str) -> str:
    return ("[" * depth + "]" * depth) if kind == "list" else ('{"a":' * depth + "1"
                                                                + "}" * depth)


@st.composite
def frames(draw: st.DrawFn) -> tuple[str, bytes]:
    """One hostile WebSocket frame: (``text`` | ``binary``, payload bytes). A ``text``
    payload may be invalid UTF-8 on purpose."""
    kind = draw(st.sampled_from(["json", "op", "channels", "truncated", "huge", "deep",
                                 "utf8", "binary", "garbage"]))
    if kind == "json":
        return "text", json.dumps(draw(_JSON)).encode()
    if kind in ("op", "huge"):
        msg: dict[str, Any] = {"op": draw(_OPS), "req_id": draw(_JSON)}
        huge: dict[str, str] = {}
        for key in draw(st.lists(st.sampled_from(
                ["order_id", "price", "qty", "auction_id", "symbol", "channel", "token"]),
                max_size=4)):
            if kind == "huge":
                huge[f'"@huge-{key}@"'] = draw(_HUGE)
                msg[key] = f"@huge-{key}@"
            else:
                msg[key] = draw(_JSON)
        text = json.dumps(msg)
        for marker, number in huge.items():  # spliced in as bare JSON numbers
            text = text.replace(marker, number)
        return "text", text.encode()
    if kind == "channels":
        return "text", json.dumps({"op": draw(st.sampled_from(["subscribe", "unsubscribe"])),
                                   "channels": draw(_CHANNELS)}).encode()
    if kind == "truncated":
        whole = json.dumps({"op": "subscribe", "channels": ["book:QUE-BARK-A"],
                            "req_id": draw(_JSON)}).encode()
        return "text", whole[:draw(st.integers(0, max(0, len(whole) - 1)))]
    if kind == "deep":
        return "text", _nest(draw(st.sampled_from([50, 1_000, 5_000, 8_000])),
                             draw(st.sampled_from(["list", "dict"]))).encode()
    if kind == "utf8":
        good = json.dumps({"op": "subscribe", "channels": ["book:QUE-BARK-A"]}).encode()
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80",
                                    b"\xe2\x82"]))
        at = draw(st.integers(0, len(good)))
        return "text", good[:at] + bad + good[at:]
    if kind == "binary":
        return "binary", draw(st.binary(max_size=200))
    return "text", draw(st.binary(max_size=200)).decode("latin-1").encode()


async def probe(url: str, frame: tuple[str, bytes]) -> str:
    """Send one frame, then a ping. Returns ``"answered"`` (the server answered, with an error
    or otherwise, and the connection still works) or ``"closed <code>"`` (a clean protocol
    close); raises AssertionError on a 1011, a dropped connection or a server that hangs."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    kind, payload = frame
    async with connect(url, max_size=None, compression=None) as ws:
        try:
            # text=True sends the bytes as a text frame as they are: invalid UTF-8 included
            await ws.send(payload, text=kind == "text")
            await ws.send(json.dumps({"op": "ping", "req_id": "probe"}))
            async with asyncio.timeout(10):
                while True:
                    msg = json.loads(await ws.recv())
                    if msg.get("type") == "pong" and msg.get("req_id") == "probe":
                        return "answered"
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            assert rcvd is not None, f"the server dropped the connection without a close: {frame}"
            assert rcvd.code in CLEAN_CLOSES, f"close {rcvd.code} {rcvd.reason!r} on {frame}"
            return f"closed {rcvd.code}"


async def alive(url: str) -> None:
    """A new connection gets a pong: the server took the hostile frames in its stride."""
    from websockets.asyncio.client import connect

    async with connect(url) as ws:
        await ws.send(json.dumps({"op": "ping"}))
        async with asyncio.timeout(10):
            while json.loads(await ws.recv()).get("type") != "pong":
                pass


def ws_fuzz(url: str, examples: int, seed: int) -> dict[str, Any]:
    """``examples`` frames from `frames` through `probe`; hypothesis shrinks a failure."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed

    outcomes: dict[str, int] = {}

    @hypothesis_seed(seed)
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(frame=frames())
    def one(frame: tuple[str, bytes]) -> None:
        outcome = asyncio.run(probe(url, frame))
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    failures, detail = 0, ""
    try:
        one()
        asyncio.run(alive(url))
    except AssertionError as exc:
        failures, detail = 1, str(exc)[:2000]
    return {"cases": sum(outcomes.values()), "failures": failures, "outcomes": outcomes,
            "detail": detail}


# -- the campaign ---------------------------------------------------------------------------------


def campaign(out: Path, *, examples: int, ws_examples: int, seed: int = 8,
             roles: tuple[str, ...] = ("trader", "cooperative", "lab", "analyst", "operator"),
             ) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    server = Server(out / "market")
    server.start()
    try:
        tokens, acked = seed_market(server)
        runs: dict[str, Any] = {}
        for k, role in enumerate(roles):
            runs[role] = schemathesis(server, tokens[role], out, role, seed=seed + k,
                                      examples=examples,
                                      operations=operations_of(server, role))
            acked |= acknowledged_orders(Path(runs[role]["har"]))
        ws = ws_fuzz(server.base.replace("http", "ws", 1) + "/ws", ws_examples, seed)
        before = state(server, tokens)
        server.kill()
        server.start()
        after = state(server, tokens)
        lost = []
        for order_id, client_order_id in sorted(acked.items()):
            status, view = server.call("GET", f"/api/v1/orders/{order_id}", OPERATOR)
            if status != 200 or view.get("client_order_id") != client_order_id:
                lost.append(order_id)
        same = after == before
    finally:
        if server.alive():
            server.kill()
    failures = sum(r["failures"] + r["errors"] + (r["exit_code"] not in (0, 1) or
                                                  (r["exit_code"] == 1 and not r["failures"]))
                   for r in runs.values()) + ws["failures"] + len(lost) + (not same)
    return {"cases": sum(r["cases"] for r in runs.values()) + ws["cases"],
            "failures": failures,
            "openapi_cases": {role: r["cases"] for role, r in runs.items()},
            "openapi_failures": {role: r["failures"] + r["errors"] for role, r in runs.items()},
            "ws_cases": ws["cases"], "ws_outcomes": ws["outcomes"], "ws_detail": ws["detail"],
            "acknowledged_orders": len(acked), "lost_orders": lost,
            "state_same_after_restart": same,
            "tails": {role: r["tail"] for role, r in runs.items() if r["tail"]},
            "reports": str(out)}



def main(*, examples: int, ws_examples: int, seed: int, out_root: str = "var/fuzz") -> int:
    out = Path(out_root).resolve() / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    print(f"fuzz: schemathesis ({examples} examples per operation and phase, every role) and "
          f"{ws_examples} WebSocket frames; reports in {out}", flush=True)
    result = campaign(out, examples=examples, ws_examples=ws_examples, seed=seed)
    for role, tail in result.pop("tails").items():
        print(f"--- {role}: schemathesis found problems ---\n{tail}")
    if result["ws_detail"]:
        print(f"--- WebSocket: {result['ws_detail']}")
    print(f"fuzz: {result['cases']} cases, {result['failures']} failures; "
          f"{result['acknowledged_orders']} acknowledged orders, "
          f"{len(result['lost_orders'])} lost after SIGKILL + restart, state "
          f"{'the same' if result['state_same_after_restart'] else 'CHANGED'}")
    print(json.dumps(result))
    return 0 if result["failures"] == 0 else 1
