"""What both tick stores share: the contract, the SQL of the bar merge and rebuild, filters.

Owns the `TickStore` protocol; `TickQuery` (a range of ticks: symbol or herb, a time range
[from, to) in ns, and a cursor ``after`` = the (seq, n) key of the last tick already read — the
ticks come in (seq, n) order, so a cursor never skips or repeats a tick, whatever is inserted
meanwhile, because new ticks have higher keys); the upsert that merges a bar into the stored
one (open from the earlier (seq, n), close from the later, in any arrival order: the rule of
`settlement.ticks.bars.merge`); and the rebuild of every bar from the ticks (1m bars from ticks,
5m from 1m, 1h from 5m, 1d from 1h: every boundary, Vietnam's midnight included, nests); the
sources of ticks (the live market, and the demo history with keys of its own, `source_seq`);
and the analysts' reads of a herb product (its daily bars with each instrument's grade, its
ticks in a window summed, official or demo). Must never do I/O itself: `sqlite` and `pg` run
these statements.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Literal, Protocol

from msgspec import Struct

from settlement.schema import Dialect
from settlement.ticks.bars import KeyedBar
from settlement.ticks.insurance import WindowSums
from settlement.ticks.model import INTERVAL_NS, VN_OFFSET_NS, Bar, Interval, Tick
from settlement.ticks.schema import BAR_COLUMNS, TICK_COLUMNS

Row = tuple[Any, ...]
#: where an export's bytes go (an HTTP response's ``write``)
CsvSink = Callable[[bytes], Awaitable[Any]]

MAX_PAGE = 1_000  # ticks per REST page
MAX_BARS = 10_000  # bars per REST call
EXPORT_CHUNK = 5_000  # rows fetched at a time by an export
#: A bound on the daily bars one index reads: ten years of a herb product with ten grades.
MAX_DAILY_BARS = 36_600

#: Where ticks come from. ``live``: the market's own commands (position in ``tick_state``);
#: ``demo_history``: the demo's simulated past (`settlement.ticks.history`), a journal of its
#: own whose seqs start at 1 again: position in ``tick_sources``, keys moved by `source_seq`.
Source = Literal["live", "demo_history"]
LIVE: Source = "live"
#: a demo-history command's seq ``s`` is stored as ``s - HISTORY_SEQ_OFFSET``: negative, so it
#: never meets a live key, and rising with ``s``, so (seq, n) order is still time order
HISTORY_SEQ_OFFSET = 10**12


def source_seq(source: Source, seq: int) -> int:
    """The ``seq`` column of the ticks of command ``seq`` of ``source``."""
    if source == LIVE:
        return seq
    assert 0 < seq < HISTORY_SEQ_OFFSET, seq
    return seq - HISTORY_SEQ_OFFSET


class TickQuery(Struct, frozen=True, kw_only=True):
    symbol: str | None = None
    herb: str | None = None
    from_ns: int | None = None
    to_ns: int | None = None
    after: tuple[int, int] | None = None


class WriteResult(Struct, frozen=True):
    """``written`` False: the steps were at or below the position (a duplicate). ``gap``: the
    seqs missing between the position and the steps (an alarm). ``bars``: every bar the write
    changed, as stored after it (for the live bar channels)."""

    written: bool
    gap: tuple[int, int] | None = None
    bars: list[Bar] = []


class TickStoreError(Exception):
    """The write cannot be done as given (it overlaps the position): a bug upstream."""


class TickStore(Protocol):
    name: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def schema_version(self) -> int: ...

    async def load_state(self, source: Source = LIVE) -> tuple[int, dict[str, tuple[str, str]]]:
        """The position of ``source``'s writer and the instruments (symbol → (herb, grade))."""

    async def write(self, first_seq: int, last_seq: int, ticks: Sequence[Tick],
                    instruments: dict[str, tuple[str, str]],
                    source: Source = LIVE) -> WriteResult:
        """Ticks, their bars, the instruments and ``source``'s position ``last_seq`` (a seq
        of that source's own journal), in one transaction; steps at or below the position are
        skipped."""

    async def backfill(self, ticks: Sequence[Tick],
                       instruments: dict[str, tuple[str, str]]) -> list[Bar]:
        """Ticks and their bars without moving the position (simulated demo history)."""

    async def rebuild_bars(self) -> int:
        """Every bar recomputed from the ticks; returns how many bars there are."""

    async def ticks(self, q: TickQuery, limit: int = MAX_PAGE) -> list[Tick]: ...

    def export(self, q: TickQuery, chunk: int = EXPORT_CHUNK) -> AsyncIterator[list[Tick]]:
        """The ticks of ``q`` in (seq, n) order, ``chunk`` at a time: never the whole range in
        memory."""

    async def export_csv(self, q: TickQuery, write: CsvSink) -> None:
        """The CSV lines of ``q`` (`settlement.ticks.export.csv_chunk`'s text, no header),
        handed to ``write`` a chunk at a time; ``write`` awaiting holds the reading back."""

    async def bars(self, symbol: str, interval: Interval, from_ns: int | None,
                   to_ns: int | None, limit: int = MAX_BARS) -> list[Bar]: ...

    async def herb_daily_bars(self, herb: str, limit: int = MAX_DAILY_BARS
                              ) -> tuple[list[Bar], dict[str, str]]:
        """The daily bars of the herb product ``herb`` (`engine.insurance.herb_key`), oldest
        first (at most ``limit``), and the grade of each of its instruments (symbol → grade):
        what `settlement.ticks.indices.herb_index` takes."""

    async def herb_window_sums(self, herb: str, from_ns: int, to_ns: int,
                               include_demo: bool) -> WindowSums:
        """The ticks of the herb product ``herb`` in ``[from_ns, to_ns)`` summed; demo ticks
        only with ``include_demo``: what `settlement.ticks.insurance.figures` takes."""


def check_position(last: int, first_seq: int, last_seq: int) -> WriteResult | None:
    if last_seq <= last:
        return WriteResult(False)
    if first_seq <= last:
        raise TickStoreError(f"steps {first_seq}..{last_seq} overlap the position {last}")
    return None


def position_sql(source: Source, dialect: Dialect, *, lock: bool = False) -> tuple[str, list[Any]]:
    """The SELECT of ``source``'s position (``FOR UPDATE`` on PostgreSQL with ``lock``)."""
    end = " FOR UPDATE" if lock and dialect == "postgres" else ""
    if source == LIVE:
        return f"SELECT last_seq FROM tick_state WHERE id = 1{end}", []
    return f"SELECT last_seq FROM tick_sources WHERE source = {_ph(dialect, 1)}{end}", [source]


def move_sql(source: Source, dialect: Dialect, last_seq: int) -> tuple[str, list[Any]]:
    """The UPDATE that moves ``source``'s position to ``last_seq``."""
    if source == LIVE:
        return f"UPDATE tick_state SET last_seq = {_ph(dialect, 1)} WHERE id = 1", [last_seq]
    return (f"UPDATE tick_sources SET last_seq = {_ph(dialect, 1)} "
            f"WHERE source = {_ph(dialect, 2)}", [last_seq, source])


def gap_of(last: int, first_seq: int) -> tuple[int, int] | None:
    return (last + 1, first_seq - 1) if first_seq > last + 1 else None


def _ph(dialect: Dialect, i: int) -> str:
    return "?" if dialect == "sqlite" else f"${i}"


def insert_sql(table: str, columns: tuple[str, ...], dialect: Dialect) -> str:
    marks = ", ".join(_ph(dialect, i + 1) for i in range(len(columns)))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


def upsert_bar_sql(dialect: Dialect) -> str:
    hi, lo = ("max", "min") if dialect == "sqlite" else ("GREATEST", "LEAST")
    earlier = "(excluded.first_seq, excluded.first_n) < (bars.first_seq, bars.first_n)"
    later = "(excluded.last_seq, excluded.last_n) > (bars.last_seq, bars.last_n)"
    sums = ", ".join(f"{c} = bars.{c} + excluded.{c}" for c in (
        "volume", "notional_vnd", "trades", "active_mg", "active_notional_vnd", "demo_trades"))
    firsts = ", ".join(f"{c} = CASE WHEN {earlier} THEN excluded.{c} ELSE bars.{c} END"
                       for c in ("open_vnd", "first_seq", "first_n"))
    lasts = ", ".join(f"{c} = CASE WHEN {later} THEN excluded.{c} ELSE bars.{c} END"
                      for c in ("close_vnd", "last_seq", "last_n"))
    return (f"{insert_sql('bars', BAR_COLUMNS, dialect)} "
            "ON CONFLICT (symbol, interval, start_ns) DO UPDATE SET "
            f"{firsts}, {lasts}, high_vnd = {hi}(bars.high_vnd, excluded.high_vnd), "
            f"low_vnd = {lo}(bars.low_vnd, excluded.low_vnd), {sums} "
            f"RETURNING {', '.join(BAR_COLUMNS)}")


def upsert_instrument_sql(dialect: Dialect) -> str:
    return (f"{insert_sql('instruments', ('symbol', 'herb', 'grade'), dialect)} "
            "ON CONFLICT (symbol) DO NOTHING")


_AS_BARS = """SELECT symbol, ts_ns AS t, price_vnd AS open_vnd, price_vnd AS high_vnd,
    price_vnd AS low_vnd, price_vnd AS close_vnd, qty AS volume, notional_vnd, 1 AS trades,
    COALESCE(active_mg, 0) AS active_mg,
    CASE WHEN active_mg IS NULL THEN 0 ELSE price_vnd * COALESCE(active_qty, qty) END
        AS active_notional_vnd,
    CASE WHEN demo THEN 1 ELSE 0 END AS demo_trades,
    seq AS first_seq, n AS first_n, seq AS last_seq, n AS last_n FROM ticks"""
#: each interval's bars are made from the next shorter one's: every boundary of the longer is
#: one of the shorter (Vietnam's midnight is a whole hour in UTC), and there are fewer rows
SOURCE: dict[Interval, Interval] = {"5m": "1m", "1h": "5m", "1d": "1h"}


def _bars_of(interval: Interval) -> str:
    cols = ", ".join(c for c in BAR_COLUMNS if c not in ("interval", "start_ns"))
    return f"SELECT start_ns AS t, {cols} FROM bars WHERE interval = '{interval}'"


def rebuild_sql(interval: Interval, dialect: Dialect) -> str:
    """The INSERT that makes every bar of ``interval`` (1m from ticks, the others from the
    bars of `SOURCE`, which must be built first). PostgreSQL takes the open and close as the
    least and greatest array ``[seq, n, price]`` of the group (one hash aggregate, no sort);
    SQLite, which has no such arrays, ranks the rows of each group with window functions."""
    size = INTERVAL_NS[interval]
    start = (f"((t + {VN_OFFSET_NS}) / {size}) * {size} - {VN_OFFSET_NS}" if interval == "1d"
             else f"(t / {size}) * {size}")
    src = _AS_BARS if interval == "1m" else _bars_of(SOURCE[interval])
    sums = ("sum(volume), sum(notional_vnd), sum(trades), sum(active_mg), "
            "sum(active_notional_vnd), sum(demo_trades)")
    if dialect == "postgres":
        f = "(min(ARRAY[first_seq, first_n::bigint, open_vnd]))[{}]"
        last = "(max(ARRAY[last_seq, last_n::bigint, close_vnd]))[{}]"
        return f"""INSERT INTO bars ({', '.join(BAR_COLUMNS)})
    SELECT symbol, '{interval}', {start} AS start_ns, {f.format(3)}, max(high_vnd),
        min(low_vnd), {last.format(3)}, {sums}, {f.format(1)}, {f.format(2)},
        {last.format(1)}, {last.format(2)}
    FROM ({src}) s
    GROUP BY symbol, start_ns"""
    first = "CASE WHEN rf = 1 THEN {} END"
    last = "CASE WHEN rl = 1 THEN {} END"
    return f"""INSERT INTO bars ({', '.join(BAR_COLUMNS)})
    SELECT symbol, '{interval}', start_ns,
        max({first.format('open_vnd')}), max(high_vnd), min(low_vnd),
        max({last.format('close_vnd')}), {sums},
        max({first.format('first_seq')}), max({first.format('first_n')}),
        max({last.format('last_seq')}), max({last.format('last_n')})
    FROM (SELECT s.*, {start} AS start_ns,
            row_number() OVER (PARTITION BY symbol, {start}
                               ORDER BY first_seq, first_n) AS rf,
            row_number() OVER (PARTITION BY symbol, {start}
                               ORDER BY last_seq DESC, last_n DESC) AS rl
          FROM ({src}) s) w
    GROUP BY symbol, start_ns"""


def where_of(q: TickQuery, dialect: Dialect, first: int = 1) -> tuple[str, list[Any]]:
    """The WHERE clause (possibly empty) of ``q`` and its arguments."""
    conds: list[str] = []
    args: list[Any] = []

    def arg(v: Any) -> str:
        args.append(v)
        return _ph(dialect, first + len(args) - 1)

    if q.symbol is not None:
        conds.append(f"symbol = {arg(q.symbol)}")
    if q.herb is not None:
        conds.append(f"herb = {arg(q.herb)}")
    if q.from_ns is not None:
        conds.append(f"ts_ns >= {arg(q.from_ns)}")
    if q.to_ns is not None:
        conds.append(f"ts_ns < {arg(q.to_ns)}")
    if q.after is not None:
        s, n = q.after
        conds.append(f"(seq, n) > ({arg(s)}, {arg(n)})")
    return (" WHERE " + " AND ".join(conds)) if conds else "", args


def select_ticks_sql(q: TickQuery, dialect: Dialect, limit: int | None) -> tuple[str, list[Any]]:
    where, args = where_of(q, dialect)
    sql = f"SELECT {', '.join(TICK_COLUMNS)} FROM ticks{where} ORDER BY seq, n"
    if limit is not None:
        args.append(limit)
        sql += f" LIMIT {_ph(dialect, len(args))}"
    return sql, args


def select_bars_sql(dialect: Dialect, from_ns: int | None, to_ns: int | None) -> str:
    p = [_ph(dialect, i) for i in range(1, 6)]
    sql = f"SELECT {', '.join(BAR_COLUMNS)} FROM bars WHERE symbol = {p[0]} AND interval = {p[1]}"
    sql += f" AND start_ns >= {p[2]} AND start_ns < {p[3]}"
    return sql + f" ORDER BY start_ns LIMIT {p[4]}"


def herb_key_sql(symbol: str, grade: str) -> str:
    """`engine.insurance.herb_key` in SQL (the same text on SQLite and PostgreSQL): the symbol
    without its ``-GRADE`` suffix, or the whole symbol when it does not end in it."""
    cut = f"length({symbol}) - length({grade})"
    return (f"CASE WHEN {cut} > 1 AND substr({symbol}, {cut}) = '-' || {grade} "
            f"THEN substr({symbol}, 1, {cut} - 1) ELSE {symbol} END")


def herb_daily_bars_sql(dialect: Dialect) -> str:
    """Arguments: herb product, limit. Each row: the bar's `BAR_COLUMNS`, then the grade."""
    cols = ", ".join(f"b.{c}" for c in BAR_COLUMNS)
    return (f"SELECT {cols}, i.grade FROM bars b JOIN instruments i ON i.symbol = b.symbol "
            f"WHERE b.interval = '1d' AND {herb_key_sql('i.symbol', 'i.grade')} = "
            f"{_ph(dialect, 1)} ORDER BY b.start_ns, b.symbol LIMIT {_ph(dialect, 2)}")


def herb_window_sql(dialect: Dialect, include_demo: bool) -> str:
    """Arguments: herb product, from_ns, to_ns. One row: kg, VND, trades, demo trades."""
    p = [_ph(dialect, i) for i in range(1, 4)]
    official = "" if include_demo else " AND NOT demo"
    return ("SELECT COALESCE(sum(qty), 0), COALESCE(sum(notional_vnd), 0), count(*), "
            "COALESCE(sum(CASE WHEN demo THEN 1 ELSE 0 END), 0) FROM ticks "
            "WHERE symbol IN (SELECT symbol FROM instruments "
            f"WHERE {herb_key_sql('symbol', 'grade')} = {p[0]}) "
            f"AND ts_ns >= {p[1]} AND ts_ns < {p[2]}{official}")


def graded_bars_of_rows(rows: Sequence[Sequence[Any]]) -> tuple[list[Bar], dict[str, str]]:
    grades: dict[str, str] = {}
    bars = []
    for r in rows:
        bars.append(bar_of_row(r))
        grades[r[0]] = r[len(BAR_COLUMNS)]
    return bars, grades


def window_sums_of_row(r: Sequence[Any]) -> WindowSums:
    return WindowSums(volume_kg=int(r[0]), notional_vnd=int(r[1]), trades=int(r[2]),
                      demo_trades=int(r[3]))


def tick_row(t: Tick) -> Row:
    return (t.seq, t.n, t.ts_ns, t.trade_id, t.symbol, t.herb, t.grade, t.venue, t.price_vnd,
            t.qty, t.notional_vnd, t.active_mg, t.price_per_kg_active_vnd, t.demo, t.active_qty)


def tick_of_row(r: Sequence[Any]) -> Tick:
    return Tick(seq=r[0], n=r[1], ts_ns=r[2], trade_id=r[3], symbol=r[4], herb=r[5],
                grade=r[6], venue=r[7], price_vnd=r[8], qty=r[9], notional_vnd=r[10],
                active_mg=r[11], price_per_kg_active_vnd=r[12], demo=bool(r[13]),
                active_qty=r[14])


def bar_row(kb: KeyedBar) -> Row:
    b, (fs, fn), (ls, ln) = kb
    return (b.symbol, b.interval, b.start_ns, b.open_vnd, b.high_vnd, b.low_vnd, b.close_vnd,
            b.volume, b.notional_vnd, b.trades, b.active_mg, b.active_notional_vnd,
            b.demo_trades, fs, fn, ls, ln)


def bar_of_row(r: Sequence[Any]) -> Bar:
    return Bar(symbol=r[0], interval=r[1], start_ns=r[2], open_vnd=r[3], high_vnd=r[4],
               low_vnd=r[5], close_vnd=r[6], volume=r[7], notional_vnd=r[8], trades=r[9],
               active_mg=r[10], active_notional_vnd=r[11], demo_trades=r[12])


#: bounds of a bar query with no range given
NO_FROM = -(2**62)
NO_TO = 2**62
