"""Fixtures for the gateway tests: a live server on a free port with a small seeded market.

Participants: operator, traders T1 and T2, cooperative C1 (with a lot of QUE-BARK-A in custody),
lab L1, analyst A1. Each has a token in ``market.tokens``; ``market.h(role_or_id)`` gives headers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from engine.messages import ReceiveLot
from gateway.app import create_app
from gateway.auth import Participant
from gateway.config import Settings
from gateway.state import GATEWAY, Gateway

SYMBOL = "QUE-BARK-A"
PEOPLE = [("T1", "trader"), ("T2", "trader"), ("C1", "cooperative"), ("L1", "lab"),
          ("A1", "analyst")]


@dataclass
class Market:
    client: TestClient
    gw: Gateway
    tokens: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    @property
    def ws_url(self) -> str:
        return str(self.client.make_url("/ws")).replace("http://", "ws://")

    async def order(self, who: str, **fields: Any) -> Any:
        body = {"symbol": SYMBOL, "side": "buy", "type": "limit", "qty": 10, **fields}
        resp = await self.client.post("/api/v1/orders", json=body, headers=self.h(who))
        return resp.status, await resp.json()

    async def settle(self, trade_id: int, state: str) -> Any:
        resp = await self.client.post(f"/api/v1/settlement/trades/{trade_id}",
                                      json={"state": state}, headers=self.h("operator"))
        return resp.status, await resp.json()

    async def pay(self) -> None:
        """The operator marks every pending trade paid (delivery versus payment: cash and
        goods move only then)."""
        for view in self.gw.exchange.settlement_views():
            if view.state == "pending":
                status, body = await self.settle(view.trade_id, "paid")
                assert status == 200, body


def settings(tmp_path: Any, **over: Any) -> Settings:
    base = Settings(data_dir=tmp_path, tick_ms=0, journal_sync=False, heartbeat_s=3600,
                    rate_per_s=10_000, rate_burst=10_000)
    return replace(base, **over)


class FakeClock:
    """The market's clock in tests: starts at the real time, moves only when told."""

    def __init__(self) -> None:
        import time

        self.ns = time.time_ns()

    def __call__(self) -> int:
        return self.ns

    def advance(self, seconds: float) -> None:
        self.ns += int(seconds * 1e9)


async def start(s: Settings, seed: bool = True, clock: Any = None) -> Market:
    app = create_app(s, clock) if clock is not None else create_app(s)
    client = TestClient(TestServer(app))
    try:
        await client.start_server()
    except BaseException:
        await client.close()
        raise
    gw = app[GATEWAY]
    # the bootstrap operator token is only logged (never kept) outside a demo: issue one
    tokens = {"operator": gw.demo_tokens.get("operator") or gw.registry.issue_token("operator")}
    m = Market(client, gw, tokens)
    if seed:
        await seed_market(m)
    return m


async def seed_market(m: Market) -> None:
    gw = m.gw
    for pid, role in PEOPLE:
        if pid not in gw.registry.participants:
            gw.registry.add(Participant(id=pid, name=f"{pid} name", role=role, number=7))  # type: ignore[arg-type]
        m.tokens[pid] = gw.registry.issue_token(pid)
        m.tokens[role] = m.tokens.get(role, m.tokens[pid])
    m.tokens["operator"] = m.tokens["operator"] or gw.registry.issue_token("operator")
    op = m.h("operator")
    r = await m.client.post("/api/v1/instruments", headers=op, json={
        "symbol": SYMBOL, "herb": "QUE", "grade": "A", "tick_vnd": 100})
    assert r.status in (201, 409), await r.text()
    for t in ("T1", "T2"):
        r = await m.client.post("/api/v1/deposits", headers=op,
                                json={"account": t, "amount_vnd": 1_000_000_000})
        assert r.status == 201, await r.text()
    if "LOT-C1" not in gw.exchange.lots:
        await gw.submit(ReceiveLot(lot_id="LOT-C1", account="C1", symbol=SYMBOL, qty=1_000))


@pytest.fixture
async def market(tmp_path: Any) -> AsyncIterator[Market]:
    m = await start(settings(tmp_path))
    yield m
    await m.client.close()
