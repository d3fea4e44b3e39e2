"""Issue 8 item 3, the property: whatever arrives at any endpoint or WebSocket op, the market
restarts from its data directory with the same state hash.

Hypothesis draws a sequence of requests over the whole endpoint table (every method and path of
`gateway.api.routes.ENDPOINTS`, with a token of a role that may call it) and over the WebSocket
engine ops, filling each field of the request type with hostile values: integers at and past
every bound, times before 1970 and after 2262, identifiers with controls, markup and bidi
overrides, wrong types. The market never answers 5xx, then it is stopped and started again, and
its state hash must be the one it had.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect

from gateway.api.routes import ENDPOINTS
from gateway.api.schemas import OrderRequest, ReplaceRequest
from tests.gateway.conftest import settings as market_settings
from tests.gateway.conftest import start

BOUNDS = st.sampled_from([
    0, 1, -1, 2, 10, 100, 60_000, 61_500, 10**6 + 1, -(10**6) - 1, 10**9, 10**9 + 1,
    -(10**9) - 1, 2 * 10**9, 10**15, 10**15 + 1, -(10**15) - 1, 3 * 10**9, -3 * 10**9,
    2**63 - 1, 2**63, 2**64, -(2**63)])
INTS = st.one_of(BOUNDS, BOUNDS, BOUNDS, st.integers(-(2**70), 2**70))
WORDS = st.sampled_from([
    "QUE-BARK-A", "LOT-C1", "T1", "C1", "buy", "sell", "limit", "market", "gtc", "ioc", "fok",
    "gtd", "english", "dutch", "sealed", "first", "second", "trader", "operator", "book",
    "que_bark", "", "x" * 80, "<b>x</b>", "a\x00b", "a\x1b[31m", "a\nb", "a\u202eb", "%41",
    "1960-01-01T00:00:00Z", "2300-01-01T00:00:00Z", "2030-01-01T00:00:00Z", "2026-11-29",
    "VN-LCI-SAPA-001", "org:vn", "65537.0",
])
SCALARS = st.one_of(INTS, WORDS, st.text(max_size=40), st.booleans(), st.none(),
                    st.floats(allow_nan=False, allow_infinity=False))
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3),
                   st.dictionaries(WORDS, SCALARS, max_size=3))
PATH_PARTS = st.one_of(st.integers(1, 12).map(str), INTS.map(str),
                       WORDS.filter(lambda w: w and "\x00" not in w))
TIMES = st.sampled_from(["1960-01-01T00:00:00Z", "2300-01-01T00:00:00Z", "2030-01-01T00:00:00Z",
                         "2261-12-31T23:59:59Z", "2026-11-29T09:00:00+07:00",
                         "2026-11-29T09:00:00"])


def typed(t: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of the field's own type (so requests get past decoding and reach the engine) at
    and past every bound, and now and then a value of any type at all."""
    it = msgspec.inspect
    if isinstance(t, it.IntType):
        own: st.SearchStrategy[Any] = INTS
    elif isinstance(t, it.StrType):
        own = st.one_of(WORDS, st.text(max_size=70))
    elif isinstance(t, it.LiteralType):
        own = st.sampled_from(list(t.values))
    elif isinstance(t, it.BoolType):
        own = st.booleans()
    elif isinstance(t, it.DateTimeType):
        own = TIMES
    elif isinstance(t, it.DateType):
        own = st.sampled_from(["2026-11-29", "1900-01-01", "9999-12-31"])
    elif isinstance(t, it.UnionType):
        own = st.one_of([typed(x, depth) for x in t.types])
    elif isinstance(t, it.NoneType):
        own = st.none()
    elif isinstance(t, it.ListType) and depth < 2:
        own = st.lists(typed(t.item_type, depth + 1), max_size=3)
    elif isinstance(t, it.StructType) and depth < 2:
        own = st.fixed_dictionaries({f.encode_name: typed(f.type, depth + 1) for f in t.fields})
    else:
        own = VALUES
    if depth:
        return own
    return st.integers(0, 19).flatmap(lambda n: VALUES if n == 0 else own)


def fields_of(struct: type) -> dict[str, Any]:
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)
    return {f.encode_name: f.type for f in info.fields}


def _token_for(roles: frozenset[str] | None) -> str:
    if roles is None:
        return "T1"
    for who, role in (("T1", "trader"), ("C1", "cooperative"), ("L1", "lab"),
                      ("A1", "analyst"), ("operator", "operator")):
        if role in roles:
            return who
    return "T1"


COMMANDS = [e for e in ENDPOINTS if e.method != "GET"]


@st.composite
def rest_request(draw: st.DrawFn) -> tuple[str, str, str, Any]:
    # mostly the endpoints that submit commands; now and then any other (path ids, queries)
    ep = draw(st.one_of(st.sampled_from(COMMANDS), st.sampled_from(COMMANDS),
                        st.sampled_from(ENDPOINTS)))
    path = ep.path
    while "{" in path:
        head, _, rest = path.partition("{")
        _, _, tail = rest.partition("}")
        path = head + draw(PATH_PARTS).replace("/", "_") + tail
    body: Any = None
    if ep.request is not None:
        types = fields_of(ep.request)
        body = {name: draw(typed(t)) for name, t in types.items() if draw(st.integers(0, 3))}
    return ep.method, path, _token_for(ep.roles), body


_INT = msgspec.inspect.IntType()
_CHANNELS = msgspec.inspect.ListType(item_type=msgspec.inspect.StrType())
WS_OPS: dict[str, dict[str, Any]] = {
    "order": fields_of(OrderRequest),
    "cancel": {"order_id": _INT}, "replace": {"order_id": _INT, **fields_of(ReplaceRequest)},
    "bid": {"auction_id": _INT, "price": _INT},
    "dutch_buy": {"auction_id": _INT, "price": _INT, "qty": _INT},
    "subscribe": {"channels": _CHANNELS}, "snapshot": {"channel": msgspec.inspect.StrType()},
}


@st.composite
def ws_request(draw: st.DrawFn) -> tuple[str, str, str, Any]:
    op = draw(st.sampled_from(sorted(WS_OPS)))
    msg = {"op": op, "req_id": draw(st.one_of(INTS, WORDS))}
    for name, t in WS_OPS[op].items():
        if draw(st.integers(0, 3)):
            msg[name] = draw(typed(t))
    return "WS", "/ws", "T1", msg


REQUESTS = st.lists(st.one_of(rest_request(), ws_request()), min_size=1, max_size=12)


async def _run(requests: list[tuple[str, str, str, Any]], data_dir: Path) -> None:
    m = await start(market_settings(data_dir))
    try:
        for method, path, who, body in requests:
            headers = m.h(who)
            if method == "WS":
                async with connect(m.ws_url, additional_headers=headers) as ws:
                    await ws.send(json.dumps(body))
                    # a ping after it: its pong proves the op was handled (some ops, such as
                    # subscribing to nothing, answer nothing)
                    await ws.send(json.dumps({"op": "ping", "req_id": "done"}))
                    async with asyncio.timeout(10):
                        while json.loads(await ws.recv()).get("type") != "pong":
                            pass
                continue
            headers["Content-Type"] = "application/json"
            r = await m.client.request(method, path, headers=headers,
                                       data=None if body is None else json.dumps(body),
                                       params=None)
            assert r.status < 500, (method, path, body, r.status, await r.text())
        # a last acknowledged order, so nothing refused is at the journal's end either
        status, answer = await m.order("T1", price=60_000, qty=1, client_order_id="last")
        assert status in (201, 200, 409, 422), answer
        before = (m.gw.exchange.last_seq, m.gw.exchange.state_hash())
    finally:
        await m.client.close()
    m = await start(market_settings(data_dir), seed=False)
    try:
        assert m.gw.sequencer is not None and m.gw.sequencer.recovery.tail_cut is None
        assert (m.gw.exchange.last_seq, m.gw.exchange.state_hash()) == before
    finally:
        await m.client.close()


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(requests=REQUESTS)
def test_any_requests_then_restart_give_the_same_state(requests: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_run(requests, Path(tmp)))
