"""A lot's next step is named: on every lot view (`next_step`) and on each refusal of a step
taken out of turn, so a person who gets the 409 knows who must do what first."""

from __future__ import annotations

from typing import Any

from tests.gateway.conftest import Market
from tests.gateway.test_gateway_lots import LOT, results

LOT_ID = LOT["lot_id"]


async def _post(m: Market, path: str, who: str, body: dict[str, Any]) -> tuple[int, Any]:
    r = await m.client.post(f"/api/v1{path}", json=body, headers=m.h(who))
    return r.status, await r.json()


async def test_refusals_on_the_lot_path_name_the_next_step(market: Market) -> None:
    status, lot = await _post(market, "/lots", "C1", LOT)
    assert status == 201 and lot["next_step"] == "post_assay"
    # out of turn before the assay: receive and list are refused, each naming the assay
    status, p = await _post(market, f"/lots/{LOT_ID}/receive", "operator", {"qty_received": 800})
    assert (status, p["code"], p["next_step"]) == (409, "illegal_transition", "post_assay")
    status, p = await _post(market, f"/lots/{LOT_ID}/list", "C1", {})
    assert (status, p["code"], p["next_step"]) == (409, "illegal_transition", "post_assay")
    status, p = await _post(market, "/auctions", "C1", {
        "kind": "english", "lot_id": LOT_ID, "qty": 100, "start_price": 60_000,
        "duration_s": 60})
    assert status == 409 and p["next_step"] == "post_assay"

    status, lot = await _post(market, f"/lots/{LOT_ID}/assays", "L1",
                              {"sample_id": "S-1", "results": results(market)})
    assert status == 201 and lot["next_step"] == "receive_lot"
    status, p = await _post(market, f"/lots/{LOT_ID}/list", "C1", {})
    assert (status, p["code"], p["next_step"]) == (409, "illegal_transition", "receive_lot")

    status, lot = await _post(market, f"/lots/{LOT_ID}/receive", "operator",
                              {"qty_received": 800})
    assert status == 200 and lot["next_step"] == "list_lot"
    status, p = await _post(market, f"/lots/{LOT_ID}/delist", "C1", {})
    assert (status, p["code"], p["next_step"]) == (409, "illegal_transition", "list_lot")

    status, lot = await _post(market, f"/lots/{LOT_ID}/list", "C1", {})
    assert status == 200 and lot["next_step"] == "place_sell_order"
    status, p = await _post(market, f"/lots/{LOT_ID}/receive", "operator", {"qty_received": 1})
    assert (status, p["next_step"]) == (409, "place_sell_order")
    # a refusal changed nothing
    r = await market.client.get(f"/api/v1/lots/{LOT_ID}", headers=market.h("C1"))
    assert (await r.json())["state"] == "listed"


async def test_a_rejected_lot_needs_a_new_assay_and_a_stranger_learns_nothing(
        market: Market) -> None:
    await _post(market, "/lots", "C1", LOT)
    fail = [x if x["parameter"] != "pb_mg_kg" else {**x, "value": "99"} for x in results(market)]
    status, lot = await _post(market, f"/lots/{LOT_ID}/assays", "L1",
                              {"sample_id": "S-2", "results": fail})
    assert (status, lot["state"], lot["next_step"]) == (201, "rejected", "reassay")
    status, p = await _post(market, f"/lots/{LOT_ID}/receive", "operator", {"qty_received": 8})
    assert (status, p["next_step"]) == (409, "reassay")
    # another cooperative's auction of this lot: refused without the lot's state
    from gateway.auth import Participant

    market.gw.registry.add(Participant(id="C2", name="C2", role="cooperative", number=8))
    market.tokens["C2"] = market.gw.registry.issue_token("C2")
    status, p = await _post(market, "/auctions", "C2", {
        "kind": "english", "lot_id": LOT_ID, "qty": 100, "start_price": 60_000,
        "duration_s": 60})
    assert status >= 400 and "next_step" not in p
