"""Public forms of ticks and bars: JSON objects, CSV rows and Parquet row groups.

Owns the column names analysts see (never a buyer or seller: a `Tick` has none), the time
format (RFC 3339 in Vietnam's time, ``2026-11-29T16:00:00.123456789+07:00``, beside the integer
``ts_ns``) and the encoders of a chunk of ticks: CSV text, or a Parquet row group through
pyarrow. An export is a sequence of such chunks; this module never holds more than one and
never does I/O (the caller writes the bytes out).
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from settlement.ticks.model import VN_OFFSET_NS, Bar, Tick

_SECOND = 10**9


class _Days:
    """The date part of Vietnam-time text, the last day remembered (an export of a range turns
    many ticks of the same day into text)."""

    def __init__(self) -> None:
        self.day = -1
        self.text = ""

    def __call__(self, day: int) -> str:
        if day != self.day:
            self.day = day
            self.text = time.strftime("%Y-%m-%dT", time.gmtime(day * 86_400))
        return self.text


_days = _Days()


def rfc3339_vn(ts_ns: int) -> str:
    """``ts_ns`` as RFC 3339 in Vietnam's time (UTC+7), to the nanosecond."""
    sec, ns = divmod(ts_ns + VN_OFFSET_NS, _SECOND)
    day, s = divmod(sec, 86_400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{_days(day)}{h:02d}:{m:02d}:{s:02d}.{ns:09d}+07:00"


def cursor_of(t: Tick) -> str:
    return f"{t.seq}:{t.n}"


def tick_json(t: Tick) -> dict[str, Any]:
    return {"cursor": cursor_of(t), "seq": t.seq, "n": t.n, "ts": rfc3339_vn(t.ts_ns),
            "ts_ns": t.ts_ns, "trade_id": t.trade_id, "symbol": t.symbol, "herb": t.herb,
            "grade": t.grade, "venue": t.venue, "price": t.price_vnd, "qty": t.qty,
            "notional": t.notional_vnd, "active_mg": t.active_mg,
            "price_per_kg_active": t.price_per_kg_active_vnd, "demo": t.demo}


def bar_json(b: Bar) -> dict[str, Any]:
    return {"symbol": b.symbol, "interval": b.interval, "start": rfc3339_vn(b.start_ns),
            "start_ns": b.start_ns, "open": b.open_vnd, "high": b.high_vnd, "low": b.low_vnd,
            "close": b.close_vnd, "volume": b.volume, "vwap": b.notional_vnd // b.volume,
            "notional": b.notional_vnd, "trades": b.trades, "active_mg": b.active_mg,
            "price_per_kg_active": (b.active_notional_vnd * 10**6 // b.active_mg
                                    if b.active_mg else None),
            "demo_trades": b.demo_trades}


CSV_COLUMNS = ("seq", "n", "ts", "ts_ns", "trade_id", "symbol", "herb", "grade", "venue",
               "price_vnd", "qty", "notional_vnd", "active_mg", "price_per_kg_active_vnd",
               "demo")


def csv_header() -> bytes:
    return (",".join(CSV_COLUMNS) + "\n").encode()


_NEEDS_QUOTES = frozenset(',"\r\n')


def csv_chunk(ticks: Sequence[Tick]) -> bytes:
    """The CSV lines of ``ticks``, ending in LF as PostgreSQL's ``COPY … CSV`` writes them
    (the PostgreSQL store has the server write this same text: `csv_select_sql`). Symbols,
    herbs, grades and venues are plain words (the commands' patterns), so a line is joined
    directly; one that is not goes through the csv module's quoting."""
    lines = []
    for t in ticks:
        if _NEEDS_QUOTES.isdisjoint(t.symbol + t.herb + t.grade):
            lines.append(
                f"{t.seq},{t.n},{rfc3339_vn(t.ts_ns)},{t.ts_ns},{t.trade_id},{t.symbol},"
                f"{t.herb},{t.grade},{t.venue},{t.price_vnd},{t.qty},{t.notional_vnd},"
                f"{'' if t.active_mg is None else t.active_mg},"
                f"{'' if t.price_per_kg_active_vnd is None else t.price_per_kg_active_vnd},"
                f"{'true' if t.demo else 'false'}\n")
        else:
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow(
                (t.seq, t.n, rfc3339_vn(t.ts_ns), t.ts_ns, t.trade_id, t.symbol, t.herb,
                 t.grade, t.venue, t.price_vnd, t.qty, t.notional_vnd,
                 "" if t.active_mg is None else t.active_mg,
                 "" if t.price_per_kg_active_vnd is None else t.price_per_kg_active_vnd,
                 "true" if t.demo else "false"))
            lines.append(buf.getvalue())
    return "".join(lines).encode()


#: the CSV columns as PostgreSQL text, in the form `csv_chunk` writes
_PG_CSV = ("seq", "n",
           "to_char(timestamp '1970-01-01' + (ts_ns / 1000000000 + 25200) * interval '1 second',"
           " 'YYYY-MM-DD\"T\"HH24:MI:SS') || '.' || lpad((ts_ns % 1000000000)::text, 9, '0')"
           " || '+07:00'",
           "ts_ns", "trade_id", "symbol", "herb", "grade", "venue", "price_vnd", "qty",
           "notional_vnd", "active_mg", "price_per_kg_active_vnd",
           "CASE WHEN demo THEN 'true' ELSE 'false' END")


def csv_select_sql(where: str) -> str:
    """The SELECT whose ``COPY … TO STDOUT (FORMAT csv)`` is `csv_chunk`'s text, row for row."""
    return f"SELECT {', '.join(_PG_CSV)} FROM ticks{where} ORDER BY seq, n"


PARQUET_SCHEMA = pa.schema([
    ("seq", pa.int64()), ("n", pa.int32()),
    ("ts", pa.timestamp("ns", tz="+07:00")), ("ts_ns", pa.int64()),
    ("trade_id", pa.int64()), ("symbol", pa.string()), ("herb", pa.string()),
    ("grade", pa.string()), ("venue", pa.string()), ("price_vnd", pa.int64()),
    ("qty", pa.int64()), ("notional_vnd", pa.int64()), ("active_mg", pa.int64()),
    ("price_per_kg_active_vnd", pa.int64()), ("demo", pa.bool_()),
])


class _Sink(io.RawIOBase):
    """Where the Parquet writer puts its bytes until the caller takes them."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.pos = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self.parts.append(data)
        self.pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self.pos

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts = []
        return out


class ParquetChunks:
    """A Parquet file written one row group per chunk: `add` returns the bytes ready to send,
    `finish` the rest (the footer)."""

    def __init__(self) -> None:
        self._sink = _Sink()
        self._writer = pq.ParquetWriter(self._sink, PARQUET_SCHEMA, compression="zstd")

    def take(self) -> bytes:
        """What the writer has written and nobody has taken yet."""
        return self._sink.take()

    def add(self, ticks: Sequence[Tick]) -> bytes:
        cols: list[list[Any]] = [[] for _ in PARQUET_SCHEMA.names]
        for t in ticks:
            for i, v in enumerate((t.seq, t.n, t.ts_ns, t.ts_ns, t.trade_id, t.symbol, t.herb,
                                   t.grade, t.venue, t.price_vnd, t.qty, t.notional_vnd,
                                   t.active_mg, t.price_per_kg_active_vnd, t.demo)):
                cols[i].append(v)
        table = pa.Table.from_arrays(
            [pa.array(c, type=f.type) for c, f in zip(cols, PARQUET_SCHEMA, strict=True)],
            schema=PARQUET_SCHEMA)
        self._writer.write_table(table, row_group_size=max(1, len(ticks)))
        return self._sink.take()

    def finish(self) -> bytes:
        self._writer.close()
        return self._sink.take()
