"""Review findings on the insurance terms' door: a window at the calendar's edges is a 422
naming the field (it was a 500, or a journal refusal), and the engine records nothing."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import Market

P = "/api/v1"
TERMS = {"floor_vnd": 51_000, "min_volume_kg": 500}


@pytest.mark.parametrize("window", [("9999-12-01", "9999-12-31"), ("0001-01-01", "0001-01-02"),
                                    ("2262-04-01", "2262-05-02"), ("1969-12-01", "1970-01-02")])
async def test_a_window_outside_the_stores_time_is_a_422(market: Market,
                                                        window: tuple[str, str]) -> None:
    body = {**TERMS, "window_from": window[0], "window_to": window[1]}
    r = await market.client.put(f"{P}/insurance/QUE-BARK/2026", json=body,
                                headers=market.h("operator"))
    assert r.status == 422, (window, r.status, await r.text())
    problem = await r.json()
    assert problem["code"] == "invalid_field", problem
    assert {e["field"] for e in problem["errors"]} <= {"$.window_from", "$.window_to"}
    assert market.gw.exchange.insurance_terms() == []


async def test_a_repeated_index_parameter_is_refused(market: Market) -> None:
    """As on the tick endpoints (docs/analytics.md): `basis=kg&basis=active` is not silently
    the first one."""
    for q in ("basis=kg&basis=active", "from=2026-01-01&from=2026-02-01"):
        r = await market.client.get(f"{P}/indices/QUE-BARK?{q}")
        assert r.status == 400, (q, r.status)
        assert (await r.json())["code"] == "duplicate_key"
