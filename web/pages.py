"""HTML of the web UI: `shell`, the frame of every page of the app (start page, trading
floor, auction room; each filled in by its module in ``web/static/js``), and the
server-rendered public trace page of a lot with its QR code.

Every value put into HTML is escaped. Never holds market logic: pages read the REST API and
the WebSocket stream like any client (docs/web.md).
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
color:#1d2b1f}table{border-collapse:collapse;width:100%;table-layout:fixed}
td,th{padding:.25em .7em;border-bottom:1px solid #ccd;overflow-wrap:anywhere}
svg{max-width:100%;height:auto}
th{text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.en{color:#557}h1{color:#2d5a27}code{background:#eef;overflow-wrap:anywhere}"""


def _page(title: str, body: str) -> web.Response:
    html = (f'<!doctype html><html lang="vi"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><link rel=icon href=/static/favicon.svg>"
            f"<style>{_STYLE}</style></head><body>{body}"
            f"</body></html>")
    return web.Response(text=html, content_type="text/html", charset="utf-8")


def vnd(v: int | None) -> str:
    return "–" if v is None else f"{v:,}".replace(",", ".")


#: The navigation of every page: (page name, path). A new page appends its row (docs/web.md).
NAV: list[tuple[str, str]] = [("start", "/"), ("floor", "/floor"), ("auctions", "/auctions")]


#: The pages run only their own scripts (a bearer token sits in the browser's storage, so no
#: injected or third-party script may run beside it); style attributes are set by the
#: scripts (bar widths), hence 'unsafe-inline' for styles only.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'; object-src 'none'")


def shell(page: str) -> web.Response:
    """The HTML of a page of the web UI: the shared frame (header, sign-in dialog, notices)
    and ``web/static/js/<page>.js``, which fills ``<main>``. Text is filled in by the script
    in the reader's language (Vietnamese first); the frame reserves its space so nothing
    shifts when it does."""
    nav = "".join(
        f'<a href="{path}" data-i18n="nav.{name}"'
        f'{" aria-current=page" if name == page else ""}>{name}</a>' for name, path in NAV)
    html = f"""<!doctype html><html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>HerbX — Chợ dược liệu Lào Cai</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/app.css">
<link rel="preload" href="/static/i18n.json" as="fetch" crossorigin>
<link rel="modulepreload" href="/static/js/core.js">
<link rel="modulepreload" href="/static/js/shell.js">
<link rel="modulepreload" href="/static/js/stream.js">
<link rel="modulepreload" href="/static/js/book.js">
<script type="module" src="/static/js/{escape(page)}.js"></script></head>
<body data-page="{escape(page)}"><a class="skip" href="#main" data-i18n="skip">Bỏ qua</a>
<header class="top"><a class="brand" href="/">HerbX<span data-i18n="brand.sub">Chợ dược liệu
Lào Cai</span></a><nav data-i18n-label="nav.label" aria-label="Điều hướng">{nav}</nav>
<div class="tools"><span id="conn" role="status" data-state="connecting">…</span>
<button id="lang" type="button">English</button><span id="who"></span></div></header>
<main id="main" tabindex="-1"><p class="loading" data-i18n="loading">Đang tải…</p></main>
<div id="notices" aria-live="polite"></div>
<dialog id="signin" aria-labelledby="signin-title"><form id="signin-form" method="dialog">
<h2 id="signin-title" data-i18n="signin.title">Đăng nhập</h2>
<label for="signin-token" data-i18n="signin.token">Mã truy cập</label>
<input id="signin-token" name="token" autocomplete="off" required maxlength="200">
<p id="signin-error" class="error" role="alert"></p>
<div class="row"><button type="submit" data-i18n="signin">Đăng nhập</button>
<button type="button" id="signin-cancel" class="secondary" data-i18n="cancel">Huỷ</button></div>
</form></dialog>
<noscript><p>HerbX cần JavaScript. / HerbX needs JavaScript.</p></noscript></body></html>"""
    return web.Response(text=html, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-cache", "Content-Security-Policy": CSP,
                                 "Referrer-Policy": "same-origin"})


async def start_page(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    return shell("start")


async def floor_page(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    return shell("floor")


async def auctions_page(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    return shell("auctions")


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
