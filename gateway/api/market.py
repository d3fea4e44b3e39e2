"""Public market data over REST: instruments, books, trades, tickers; health and readiness.

Books, trades and tickers come from `MarketData` (what has been published), so a REST book is
the same object a WebSocket client gets as a snapshot, at the same seq.

Never reads books, trades or tickers from the live exchange.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.tools.compiled import core_name
from engine.views import InstrumentView
from gateway.api.http import int_query, reply
from gateway.api.problems import Problem
from gateway.api.schemas import InstrumentOut
from gateway.state import Gateway


def instrument_out(inst: InstrumentView | None) -> InstrumentOut:
    assert inst is not None  # callers name a listed instrument
    status = "halted" if inst.halted else ("call" if inst.phase != "continuous" else "open")
    return InstrumentOut(symbol=inst.symbol, herb=inst.herb, grade=inst.grade, unit=inst.unit,
                         tick_vnd=inst.tick_vnd, qty_step=inst.qty_step, status=status,  # type: ignore[arg-type]
                         band_bps=inst.band_bps, ref_price_vnd=inst.ref_price_vnd,
                         last_price=inst.last_price_vnd)


def known(gw: Gateway, request: web.Request) -> str:
    symbol = request.match_info["symbol"]
    if symbol not in gw.market.books:
        raise Problem(404, "unknown_symbol", f"no instrument {symbol!r}")
    return symbol


async def list_instruments(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    insts = [instrument_out(i) for i in gw.exchange.instrument_views()]
    return reply({"instruments": insts})


async def get_instrument(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    symbol = known(gw, request)
    return reply(instrument_out(gw.exchange.instrument(symbol)))


async def get_book(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    symbol = known(gw, request)
    depth = int_query(request, "depth", 10, 1, gw.settings.page_max)
    return reply(gw.market.books[symbol].snapshot(depth))


async def get_trades(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    symbol = known(gw, request)
    limit = int_query(request, "limit", 100, 1, gw.settings.page_max)
    return reply({"trades": gw.market.recent_trades(symbol, limit)})


async def get_ticker(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    return reply(gw.market.ticker(known(gw, request)))


async def list_tickers(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    return reply({"tickers": [gw.market.ticker(s) for s in gw.market.books]})


def consumers(gw: Gateway) -> dict[str, Any]:
    """The downstream consumers' position, lag and state; they never make the market unready
    (the market does not wait for them), so they are shown, not judged."""
    return gw.feed.status() if gw.feed is not None else {}


async def healthz(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    return reply({"status": "ok", "seq": gw.exchange.last_seq,
                  "queue_depth": gw.pipeline.depth, "consumers": consumers(gw),
                  "core": core_name()})


async def readyz(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    ready = gw.pipeline.ready and not gw.closing
    return reply({"status": "ready" if ready else "not_ready", "seq": gw.exchange.last_seq,
                  "queue_depth": gw.pipeline.depth, "consumers": consumers(gw)},
                 status=200 if ready else 503)
