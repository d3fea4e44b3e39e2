"""Trading over REST: place, cancel, replace; own orders, fills and balances.

Every handler acts for the authenticated participant's own account; an order of another account
answers 404 exactly like an unknown one (no probing of other traders' order ids).
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from typing import Any

from aiohttp import web

from engine.messages import MAX_NS, CancelOrder, PlaceOrder, ReplaceOrder
from gateway.api.http import body, int_path, int_query, reply
from gateway.api.outcomes import cancel_result, place_result, replace_result
from gateway.api.problems import FieldError, Problem
from gateway.api.schemas import OrderOut, OrderRequest, OrderResultOut, ReplaceRequest
from gateway.auth import Participant
from gateway.state import Gateway

# Client order ids the gateway makes up for orders sent without one: a random prefix per process
# (so gateways and restarts never collide) and a counter (a uuid4 per order costs a system call;
# docs/benchmarks.md has the profile).
_AUTO_PREFIX = secrets.token_hex(6)
_auto_ids = itertools.count(1)


def key_order_id(idempotency_key: str) -> str:
    """The client order id of an order sent with an Idempotency-Key but without its own id:
    derived from the key, so a retry that the (in-memory, bounded) key store has forgotten,
    after a restart or eviction, still meets the engine's client-order-id check and never
    places a second order."""
    return "idem-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]


def order_command(who: Participant, req: OrderRequest,
                  idempotency_key: str | None = None) -> PlaceOrder:
    expire_at_ns = None
    if req.expire_at is not None:
        if req.expire_at.tzinfo is None:
            raise Problem(422, "invalid_field", "expire_at needs a time zone (e.g. Z)")
        ts = req.expire_at
        expire_at_ns = int(ts.timestamp()) * 1_000_000_000 + ts.microsecond * 1000
        if not 0 <= expire_at_ns <= MAX_NS:
            raise Problem(422, "invalid_field", "expire_at must lie between 1970 and 2262",
                          errors=[FieldError(field="$.expire_at",
                                             message="must lie between 1970 and 2262")])
    cid = req.client_order_id or (key_order_id(idempotency_key) if idempotency_key
                                  else f"auto-{_AUTO_PREFIX}-{next(_auto_ids)}")
    return PlaceOrder(
        account=who.id, client_order_id=cid,
        symbol=req.symbol, side=req.side, order_type=req.type, price_vnd=req.price,
        qty=req.qty, tif=req.tif, post_only=req.post_only, expire_at_ns=expire_at_ns,
        cash_cap_vnd=req.cash_cap)


async def place(gw: Gateway, who: Participant, req: OrderRequest,
                idempotency_key: str | None = None) -> tuple[int, OrderResultOut]:
    return place_result(await gw.submit(order_command(who, req, idempotency_key)))


def own_order(gw: Gateway, who: Participant, order_id: int) -> Any:
    view = gw.exchange.order_status(order_id)
    if view is None or (view.account != who.id and who.role != "operator"):
        raise Problem(404, "unknown_order", f"no order {order_id}")
    return view


async def cancel(gw: Gateway, who: Participant, order_id: int) -> OrderResultOut:
    view = own_order(gw, who, order_id)
    events = await gw.submit(CancelOrder(account=who.id, order_id=order_id))
    return cancel_result(events, view.client_order_id)


async def replace(gw: Gateway, who: Participant, order_id: int,
                  req: ReplaceRequest) -> OrderResultOut:
    view = own_order(gw, who, order_id)
    events = await gw.submit(ReplaceOrder(account=who.id, order_id=order_id, qty=req.qty,
                                          price_vnd=req.price))
    return replace_result(events, view.client_order_id)


def order_out(view: Any) -> OrderOut:
    return OrderOut(order_id=view.order_id, client_order_id=view.client_order_id,
                    symbol=view.symbol, side=view.side, price=view.price_vnd, qty=view.qty,
                    filled_qty=view.filled_qty, leaves_qty=view.leaves_qty, status=view.status,
                    tif=view.tif, resting=view.resting)


# -- handlers -------------------------------------------------------------------------------------


async def post_order(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    req = await body(request, OrderRequest)
    status, result = await place(gw, who, req, request.headers.get("Idempotency-Key"))
    return reply(result, status)


async def delete_order(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    return reply(await cancel(gw, who, int_path(request, "order_id")))


async def patch_order(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    req = await body(request, ReplaceRequest)
    return reply(await replace(gw, who, int_path(request, "order_id"), req))


async def get_order(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    return reply(order_out(own_order(gw, who, int_path(request, "order_id"))))


async def list_orders(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    limit = int_query(request, "limit", 100, 1, gw.settings.page_max)
    only_open = request.query.get("status", "open") == "open"
    views = []
    for oid in reversed(gw.market.orders_of(who.id)):
        view = gw.exchange.order_status(oid)
        if view is not None and (view.resting or not only_open):
            views.append(order_out(view))
            if len(views) == limit:
                break
    return reply({"orders": views})


async def list_fills(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    limit = int_query(request, "limit", 100, 1, gw.settings.page_max)
    return reply({"fills": gw.market.recent_fills(who.id, limit)})


def balances_of(gw: Gateway, account: str) -> Any:
    view = gw.exchange.balances(account)
    if view is None:
        return {"account": account, "cash_vnd": 0, "cash_held_vnd": 0,
                "cash_available_vnd": 0, "goods": []}
    return view


async def my_balances(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    return reply(balances_of(gw, who.id))
