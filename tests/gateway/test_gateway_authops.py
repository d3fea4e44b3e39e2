"""Hardening found by attacking a running market from outside: a client order id reused for
another order, an Idempotency-Key retry the key store forgot, the last operator token, a real
market started with --demo."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from gateway.auth import Participant, Registry, hash_token
from tests.gateway.conftest import SYMBOL, Market, settings, start
from tests.gateway.wsclient import recv, send

# -- a client order id resent with a different order -----------------------------------------------


async def open_orders(market: Market, who: str = "T1") -> list[dict[str, Any]]:
    r = await market.client.get("/api/v1/orders?status=all", headers=market.h(who))
    return (await r.json())["orders"]


async def test_a_client_order_id_resent_with_another_order_is_409_with_the_original(
    market: Market,
) -> None:
    s1, first = await market.order("T1", price=60_000, qty=5, client_order_id="mine-1")
    s2, same = await market.order("T1", price=60_000, qty=5, client_order_id="mine-1")
    assert (s1, s2) == (201, 200) and same["resent"] is True
    for change in ({"price": 60_100}, {"qty": 6}, {"side": "sell"}, {"tif": "ioc"},
                   {"post_only": True}, {"tif": "gtd", "expire_at": "2099-01-01T00:00:00Z"}):
        r = await market.client.post("/api/v1/orders", headers=market.h("T1"), json={
            "symbol": SYMBOL, "side": "buy", "price": 60_000, "qty": 5,
            "client_order_id": "mine-1", **change})
        problem = await r.json()
        assert r.status == 409, problem
        assert r.content_type == "application/problem+json"
        assert problem["code"] == "client_order_id_reused"
        assert problem["type"].endswith("/client_order_id_reused")
        assert problem["order"] == {**same, "resent": True}
        assert f"order {first['order_id']}" in problem["detail"]
    [order] = await open_orders(market)
    assert (order["order_id"], order["price"], order["qty"]) == (first["order_id"], 60_000, 5)


async def test_a_market_buy_resent_with_another_cash_cap_is_409(market: Market) -> None:
    await market.order("C1", side="sell", price=60_000, qty=2)
    buy = {"type": "market", "qty": 2, "cash_cap": 200_000, "client_order_id": "mkt-1"}
    s1, first = await market.order("T1", **buy)
    assert s1 == 201 and first["status"] == "filled"
    assert (await market.order("T1", **buy))[0] == 200
    status, problem = await market.order("T1", **{**buy, "cash_cap": 300_000})
    assert (status, problem["code"]) == (409, "client_order_id_reused")
    assert "cash_cap" in problem["detail"]


async def test_over_websocket_a_reused_client_order_id_is_a_409_error(market: Market) -> None:
    async with connect(market.ws_url, additional_headers=market.h("T1")) as ws:
        await send(ws, op="subscribe", channels=["orders"])
        await recv(ws, type="subscribed")
        await send(ws, op="order", req_id=1, symbol=SYMBOL, side="buy", price=60_000, qty=7,
                   client_order_id="ws-1")
        first = await recv(ws, type="result", req_id=1)
        await send(ws, op="order", req_id=2, symbol=SYMBOL, side="buy", price=60_000, qty=8,
                   client_order_id="ws-1")
        got: dict[str, dict[str, Any]] = {}
        while len(got) < 2:  # the answer and the orders channel's event, in either order
            msg = json.loads(await asyncio.wait_for(ws.recv(), 20))
            if msg.get("req_id") == 2 or msg.get("type") == "order_resent":
                got[msg["type"]] = msg
        err = got["error"]
        assert (err["code"], err["status"]) == ("client_order_id_reused", 409)
        assert str(first["body"]["order_id"]) in err["detail"] and "qty" in err["detail"]
        assert got["order_resent"]["reason"] == "client_order_id_reused"
    assert [o["qty"] for o in await open_orders(market)] == [7]


async def test_openapi_documents_the_resend_answers_of_post_orders(market: Market) -> None:
    doc = await (await market.client.get("/api/v1/openapi.json")).json()
    answers = doc["paths"]["/api/v1/orders"]["post"]["responses"]
    assert {"200", "201", "409", "422"} <= set(answers)
    ref = answers["409"]["content"]["application/problem+json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert "order" in schema["properties"] and "order" in schema["required"]


async def test_an_idempotency_key_retry_the_store_forgot_places_no_second_order(
    tmp_path: Any,
) -> None:
    m = await start(settings(tmp_path, idempotency_keys=1))
    try:
        def key(k: str) -> dict[str, str]:
            return {**m.h("T1"), "Idempotency-Key": k}

        body = {"symbol": SYMBOL, "side": "buy", "price": 60_000, "qty": 5}
        r1 = await m.client.post("/api/v1/orders", json=body, headers=key("k-a"))
        assert r1.status == 201
        first = await r1.json()
        r = await m.client.post("/api/v1/orders", json={**body, "qty": 1}, headers=key("k-b"))
        assert r.status == 201  # the store keeps one key: k-a is forgotten
        again = await m.client.post("/api/v1/orders", json=body, headers=key("k-a"))
        assert again.status == 200 and "Idempotent-Replayed" not in again.headers
        assert (await again.json())["order_id"] == first["order_id"]
        other = await m.client.post("/api/v1/orders", json={**body, "qty": 9},
                                    headers=key("k-a"))
        assert other.status == 422  # remembered again: the store itself refuses
        assert (await other.json())["code"] == "idempotency_key_reused"
        r = await m.client.post("/api/v1/orders", json={**body, "qty": 2}, headers=key("k-c"))
        assert r.status == 201  # k-a forgotten again: now the engine refuses
        other = await m.client.post("/api/v1/orders", json={**body, "qty": 9},
                                    headers=key("k-a"))
        assert other.status == 409
        assert (await other.json())["code"] == "client_order_id_reused"
        assert sorted(o["qty"] for o in await open_orders(m)) == [1, 2, 5]
    finally:
        await m.client.close()


# -- the operator can never lock itself out; a lost operator token can be replaced -----------------

HERBX = [sys.executable, "-m", "gateway.cli"]
ROOT = Path(__file__).resolve().parents[2]


def herbx(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HERBX, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, env={**os.environ, **env})


async def test_the_last_operator_token_cannot_be_revoked(market: Market) -> None:
    op = market.h("operator")
    r = await market.client.delete("/api/v1/participants/operator/tokens", headers=op)
    problem = await r.json()
    assert r.status == 409 and r.content_type == "application/problem+json", problem
    assert problem["code"] == "last_operator_token"
    assert (await market.client.get("/api/v1/participants", headers=op)).status == 200
    # with a second operator that has a token, the first may go; then the second is the last
    r = await market.client.post("/api/v1/participants", headers=op,
                                 json={"id": "OP2", "name": "Deputy", "role": "operator"})
    assert r.status == 201
    r = await market.client.post("/api/v1/participants/OP2/tokens", headers=op)
    op2 = {"Authorization": f"Bearer {(await r.json())['token']}"}
    r = await market.client.delete("/api/v1/participants/operator/tokens", headers=op2)
    assert r.status == 200 and (await r.json())["revoked"] >= 1
    assert (await market.client.get("/api/v1/participants", headers=op)).status == 401
    r = await market.client.delete("/api/v1/participants/OP2/tokens", headers=op2)
    assert r.status == 409 and (await r.json())["code"] == "last_operator_token"
    assert (await market.client.get("/api/v1/participants", headers=op2)).status == 200


async def test_revoking_keeps_tokens_another_gateway_process_issued(market: Market) -> None:
    other = Registry(market.gw.settings.data_dir / "gateway" / "participants.json")
    other.add(Participant(id="OP3", name="Night shift", role="operator"))
    token = other.issue_token("OP3")  # written by "another gateway" sharing the file
    r = await market.client.delete("/api/v1/participants/T1/tokens",
                                   headers=market.h("operator"))
    assert r.status == 200
    r = await market.client.get("/api/v1/participants",
                                headers={"Authorization": f"Bearer {token}"})
    assert r.status == 200


async def test_a_lost_operator_token_is_replaced_with_the_market_stopped(tmp_path: Path) -> None:
    m = await start(settings(tmp_path), seed=False)
    try:
        running = herbx("operator-token", "--data-dir", str(tmp_path))
        assert running.returncode == 2 and "running" in running.stderr
    finally:
        await m.client.close()
    old = m.tokens["operator"]  # pretend it was lost
    issued = herbx("operator-token", "--data-dir", str(tmp_path))
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token.startswith("hx_") and token not in issued.stderr
    rotated = herbx("operator-token", "--data-dir", str(tmp_path), "--revoke-old")
    assert rotated.returncode == 0, rotated.stderr
    newest = rotated.stdout.strip()
    m = await start(settings(tmp_path), seed=False)
    try:
        for t, status in ((old, 401), (token, 401), (newest, 200)):
            r = await m.client.get("/api/v1/participants",
                                   headers={"Authorization": f"Bearer {t}"})
            assert r.status == status, t
    finally:
        await m.client.close()
    empty = herbx("operator-token", "--data-dir", str(tmp_path / "nothing"))
    assert empty.returncode == 2 and "no market" in empty.stderr


# -- --demo only on a demo market ---------------------------------------------------------------


def serve_until_up(data_dir: Path, *flags: str) -> None:
    """Run `herbx serve` until its banner shows, then stop it with SIGTERM."""
    with subprocess.Popen([*HERBX, "serve", "--port", "0", "--tick-ms", "0", "--data-dir",
                           str(data_dir), *flags], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("HerbX market on"), line
            proc.send_signal(signal.SIGTERM)
            # serve prints its banner just before it installs its signal handlers: a SIGTERM in
            # between ends it at once, which is as good a stop here (the market is on disk)
            assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
        finally:
            if proc.poll() is None:
                proc.kill()


def test_demo_is_refused_on_a_market_not_created_as_a_demo(tmp_path: Path) -> None:
    serve_until_up(tmp_path)
    kind = json.loads((tmp_path / "gateway" / "market.json").read_text())
    assert kind["demo"] is False
    before = (tmp_path / "gateway" / "participants.json").read_bytes()
    refused = herbx("serve", "--demo", "--port", "0", "--data-dir", str(tmp_path))
    assert refused.returncode == 2
    [line] = refused.stderr.splitlines()
    assert "--demo refused" in line and "fresh --data-dir" in line
    assert (tmp_path / "gateway" / "participants.json").read_bytes() == before
    assert hash_token("demo-operator").encode() not in before
    # HERBX_DEMO=1 is the same flag
    assert herbx("serve", "--port", "0", "--data-dir", str(tmp_path),
                 HERBX_DEMO="1").returncode == 2


def test_a_demo_market_starts_only_as_a_demo(tmp_path: Path) -> None:
    serve_until_up(tmp_path, "--demo")
    assert json.loads((tmp_path / "gateway" / "market.json").read_text())["demo"] is True
    refused = herbx("serve", "--port", "0", "--data-dir", str(tmp_path))
    assert refused.returncode == 2
    [line] = refused.stderr.splitlines()
    assert "demo market" in line and "--demo" in line


async def test_a_market_from_before_the_marker_is_judged_by_its_tokens(tmp_path: Path) -> None:
    real, demo = tmp_path / "real", tmp_path / "demo"
    for d, is_demo in ((real, False), (demo, True)):
        m = await start(settings(d, demo=is_demo, demo_pace_s=3600), seed=False)
        await m.client.close()
        assert not (d / "gateway" / "market.json").exists()  # as an old directory
    assert herbx("serve", "--demo", "--port", "0", "--data-dir", str(real)).returncode == 2
    assert json.loads((real / "gateway" / "market.json").read_text())["demo"] is False
    assert herbx("serve", "--port", "0", "--data-dir", str(demo)).returncode == 2
    assert json.loads((demo / "gateway" / "market.json").read_text())["demo"] is True
