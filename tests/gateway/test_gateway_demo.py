"""The demo market: seeded through the real lot lifecycle, every book two-sided, tokens that
work, a start page in Vietnamese and English, trace pages of demo lots."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from gateway.demo.data import WEB_PEOPLE
from tests.gateway.conftest import settings, start


async def test_demo_market(tmp_path) -> None:
    m = await start(settings(tmp_path, demo=True, demo_pace_s=3600), seed=False)
    try:
        gw = m.gw
        assert len(gw.exchange.instruments) == 24
        # the bots' people, and the web UI's (one cooperative, two traders), whom no bot uses
        assert len([p for p in gw.registry.participants.values() if p.role == "cooperative"]) == 6
        assert len([p for p in gw.registry.participants.values() if p.role == "trader"]) == 13
        # the bots quote every book once at start; wait until they have (no timing assumed)
        async with asyncio.timeout(60):
            while any(not b.bids or not b.asks for b in gw.market.books.values()):
                await asyncio.sleep(0.01)
        web_coop = {pid for pid, _, role in WEB_PEOPLE if role == "cooperative"}
        async with asyncio.timeout(60):
            while len(gw.auctions.live()) < 3 or any(
                    lot.state == "received" and lot.cooperative.id not in web_coop
                    for lot in gw.lots.lots.values()):
                await asyncio.sleep(0.01)
        assert sorted(a["kind"] for a in gw.auctions.live()) == ["dutch", "english", "sealed"]
        # the web cooperative's lots wait in the warehouse for a person to list or auction them
        assert {lot.state for lot in gw.lots.lots.values()
                if lot.cooperative.id in web_coop} == {"received"}
        lots = [lot for lot in gw.lots.lots.values() if lot.cooperative.id not in web_coop]
        assert lots and all(lot.state in ("listed", "partly_sold") for lot in lots), \
            sorted({(lot.lot_id, lot.state) for lot in lots if lot.state == "received"})
        assert {lot.listing.venue for lot in lots if lot.listing} == {"book", "auction"}
        r = await m.client.get("/api/v1/balances",
                               headers={"Authorization": f"Bearer {gw.demo_tokens['T01']}"})
        assert (await r.json())["cash_vnd"] == 50_000_000_000
        r = await m.client.get("/")  # the web UI's start page (its content: tests/web)
        page = await r.text()
        assert r.status == 200 and "/static/js/start.js" in page and 'lang="vi"' in page
        r = await m.client.get("/api/v1/demo/people")
        people = (await r.json())["people"]
        assert [p["participant"] for p in people] == [pid for pid, _, _ in WEB_PEOPLE]
        assert all(p["token"] == gw.demo_tokens[p["participant"]] for p in people)
        lot = lots[0]
        r = await m.client.get(f"/trace/{lot.lot_id}")  # a script page, filled from its card
        assert r.status == 200 and "/static/js/trace.js" in await r.text()
        r = await m.client.get(f"/api/v1/trace/{lot.lot_id}/card")
        assert r.status == 200 and (await r.json())["cooperative"] == lot.cooperative.name
        r = await m.client.get(f"/trace/{lot.lot_id}/qr.svg")
        assert r.status == 200 and "<svg" in await r.text()
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
