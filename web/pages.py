"""HTML of the web UI: `shell`, the frame of every page of the app (start page, trading
floor, auction room, the desks and the trace page of `web.desks`; each filled in by its module
in ``web/static/js``), the QR code of a lot's trace URL and the GS1 Digital Link resolver.

Every value put into HTML is escaped. Never holds market logic: pages read the REST API and
the WebSocket stream like any client (docs/web.md).
"""

from __future__ import annotations

from html import escape
from typing import Any

from aiohttp import web

from gateway.api.lots import public_lot, trace_doc
from gateway.api.problems import Problem
from gateway.state import Gateway
from grading.qr import qr_svg
from grading.trace import lot_gtin

#: The navigation of every page: (page name, path). A new page appends its row (docs/web.md).
NAV: list[tuple[str, str]] = [("start", "/"), ("floor", "/floor"), ("auctions", "/auctions")]
NAV += [("coop", "/coop"), ("lab", "/lab"), ("ops", "/ops"), ("analyst", "/analyst")]


#: The pages run only their own scripts (a bearer token sits in the browser's storage, so no
#: injected or third-party script may run beside it); style attributes are set by the
#: scripts (bar widths), hence 'unsafe-inline' for styles only.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'; object-src 'none'")


def reads(gw: Gateway) -> dict[str, bool]:
    """Which read models this process serves: a page asks nothing of one it lacks, so a
    multi-process gateway without a ledger or tick store shows "not available" instead of
    provoking a 503 (which the browser logs as a console error)."""
    return {"ledger": gw.ledger is not None, "ticks": gw.ticks is not None}


def shell(page: str, served: dict[str, bool] | None = None) -> web.Response:
    """The HTML of a page of the web UI: the shared frame (header, sign-in dialog, notices)
    and ``web/static/js/<page>.js``, which fills ``<main>``. Text is filled in by the script
    in the reader's language (Vietnamese first); the frame reserves its space so nothing
    shifts when it does. ``served`` (`reads`) becomes ``data-ledger``/``data-ticks`` on
    ``<body>``: ``on`` or ``off``."""
    nav = "".join(
        f'<a href="{path}" data-i18n="nav.{name}"'
        f'{" aria-current=page" if name == page else ""}>{name}</a>' for name, path in NAV)
    flags = "".join(f' data-{k}="{"on" if v else "off"}"' for k, v in (served or {}).items())
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
<body data-page="{escape(page)}"{flags}><a class="skip" href="#main" data-i18n="skip">Bỏ qua</a>
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
    return shell("floor", reads(gw))


async def auctions_page(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    return shell("auctions")


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
