"""The endpoint × role matrix, exhaustively: every route of the table, every role and no token.

An allowed call may still fail for its input (400, 404, 409, 422), but never with 401 or 403; a
role outside the row gets 403; no token gets 401 where a role is needed. The table in
docs/api.md is generated from the same rows and checked here too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.api.routes import ENDPOINTS, role_table
from gateway.auth import ROLES
from tests.gateway.conftest import Market

PARAMS = {"symbol": "NOPE-X-A", "order_id": "999999", "lot_id": "NOLOT",
          "participant_id": "NOBODY", "account": "NOBODY", "gtin": "00000000000000",
          "auction_id": "999999", "herb": "NOPE-X", "season": "2026",
          "invoice_no": "HX2026-00000001", "participant": "NOBODY", "trade_id": "999999"}
CALLERS = [*ROLES, None]
ROOT = Path(__file__).resolve().parents[2]


def path_of(template: str) -> str:
    for name, value in PARAMS.items():
        template = template.replace("{" + name + "}", value)
    assert "{" not in template, f"add a value for the parameter of {template}"
    return template


@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda ep: f"{ep.method} {ep.path}")
async def test_role_matrix(market: Market, ep, tmp_path: Path) -> None:
    ledger = None
    if getattr(market.gw, "ledger", None) is None:  # the ledger endpoints answer 503 without
        from settlement.sqlite_store import SqliteStore

        ledger = SqliteStore(tmp_path / "ledger.sqlite3")
        await ledger.open()
        market.gw.ledger = ledger  # type: ignore[attr-defined]
    try:
        await _check_roles(market, ep)
    finally:
        if ledger is not None:
            await ledger.close()


async def _check_roles(market: Market, ep) -> None:
    for caller in CALLERS:
        headers = {} if caller is None else market.h(caller)
        r = await market.client.request(ep.method, path_of(ep.path), headers=headers,
                                        allow_redirects=False)
        await r.read()
        if ep.roles is None:
            assert r.status not in (401, 403), (caller, r.status)
        elif caller is None:
            assert r.status == 401, r.status
        elif caller in ep.roles:
            assert r.status not in (401, 403), (caller, r.status)
            assert r.status < 500, (caller, r.status)
        else:
            assert r.status == 403, (caller, r.status)


def test_docs_table_matches_the_endpoint_table() -> None:
    doc = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert role_table() in doc


async def test_rate_limit_per_token(tmp_path) -> None:
    from tests.gateway.conftest import settings, start

    m = await start(settings(tmp_path, rate_per_s=0.001, rate_burst=3), seed=False)
    try:
        op = m.h("operator")
        statuses = [(await m.client.get("/api/v1/participants", headers=op)).status
                    for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        r = await m.client.get("/api/v1/participants", headers=op)
        assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
        assert (await r.json())["code"] == "rate_limited"
    finally:
        await m.client.close()
