"""The endpoint table: every HTTP route with the roles that may call it.

This table is the authority for the endpoint × role matrix in docs/api.md and for its exhaustive
test; `setup_routes` registers every row through `gateway.http.guard`, so a route cannot exist
without its role check.
"""

from __future__ import annotations

from aiohttp import web

from gateway import api_admin, api_auctions, api_lots, api_market, api_orders, pages, schemas
from gateway.http import ALL_ROLES, OPERATOR, TRADERS, Endpoint, guard
from gateway.orders import ClientOrderIdReusedBody

P = "/api/v1"
E = Endpoint

ENDPOINTS: tuple[Endpoint, ...] = (
    # public market data and pages
    E("GET", "/", pages.start_page, None, "Start page (vi/en)"),
    E("GET", "/healthz", api_market.healthz, None, "Liveness", response=schemas.StatusOut),
    E("GET", "/readyz", api_market.readyz, None, "Readiness (503 while not ready)",
      response=schemas.StatusOut),
    E("GET", f"{P}/instruments", api_market.list_instruments, None, "List instruments",
      response=schemas.InstrumentsOut),
    E("GET", f"{P}/instruments/{{symbol}}", api_market.get_instrument, None, "One instrument",
      response=schemas.InstrumentOut),
    E("GET", f"{P}/instruments/{{symbol}}/book", api_market.get_book, None,
      "Book depth (?depth=N): the WebSocket snapshot object", response=schemas.BookOut),
    E("GET", f"{P}/instruments/{{symbol}}/trades", api_market.get_trades, None,
      "Recent trades, newest first (?limit=N)", response=schemas.TradesOut),
    E("GET", f"{P}/instruments/{{symbol}}/ticker", api_market.get_ticker, None,
      "Ticker of one instrument", response=schemas.TickerOut),
    E("GET", f"{P}/ticker", api_market.list_tickers, None, "Tickers of every instrument",
      response=schemas.TickersOut),
    E("GET", "/trace/{lot_id}", pages.trace_page, None, "Public trace page of a lot (HTML)"),
    E("GET", "/trace/{lot_id}/qr.svg", pages.trace_qr, None, "QR code of a lot's trace URL"),
    E("GET", "/01/{gtin}/10/{lot_id}", pages.digital_link, None,
      "GS1 Digital Link resolver: redirects to the trace page"),
    E("GET", f"{P}/trace/{{lot_id}}", api_lots.trace_json, None, "Public trace record (JSON)"),
    # trading
    E("POST", f"{P}/orders", api_orders.post_order, TRADERS, "Place an order",
      request=schemas.OrderRequest, response=schemas.OrderResultOut, status=201,
      idempotent_key=True, responses=(
          (200, "The client_order_id was used already for this same order: no new order; the "
                "original as it stands now, with resent: true", schemas.OrderResultOut),
          (409, "client_order_id_reused: the client_order_id names an order already and this "
                "request differs from it (symbol, side, type, price, qty, tif, post_only, "
                "expire_at or cash_cap); nothing is placed; the original is in order",
           ClientOrderIdReusedBody),
          (422, "idempotency_key_reused: the Idempotency-Key was used for a different request "
                "(or another refusal, by its code)", None))),
    E("GET", f"{P}/orders", api_orders.list_orders, TRADERS | OPERATOR,
      "Own orders (?status=open|all, ?limit=N)", response=schemas.OrdersOut),
    E("GET", f"{P}/orders/{{order_id}}", api_orders.get_order, TRADERS | OPERATOR,
      "One own order", response=schemas.OrderOut),
    E("DELETE", f"{P}/orders/{{order_id}}", api_orders.delete_order, TRADERS, "Cancel an order",
      response=schemas.OrderResultOut, idempotent_key=True),
    E("PATCH", f"{P}/orders/{{order_id}}", api_orders.patch_order, TRADERS,
      "Replace an order (qty and/or price)", request=schemas.ReplaceRequest,
      response=schemas.OrderResultOut, idempotent_key=True),
    E("GET", f"{P}/fills", api_orders.list_fills, TRADERS, "Own recent fills (?limit=N)",
      response=schemas.FillsOut),
    E("GET", f"{P}/balances", api_orders.my_balances, TRADERS, "Own cash and goods",
      response=schemas.BalancesOut),
    # lots
    E("POST", f"{P}/lots", api_lots.register, frozenset({"cooperative"}),
      "Register a lot (the cooperative owns it)", request=schemas.LotRequest,
      response=schemas.LotOut, status=201, idempotent_key=True),
    E("GET", f"{P}/lots", api_lots.list_lots, ALL_ROLES - {"trader"},
      "Lots (a cooperative sees its own)", response=schemas.LotsOut),
    E("GET", f"{P}/lots/{{lot_id}}", api_lots.get_lot, ALL_ROLES - {"trader"}, "One lot",
      response=schemas.LotOut),
    E("POST", f"{P}/lots/{{lot_id}}/assays", api_lots.post_assay, frozenset({"lab"}),
      "Post assay results; the grade follows", request=schemas.AssayRequest,
      response=schemas.LotOut, status=201, idempotent_key=True),
    E("POST", f"{P}/lots/{{lot_id}}/receive", api_lots.receive, OPERATOR,
      "Receive a graded lot into custody", request=schemas.ReceiveRequest,
      response=schemas.LotOut, idempotent_key=True),
    E("POST", f"{P}/lots/{{lot_id}}/list", api_lots.list_lot, frozenset({"cooperative"}),
      "List an own lot on the book of its grade", request=schemas.ListRequest,
      response=schemas.LotOut, idempotent_key=True),
    E("POST", f"{P}/lots/{{lot_id}}/delist", api_lots.delist_lot, frozenset({"cooperative"}),
      "Take an own lot off the book, back into the warehouse", request=schemas.ListRequest,
      response=schemas.LotOut, idempotent_key=True),
    E("POST", f"{P}/lots/{{lot_id}}/withdraw", api_lots.withdraw_lot,
      frozenset({"cooperative", "operator"}),
      "Take what is left of a lot out of custody", request=schemas.ListRequest,
      response=schemas.LotOut, idempotent_key=True),
    # auctions
    E("GET", f"{P}/auctions", api_auctions.list_auctions, None,
      "Live auctions (?status=all for closed ones too)"),
    E("GET", f"{P}/auctions/{{auction_id}}", api_auctions.get_auction, None,
      "One auction's public state"),
    E("POST", f"{P}/auctions", api_auctions.post_auction, frozenset({"cooperative", "operator"}),
      "Auction a lot (own lot; an operator names the seller)",
      request=api_auctions.AuctionRequest, status=201, idempotent_key=True),
    E("POST", f"{P}/auctions/{{auction_id}}/bids", api_auctions.post_bid, TRADERS,
      "English maximum or sealed bid", request=api_auctions.BidRequest,
      response=api_auctions.BidOut, status=201, idempotent_key=True),
    E("POST", f"{P}/auctions/{{auction_id}}/buy", api_auctions.post_dutch_buy, TRADERS,
      "Stop the Dutch clock and buy", request=api_auctions.DutchBuyRequest,
      response=api_auctions.DutchBuyOut, status=201, idempotent_key=True),
    E("POST", f"{P}/auctions/{{auction_id}}/cancel", api_auctions.post_cancel,
      frozenset({"cooperative", "operator"}),
      "Cancel an auction (the operator; the seller before the first bid)",
      request=api_auctions.CancelAuctionRequest, response=api_auctions.CancelAuctionOut,
      idempotent_key=True),
    # operator
    E("POST", f"{P}/instruments", api_admin.add_instrument, OPERATOR, "List an instrument",
      request=schemas.InstrumentRequest, response=schemas.InstrumentOut, status=201),
    E("POST", f"{P}/instruments/{{symbol}}/halt", api_admin.halt, OPERATOR, "Halt trading",
      response=schemas.InstrumentOut),
    E("POST", f"{P}/instruments/{{symbol}}/resume", api_admin.resume, OPERATOR,
      "Resume trading", response=schemas.InstrumentOut),
    E("POST", f"{P}/deposits", api_admin.deposit, OPERATOR, "Cash into an account",
      request=schemas.CashRequest, response=schemas.CashOut, status=201, idempotent_key=True),
    E("POST", f"{P}/withdrawals", api_admin.withdraw, OPERATOR, "Cash out of an account",
      request=schemas.CashRequest, response=schemas.CashOut, status=201, idempotent_key=True),
    E("GET", f"{P}/accounts/{{account}}/balances", api_admin.account_balances, OPERATOR,
      "Any account's cash and goods", response=schemas.BalancesOut),
    E("GET", f"{P}/participants", api_admin.list_participants, OPERATOR, "Participants",
      response=schemas.ParticipantsOut),
    E("POST", f"{P}/participants", api_admin.add_participant, OPERATOR, "Register a participant",
      request=schemas.ParticipantRequest, response=schemas.ParticipantOut, status=201),
    E("POST", f"{P}/participants/{{participant_id}}/tokens", api_admin.issue_token, OPERATOR,
      "Issue a bearer token (shown once)", response=schemas.TokenOut, status=201),
    E("DELETE", f"{P}/participants/{{participant_id}}/tokens", api_admin.revoke_tokens,
      OPERATOR, "Revoke every token of a participant"),
)


def role_table() -> str:
    """The endpoint × role table of docs/api.md, in Markdown (the tests check the doc has it)."""
    roles = ("trader", "cooperative", "lab", "analyst", "operator")
    lines = ["| endpoint | " + " | ".join(roles) + " | summary |",
             "|---|" + "---|" * len(roles) + "---|"]
    for ep in ENDPOINTS:
        marks = ["public" if ep.roles is None else ("✓" if r in ep.roles else "–")
                 for r in roles]
        lines.append(f"| `{ep.method} {ep.path}` | " + " | ".join(marks)
                     + f" | {ep.summary} |")
    return "\n".join(lines)


def setup_routes(app: web.Application) -> None:
    from gateway.openapi import openapi_handler
    from gateway.ws import ws_handler

    for ep in ENDPOINTS:
        if ep.method == "GET":
            app.router.add_get(ep.path, guard(ep))  # HEAD too, as HTTP expects of a GET
        else:
            app.router.add_route(ep.method, ep.path, guard(ep))
    app.router.add_get(f"{P}/openapi.json", openapi_handler)
    app.router.add_get("/ws", ws_handler)
