"""The demo market: seeded through the real lot lifecycle, every book two-sided, tokens that
work, a start page in Vietnamese and English, trace pages of demo lots."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from tests.gateway.conftest import settings, start


async def test_demo_market(tmp_path) -> None:
    m = await start(settings(tmp_path, demo=True, demo_pace_s=3600), seed=False)
    try:
        gw = m.gw
        assert len(gw.exchange.instruments) == 24
        assert len([p for p in gw.registry.participants.values() if p.role == "cooperative"]) == 5
        assert len([p for p in gw.registry.participants.values() if p.role == "trader"]) == 11
        # the bots quote every book once at start; wait until they have (no timing assumed)
        async with asyncio.timeout(60):
            while any(not b.bids or not b.asks for b in gw.market.books.values()):
                await asyncio.sleep(0.01)
        async with asyncio.timeout(60):
            while len(gw.auctions.live()) < 3 or any(
                    lot.state == "received" for lot in gw.lots.lots.values()):
                await asyncio.sleep(0.01)
        assert sorted(a["kind"] for a in gw.auctions.live()) == ["dutch", "english", "sealed"]
        lots = list(gw.lots.lots.values())
        assert lots and all(lot.state in ("listed", "partly_sold") for lot in lots), \
            sorted({(lot.lot_id, lot.state) for lot in lots if lot.state == "received"})
        assert {lot.listing.venue for lot in lots if lot.listing} == {"book", "auction"}
        r = await m.client.get("/api/v1/balances",
                               headers={"Authorization": f"Bearer {gw.demo_tokens['T01']}"})
        assert (await r.json())["cash_vnd"] == 50_000_000_000
        r = await m.client.get("/")
        page = await r.text()
        assert r.status == 200 and "Chợ đầu mối dược liệu Lào Cai" in page
        assert "Order books" in page and "QUE-BARK-A" in page and "demo-t01" in page
        assert "/api/v1/openapi.json" in page and "/trace/LC26-" in page
        assert "English" in page and "Dutch" in page and "sealed" in page
        lot = lots[0]
        r = await m.client.get(f"/trace/{lot.lot_id}")
        html = await r.text()
        assert r.status == 200 and "<svg" in html and lot.cooperative.name in html
        r = await m.client.get(f"/api/v1/trace/{lot.lot_id}")
        doc = await r.json()
        assert doc["grade"]["grade"] in ("A", "B", "C") and doc["state"] == "listed"
        r = await m.client.get(urlsplit(doc["trace_url"]).path, allow_redirects=False)
        assert r.status == 302 and r.headers["Location"] == f"/trace/{lot.lot_id}"
        # sold-out sellers bring new harvests, through the lifecycle, so books stay two-sided
        from gateway.demo.market import Bots

        bots = Bots(gw)
        before = bots.available("HTX-SAPA", "TAMTHAT-ROOT-C")
        await bots.bring_lot("HTX-SAPA", "TAMTHAT-ROOT-C", 700)
        assert bots.available("HTX-SAPA", "TAMTHAT-ROOT-C") == before + 700
    finally:
        await m.client.close()
