"""The desks of the web UI (cooperative, lab, operator, analyst) and the public trace page: each
is the shared frame (`web.pages.shell`) filled in by its module in ``web/static/js``.

The pages are public: the API behind them checks the role, and a desk shows a sign-in prompt to
a visitor without one. The trace page needs no sign-in; it answers 404 for an unknown lot before
any script runs. Never holds market logic (docs/web.md).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api.lots import public_lot
from gateway.state import Gateway
from web.pages import reads, shell


async def coop_page(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    return shell("coop", reads(gw))


async def lab_page(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    return shell("lab")


async def ops_page(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    return shell("ops", reads(gw))


async def analyst_page(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    return shell("analyst", reads(gw))


async def trace_page(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    """The QR code's target: the lot's journey, rendered by ``trace.js`` from the public
    ``/api/v1/trace/{lot_id}/card`` (an unknown lot is a 404 problem here)."""
    public_lot(gw, request.match_info["lot_id"])
    return shell("trace")
