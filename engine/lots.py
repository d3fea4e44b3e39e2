"""Lots in the journal: each recorded lot's grade, status, custody and sales (issue 11).

Owns the `LotBook`: one `LotCustody` per recorded lot, holding the lot's record (a
`grading.lot.Lot`, changed only through `grading.lifecycle.step`, the one transition table) and
where its owner's goods are; the handlers of the lot commands (`RegisterLot`, `AssayLot`,
`ListLotOnBook`, `DelistLot`); the part of `ReceiveLot`, `WithdrawLot` and `CreateAuction` that
concerns a recorded lot; and `after`, which reads the events of every command to record each
sale, value each trade's lot legs, take back the unsold goods of a closed auction and undo
the sales and resales of a trade that failed in settlement.

Custody of a recorded lot, always one of three places (never a second record):

- ``warehouse``: received, not on sale. Goods here are in no holding, so no trade can deliver
  them; a rejected lot's goods stay here (frozen) until the owner withdraws them or a re-assay
  grades them again.
- ``on_book``: listed; in the owner's holding on ``symbol``, the instrument of the lot's grade
  when it was listed. A re-assay is refused while a lot is listed (the lifecycle table), so the
  grade of goods on a book never changes under them.
- ``in_auction``: held by the owner's auctions of the lot (``auctions``).

A sale is recorded when, and only when, goods of the lot leave its owner's custody in a trade
(from ``on_book`` on the lot's book, or from ``in_auction``); any other trade of the lot's goods
is a resale (kept in ``resales`` for the trace page). A trade that fails in settlement
(delivery versus payment, `engine.dvp`) delivered nothing: its sales leave the record through
the lifecycle (`grading.lot.CancelSale`, a ``cancel_sale`` `LotUpdated`), its resales leave
``resales``, and the goods `engine.dvp` gave back to the seller's holding return to the lot's
custody: onto the book if the sale was made there and the lot is still listed there, else to
the warehouse (or out with the lot, if it was withdrawn meanwhile: `_take_back`). The invariant
`_check` asserts: a received lot's remaining quantity equals warehouse + on book + in auction.
When a lot is rejected, the units of it that buyers hold are frozen too (their resting sell
orders on those goods cancelled), so no continuous trade delivers a rejected lot. Not yet: units
held by a sell order waiting in a call phase stay with that order, and the uncross can still
deliver them.

Grades are computed, never taken on trust: `assay_command` runs the pure grading function on the
results and is the only way the doors build an `AssayLot`; the engine checks that the decision it
carries is consistent with itself (a reject lists failed limits, a pass none, each failure really
breaks its bound). The engine has no catalogue (it reads no files): the decision is journaled
with the command, so replay never depends on a spec file that may have changed since.

A lot's record is kept in two parts so that recording a sale costs the same whatever the number
of earlier sales (a seller's lot of 10^9 kg trades thousands of times): ``lot``, the frozen state
(every field but the growing ``sales`` and ``history``, which it leaves empty), and the
custody's own append-only lists ``sales`` and ``history``. `grading.lifecycle.step` decides
each command on ``lot`` without copying anything that grows; the custody appends the entries.
``record``, the whole `Lot` the views, the snapshot and the invariants read, is built from the
parts when asked for after a change (a new value each time, never changed after it is handed
out; its cost is the views', not the trades'). The snapshot encodes ``record``, as before.

Like the rest of the core: no I/O, no clock (timestamps are the commands' ``ts_ns``), iteration
over dicts and lists only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import InvalidOperation
from typing import TYPE_CHECKING, Any, cast, get_args

import msgspec
from msgspec import Struct

from engine import custody
from engine.messages import (
    AssayLot,
    AssayValue,
    AuctionClosed,
    AuctionCreated,
    Command,
    CommandRejected,
    CreateAuction,
    DelistLot,
    Event,
    GradeVerdict,
    LimitBreach,
    ListLotOnBook,
    LotUpdated,
    LotValue,
    LotWithdrawn,
    OrderCancelled,
    ReceiveLot,
    RegisterLot,
    TradeExecuted,
    TradeSettlementChanged,
    WithdrawLot,
)
from engine.order import CANCELLED, transition
from engine.reasons import CommandRejectReason
from grading.assay import AssayResult, GradeDecision, grade_lot
from grading.instruments import instrument_symbol
from grading.lifecycle import Refused, Step, register_lot, step
from grading.lot import (
    Assay,
    CancelSale,
    Certification,
    Cooperative,
    Delist,
    GrowingArea,
    HistoryEntry,
    ListLot,
    Lot,
    LotCommand,
    Receive,
    RecordSale,
    Sale,
    Sample,
    Withdraw,
    trade_id_of,
    trade_ref,
    ts_of_ns,
)
from grading.spec import REJECT, HerbSpec

if TYPE_CHECKING:
    from engine.market import Market

Handler = Callable[[Any], list[Event]]
_REASONS = frozenset(get_args(CommandRejectReason))
_HUNDRED = 100


def price_per_kg_active(price_vnd: int, content: tuple[int, int]) -> int:
    """VND per kg of active ingredient for goods at ``price_vnd`` per kg whose content is
    ``num / den`` % (``content``): ``price * 100 * den / num``, rounded half to even to whole
    đồng, in integers (equal to `grading.valuation.price_per_kg_active`)."""
    num, den = content
    q, r = divmod(price_vnd * _HUNDRED * den, num)
    twice = 2 * r
    if twice > num or (twice == num and q & 1):
        q += 1
    return q


def content_ratio(decision: GradeDecision) -> tuple[int, int] | None:
    """The active content as an exact fraction (None when it is not a positive percentage)."""
    c = decision.active_content
    if not c.is_finite() or c <= 0 or c > _HUNDRED:
        return None
    num, den = c.as_integer_ratio()
    return num, den


# -- the decision a command carries -----------------------------------------------------------


def verdict_of(d: GradeDecision) -> GradeVerdict:
    return GradeVerdict(
        spec_id=d.spec_id, destination=d.destination, grade=d.grade, decided_by=d.decided_by,
        failures=[
            LimitBreach(parameter=f.parameter, kind=f.kind,  # type: ignore[arg-type]
                        bound=f.bound, measured=str(f.measured), allowed=str(f.allowed),
                        unit=f.unit)
            for f in d.failures
        ],
        active_parameter=d.active_parameter, active_content=str(d.active_content),
        active_unit=d.active_unit, physical_class=d.physical_class,
        values=[(k, str(v)) for k, v in d.values.items()], not_tested=list(d.not_tested),
        converted=list(d.converted), unverified=list(d.unverified),
    )


def decision_of(v: GradeVerdict) -> GradeDecision:
    """The `GradeDecision` a command's verdict stands for; raises `msgspec.ValidationError`
    for a number that is not a decimal."""
    raw = msgspec.to_builtins(v)  # omits empty lists: GradeDecision requires them
    for name in ("failures", "not_tested", "converted", "unverified"):
        raw.setdefault(name, [])
    raw.setdefault("physical_class", None)
    raw["values"] = dict(raw.get("values", []))
    return msgspec.convert(raw, GradeDecision, strict=False)


def assay_command(
    spec: HerbSpec, *, lot_id: str, lab: str, sample_id: str, results: Iterable[AssayResult],
    destination: str,
) -> AssayLot:
    """The one way a door builds an `AssayLot`: the grade is computed here, from the results,
    by `grading.assay.grade_lot` (which raises `grading.assay.AssayError` for results that
    cannot be graded). A client never states a grade."""
    results = tuple(results)
    decision = grade_lot(spec, results, destination)
    return AssayLot(
        lot_id=lot_id, lab=lab, sample_id=sample_id,
        results=[AssayValue(parameter=r.parameter, value=r.value, unit=r.unit, method=r.method,
                            basis=r.basis) for r in results],
        decision=verdict_of(decision),
    )


def inconsistent(d: GradeDecision) -> str:
    """Why a decision contradicts itself ('' when it does not)."""
    if (d.grade == REJECT) != bool(d.failures):
        return "a reject grade comes with failed limits, and only a reject"
    for f in d.failures:
        broken = f.measured < f.allowed if f.bound == "min" else f.measured > f.allowed
        if not broken:
            return f"{f.parameter} {f.measured} does not break its {f.bound} {f.allowed}"
    if d.grade != REJECT and content_ratio(d) is None:
        return "a passing lot has an active content in (0, 100] %"
    return ""


# -- the records ------------------------------------------------------------------------------


class Resale(Struct, array_like=True, frozen=True):
    """Goods of the lot sold again by someone other than its owner (or by the owner, of goods
    it bought back): traced, never a sale of the lot."""

    ts_ns: int
    trade_id: int
    seller: str
    buyer: str
    qty: int
    price_vnd: int


def grade_symbol(lot: Lot) -> str | None:
    """The instrument of the lot's current grade (None without a passing grade)."""
    g = lot.grade
    if g is None or not g.decision.passed:
        return None
    code, product = lot.spec_id.split("-", 1)
    return instrument_symbol(code, product, g.decision.grade)


class LotCustody:
    """One recorded lot: its record and where its owner's goods are (module docstring)."""

    __slots__ = ("lot", "sales", "history", "_record", "warehouse", "on_book", "symbol",
                 "in_auction", "auctions", "frozen", "resales", "content")

    def __init__(self, record: Lot) -> None:
        # the state without the growing tuples (empty here: the lists below are the truth)
        self.lot = msgspec.structs.replace(record, sales=(), history=())
        self.sales: list[Sale] = list(record.sales)
        self.history: list[HistoryEntry] = list(record.history)
        self._record: Lot | None = record
        self.warehouse = 0
        self.on_book = 0
        self.symbol: str | None = None  # the book the goods on_book are on
        self.in_auction = 0
        self.auctions: list[int] = []  # the owner's live auctions of the lot
        self.frozen: list[tuple[str, int]] = []  # (holder, qty) of a rejected lot's sold goods
        self.resales: list[Resale] = []
        self.content = self._content()

    @property
    def record(self) -> Lot:
        """The whole record: built from ``lot`` and the lists after a change, then kept until
        the next one. Each is a new `Lot` with its own tuples, so one a reader holds never
        changes."""
        r = self._record
        if r is None:
            r = self._record = msgspec.structs.replace(
                self.lot, sales=tuple(self.sales), history=tuple(self.history))
        return r

    def step(self, cmd: LotCommand) -> Step | Refused:
        """The lifecycle's decision on ``cmd``; nothing changes until `commit`."""
        return step(self.lot, cmd, self.history[-1].command.ts)

    def commit(self, s: Step) -> None:
        """Write an accepted step: the new state, and its entries appended (O(1)); a
        cancelled sale's entries leave ``sales`` (`sales_of`)."""
        self.lot = s.lot
        self.history.append(s.entry)
        if s.sale is not None:
            self.sales.append(s.sale)
        if s.cancelled is not None:
            trade_id = trade_id_of(s.cancelled)
            assert trade_id is not None, s.cancelled
            for i in self.sales_of(trade_id):
                del self.sales[i]
        self._record = None

    def sales_of(self, trade_id: int) -> list[int]:
        """The indexes in ``sales`` of the trade's sales, last first. Sales are appended in
        trade order, so the search stops at the first older trade: O(sales since that trade),
        not O(sales)."""
        ref = trade_ref(trade_id)
        sales = self.sales
        found: list[int] = []
        for i in range(len(sales) - 1, -1, -1):
            r = sales[i].trade_ref
            if r == ref:
                found.append(i)
            else:
                older = trade_id_of(r)
                if older is not None and older < trade_id:
                    break
        return found

    def resales_of(self, trade_id: int) -> list[int]:
        """The indexes in ``resales`` of the trade's resales, last first (like `sales_of`)."""
        resales = self.resales
        found: list[int] = []
        for i in range(len(resales) - 1, -1, -1):
            t = resales[i].trade_id
            if t == trade_id:
                found.append(i)
            elif t < trade_id:
                break
        return found

    def _content(self) -> tuple[int, int] | None:
        g = self.lot.grade
        return None if g is None or not g.decision.passed else content_ratio(g.decision)

    @property
    def owner(self) -> str:
        return self.lot.cooperative.id

    @property
    def custody(self) -> int:
        return self.warehouse + self.on_book + self.in_auction

    @property
    def received(self) -> bool:
        return any(type(h.command) is Receive for h in self.history)

    def grade_symbol(self) -> str | None:
        return grade_symbol(self.lot)


class LotCustodyState(Struct, array_like=True):
    record: Lot
    warehouse: int
    on_book: int
    symbol: str | None
    in_auction: int
    auctions: list[int]
    frozen: list[tuple[str, int]]
    resales: list[Resale]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[LotCustodyState])


class LotBook:
    """Every recorded lot, by id (in registration order)."""

    def __init__(self, exchange: Market) -> None:
        self.exchange = exchange
        self.records: dict[str, LotCustody] = {}
        self.by_auction: dict[int, str] = {}  # live auction id -> its recorded lot

    # -- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _refuse(cmd: Command, reason: str, detail: str = "",
                account: str | None = None) -> list[Event]:
        # the lifecycle's codes arrive as plain strings: each must be a declared one
        assert reason in _REASONS, f"undeclared reason {reason!r} (engine/reasons.py)"
        tag = type(cmd).__struct_config__.tag
        return [CommandRejected(seq=cmd.seq, ts_ns=cmd.ts_ns, command=str(tag),
                                reason=cast(CommandRejectReason, reason), detail=detail,
                                account=account)]

    def _updated(self, rec: LotCustody, action: str, seq: int, ts: int) -> LotUpdated:
        lot = rec.lot
        g = lot.grade
        return LotUpdated(
            seq=seq, ts_ns=ts, lot_id=lot.lot_id, account=rec.owner, action=action,
            state=lot.state, qty=lot.qty, remaining_qty=lot.remaining_qty,
            custody_qty=rec.custody, grade=None if g is None else g.decision.grade,
            symbol=rec.symbol if rec.on_book else rec.grade_symbol(),
            active_content=None if g is None else str(g.decision.active_content),
        )

    @staticmethod
    def _ts(rec: LotCustody, ts_ns: int) -> Any:
        """The record's time for a change at ``ts_ns``: never before its last entry (trades
        stamped in the same microsecond, or a clock that stepped back, keep history in order)."""
        return max(ts_of_ns(ts_ns), rec.history[-1].command.ts)

    def _owned(self, cmd: Command, lot_id: str, account: str) -> LotCustody | list[Event]:
        rec = self.records.get(lot_id)
        if rec is None:
            return self._refuse(cmd, "unknown_lot", lot_id, account)
        if rec.owner != account:
            return self._refuse(cmd, "not_owner", "only the lot's owner may", account)
        return rec

    # -- commands -------------------------------------------------------------------------------

    def register(self, cmd: RegisterLot) -> list[Event]:
        ex = self.exchange
        if cmd.lot_id in self.records or cmd.lot_id in ex.lots:
            return self._refuse(cmd, "duplicate_lot", cmd.lot_id, cmd.account)
        if "-" not in cmd.spec_id:
            return self._refuse(cmd, "wrong_spec", "a spec id is HERB-PRODUCT", cmd.account)
        try:
            area = msgspec.convert(msgspec.to_builtins(cmd.growing_area), GrowingArea)
            certs = tuple(msgspec.convert(msgspec.to_builtins(c), Certification)
                          for c in cmd.certifications)
            coop = Cooperative(id=cmd.account, name=cmd.cooperative_name,
                               number=cmd.cooperative_no)
        except (msgspec.ValidationError, ValueError) as exc:
            return self._refuse(cmd, "bad_record", str(exc), cmd.account)
        result = register_lot(
            lot_id=cmd.lot_id, cooperative=coop, spec_id=cmd.spec_id, qty=cmd.qty,
            harvest_date=cmd.harvest_date, growing_area=area, commune=cmd.commune,
            certifications=certs, ts=ts_of_ns(cmd.ts_ns))
        if isinstance(result, Refused):
            return self._refuse(cmd, result.code, result.detail, cmd.account)
        rec = self.records[cmd.lot_id] = LotCustody(result.lot)
        return [self._updated(rec, "register", cmd.seq, cmd.ts_ns)]

    def assay(self, cmd: AssayLot) -> list[Event]:
        rec = self.records.get(cmd.lot_id)
        if rec is None:
            return self._refuse(cmd, "unknown_lot", cmd.lot_id)
        try:
            decision = decision_of(cmd.decision)
            results = tuple(msgspec.convert(msgspec.to_builtins(r), AssayResult)
                            for r in cmd.results)
        except (msgspec.ValidationError, InvalidOperation) as exc:
            return self._refuse(cmd, "bad_record", str(exc))
        why = inconsistent(decision)
        if why:
            return self._refuse(cmd, "grade_inconsistent", why)
        ts = self._ts(rec, cmd.ts_ns)
        sampled: Step | None = None
        lot, last_ts = rec.lot, rec.history[-1].command.ts
        if lot.state == "registered":
            s = rec.step(Sample(ts=ts, sample_id=cmd.sample_id, sampled_by=cmd.lab))
            if isinstance(s, Refused):
                return self._refuse(cmd, s.code, s.detail)
            sampled, lot, last_ts = s, s.lot, ts
        result = step(lot, Assay(ts=ts, lab=cmd.lab, sample_id=cmd.sample_id, results=results,
                                 decision=decision), last_ts)
        if isinstance(result, Refused):
            return self._refuse(cmd, result.code, result.detail)
        if sampled is not None:
            rec.commit(sampled)
        rec.commit(result)
        if rec.lot.state == "graded" and rec.received:
            # a received lot graded again after a reject: its goods never left the warehouse,
            # so it is back in stock (a second receipt entry, of the quantity it has)
            back = rec.step(Receive(ts=ts, warehouse="market warehouse",
                                    qty_received=rec.lot.qty))
            assert isinstance(back, Step), back
            rec.commit(back)
        rec.content = rec._content()
        events: list[Event] = [self._updated(rec, "assay", cmd.seq, cmd.ts_ns)]
        if decision.passed:
            self._release(rec, events, cmd.seq, cmd.ts_ns)
        else:
            self._freeze(rec, events, cmd.seq, cmd.ts_ns)
        return events

    def receive(self, cmd: ReceiveLot, *, fallback: Handler) -> list[Event]:
        """`ReceiveLot` of a recorded lot: weighed into the warehouse (not on sale). A lot
        without a record takes the plain custody path (``fallback``)."""
        if cmd.lot_id not in self.records:
            return fallback(cmd)
        owned = self._owned(cmd, cmd.lot_id, cmd.account)
        if not isinstance(owned, LotCustody):
            return owned
        rec = owned
        result = rec.step(Receive(ts=self._ts(rec, cmd.ts_ns),
                                  warehouse=cmd.warehouse or "market warehouse",
                                  qty_received=cmd.qty))
        if isinstance(result, Refused):
            return self._refuse(cmd, result.code, result.detail, cmd.account)
        rec_symbol = grade_symbol(result.lot)
        if cmd.symbol != rec_symbol:
            return self._refuse(cmd, "wrong_instrument",
                                f"a lot of this grade trades on {rec_symbol}", cmd.account)
        inst = self.exchange.instruments.get(cmd.symbol)
        if inst is None:
            return self._refuse(cmd, "unknown_symbol", cmd.symbol, cmd.account)
        if cmd.qty % inst.qty_step:
            return self._refuse(cmd, "invalid_qty", f"a positive multiple of {inst.qty_step}",
                                cmd.account)
        rec.commit(result)
        rec.warehouse = cmd.qty
        self.exchange.lots[cmd.lot_id] = cmd.symbol
        return [self._updated(rec, "receive", cmd.seq, cmd.ts_ns)]

    def list_on_book(self, cmd: ListLotOnBook) -> list[Event]:
        owned = self._owned(cmd, cmd.lot_id, cmd.account)
        if not isinstance(owned, LotCustody):
            return owned
        rec = owned
        symbol = rec.grade_symbol()
        if symbol is None or symbol not in self.exchange.instruments:
            return self._refuse(cmd, "unknown_symbol" if symbol else "illegal_transition",
                                f"no book {symbol}" if symbol else "the lot has no passing grade",
                                cmd.account)
        result = rec.step(ListLot(ts=self._ts(rec, cmd.ts_ns), venue="book", symbol=symbol))
        if isinstance(result, Refused):
            return self._refuse(cmd, result.code, result.detail, cmd.account)
        rec.commit(result)
        holding = custody.account(self.exchange, rec.owner).holding(symbol)
        holding.add_lot(cmd.lot_id, rec.warehouse)
        rec.on_book, rec.warehouse, rec.symbol = rec.warehouse, 0, symbol
        self.exchange.lots[cmd.lot_id] = symbol
        return [self._updated(rec, "list", cmd.seq, cmd.ts_ns)]

    def _off_book(self, rec: LotCustody, cmd: Command) -> list[Event] | None:
        """Take the lot's goods on the book back to the warehouse (None), or refuse."""
        if not rec.on_book:
            return None
        assert rec.symbol is not None
        holding = self.exchange.accounts[rec.owner].holdings[rec.symbol]
        if holding.qty - rec.on_book < holding.held:
            return self._refuse(cmd, "goods_held", "open sell orders hold these goods",
                                rec.owner)
        holding.take_lot(rec.lot.lot_id, rec.on_book)
        rec.warehouse += rec.on_book
        rec.on_book = 0
        return None

    def delist(self, cmd: DelistLot) -> list[Event]:
        owned = self._owned(cmd, cmd.lot_id, cmd.account)
        if not isinstance(owned, LotCustody):
            return owned
        rec = owned
        if rec.in_auction:
            return self._refuse(cmd, "in_auction", "cancel the auction instead", cmd.account)
        result = rec.step(Delist(ts=self._ts(rec, cmd.ts_ns)))
        if isinstance(result, Refused):
            return self._refuse(cmd, result.code, result.detail, cmd.account)
        refused = self._off_book(rec, cmd)
        if refused is not None:
            return refused
        rec.commit(result)
        return [self._updated(rec, "delist", cmd.seq, cmd.ts_ns)]

    def withdraw(self, cmd: WithdrawLot, *, fallback: Handler) -> list[Event]:
        """`WithdrawLot` of a recorded lot: what is left of it leaves custody. A lot without a
        record takes the plain custody path (``fallback``)."""
        if cmd.lot_id not in self.records:
            return fallback(cmd)
        owned = self._owned(cmd, cmd.lot_id, cmd.account)
        if not isinstance(owned, LotCustody):
            return owned
        rec = owned
        if rec.in_auction:
            return self._refuse(cmd, "in_auction", "cancel the auction first", cmd.account)
        result = rec.step(Withdraw(ts=self._ts(rec, cmd.ts_ns), reason="withdrawn by the owner"))
        if isinstance(result, Refused):
            return self._refuse(cmd, result.code, result.detail, cmd.account)
        refused = self._off_book(rec, cmd)
        if refused is not None:
            return refused
        rec.commit(result)
        qty, rec.warehouse = rec.warehouse, 0
        events: list[Event] = []
        if qty:
            events.append(LotWithdrawn(seq=cmd.seq, ts_ns=cmd.ts_ns, lot_id=cmd.lot_id,
                                       account=cmd.account,
                                       symbol=self.exchange.lots.get(cmd.lot_id, ""), qty=qty))
        events.append(self._updated(rec, "withdraw", cmd.seq, cmd.ts_ns))
        return events

    def create_auction(self, cmd: CreateAuction, *, create: Handler) -> list[Event]:
        """An auction of a recorded lot takes its goods from the warehouse and lists the lot
        (one command: custody and record never part)."""
        rec = self.records.get(cmd.lot_id)
        if rec is None:
            return create(cmd)
        if rec.owner != cmd.seller:
            return self._refuse(cmd, "not_owner", "only the lot's owner sells it", cmd.seller)
        ts = self._ts(rec, cmd.ts_ns)
        symbol = rec.grade_symbol() or ""
        listed = rec.step(ListLot(ts=ts, venue="auction", symbol=str(cmd.seq)))
        if isinstance(listed, Refused):
            return self._refuse(cmd, listed.code, listed.detail, cmd.seller)
        if symbol not in self.exchange.instruments:
            return self._refuse(cmd, "unknown_symbol", symbol, cmd.seller)
        if cmd.qty > rec.warehouse:
            return self._refuse(cmd, "insufficient_goods", f"the lot has {rec.warehouse}",
                                cmd.seller)
        moved = cmd.qty if cmd.qty > 0 else 0
        holding = custody.account(self.exchange, rec.owner).holding(symbol)
        self.exchange.lots[cmd.lot_id] = symbol
        if moved:
            holding.add_lot(cmd.lot_id, moved)
        events = create(cmd)
        if type(events[0]) is not AuctionCreated:
            if moved:
                holding.take_lot(cmd.lot_id, moved)
            return events
        rec.commit(listed)
        rec.warehouse -= moved
        rec.in_auction += moved
        rec.auctions.append(cmd.seq)
        self.by_auction[cmd.seq] = cmd.lot_id
        events.append(self._updated(rec, "list", cmd.seq, cmd.ts_ns))
        return events

    # -- grade changes: freeze a rejected lot's goods everywhere, release them on a pass ------

    def _freeze(self, rec: LotCustody, events: list[Event], seq: int, ts: int) -> None:
        """Take every unit of the lot out of every holding (the owner's are in the warehouse
        already: a listed lot cannot be re-assayed), cancelling the holder's resting sell
        orders on that book, newest first, where they hold the goods."""
        ex = self.exchange
        lot_id = rec.lot.lot_id
        touched: dict[str, Any] = {}
        for account in ex.accounts.values():
            for symbol, h in account.holdings.items():
                n = h.lot_qty(lot_id)
                if n == 0:
                    continue
                if h.qty - n < h.held:
                    for order in reversed(list(ex.orders.values())):
                        if h.qty - n >= h.held:
                            break
                        if (order.account == account.account_id and order.symbol == symbol
                                and not order.is_buy and order.resting):
                            book = ex.books[symbol]
                            book.remove(order)
                            h.held -= order.leaves
                            transition(order, CANCELLED)
                            touched[symbol] = book
                            events.append(OrderCancelled(
                                seq=seq, ts_ns=ts, order_id=order.order_id,
                                account=order.account, symbol=symbol, side="sell",
                                reason="lot_rejected", filled_qty=order.qty - order.leaves,
                                leaves_qty=order.leaves))
                n = min(n, h.qty - h.held)  # goods held by a call-phase order stay
                if n > 0:
                    h.take_lot(lot_id, n)
                    rec.frozen.append((account.account_id, n))
        for book in touched.values():
            book.publish(events, seq, ts)
        if rec.frozen:
            events.append(self._updated(rec, "freeze", seq, ts))

    def _release(self, rec: LotCustody, events: list[Event], seq: int, ts: int) -> None:
        """A passing re-assay: frozen goods return to their holders on the new grade's book."""
        symbol = rec.grade_symbol()
        if not rec.frozen or symbol is None or symbol not in self.exchange.instruments:
            return
        for holder, n in rec.frozen:
            custody.account(self.exchange, holder).holding(symbol).add_lot(rec.lot.lot_id, n)
        rec.frozen = []
        events.append(self._updated(rec, "release", seq, ts))

    # -- after every command: sales, trade values, auctions closed --------------------------------

    def after(self, events: list[Event]) -> None:
        records = self.records
        for i in range(len(events)):
            ev = events[i]
            t = type(ev)
            if t is TradeExecuted:
                assert isinstance(ev, TradeExecuted)
                for leg in ev.lots:
                    if leg.lot_id in records:
                        events[i] = self._trade(ev, events)
                        break
            elif t is AuctionClosed:
                assert isinstance(ev, AuctionClosed)
                lot_id = self.by_auction.pop(ev.auction_id, None)
                if lot_id is not None:
                    self._auction_closed(records[lot_id], ev, events)
            elif t is TradeSettlementChanged:
                assert isinstance(ev, TradeSettlementChanged)
                if ev.to_state == "failed":
                    self._trade_failed(ev, events)

    def _trade(self, ev: TradeExecuted, events: list[Event]) -> TradeExecuted:
        records = self.records
        values = []
        for leg in ev.lots:
            rec = records.get(leg.lot_id)
            if rec is None:
                values.append(LotValue(None, None, False))
                continue
            sold = 0
            if ev.seller == rec.owner:
                if ev.maker_order_id in rec.auctions:
                    sold = min(leg.qty, rec.in_auction)
                    rec.in_auction -= sold
                elif ev.symbol == rec.symbol:
                    sold = min(leg.qty, rec.on_book)
                    rec.on_book -= sold
            if sold:
                # O(1) whatever the lot's earlier sales: `step` copies none of them
                result = rec.step(RecordSale(
                    ts=self._ts(rec, ev.ts_ns), qty=sold, price_vnd=ev.price_vnd,
                    buyer=ev.buyer, trade_ref=trade_ref(ev.trade_id)))
                assert isinstance(result, Step), (leg, result)
                rec.commit(result)
                events.append(self._updated(rec, "sale", ev.seq, ev.ts_ns))
            if sold < leg.qty:
                rec.resales.append(Resale(ev.ts_ns, ev.trade_id, ev.seller, ev.buyer,
                                          leg.qty - sold, ev.price_vnd))
            content = rec.content
            grade = rec.lot.grade
            values.append(LotValue(
                None if content is None or grade is None else str(grade.decision.active_content),
                None if content is None else price_per_kg_active(ev.price_vnd, content),
                sold == 0,
            ))
        return msgspec.structs.replace(ev, lot_values=values)

    def _trade_failed(self, ev: TradeSettlementChanged, events: list[Event]) -> None:
        """A trade failed in settlement (`engine.dvp` has released its holds: its goods are
        back in the seller's holding on ``ev.symbol``, free). What it recorded is undone, lot
        by lot: a sale leaves the record (`CancelSale`) and its goods go back where the lot
        keeps them now (`_take_back`); a resale leaves ``resales`` (its goods are the
        reseller's again, in its holding, where they were)."""
        qty_of: dict[str, int] = {}
        for leg in ev.lots:  # one lot may give several legs of a trade
            if leg.lot_id in self.records:
                qty_of[leg.lot_id] = qty_of.get(leg.lot_id, 0) + leg.qty
        for lot_id, qty in qty_of.items():
            rec = self.records[lot_id]
            resold = 0
            for i in rec.resales_of(ev.trade_id):
                resold += rec.resales[i].qty
                del rec.resales[i]
            found = rec.sales_of(ev.trade_id)
            sold = sum(rec.sales[i].qty for i in found)
            assert sold + resold == qty, (lot_id, ev.trade_id, sold, resold, qty)
            if resold and rec.lot.state == "rejected":
                # rejected while the resale waited for payment: the goods are back in the
                # reseller's holding, and a rejected lot's goods in a holding are frozen
                self.exchange.accounts[ev.seller].holdings[ev.symbol].take_lot(lot_id, resold)
                rec.frozen.append((ev.seller, resold))
                events.append(self._updated(rec, "freeze", ev.seq, ev.ts_ns))
            if not sold:
                continue
            assert ev.seller == rec.owner, (lot_id, ev.trade_id)
            venue = rec.sales[found[0]].venue
            result = rec.step(CancelSale(ts=self._ts(rec, ev.ts_ns), qty=sold,
                                         trade_ref=trade_ref(ev.trade_id)))
            assert isinstance(result, Step), (lot_id, result)
            rec.commit(result)
            self._take_back(rec, ev, venue, sold, events)
            events.append(self._updated(rec, "cancel_sale", ev.seq, ev.ts_ns))

    def _take_back(self, rec: LotCustody, ev: TradeSettlementChanged, venue: str, qty: int,
                   events: list[Event]) -> None:
        """The goods of a cancelled sale (``qty``, free in the owner's holding on
        ``ev.symbol``) go back into the lot's custody: on the book when the sale was made on
        this book and the lot is listed there now (as if never sold: the owner may offer them
        again); with the rest of the lot when it was withdrawn since (they leave custody too:
        a `LotWithdrawn` of them); in the warehouse in every other case (an auction sale, a
        lot delisted, sold out, listed elsewhere or rejected since), so nothing is on sale
        that its owner did not list."""
        lot = rec.lot
        listing = lot.listing
        if (listing is not None and listing.venue == "book" and listing.symbol == ev.symbol
                and venue == ev.symbol):
            assert rec.symbol == ev.symbol, (rec.symbol, ev.symbol)
            rec.on_book += qty
            return
        holding = self.exchange.accounts[rec.owner].holdings[ev.symbol]
        holding.take_lot(lot.lot_id, qty)
        if lot.state == "withdrawn":
            events.append(LotWithdrawn(seq=ev.seq, ts_ns=ev.ts_ns, lot_id=lot.lot_id,
                                       account=rec.owner, symbol=ev.symbol, qty=qty))
        else:
            rec.warehouse += qty

    def _auction_closed(self, rec: LotCustody, ev: AuctionClosed, events: list[Event]) -> None:
        """The auction is over: its unsold goods (returned to the owner's holding by the auction
        house) go back to the warehouse, and the lot is no longer listed."""
        unsold = ev.unsold_qty
        if unsold:
            symbol = self.exchange.lots[rec.lot.lot_id]
            self.exchange.accounts[rec.owner].holdings[symbol].take_lot(rec.lot.lot_id, unsold)
            rec.in_auction -= unsold
            rec.warehouse += unsold
        rec.auctions.remove(ev.auction_id)
        if rec.lot.listing is not None and rec.lot.listing.venue == "auction":
            result = rec.step(Delist(ts=self._ts(rec, ev.ts_ns)))
            assert isinstance(result, Step), result
            rec.commit(result)
            events.append(self._updated(rec, "delist", ev.seq, ev.ts_ns))

    # -- state ----------------------------------------------------------------------------------

    def encode_state(self) -> bytes:
        return _encoder.encode([
            LotCustodyState(r.record, r.warehouse, r.on_book, r.symbol, r.in_auction,
                            list(r.auctions), list(r.frozen), list(r.resales))
            for r in self.records.values()
        ])

    def restore_state(self, data: bytes) -> None:
        if not data:
            return
        for s in _decoder.decode(data):
            rec = LotCustody(s.record)
            rec.warehouse, rec.on_book, rec.symbol = s.warehouse, s.on_book, s.symbol
            rec.in_auction, rec.auctions = s.in_auction, s.auctions
            rec.frozen = [(a, q) for a, q in s.frozen]
            rec.resales = s.resales
            self.records[s.record.lot_id] = rec
            for auction_id in s.auctions:
                self.by_auction[auction_id] = s.record.lot_id

    def _check(self) -> None:
        """A received lot's remaining quantity is exactly what its owner has in custody."""
        accounts = self.exchange.accounts
        for lot_id, rec in self.records.items():
            lot = rec.record
            lot.check()
            # the state holds no entries of its own: the custody's lists are the only copy
            assert rec.lot.sales == () and rec.lot.history == (), lot_id
            assert min(rec.warehouse, rec.on_book, rec.in_auction) >= 0, lot_id
            if rec.received and lot.state != "withdrawn":
                assert lot.remaining_qty == rec.custody, (lot_id, lot.remaining_qty, rec.custody)
            else:
                assert rec.custody == 0, (lot_id, rec.custody)
            if rec.on_book:
                assert lot.listing is not None and lot.listing.venue == "book", lot_id
                assert rec.symbol is not None
                held = accounts[rec.owner].holdings[rec.symbol].lot_qty(lot_id)
                assert held >= rec.on_book, (lot_id, held, rec.on_book)
            if lot.state == "rejected":
                assert rec.on_book == 0 and rec.in_auction == 0, lot_id
            assert all(q > 0 for _, q in rec.frozen), lot_id
