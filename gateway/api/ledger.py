"""The ledger over REST: transactions, invoices (JSON and a print view with QR codes),
statements (JSON and CSV).

Owns the answers built from the settlement ledger (`gw.ledger`, a `settlement.store.Store`, or
absent: every endpoint then answers 503 ``no_ledger``) and who may see what: a trader or a
cooperative sees only transactions, invoices and statements it is a party to; the operator
sees all; another's invoice or statement is 404 (its existence is not revealed). Every
query input is validated here against the bounds declared once (`settlement.store.MAX_PAGE`,
`settlement.reports.MAX_DAYS`, the ids' lengths). Never writes: the booker does.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable
from html import escape
from typing import TypeVar

from aiohttp import web
from msgspec import Struct

from gateway.api.http import int_query, reply
from gateway.api.problems import FieldError, Problem
from gateway.auth import Participant
from gateway.state import Gateway
from grading.lot import ts_of_ns
from grading.qr import qr_svg
from settlement.ledger import LedgerTxn
from settlement.reports import (
    MAX_DAYS,
    Statement,
    day_range_ns,
    missing_trades,
    parse_invoice,
    statement,
)
from settlement.reports import statement_csv as render_csv
from settlement.store import MAX_PAGE, Cursor, Store, Where

T = TypeVar("T")
MAX_ID = 64  # participant ids (the registry's bound)
MAX_LOT_ID = 20  # GS1 lot ids (engine.messages.LotId)
MAX_TRACE = 512
_CURSOR = re.compile(r"(\d{1,18})-(\d{1,9})")


class LegOut(Struct, kw_only=True):
    lot_id: str
    qty: int
    trace_url: str | None
    active_content: str | None
    price_per_kg_active_vnd: int | None
    resale: bool


class PostingOut(Struct, kw_only=True):
    account: str
    unit: str
    amount: int  # debit > 0, credit < 0


class TransactionOut(Struct, kw_only=True, omit_defaults=True):
    """One ledger transaction; trade fields only on trades."""

    seq: int
    n: int
    kind: str
    ts: str
    account: str | None = None
    ref: str | None = None
    trade_id: int | None = None
    invoice_no: str | None = None
    symbol: str | None = None
    buyer: str | None = None
    seller: str | None = None
    price_vnd: int = 0
    qty: int = 0
    notional_vnd: int = 0
    fee_vnd: int = 0
    levy_vnd: int = 0
    tax_vnd: int = 0
    legs: list[LegOut] = []
    postings: list[PostingOut] = []


class TransactionsOut(Struct, kw_only=True):
    transactions: list[TransactionOut]
    next: str | None  # pass as ?after= for the following page; null on the last


def ledger_of(gw: Gateway) -> Store:
    store: Store | None = getattr(gw, "ledger", None)
    if store is None:
        raise Problem(503, "no_ledger", "no settlement ledger is configured on this server")
    return store


async def _ask(call: Awaitable[T]) -> T:
    """A store call; a database that fails is 503, never a 500 with its details."""
    try:
        return await call
    except (ValueError, Problem):
        raise
    except Exception:  # noqa: BLE001 - any store failure: the ledger is unavailable
        raise Problem(503, "ledger_unavailable", "the settlement ledger cannot be read now",
                      headers={"Retry-After": "5"}) from None


def _bad(name: str, message: str) -> Problem:
    return Problem(422, "invalid_field", f"{name} {message}",
                   errors=[FieldError(field=f"?{name}", message=message)])


def text_query(request: web.Request, name: str, max_len: int) -> str | None:
    value = request.query.get(name)
    if value is None:
        return None
    if not 1 <= len(value) <= max_len or not value.isprintable():
        raise _bad(name, f"must be 1..{max_len} printable characters")
    return value


def cursor_query(request: web.Request) -> Cursor:
    text = request.query.get("after")
    if text is None:
        return (0, 0)
    m = _CURSOR.fullmatch(text)
    if m is None:
        raise _bad("after", "must be a cursor SEQ-N from a previous page's next")
    return int(m[1]), int(m[2])


def date_query(request: web.Request, name: str) -> dt.date:
    text = request.query.get(name)
    try:
        if text is None or len(text) != 10:
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _bad(name, "must be a date YYYY-MM-DD (Vietnam time)") from None


def _cursor_text(c: Cursor | None) -> str | None:
    return None if c is None else f"{c[0]}-{c[1]}"


def transaction_out(t: LedgerTxn) -> TransactionOut:
    return TransactionOut(
        seq=t.seq, n=t.n, kind=t.kind, ts=ts_of_ns(t.ts_ns).isoformat(), account=t.account,
        ref=t.ref, trade_id=t.trade_id, invoice_no=t.invoice, symbol=t.symbol, buyer=t.buyer,
        seller=t.seller, price_vnd=t.price_vnd, qty=t.qty, notional_vnd=t.notional_vnd,
        fee_vnd=t.fee_vnd, levy_vnd=t.levy_vnd, tax_vnd=t.tax_vnd,
        legs=[LegOut(lot_id=x.lot_id, qty=x.qty, trace_url=x.trace_url,
                     active_content=x.active_content,
                     price_per_kg_active_vnd=x.price_per_kg_active_vnd, resale=x.resale)
              for x in t.legs],
        postings=[PostingOut(account=p.account, unit=p.unit, amount=p.amount)
                  for p in t.postings])


def _own(who: Participant, participant: str | None) -> str | None:
    """The participant a query is limited to: a trader's or cooperative's own id always."""
    if who.role == "operator":
        return participant
    if participant is not None and participant != who.id:
        raise Problem(403, "forbidden", "a participant sees only its own transactions")
    return who.id


def _limit(gw: Gateway, request: web.Request) -> int:
    top = min(gw.settings.page_max, MAX_PAGE)
    return int_query(request, "limit", min(100, top), 1, top)


async def list_transactions(request: web.Request, gw: Gateway,
                            who: Participant) -> web.Response:
    """``?participant=&lot=&trace=&after=&limit=``: every filter given must match."""
    where = Where(participant=_own(who, text_query(request, "participant", MAX_ID)),
                  lot_id=text_query(request, "lot", MAX_LOT_ID),
                  trace_url=text_query(request, "trace", MAX_TRACE))
    after, limit = cursor_query(request), _limit(gw, request)
    page = await _ask(ledger_of(gw).find(where, after, limit))
    return reply(TransactionsOut(transactions=[transaction_out(t) for t in page.txns],
                                 next=_cursor_text(page.next)))


async def _invoice(request: web.Request, gw: Gateway, who: Participant) -> LedgerTxn:
    text = request.match_info["invoice_no"]
    number = parse_invoice(text)
    store = ledger_of(gw)
    txn = None if number is None else await _ask(store.invoice(*number))
    if txn is None or (who.role != "operator" and who.id not in (txn.buyer, txn.seller)):
        raise Problem(404, "unknown_invoice", f"no invoice {text!r}")
    return txn


async def get_invoice(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    return reply(transaction_out(await _invoice(request, gw, who)))


def vnd(v: int) -> str:
    return f"{v:,}".replace(",", ".")


def _maybe_vnd(v: int | None) -> str:
    return "–" if v is None else vnd(v)


_PRINT_STYLE = """body{font-family:system-ui,sans-serif;max-width:50em;margin:2em auto;
color:#111}table{border-collapse:collapse;width:100%}td,th{padding:.3em .5em;
border-bottom:1px solid #bbb;text-align:left;vertical-align:top}td.n{text-align:right;
font-variant-numeric:tabular-nums}.en{color:#555}@media print{a{color:inherit}}"""


async def print_invoice(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    """The invoice as a page to print: parties, goods, charges, and each lot leg's trace code
    as a QR code (SVG, so it prints sharp). Every value escaped; no scripts."""
    t = await _invoice(request, gw, who)
    legs = "".join(
        f"<tr><td>{escape(x.lot_id)}</td><td class=n>{x.qty}</td>"
        f"<td class=n>{vnd(x.qty * t.price_vnd)}</td>"
        f"<td>{escape(x.active_content or '–')}</td>"
        f"<td class=n>{_maybe_vnd(x.price_per_kg_active_vnd)}</td>"
        f"<td>{qr_svg(x.trace_url, scale=2) if x.trace_url else '–'}"
        f"<br><small>{escape(x.trace_url or 'không có mã truy xuất / no trace code')}</small>"
        f"</td></tr>" for x in t.legs)
    net = t.notional_vnd - t.fee_vnd - t.levy_vnd - t.tax_vnd
    inv = escape(t.invoice or "")
    body = f"""<h1>Hoá đơn <span class=en>/ Invoice</span> {inv}</h1>
<p>HerbX — Chợ đầu mối dược liệu Lào Cai · ngày <span class=en>date</span>
{escape(ts_of_ns(t.ts_ns).isoformat())} · giao dịch <span class=en>trade</span> #{t.trade_id}</p>
<table>
<tr><th>Bên bán <span class=en>seller</span></th><td>{escape(t.seller or '')}</td></tr>
<tr><th>Bên mua <span class=en>buyer</span></th><td>{escape(t.buyer or '')}</td></tr>
<tr><th>Mã hàng <span class=en>instrument</span></th><td>{escape(t.symbol or '')}</td></tr>
<tr><th>Khối lượng <span class=en>quantity</span></th><td>{t.qty} kg</td></tr>
<tr><th>Đơn giá <span class=en>price</span></th><td>{vnd(t.price_vnd)} VND/kg</td></tr>
<tr><th>Thành tiền <span class=en>amount</span></th><td>{vnd(t.notional_vnd)} VND</td></tr>
<tr><th>Phí sàn <span class=en>market fee</span></th><td>{vnd(t.fee_vnd)} VND</td></tr>
<tr><th>Quỹ bảo hiểm giá <span class=en>price-insurance levy</span></th>
<td>{vnd(t.levy_vnd)} VND</td></tr>
<tr><th>Thuế <span class=en>tax</span></th><td>{vnd(t.tax_vnd)} VND</td></tr>
<tr><th>Bên bán nhận <span class=en>seller's proceeds</span></th><td>{vnd(net)} VND</td></tr>
</table>
<h2>Lô hàng <span class=en>/ Lots delivered</span></h2>
<table><tr><th>lô / lot</th><th>kg</th><th>VND</th><th>hoạt chất / active %</th>
<th>VND/kg hoạt chất</th><th>truy xuất / trace</th></tr>{legs}</table>"""
    html = (f'<!doctype html><html lang="vi"><head><meta charset="utf-8">'
            f"<title>{inv}</title><style>{_PRINT_STYLE}</style></head><body>{body}</body></html>")
    return web.Response(text=html, content_type="text/html", charset="utf-8")


async def get_statement(request: web.Request, gw: Gateway, who: Participant) -> web.Response:
    """``?from=YYYY-MM-DD&to=YYYY-MM-DD&format=json|csv&after=&limit=``: the participant's
    transactions of those Vietnam days (both included), a page at a time."""
    participant = request.match_info["participant"]
    if (who.role != "operator" and participant != who.id) or not 1 <= len(participant) <= MAX_ID:
        # another's statement: 404 as for an unknown one (which participants exist is not
        # revealed)
        raise Problem(404, "unknown_participant", f"no statement of {participant!r} for you")
    first, last = date_query(request, "from"), date_query(request, "to")
    if not first <= last <= first + dt.timedelta(days=MAX_DAYS - 1):
        raise _bad("to", f"must be on or after from, at most {MAX_DAYS} days in all")
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise _bad("format", "must be json or csv")
    lo, hi = day_range_ns(first, last)
    page = await _ask(ledger_of(gw).find(
        Where(participant=participant, from_ns=lo, to_ns=hi), cursor_query(request),
        _limit(gw, request)))
    # the trades of payments and failures booked before this range or page
    missing = missing_trades(page.txns)
    originals = [] if not missing else (await _ask(ledger_of(gw).find(
        Where(trade_ids=tuple(missing), kind="trade"), (0, 0), MAX_PAGE))).txns
    st: Statement = statement(participant, first, last, page.txns, _cursor_text(page.next),
                              originals)
    if fmt == "json":
        return reply(st)
    headers = {"Content-Disposition":
               f'attachment; filename="statement-{first}-{last}.csv"'}
    if st.next is not None:
        headers["X-Next-Cursor"] = st.next
    return web.Response(text=render_csv(st), content_type="text/csv", charset="utf-8",
                        headers=headers)


async def invoices_of_trades(gw: Gateway, trade_ids: list[int]) -> dict[int, str]:
    """The ledger's invoice number of each trade booked so far (none without a ledger, or for
    a trade not booked yet). For the public trace page: only the numbers leave here."""
    store: Store | None = getattr(gw, "ledger", None)
    out: dict[int, str] = {}
    if store is None or not trade_ids:
        return out
    wanted = sorted(set(trade_ids))
    for i in range(0, len(wanted), MAX_PAGE):
        chunk = tuple(wanted[i:i + MAX_PAGE])
        page = await _ask(store.find(Where(trade_ids=chunk, kind="trade"), (0, 0), MAX_PAGE))
        out |= {t.trade_id: t.invoice for t in page.txns
                if t.trade_id is not None and t.invoice is not None}
    return out

