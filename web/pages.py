"""Server-rendered HTML: the bilingual start page ``/`` and the public trace page of a lot.

Plain HTML with every value escaped; no scripts. Until the web UI exists these pages are what a
newcomer sees: what the market is, its books, auctions, the demo participants, and where a lot
came from.
"""

from __future__ import annotations

from html import escape
from typing import Any

from aiohttp import web

from gateway.api.lots import public_lot, public_trace, trace_doc
from gateway.api.problems import Problem
from gateway.state import Gateway
from grading.qr import qr_svg
from grading.trace import lot_gtin

_STYLE = """body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;
color:#1d2b1f}table{border-collapse:collapse}td,th{padding:.25em .7em;border-bottom:1px solid #ccd}
th{text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.en{color:#557}h1{color:#2d5a27}code{background:#eef}"""


def _page(title: str, body: str) -> web.Response:
    html = (f'<!doctype html><html lang="vi"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}"
            f"</body></html>")
    return web.Response(text=html, content_type="text/html", charset="utf-8")


def vnd(v: int | None) -> str:
    return "–" if v is None else f"{v:,}".replace(",", ".")


async def start_page(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    rows = []
    for symbol in gw.market.books:
        t = gw.market.ticker(symbol)
        rows.append(f"<tr><td><code>{escape(symbol)}</code></td><td class=n>{vnd(t['best_bid'])}"
                    f"</td><td class=n>{vnd(t['best_ask'])}</td><td class=n>{vnd(t['last'])}</td>"
                    f"<td class=n>{t['volume']}</td></tr>")
    people = []
    for pid, token in gw.demo_tokens.items():
        p = gw.registry.participants[pid]
        people.append(f"<tr><td><code>{escape(pid)}</code></td><td>{escape(p.name)}</td>"
                      f"<td>{escape(p.role)}</td><td><code>{escape(token)}</code></td></tr>")
    lot_link = ""
    listed = [lot for lot in gw.lots.lots.values() if lot.grade is not None]  # engine's records
    if listed:
        lid = escape(listed[0].lot_id)
        lot_link = (f'<li><a href="/trace/{lid}">Truy xuất nguồn gốc lô {lid}</a> '
                    f'<span class=en>(trace page of a demo lot)</span></li>')
    kinds = {"english": "Anh / English", "dutch": "Hà Lan / Dutch", "sealed": "kín / sealed"}
    auctions = "".join(
        f"<li>#{a['auction_id']} {kinds.get(a['kind'], a['kind'])}: lô <a href=\"/trace/"
        f"{escape(a['lot_id'])}\">{escape(a['lot_id'])}</a> ({escape(a['symbol'])}, "
        f"{a['qty']} kg), giá <span class=en>price</span> {vnd(a.get('price'))}, "
        f"{'sealed' if a['bids'] is None else a['bids']} bids, {escape(a['status'])}"
        f"{', đóng / closes ' + escape(a['close_at']) if a.get('close_at') else ''}</li>"
        for a in gw.auctions.live())
    body = f"""
<h1>HerbX — Chợ đầu mối dược liệu Lào Cai</h1>
<p>Sàn giao dịch chính ngạch cho dược liệu dưới tán rừng Lào Cai: quế, atisô, tam thất, đương quy,
sa nhân, cát cánh, thảo quả. Mỗi lô được kiểm nghiệm, phân hạng theo hàm lượng hoạt chất và truy
xuất nguồn gốc bằng mã QR.</p>
<p class=en>The official wholesale market for the medicinal herbs grown under the forest canopy of
Lào Cai, Vietnam. Every lot is assayed, graded by its active-ingredient content and traceable by
QR code; buyers trade graded herbs on continuous order books and lots by auction.</p>
<h2>Sổ lệnh <span class=en>/ Order books</span> (VND/kg)</h2>
<table><tr><th>Mã <span class=en>symbol</span></th><th>Mua tốt nhất <span class=en>best bid</span>
</th><th>Bán tốt nhất <span class=en>best ask</span></th>
<th>Khớp gần nhất <span class=en>last</span></th>
<th>Khối lượng <span class=en>volume</span></th></tr>{"".join(rows)}</table>
<h2>Đấu giá đang chạy <span class=en>/ Running auctions</span></h2>
<ul>{auctions or "<li>Chưa có phiên đấu giá <span class=en>(none yet)</span></li>"}</ul>
<h2>Người tham gia thử nghiệm <span class=en>/ Demo participants</span></h2>
{"<table><tr><th>id</th><th>tên / name</th><th>vai trò / role</th><th>token</th></tr>"
 + "".join(people) + "</table>" if people else "<p>—</p>"}
<h2>Liên kết <span class=en>/ Links</span></h2>
<ul><li><a href="/api/v1/openapi.json">OpenAPI 3.1</a> — REST <code>/api/v1</code>,
WebSocket <code>/ws</code></li>{lot_link}
<li><a href="/api/v1/instruments">/api/v1/instruments</a></li></ul>"""
    return _page("HerbX — Chợ dược liệu Lào Cai", body)


NO_ROWS = "<tr><td colspan=6>–</td></tr>"


def per_kg_active(sale: dict[str, Any]) -> str:
    """VND per kg of active ingredient, or a dash where the lot has no graded content."""
    value = sale.get("price_per_kg_active")
    return "–" if value is None else vnd(value)


async def trace_page(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    lot = public_lot(gw, request.match_info["lot_id"])
    d = await public_trace(gw, lot)
    g = d["grade"]
    grade = "–" if g is None else (
        f"{escape(g['grade'])} ({escape(g['active_parameter'])} {escape(g['active_content'])}, "
        f"{escape(g['lab'])})" + ("" if not g["unverified"] else
        f"<br><small>chưa kiểm chứng / unverified: {escape(', '.join(g['unverified']))}</small>"))
    certs = "".join(f"<li>{escape(c['scheme'])} {escape(c['certificate_no'])} — "
                    f"{escape(c['issuer'])}</li>" for c in d["certifications"])
    def sale_rows(rows: list[dict[str, Any]]) -> str:
        return "".join(
            f"<tr><td>{escape(s['ts'])}</td><td class=n>{s['qty']}</td>"
            f"<td class=n>{vnd(s['price'])}</td><td class=n>{per_kg_active(s)}</td>"
            f"<td>{escape(s['invoice_no'] or '–')}</td>"
            f"<td><small>{escape(s['trade_ref'])}</small></td></tr>" for s in rows)

    sales, resales = sale_rows(d["sales"]), sale_rows(d["resales"])
    history = "".join(f"<li>{escape(h['ts'])}: {escape(h['action'])} → {escape(h['state'])}</li>"
                      for h in d["history"])
    body = f"""
<h1>Lô {escape(lot.lot_id)} <span class=en>/ Lot {escape(lot.lot_id)}</span></h1>
<div style="float:right">{qr_svg(d["trace_url"])}</div>
<table>
<tr><th>Dược liệu <span class=en>herb</span></th><td>{escape(d["herb"])}
 (<i>{escape(d["herb_latin"])}</i>)</td></tr>
<tr><th>Hợp tác xã <span class=en>cooperative</span></th><td>{escape(d["cooperative"])}</td></tr>
<tr><th>Xã <span class=en>commune</span></th><td>{escape(d["commune"])}</td></tr>
<tr><th>Mã vùng trồng <span class=en>growing area</span></th>
 <td>{escape(d["growing_area"]["code"])}</td></tr>
<tr><th>Ngày thu hoạch <span class=en>harvest</span></th><td>{escape(d["harvest_date"])}</td></tr>
<tr><th>Khối lượng <span class=en>quantity</span></th><td>{d["qty"]} kg
 (còn / remaining {d["remaining_qty"]} kg)</td></tr>
<tr><th>Hạng <span class=en>grade</span></th><td>{grade}</td></tr>
<tr><th>Trạng thái <span class=en>state</span></th><td>{escape(d["state"])}</td></tr>
</table>
<h2>Chứng nhận <span class=en>/ Certifications</span></h2><ul>{certs or "<li>–</li>"}</ul>
<h2>Bán <span class=en>/ Sales</span></h2>
<table><tr><th>ts</th><th>kg</th><th>VND/kg</th>
<th>VND/kg hoạt chất <span class=en>per kg active</span></th><th>hoá đơn / invoice</th>
<th>giao dịch / trade</th></tr>
{sales or NO_ROWS}</table>
<h2>Bán lại <span class=en>/ Resales by buyers (traced, not sales of the lot)</span></h2>
<table><tr><th>ts</th><th>kg</th><th>VND/kg</th>
<th>VND/kg hoạt chất <span class=en>per kg active</span></th><th>hoá đơn / invoice</th>
<th>giao dịch / trade</th></tr>
{resales or NO_ROWS}</table>
<h2>Lịch sử <span class=en>/ History</span></h2><ul>{history}</ul>
<p><a href="/api/v1/trace/{escape(lot.lot_id)}">JSON</a> ·
<a href="/trace/{escape(lot.lot_id)}/qr.svg">QR (SVG)</a> ·
<code>{escape(d["trace_url"])}</code></p>"""
    return _page(f"Lô {lot.lot_id} — HerbX", body)


async def trace_qr(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    lot = public_lot(gw, request.match_info["lot_id"])
    return web.Response(text=qr_svg(trace_doc(gw, lot)["trace_url"]),
                        content_type="image/svg+xml")


async def digital_link(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    """GS1 Digital Link ``/01/<gtin>/10/<lot>`` (what the QR code holds) → the trace page."""
    lot = public_lot(gw, request.match_info["lot_id"])
    gtin = request.match_info.get("gtin")
    if gtin is not None and gtin != lot_gtin(lot, gw.catalogue.get(lot.spec_id)):
        # the code names another product (or cooperative) than this lot's: not this lot
        raise Problem(404, "unknown_lot", f"no lot {lot.lot_id!r} under GTIN {gtin}")
    raise web.HTTPFound(f"/trace/{lot.lot_id}")
