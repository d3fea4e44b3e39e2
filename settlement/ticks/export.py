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


class _Seconds:
    """RFC 3339 Vietnam-time text of whole seconds, the last one remembered (exports of a
    range turn many ticks of the same second into text)."""

    def __init__(self) -> None:
        self.sec = -1
        self.text = ""

    def __call__(self, sec: int) -> str:
        if sec != self.sec:
            self.sec = sec
            self.text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return self.text


_seconds = _Seconds()


def rfc3339_vn(ts_ns: int) -> str:
    """``ts_ns`` as RFC 3339 in Vietnam's time (UTC+7), to the nanosecond."""
    sec, ns = divmod(ts_ns + VN_OFFSET_NS, _SECOND)
    return f"{_seconds(sec)}.{ns:09d}+07:00"


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
    return (",".join(CSV_COLUMNS) + "\r\n").encode()


def csv_chunk(ticks: Sequence[Tick]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerows(
        (t.seq, t.n, rfc3339_vn(t.ts_ns), t.ts_ns, t.trade_id, t.symbol, t.herb, t.grade,
         t.venue, t.price_vnd, t.qty, t.notional_vnd,
         "" if t.active_mg is None else t.active_mg,
         "" if t.price_per_kg_active_vnd is None else t.price_per_kg_active_vnd,
         "true" if t.demo else "false")
        for t in ticks)
    return buf.getvalue().encode()


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
