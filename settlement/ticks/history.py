"""Demo history: a few months of simulated trading, made once, kept as its own journal.

Owns the backfill of the demo market (`herbx serve --demo`): a separate `Exchange` (never the
live market) runs a seeded synthetic stream with historical timestamps — every instrument of
the catalogue, cooperatives' lots through the real lot lifecycle (register, assay with the
demo samples' active contents, receive, list), and each Vietnam day a few trades per grade at
prices drifting per herb product from the demo's fair prices (`gateway.demo.data`), less
liquid grades skipping days — and journals it with the engine's journal writer under
``<data_dir>/demo-history/journal/``. `history_steps` replays it as ``(seq, events)`` for the
tick writer to ingest with ``demo=True``: the history is never part of the live market's
journal, its ledger or its accounts.

Made once: the directory is built under a temporary name and renamed into place with its
``history.json`` (what was made and for which days), so a crash mid-way leaves nothing that
passes for a history. Integer prices only (the drift is in basis points); seeded, so the same
days and seed give the same journal byte for byte.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import msgspec

from engine.durable.journal import JournalError, JournalReader, JournalWriter, list_segments
from engine.exchange import Exchange
from engine.lots import assay_command
from engine.messages import (
    AddInstrument,
    Command,
    Deposit,
    Event,
    GrowingAreaIn,
    ListLotOnBook,
    PlaceOrder,
    ReceiveLot,
    RegisterLot,
)
from gateway.demo import data as D
from grading.assay import AssayResult
from grading.catalogue import Catalogue, load_catalogue
from grading.instruments import instruments
from grading.samples import CLEAN, sample_results
from settlement.booking import Step
from settlement.resume import steps_after
from settlement.ticks.model import INTERVAL_NS, VN_OFFSET_NS, bar_start

HISTORY_DIR = "demo-history"
DAYS = 91
SEED = 13
_DAY_NS = INTERVAL_NS["1d"]
_HOUR_NS = 3600 * 10**9
#: chance (in %) that a grade trades on a given day: grade C is the least liquid
TRADE_PCT = {"A": 90, "B": 70, "C": 50}
LOT_KG = 60_000  # one lot per cooperative and instrument: enough for the whole history


class HistoryInfo(msgspec.Struct, kw_only=True, frozen=True):
    """``history.json``: the days the history covers and what it holds."""

    seed: int
    first_day: str  # ISO dates, Vietnam days
    last_day: str
    first_ns: int
    end_ns: int  # every command is before this (the start of the live market's first day)
    commands: int
    trades: int
    last_seq: int


def sample_assay(catalogue: Catalogue, spec_id: str, grade: str) -> tuple[AssayResult, ...]:
    """A lab's results for a typical demo lot of ``grade``: the grading samples with a clean
    contaminant panel (`grading.samples`)."""
    spec = catalogue.get(spec_id)
    values = {**sample_results(spec_id, grade),
              **{k: v for k, v in CLEAN.items() if k in spec.contaminants["domestic"]}}
    units = {**{n: p.unit for n, p in spec.parameters.items()},
             **{n: p.unit for n, p in spec.contaminants["domestic"].items()}}
    return tuple(AssayResult(parameter=k, value=v, unit=units[k], method="demo")
                 for k, v in values.items())


def history_dir(data_dir: Path) -> Path:
    return data_dir / HISTORY_DIR


def read_info(data_dir: Path) -> HistoryInfo | None:
    path = history_dir(data_dir) / "history.json"
    if not path.exists():
        return None
    return msgspec.json.decode(path.read_bytes(), type=HistoryInfo)


def history_steps(data_dir: Path) -> Iterator[Step]:
    """Every command of the demo history with its events, ``(seq, events)`` in seq order (none
    when there is no history): for the tick writer to ingest with ``demo=True``."""
    if read_info(data_dir) is None:
        return iter(())
    return steps_after(history_dir(data_dir), 0)


def first_command_ns(engine_dir: Path) -> int | None:
    """The time of the oldest command the live market's journal still holds (its first, unless
    old segments were pruned after a snapshot); None for an empty or unreadable journal. Reads
    only the oldest segment's first record; never repairs (the sequencer owns the journal)."""
    journal = engine_dir / "journal"
    segments = list_segments(journal) if journal.is_dir() else []
    if not segments:
        return None
    try:
        for cmd in JournalReader(journal, after_seq=segments[0].first_seq - 1, repair=False):
            return cmd.ts_ns
    except JournalError:
        return None
    return None


class _Stream:
    """Stamps, journals and applies the history's commands: a sequencer without a clock."""

    def __init__(self, journal: Path) -> None:
        self.exchange = Exchange()
        self.writer = JournalWriter(journal, 1, sync=False)
        self.seq = 0
        self.trades = 0
        self.last_ts = 0

    def __call__(self, cmd: Command, ts_ns: int) -> list[Event]:
        """Stamp (time never goes back, as with the sequencer), journal, apply."""
        self.seq += 1
        self.last_ts = max(self.last_ts, ts_ns)
        cmd.seq, cmd.ts_ns = self.seq, self.last_ts
        self.writer.append(cmd)
        events = self.exchange.apply(cmd)
        first = events[0] if events else None
        assert first is not None and "reject" not in type(first).__name__.lower(), (cmd, events)
        self.trades += sum(1 for e in events if type(e).__name__ == "TradeExecuted")
        return events


def make_history(data_dir: Path, before_ns: int, *, days: int = DAYS, seed: int = SEED,
                 catalogue: Catalogue | None = None) -> HistoryInfo:
    """The demo history of ``data_dir``, made now if it is not there: ``days`` Vietnam days
    ending with the day before the one holding ``before_ns`` (the live market's first
    command). Returns what is there."""
    info = read_info(data_dir)
    if info is not None:
        return info
    cat = catalogue or load_catalogue()
    final = history_dir(data_dir)
    tmp = data_dir / f"{HISTORY_DIR}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    end_ns = bar_start(before_ns, "1d")
    first_ns = end_ns - days * _DAY_NS
    stream = _Stream(tmp / "journal")
    try:
        _simulate(stream, cat, first_ns, days, random.Random(seed))
        stream.writer.flush()
    finally:
        stream.writer.close()
    day = dt.date(1970, 1, 1)
    info = HistoryInfo(
        seed=seed, first_day=(day + dt.timedelta(days=(first_ns + VN_OFFSET_NS) // _DAY_NS))
        .isoformat(), last_day=(day + dt.timedelta(days=(end_ns + VN_OFFSET_NS) // _DAY_NS - 1))
        .isoformat(), first_ns=first_ns, end_ns=end_ns, commands=stream.seq,
        trades=stream.trades, last_seq=stream.seq)
    (tmp / "history.json").write_bytes(msgspec.json.encode(info))
    os.replace(tmp, final)
    return info


def _simulate(put: _Stream, cat: Catalogue, first_ns: int, days: int,
              rng: random.Random) -> None:
    insts = instruments(cat)
    t = first_ns + 7 * _HOUR_NS  # 07:00 Vietnam time on the first day
    for inst in insts:
        put(AddInstrument(symbol=inst.symbol, herb=inst.herb, grade=inst.grade, unit=inst.unit,
                          tick_vnd=inst.tick_vnd), t)
    buyers = [pid for pid, _ in D.TRADERS]
    for pid in buyers:
        put(Deposit(account=pid, amount_vnd=10**14), t)
    coops = D.COOPERATIVES
    harvest = (dt.date(1970, 1, 1) + dt.timedelta(days=first_ns // _DAY_NS - 20)).isoformat()
    seller = {}
    for i, inst in enumerate(insts):
        pid, name, no, commune, area = coops[i % len(coops)]
        lot_id = f"DH{i:03d}"
        seller[inst.symbol] = pid
        put(RegisterLot(
            lot_id=lot_id, account=pid, cooperative_name=name, cooperative_no=no,
            spec_id=inst.spec_id, qty=LOT_KG, harvest_date=harvest, commune=commune,
            growing_area=GrowingAreaIn(code=area, issuer="Chi cục Trồng trọt và BVTV Lào Cai",
                                       valid_from="2024-01-01", valid_until="2030-12-31")), t)
        put(assay_command(cat.get(inst.spec_id), lot_id=lot_id, lab=D.LAB[1],
                          sample_id=f"S-{lot_id}", destination="domestic",
                          results=sample_assay(cat, inst.spec_id, inst.grade)), t)
        put(ReceiveLot(lot_id=lot_id, account=pid, symbol=inst.symbol, qty=LOT_KG,
                       warehouse="Kho chợ đầu mối Lào Cai"), t)
        put(ListLotOnBook(lot_id=lot_id, account=pid), t)
    # a price factor per herb product (basis points of the fair price), drifting day by day
    # with a pull back towards par, and a small spread per grade around it
    factor = {inst.spec_id: 10_000 for inst in insts}
    n = 0
    for d in range(days):
        day0 = first_ns + d * _DAY_NS
        trades: list[tuple[int, str, int, int, str]] = []
        for spec_id in factor:
            f = factor[spec_id]
            factor[spec_id] = max(5_000, f + rng.randint(-150, 150) + (10_000 - f) // 20)
        for inst in insts:
            if rng.randrange(100) >= TRADE_PCT.get(inst.grade, 50):
                continue
            fair = D.FAIR_A_VND[inst.spec_id] * D.GRADE_DISCOUNT_PCT[inst.grade] // 100
            for _ in range(rng.randint(1, 4)):
                bps = factor[inst.spec_id] + rng.randint(-60, 60)
                price = max(inst.tick_vnd, fair * bps // 10_000 // inst.tick_vnd * inst.tick_vnd)
                # between 08:00 and 16:00 Vietnam time, on whole seconds
                ts = day0 + 8 * _HOUR_NS + rng.randrange(8 * 3600 - 1) * 10**9
                trades.append((ts, inst.symbol, price, rng.randrange(10, 210, 10),
                               rng.choice(buyers)))
        trades.sort()
        for ts, symbol, price, qty, buyer in trades:
            n += 1
            put(PlaceOrder(account=seller[symbol], client_order_id=f"h{n}s", symbol=symbol,
                           side="sell", price_vnd=price, qty=qty), ts)
            put(PlaceOrder(account=buyer, client_order_id=f"h{n}b", symbol=symbol,
                           side="buy", price_vnd=price, qty=qty, tif="ioc"), ts + 10**9)
