"""Recovery with the real Exchange: snapshot + journal replay gives the live state and events.

A seeded random stream of operator, cash, lot and order commands runs through a journaled
``Sequencer``; recovering the directory (from snapshots, from the journal alone, after a torn
tail, with a damaged newest snapshot) must give the same state hash, and replaying the journal
from scratch must give the same events, byte for byte.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.durable.journal import JournalReader, list_segments
from engine.durable.sequencer import Sequencer, recover
from engine.durable.snapshot import list_snapshots
from engine.exchange import Exchange
from engine.messages import (
    AddInstrument,
    CancelOrder,
    Command,
    Deposit,
    Event,
    PlaceOrder,
    ReceiveLot,
    ReplaceOrder,
    Tick,
    Withdraw,
)

SYMBOLS = [("QUE-BARK-A", "QUE", "A"), ("ATISO-LEAF-B", "ATISO", "B")]
BUYERS = ["T1", "T2", "T3", "T4"]
SELLERS = ["S1", "S2", "S3"]
_enc = msgspec.msgpack.Encoder()


def command_stream(seed: int, n: int) -> list[Command]:
    """A reproducible market session: listings, funding and lots first, then trading.

    An order's id is the seq of the command that placed it; the stream is submitted in order
    starting at seq 1, so the generator knows the ids of its own orders.
    """
    rng = random.Random(seed)
    cmds: list[Command] = []
    for symbol, herb, grade in SYMBOLS:
        cmds.append(AddInstrument(symbol=symbol, herb=herb, grade=grade, tick_vnd=100))
    for acct in BUYERS:
        cmds.append(Deposit(account=acct, amount_vnd=10**10))
    for i, acct in enumerate(SELLERS * 2):
        symbol = SYMBOLS[i % len(SYMBOLS)][0]
        cmds.append(ReceiveLot(lot_id=f"L{i}", account=acct, symbol=symbol, qty=10_000))
    placed: list[tuple[int, str]] = []  # (order id, account)
    clock_ns = 1_800_000_000_000_000_000
    while len(cmds) < n:
        seq = len(cmds) + 1
        roll = rng.random()
        symbol = rng.choice(SYMBOLS)[0]
        if roll < 0.55:
            side = rng.choice(["buy", "sell"])
            account = rng.choice(BUYERS if side == "buy" else SELLERS)
            tif = rng.choice(["gtc", "gtc", "gtc", "ioc", "fok", "gtd"])
            cmds.append(
                PlaceOrder(
                    account=account,
                    client_order_id=f"c{seq}",
                    symbol=symbol,
                    side=side,  # type: ignore[arg-type]
                    price_vnd=rng.randrange(600, 640) * 100,
                    qty=rng.randint(1, 300),
                    tif=tif,  # type: ignore[arg-type]
                    expire_at_ns=clock_ns + rng.randint(1, 50) * 10**9 if tif == "gtd" else None,
                )
            )
            placed.append((seq, account))
        elif roll < 0.62:
            side = rng.choice(["buy", "sell"])
            cmds.append(
                PlaceOrder(
                    account=rng.choice(BUYERS if side == "buy" else SELLERS),
                    client_order_id=f"m{seq}",
                    symbol=symbol,
                    side=side,  # type: ignore[arg-type]
                    order_type="market",
                    qty=rng.randint(1, 200),
                    tif="ioc",
                    cash_cap_vnd=10**8 if side == "buy" else None,
                )
            )
        elif roll < 0.82 and placed:
            order_id, account = rng.choice(placed)
            if rng.random() < 0.1:
                account = "T9"  # someone else's order: a refusal, not a change
            cmds.append(CancelOrder(account=account, order_id=order_id))
        elif roll < 0.88 and placed:
            order_id, account = rng.choice(placed)
            cmds.append(
                ReplaceOrder(
                    account=account,
                    order_id=order_id,
                    qty=rng.randint(1, 300),
                    price_vnd=rng.choice([None, rng.randrange(600, 640) * 100]),
                )
            )
        elif roll < 0.93:
            cmds.append(Tick())
        elif roll < 0.97:
            cmds.append(Deposit(account=rng.choice(BUYERS), amount_vnd=rng.randint(1, 10**7)))
        else:
            cmds.append(Withdraw(account=rng.choice(BUYERS), amount_vnd=rng.randint(1, 10**7)))
    return cmds


class StepClock:
    """An injected clock: 1 ms per reading, with an occasional step backwards."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.t = 1_800_000_000_000_000_000

    def __call__(self) -> int:
        self.t += 1_000_000 if self.rng.random() > 0.02 else -5_000_000
        return self.t


def encode_events(events: list[Event]) -> list[bytes]:
    return [_enc.encode(e) for e in events]


def run_live(
    data_dir: Path, cmds: list[Command], *, commit_every: int = 16, **kw: object
) -> tuple[Exchange, list[bytes]]:
    events: list[bytes] = []
    with Sequencer(data_dir, now_ns=StepClock(7), **kw) as sq:  # type: ignore[arg-type]
        for i, cmd in enumerate(cmds, 1):
            events += encode_events(sq.submit(cmd))
            if i % commit_every == 0:
                sq.commit()
        ex = sq.exchange
    assert isinstance(ex, Exchange)
    ex._check()
    return ex, events


def test_stream_trades(tmp_path: Path) -> None:
    """The workload really exercises the engine (otherwise the tests below prove little)."""
    _, events = run_live(tmp_path, command_stream(1, 600), snapshot_every=0)
    kinds = [msgspec.msgpack.decode(e)["type"] for e in events]
    for kind in ("trade_executed", "order_cancelled", "order_accepted", "book_updated"):
        assert kind in kinds, kind


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_snapshot_plus_replay_equals_live_state(tmp_path: Path, seed: int) -> None:
    live, _ = run_live(tmp_path, command_stream(seed, 1500), snapshot_every=400)
    assert [s for s, _ in list_snapshots(tmp_path / "snapshots")] == [800, 1200]
    ex, info = recover(tmp_path)
    assert info.snapshot_seq == 1200 and info.replayed == 300 and info.last_seq == 1500
    assert ex.state_hash() == live.state_hash()
    assert isinstance(ex, Exchange)
    ex._check()


def test_journal_replay_from_scratch_gives_the_same_events(tmp_path: Path) -> None:
    live, live_events = run_live(tmp_path, command_stream(4, 1200), snapshot_every=0)
    replayed: list[bytes] = []
    ex, info = recover(tmp_path, on_events=lambda evs: replayed.extend(encode_events(evs)))
    assert info.snapshot_seq == 0 and info.replayed == 1200
    assert replayed == live_events
    assert ex.state_hash() == live.state_hash()
    # and the journal holds the commands exactly as stamped
    ex2 = Exchange()
    again = [
        b for cmd in JournalReader(tmp_path / "journal") for b in encode_events(ex2.apply(cmd))
    ]
    assert again == live_events


def test_events_after_a_snapshot_replay_identically(tmp_path: Path) -> None:
    """A consumer resuming after the snapshot seq receives exactly the live events."""
    _, live_events = run_live(tmp_path, command_stream(5, 900), snapshot_every=500)
    replayed: list[bytes] = []
    _, info = recover(tmp_path, on_events=lambda evs: replayed.extend(encode_events(evs)))
    assert info.snapshot_seq == 500
    tail = [e for e in live_events if msgspec.msgpack.decode(e)["seq"] > 500]
    assert replayed == tail


def test_corrupt_newest_snapshot_falls_back_to_the_previous(tmp_path: Path) -> None:
    live, _ = run_live(tmp_path, command_stream(6, 1000), snapshot_every=300)
    newest = list_snapshots(tmp_path / "snapshots")[-1][1]
    with open(newest, "r+b") as f:
        f.seek(newest.stat().st_size // 2)
        f.write(b"\xff\xfe")
    ex, info = recover(tmp_path)
    assert info.snapshot_seq == 600 and info.skipped_snapshots == (newest,)
    assert ex.state_hash() == live.state_hash()


def test_crash_mid_group_torn_tail_recovers_and_continues(tmp_path: Path) -> None:
    cmds = command_stream(8, 700)
    src = tmp_path / "src"
    with Sequencer(src, now_ns=StepClock(3), snapshot_every=250) as sq:
        for cmd in cmds[:650]:
            sq.submit(cmd)
        sq.commit()
        hash_650 = sq.exchange.state_hash()
        sq.submit(cmds[650])
    # the record of seq 651 was written by close(); tear it at a few offsets
    seg = list_segments(src / "journal")[-1].path
    size = seg.stat().st_size
    for cut in (size - 1, size - 7, size - 20):
        work = tmp_path / f"cut{cut}"
        shutil.copytree(src, work)
        with open(work / "journal" / seg.name, "r+b") as f:
            f.truncate(cut)
        with Sequencer(work, now_ns=StepClock(4)) as sq:
            assert sq.recovery.tail_cut is not None and sq.last_seq == 650
            assert sq.exchange.state_hash() == hash_650
            for cmd in cmds[650:]:
                sq.submit(msgspec.structs.replace(cmd))
        ex, info = recover(work)
        assert info.last_seq == 700 and info.tail_cut is None
        assert isinstance(ex, Exchange)
        ex._check()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    n=st.integers(20, 400),
    snapshot_every=st.sampled_from([0, 1, 7, 50, 150]),
    commit_every=st.integers(1, 64),
)
def test_property_recovery_equals_live(
    seed: int, n: int, snapshot_every: int, commit_every: int
) -> None:
    """Any session, any snapshot interval, any group size: recovering gives the live state,
    and the replayed events are exactly the live events after the snapshot."""
    with tempfile.TemporaryDirectory() as d:
        data_dir = Path(d)
        live, live_events = run_live(
            data_dir,
            command_stream(seed, n),
            commit_every=commit_every,
            snapshot_every=snapshot_every,
        )
        replayed: list[bytes] = []
        ex, info = recover(data_dir, on_events=lambda evs: replayed.extend(encode_events(evs)))
        assert ex.state_hash() == live.state_hash()
        assert info.last_seq == n
        after = [e for e in live_events if msgspec.msgpack.decode(e)["seq"] > info.snapshot_seq]
        assert replayed == after
