"""Tick data over REST: ticks by cursor and time range, bars, streaming CSV and Parquet exports.

Owns the query parameters of the tick endpoints (declared once, in `TicksParams` and
`BarsParams`, so a bad one is a 422 naming it), and the exports: a CSV or Parquet stream that
sends its header at once and then one chunk of rows at a time as the store yields them, never
the range in memory; at most `MAX_EXPORTS` run at once in a process (503 beyond). Ticks and bars
are public market data, as trades are (a tick names no buyer or seller); exports are for
analysts and the operator. Reads only: never writes the tick store (the writer does).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import msgspec
from aiohttp import web
from msgspec import Meta, Struct

from engine.messages import HerbCode, Symbol
from gateway.api.http import reply
from gateway.api.market import known
from gateway.api.problems import FieldError, Problem
from gateway.state import Gateway
from gateway.stream.wire import parse_iso_ns
from settlement.ticks.export import (
    ParquetChunks,
    bar_json,
    csv_header,
    cursor_of,
    tick_json,
)
from settlement.ticks.model import Interval
from settlement.ticks.store import MAX_BARS, MAX_PAGE, TickQuery

log = logging.getLogger("herbx.ticks")

MAX_EXPORTS = 2  # concurrent exports per process: each holds a database cursor
#: an export whose client takes nothing for this long is dropped: a client that vanished
#: without closing (or never reads) would otherwise hold a slot and its cursor for ever
EXPORT_STALL_S = 60.0
_running = [0]  # exports streaming now in this process
#: ``<seq>:<n>``; at most 18 digits, so a seq always fits the stores' 64-bit column
Cursor = Annotated[str, Meta(max_length=30, pattern=r"^-?[0-9]{1,18}:[0-9]{1,9}$")]
#: integer nanoseconds since the epoch, or RFC 3339 with a zone (``2026-11-29T00:00:00+07:00``)
TimeText = Annotated[str, Meta(min_length=1, max_length=40)]


class ExportParams(Struct, kw_only=True, forbid_unknown_fields=True):
    symbol: Symbol | None = None
    herb: HerbCode | None = None
    from_: TimeText | None = msgspec.field(default=None, name="from")
    to: TimeText | None = None
    after: Cursor | None = None


class TicksParams(ExportParams, kw_only=True, forbid_unknown_fields=True):
    limit: Annotated[int, Meta(ge=1, le=MAX_PAGE)] = 100


class BarsParams(Struct, kw_only=True, forbid_unknown_fields=True):
    interval: Interval = "1m"
    from_: TimeText | None = msgspec.field(default=None, name="from")
    to: TimeText | None = None
    limit: Annotated[int, Meta(ge=1, le=MAX_BARS)] = 1000


def exports_running() -> int:
    """How many exports stream now in this process."""
    return _running[0]


def refuse_repeats(request: web.Request) -> None:
    """A query parameter given twice is a 400, never silently its first value."""
    keys = [k for k, _ in request.query.items()]
    if len(set(keys)) != len(keys):
        raise Problem(400, "duplicate_key", "a query parameter appears twice")


def _params(request: web.Request, typ: type[Any]) -> Any:
    refuse_repeats(request)
    return msgspec.convert(dict(request.query), typ, strict=False)


def _time(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    try:
        if text.isascii() and text.isdigit():
            if len(text) > 19 or int(text) > 2**63 - 1:
                raise ValueError("past 2262")
            return int(text)
        return parse_iso_ns(text)
    except (ValueError, msgspec.ValidationError) as exc:
        raise Problem(422, "invalid_field", f"{name}: nanoseconds or RFC 3339 with a zone",
                      errors=[FieldError(field=f"?{name}", message=str(exc))]) from None


def _range(p: Any) -> tuple[int | None, int | None]:
    lo, hi = _time(p.from_, "from"), _time(p.to, "to")
    if lo is not None and hi is not None and hi < lo:
        raise Problem(422, "invalid_field", "to is before from",
                      errors=[FieldError(field="?to", message="before from")])
    return lo, hi


def _query(p: ExportParams) -> TickQuery:
    if p.symbol is not None and p.herb is not None:
        raise Problem(422, "invalid_field", "name a symbol or a herb, not both",
                      errors=[FieldError(field="?herb", message="with symbol")])
    lo, hi = _range(p)
    after = None
    if p.after is not None:
        s, _, n = p.after.partition(":")
        after = (int(s), int(n))
    return TickQuery(symbol=p.symbol, herb=p.herb, from_ns=lo, to_ns=hi, after=after)


def tick_store_of(gw: Gateway) -> Any:
    """The tick store of this process (a `settlement.ticks.store.TickStore`), or a 503."""
    if gw.ticks is None:
        raise Problem(503, "ticks_unavailable", "this process keeps no tick store")
    return gw.ticks


async def get_ticks(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    p = _params(request, TicksParams)
    q = _query(p)
    ticks = await tick_store_of(gw).ticks(q, p.limit)
    # the cursor to ask from next: the last tick's, or the one given when there is none yet
    nxt = cursor_of(ticks[-1]) if ticks else p.after
    return reply({"ticks": [tick_json(t) for t in ticks], "next": nxt})


async def get_bars(request: web.Request, gw: Gateway, who: Any) -> web.Response:
    symbol = known(gw, request)
    p = _params(request, BarsParams)
    lo, hi = _range(p)
    bars = await tick_store_of(gw).bars(symbol, p.interval, lo, hi, p.limit)
    return reply({"symbol": symbol, "interval": p.interval, "bars": [bar_json(b) for b in bars]})


async def _export(request: web.Request, gw: Gateway, content_type: str, name: str,
                  first: bytes, encode: Any, last: Any) -> web.StreamResponse:
    q = _query(_params(request, ExportParams))
    store = tick_store_of(gw)
    headers = {"Content-Type": content_type,
               "Content-Disposition": f'attachment; filename="{name}"'}
    if request.method == "HEAD":
        # headers only: a streamed body after them would be read as the next response on
        # the connection (aiohttp sends what a StreamResponse writes, HEAD or not)
        return web.Response(headers=headers)
    if _running[0] >= MAX_EXPORTS:
        raise Problem(503, "exports_busy", f"at most {MAX_EXPORTS} exports at once",
                      headers={"Retry-After": "5"})
    _running[0] += 1
    try:
        resp = web.StreamResponse(headers=headers)
        resp.enable_chunked_encoding()
        await resp.prepare(request)

        async def write(data: bytes) -> None:
            async with asyncio.timeout(EXPORT_STALL_S):
                await resp.write(data)

        try:
            if first:
                await write(first)  # the client sees the export start at once
            if encode is None:
                await store.export_csv(q, write)
            else:
                async for chunk in store.export(q):
                    await write(encode(chunk))
            tail = last()
            if tail:
                await write(tail)
        except (ConnectionResetError, asyncio.CancelledError):
            raise  # the client went away: nothing to tell it
        except TimeoutError:
            log.warning("tick export dropped: its client read nothing for %s s", EXPORT_STALL_S)
            if request.transport is not None:
                request.transport.abort()
            return resp
        except Exception:
            # The status line is sent: the only honest signal left is a body that never ends
            # properly (no last chunk), which every HTTP client reports as an error.
            log.exception("tick export failed mid-stream")
            if request.transport is not None:
                request.transport.abort()
            return resp
        await resp.write_eof()
        return resp
    finally:
        _running[0] -= 1


async def export_csv(request: web.Request, gw: Gateway, who: Any) -> web.StreamResponse:
    return await _export(request, gw, "text/csv; charset=utf-8", "ticks.csv", csv_header(),
                         None, lambda: b"")


async def export_parquet(request: web.Request, gw: Gateway, who: Any) -> web.StreamResponse:
    pq = ParquetChunks()
    return await _export(request, gw, "application/vnd.apache.parquet", "ticks.parquet",
                         pq.take(), pq.add, pq.finish)
