"""The endpoint table: every HTTP route with the roles that may call it.

This table is the authority for the endpoint × role matrix in docs/api.md and for its exhaustive
test; `setup_routes` registers every row through `gateway.api.http.guard`, so a route cannot exist
without its role check.
"""

from __future__ import annotations

from aiohttp import web

from gateway.api import (
    admin,
    analytics,
    auctions,
    dvp,
    ledger,
    lots,
    market,
    orders,
    schemas,
    session,
    specs,
    ticks,
)
from gateway.api.http import ALL_ROLES, OPERATOR, TRADERS, Endpoint, guard
from gateway.api.outcomes import ClientOrderIdReusedBody
from settlement.reports import Statement
from web import assets, desks, pages

P = "/api/v1"
E = Endpoint
#: who reads the insurance figures: the fund's analysts, the operator, the insured growers
INSURANCE_READERS = frozenset({"analyst", "operator", "cooperative"})

ENDPOINTS: tuple[Endpoint, ...] = (
    # public market data and pages
    E("GET", "/", pages.start_page, None, "Start page (vi/en)"),
    E("GET", "/healthz", market.healthz, None, "Liveness", response=schemas.StatusOut),
    E("GET", "/readyz", market.readyz, None, "Readiness (503 while not ready)",
      response=schemas.StatusOut),
    E("GET", f"{P}/instruments", market.list_instruments, None, "List instruments",
      response=schemas.InstrumentsOut),
    E("GET", f"{P}/instruments/{{symbol}}", market.get_instrument, None, "One instrument",
      response=schemas.InstrumentOut),
    E("GET", f"{P}/instruments/{{symbol}}/book", market.get_book, None,
      "Book depth (?depth=N): the WebSocket snapshot object", response=schemas.BookOut),
    E("GET", f"{P}/instruments/{{symbol}}/trades", market.get_trades, None,
      "Recent trades, newest first (?limit=N)", response=schemas.TradesOut),
    E("GET", f"{P}/instruments/{{symbol}}/ticker", market.get_ticker, None,
      "Ticker of one instrument", response=schemas.TickerOut),
    E("GET", f"{P}/ticker", market.list_tickers, None, "Tickers of every instrument",
      response=schemas.TickersOut),
    E("GET", "/trace/{lot_id}", desks.trace_page, None, "Public trace page of a lot (HTML)"),
    E("GET", "/trace/{lot_id}/qr.svg", pages.trace_qr, None, "QR code of a lot's trace URL"),
    E("GET", "/01/{gtin}/10/{lot_id}", pages.digital_link, None,
      "GS1 Digital Link resolver: redirects to the trace page"),
    E("GET", f"{P}/trace/{{lot_id}}", lots.trace_json, None, "Public trace record (JSON)"),
    E("GET", "/floor", pages.floor_page, None, "Trading floor (web UI)"),
    E("GET", "/auctions", pages.auctions_page, None, "Auction room (web UI)"),
    E("GET", f"{P}/trace/{{lot_id}}/card", session.lot_card, None,
      "A lot's trace record with each assay result against its limit (JSON)"),
    E("GET", f"{P}/demo/people", session.demo_people, None,
      "The web UI's demo people with their tokens (empty unless --demo)"),
    E("GET", f"{P}/me", session.me, ALL_ROLES, "Who the token belongs to"),
    E("GET", "/coop", desks.coop_page, None, "Cooperative desk (web UI)"),
    E("GET", "/lab", desks.lab_page, None, "Lab desk (web UI)"),
    E("GET", "/ops", desks.ops_page, None, "Operator desk (web UI)"),
    E("GET", "/analyst", desks.analyst_page, None, "Analyst desk (web UI)"),
    E("GET", f"{P}/specs", specs.list_specs, None,
      "Herb specifications: assay parameters, limits, grade bands (JSON)"),
    # trading
    E("POST", f"{P}/orders", orders.post_order, TRADERS, "Place an order",
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
    E("GET", f"{P}/orders", orders.list_orders, TRADERS | OPERATOR,
      "Own orders (?status=open|all, ?limit=N)", response=schemas.OrdersOut),
    E("GET", f"{P}/orders/{{order_id}}", orders.get_order, TRADERS | OPERATOR,
      "One own order", response=schemas.OrderOut),
    E("DELETE", f"{P}/orders/{{order_id}}", orders.delete_order, TRADERS, "Cancel an order",
      response=schemas.OrderResultOut, idempotent_key=True),
    E("PATCH", f"{P}/orders/{{order_id}}", orders.patch_order, TRADERS,
      "Replace an order (qty and/or price)", request=schemas.ReplaceRequest,
      response=schemas.OrderResultOut, idempotent_key=True),
    E("GET", f"{P}/fills", orders.list_fills, TRADERS, "Own recent fills (?limit=N)",
      response=schemas.FillsOut),
    E("GET", f"{P}/balances", orders.my_balances, TRADERS, "Own cash and goods",
      response=schemas.BalancesOut),
    # lots
    E("POST", f"{P}/lots", lots.register, frozenset({"cooperative"}),
      "Register a lot (the cooperative owns it)", request=schemas.LotRequest,
      response=schemas.LotOut, status=201, idempotent_key=True),
    E("GET", f"{P}/lots", lots.list_lots, ALL_ROLES - {"trader"},
      "Lots (a cooperative sees its own)", response=schemas.LotsOut),
    E("GET", f"{P}/lots/{{lot_id}}", lots.get_lot, ALL_ROLES - {"trader"}, "One lot",
      response=schemas.LotOut),
    E("POST", f"{P}/lots/{{lot_id}}/assays", lots.post_assay, frozenset({"lab"}),
      "Post assay results; the grade follows", request=schemas.AssayRequest,
      response=schemas.LotOut, status=201, idempotent_key=True),
    E("POST", f"{P}/lots/{{lot_id}}/receive", lots.receive, OPERATOR,
      "Receive a graded lot into custody", request=schemas.ReceiveRequest,
      response=schemas.LotOut, idempotent_key=True),
    E("POST", f"{P}/lots/{{lot_id}}/list", lots.list_lot, frozenset({"cooperative"}),
      "List an own lot on the book of its grade", request=schemas.ListRequest,
      response=schemas.LotOut, idempotent_key=True),
    E("POST", f"{P}/lots/{{lot_id}}/delist", lots.delist_lot, frozenset({"cooperative"}),
      "Take an own lot off the book, back into the warehouse", request=schemas.ListRequest,
      response=schemas.LotOut, idempotent_key=True),
    E("POST", f"{P}/lots/{{lot_id}}/withdraw", lots.withdraw_lot,
      frozenset({"cooperative", "operator"}),
      "Take what is left of a lot out of custody", request=schemas.ListRequest,
      response=schemas.LotOut, idempotent_key=True),
    # auctions
    E("GET", f"{P}/auctions", auctions.list_auctions, None,
      "Live auctions (?status=all for closed ones too)"),
    E("GET", f"{P}/auctions/{{auction_id}}", auctions.get_auction, None,
      "One auction's public state"),
    E("POST", f"{P}/auctions", auctions.post_auction, frozenset({"cooperative", "operator"}),
      "Auction a lot (own lot; an operator names the seller)",
      request=auctions.AuctionRequest, status=201, idempotent_key=True),
    E("POST", f"{P}/auctions/{{auction_id}}/bids", auctions.post_bid, TRADERS,
      "English maximum or sealed bid", request=auctions.BidRequest,
      response=auctions.BidOut, status=201, idempotent_key=True),
    E("POST", f"{P}/auctions/{{auction_id}}/buy", auctions.post_dutch_buy, TRADERS,
      "Stop the Dutch clock and buy", request=auctions.DutchBuyRequest,
      response=auctions.DutchBuyOut, status=201, idempotent_key=True),
    E("POST", f"{P}/auctions/{{auction_id}}/cancel", auctions.post_cancel,
      frozenset({"cooperative", "operator"}),
      "Cancel an auction (the operator; the seller before the first bid)",
      request=auctions.CancelAuctionRequest, response=auctions.CancelAuctionOut,
      idempotent_key=True),
    # operator
    E("POST", f"{P}/instruments", admin.add_instrument, OPERATOR, "List an instrument",
      request=schemas.InstrumentRequest, response=schemas.InstrumentOut, status=201),
    E("POST", f"{P}/instruments/{{symbol}}/halt", admin.halt, OPERATOR, "Halt trading",
      response=schemas.InstrumentOut),
    E("POST", f"{P}/instruments/{{symbol}}/resume", admin.resume, OPERATOR,
      "Resume trading", response=schemas.InstrumentOut),
    E("POST", f"{P}/deposits", admin.deposit, OPERATOR, "Cash into an account",
      request=schemas.CashRequest, response=schemas.CashOut, status=201, idempotent_key=True),
    E("POST", f"{P}/withdrawals", admin.withdraw, OPERATOR, "Cash out of an account",
      request=schemas.CashRequest, response=schemas.CashOut, status=201, idempotent_key=True),
    E("GET", f"{P}/accounts/{{account}}/balances", admin.account_balances, OPERATOR,
      "Any account's cash and goods", response=schemas.BalancesOut),
    E("GET", f"{P}/participants", admin.list_participants, OPERATOR, "Participants",
      response=schemas.ParticipantsOut),
    E("POST", f"{P}/participants", admin.add_participant, OPERATOR, "Register a participant",
      request=schemas.ParticipantRequest, response=schemas.ParticipantOut, status=201),
    E("POST", f"{P}/participants/{{participant_id}}/tokens", admin.issue_token, OPERATOR,
      "Issue a bearer token (shown once)", response=schemas.TokenOut, status=201),
    E("DELETE", f"{P}/participants/{{participant_id}}/tokens", admin.revoke_tokens,
      OPERATOR, "Revoke every token of a participant"),
    # analytics (issue 13): indices and price insurance; analysts read, never write
    E("GET", f"{P}/indices/{{herb}}", analytics.get_index, None,
      "Daily chained price index of a herb product (?from=, ?to= dates; ?basis=kg or active)",
      response=analytics.IndexOut),
    E("GET", f"{P}/insurance", analytics.get_insurance, INSURANCE_READERS,
      "Price-insurance terms, reference prices, payouts and the fund's levy income",
      response=analytics.InsuranceListOut),
    E("GET", f"{P}/insurance/report.csv", analytics.get_insurance_csv, INSURANCE_READERS,
      "The price-insurance report (CSV)"),
    E("PUT", f"{P}/insurance/{{herb}}/{{season}}", analytics.put_insurance, OPERATOR,
      "Set a herb-season's insured floor and reference window (201 new, 200 replaced)",
      request=analytics.InsuranceTermsRequest, response=analytics.InsuranceOut, status=201),
    # the settlement ledger (503 no_ledger when none is configured)
    E("GET", f"{P}/transactions", ledger.list_transactions, TRADERS | OPERATOR,
      "Ledger transactions (?participant=&lot=&trace=&after=&limit=; a trader or cooperative "
      "sees its own)", response=ledger.TransactionsOut),
    E("GET", f"{P}/invoices/{{invoice_no}}", ledger.get_invoice, TRADERS | OPERATOR,
      "One invoice (its buyer, seller or the operator)", response=ledger.TransactionOut),
    E("GET", f"{P}/invoices/{{invoice_no}}/print", ledger.print_invoice, TRADERS | OPERATOR,
      "An invoice to print (HTML; each lot's trace code as a QR code)"),
    E("GET", f"{P}/statements/{{participant}}", ledger.get_statement, TRADERS | OPERATOR,
      "Statement of Vietnam days (?from=&to=YYYY-MM-DD&format=json or csv&after=&limit=; own, "
      "or the operator)", response=Statement),
    # delivery versus payment
    E("GET", f"{P}/settlement/trades", dvp.list_open, OPERATOR,
      "Trades waiting for settlement, with due dates (?state=, ?overdue=true, ?limit=, "
      "?after=)", response=schemas.SettlementsOut),
    E("GET", f"{P}/settlement/trades/{{trade_id}}", dvp.get_one, OPERATOR,
      "One trade waiting for settlement", response=schemas.SettlementOut),
    E("POST", f"{P}/settlement/trades/{{trade_id}}", dvp.set_state, OPERATOR,
      "Move a trade: paid, delivered, settled or failed", request=schemas.SettlementRequest,
      response=schemas.SettlementOut, idempotent_key=True),
    # tick data (docs/analytics.md): public like trades; bulk exports for analysts
    E("GET", f"{P}/ticks", ticks.get_ticks, None,
      "Ticks in (seq, n) order (?symbol=|herb=, from, to, after=<seq:n cursor>, limit)"),
    E("GET", f"{P}/bars/{{symbol}}", ticks.get_bars, None,
      "OHLC bars, volume, VWAP, trades (?interval=1m|5m|1h|1d, from, to, limit)"),
    E("GET", f"{P}/ticks/export.csv", ticks.export_csv, frozenset({"analyst", "operator"}),
      "Stream a range of ticks as CSV (the ticks' query, without limit)"),
    E("GET", f"{P}/ticks/export.parquet", ticks.export_parquet,
      frozenset({"analyst", "operator"}),
      "Stream a range of ticks as Parquet (one row group per chunk)"),
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
    from gateway.api.openapi import openapi_handler
    from gateway.stream.ws import ws_handler

    for ep in ENDPOINTS:
        if ep.method == "GET":
            app.router.add_get(ep.path, guard(ep))  # HEAD too, as HTTP expects of a GET
        else:
            app.router.add_route(ep.method, ep.path, guard(ep))
    app.router.add_get(f"{P}/openapi.json", openapi_handler)
    app.router.add_get("/ws", ws_handler)
    app.router.add_get("/static/{path:.+}", assets.static)
    app.router.add_get("/vendor/{name}", assets.vendor)
    app.router.add_get("/favicon.ico", assets.favicon)
