"""`herbx serve --demo`: a seeded, live market with bots.

Seeding (only on an empty market): every instrument of the grading catalogue; five cooperatives
whose lots go through the real lot lifecycle (register → lab assay → receipt into custody → list),
so every demo lot has a trace page; ten funded traders; a market maker with inventory. Then two
bots run through the same pipeline as any client: the market maker keeps every book two-sided
around a slowly drifting fair price, and traders and cooperatives trade against it at a pace of
a few trades a second across the market; one English (cinnamon bark), one Dutch (artichoke) and
one sealed-bid (tam thất) auction run on a loop, each on a fresh lot, with traders bidding;
a demo operator settles every trade (paid after a couple of seconds, then delivered, settled:
`gateway.demo.settler`), so the bots' cash and goods do not stay held.
Demo tokens are fixed (``demo-<id>``) and printed at
start-up; they are for a local demo only.

Because those tokens are public, a data directory is a demo or a real market from its first
start, recorded in ``gateway/market.json``: `demo_refusal` keeps ``--demo`` off a real market
(it would make the well-known tokens valid there for good) and a demo directory off a start
without ``--demo`` (a market whose operator token is public must not pass for a real one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import msgspec

from engine.lots import assay_command
from engine.messages import (
    AddInstrument,
    CancelOrder,
    CreateAuction,
    Deposit,
    DutchBuy,
    GrowingAreaIn,
    ListLotOnBook,
    LotUpdated,
    OrderAccepted,
    PlaceBid,
    PlaceOrder,
    ReceiveLot,
    RegisterLot,
    SetInsuranceTerms,
)
from gateway.api.problems import Problem
from gateway.auth import Participant, hash_token
from gateway.demo import data as D
from gateway.demo import settler
from gateway.link.pipeline import Overloaded, PipelineFailed
from gateway.state import Gateway
from grading.assay import AssayResult
from grading.instruments import instruments
from grading.lot import Cooperative, GrowingArea
from settlement.ticks.history import (
    HistoryInfo,
    first_command_ns,
    history_steps,
    make_history,
    sample_assay,
)
from settlement.ticks.writer import TickWriter

log = logging.getLogger("herbx.demo")


def demo_token(pid: str) -> str:
    return f"demo-{pid.lower()}"


class MarketKind(msgspec.Struct, kw_only=True):
    """``gateway/market.json``: what a data directory was created as."""

    demo: bool
    created_at: str = ""


def _holds_a_market(data_dir: Path) -> bool:
    engine = data_dir / "engine"
    return (data_dir / "gateway" / "participants.json").exists() or any(
        (engine / part).is_dir() and any((engine / part).iterdir())
        for part in ("journal", "snapshots"))


def _serves_demo_tokens(data_dir: Path) -> bool:
    """A directory from before ``market.json``: was it started as a demo (its registry knows
    the demo operator token)?"""
    path = data_dir / "gateway" / "participants.json"
    if not path.exists():
        return False
    people = msgspec.json.decode(path.read_bytes(), type=list[Participant])
    h = hash_token(demo_token("operator"))
    return any(h in p.token_hashes for p in people)


def demo_refusal(data_dir: Path, demo: bool) -> str | None:
    """Why this start must not go on (one line, with what to do), or None. A new directory is
    recorded as a demo or not here, before anything else is written into it."""
    marker = data_dir / "gateway" / "market.json"
    if marker.exists():
        try:
            kind = msgspec.json.decode(marker.read_bytes(), type=MarketKind)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return f"{marker} is damaged ({exc}); it says whether this market is a demo"
    else:
        existing = _holds_a_market(data_dir)
        kind = MarketKind(demo=_serves_demo_tokens(data_dir) if existing else demo,
                          created_at=datetime.now(UTC).isoformat(timespec="seconds"))
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(msgspec.json.encode(kind))
        os.replace(tmp, marker)
    if demo and not kind.demo:
        return (f"--demo refused: {data_dir} holds a market that was not created as a demo, and "
                "a demo would make its well-known demo-* tokens valid there for good; run the "
                "demo on a fresh --data-dir")
    if not demo and kind.demo:
        return (f"{data_dir} holds a demo market (its demo-* tokens are public): start it with "
                "--demo, or start a real market on a fresh --data-dir")
    return None


def fair_price(spec_id: str, grade: str, tick: int) -> int:
    raw = D.FAIR_A_VND[spec_id] * D.GRADE_DISCOUNT_PCT[grade] // 100
    return max(tick, raw // tick * tick)


def assay_results(gw: Gateway, spec_id: str, grade: str) -> tuple[AssayResult, ...]:
    return sample_assay(gw.catalogue, spec_id, grade)


def add_people(gw: Gateway) -> None:
    people = [(pid, name, "cooperative", no) for pid, name, no, _, _ in D.COOPERATIVES]
    people += [(pid, name, "trader", 0) for pid, name in D.TRADERS]
    people += [(D.MAKER[0], D.MAKER[1], "trader", 0), (D.LAB[0], D.LAB[1], "lab", 0),
               (D.ANALYST[0], D.ANALYST[1], "analyst", 0)]
    people += [(pid, name, role, 6 if role == "cooperative" else 0)
               for pid, name, role in D.WEB_PEOPLE]
    for pid, name, role, no in people:
        if pid not in gw.registry.participants:
            gw.registry.add(Participant(id=pid, name=name, role=role, number=no))  # type: ignore[arg-type]
    for pid in ["operator", *(p[0] for p in people)]:
        gw.demo_tokens[pid] = gw.registry.issue_token(pid, demo_token(pid))


async def seed(gw: Gateway) -> None:
    """Fill an empty market; a market that has instruments already is left as it is."""
    if gw.exchange.instrument_views():
        return
    for inst in instruments(gw.catalogue):
        await gw.submit(AddInstrument(
            symbol=inst.symbol, herb=inst.herb, grade=inst.grade, unit=inst.unit,
            tick_vnd=inst.tick_vnd, band_bps=2_000,
            ref_price_vnd=fair_price(inst.spec_id, inst.grade, inst.tick_vnd)))
    for pid, _ in D.TRADERS:
        await gw.submit(Deposit(account=pid, amount_vnd=50_000_000_000))
    await gw.submit(Deposit(account=D.MAKER[0], amount_vnd=500_000_000_000))
    now = datetime.now(UTC) - timedelta(hours=6)
    harvest = (now - timedelta(days=20)).date()
    specs = list(D.FAIR_A_VND)
    rng = random.Random(7)
    owners = [(pid, name, no, commune, area) for pid, name, no, commune, area in D.COOPERATIVES]
    owners.append((D.MAKER[0], D.MAKER[1], 99, "Kho chợ đầu mối Lào Cai", "LC-KHO-0001"))
    for i, (pid, name, no, commune, area_code) in enumerate(owners):
        coop = Cooperative(id=pid, name=name, number=no)
        area = GrowingArea(code=area_code, issuer="Chi cục Trồng trọt và BVTV Lào Cai",
                           valid_from=date(2024, 1, 1), valid_until=date(2030, 12, 31))
        for j, spec_id in enumerate(specs):
            grades = ["A", "B", "C"] if pid == D.MAKER[0] else ["ABC"[(i + j) % 3]]
            for k, grade in enumerate(grades):
                lot_id = f"LC26-{no:02d}{j:02d}{k}"
                qty = 3_000 if pid == D.MAKER[0] else rng.randrange(300, 2_000, 10)
                await lot_through_lifecycle(gw, coop, area, commune, spec_id, grade, lot_id,
                                            qty, harvest, now + timedelta(minutes=i * 40 + j))


async def seed_web_people(gw: Gateway) -> None:
    """Fund the web UI's demo people once (also on a demo market seeded before they existed):
    cash for the two traders, a little cinnamon and artichoke each so either side can be tried,
    and graded lots in the warehouse for the cooperative to list or auction."""
    area = GrowingArea(code="LC-MH-DL-0002", issuer="Chi cục Trồng trọt và BVTV Lào Cai",
                       valid_from=date(2024, 1, 1), valid_until=date(2030, 12, 31))
    harvest = (datetime.now(UTC) - timedelta(days=12)).date()
    goods = {"trader": [("QUE-BARK", "A", 500), ("ATISO-LEAF", "A", 300)],
             "cooperative": D.WEB_LOTS}
    for n, (pid, name, role) in enumerate(D.WEB_PEOPLE):
        if role not in goods:
            continue  # not a holder
        if role == "trader" and gw.exchange.balances(pid) is None:
            await gw.submit(Deposit(account=pid, amount_vnd=D.WEB_CASH_VND))
        coop = Cooperative(id=pid, name=name, number=6 if role == "cooperative" else 90 + n)
        for j, (spec_id, grade, qty) in enumerate(goods[role]):
            lot_id = f"LC26-W{n}{j:02d}"
            if gw.lots.get(lot_id) is not None:
                continue  # seeded at an earlier start (a kill half-way leaves it half-way)
            await lot_through_lifecycle(gw, coop, area, "Xã Mường Hum", spec_id, grade,
                                        lot_id, qty, harvest, datetime.now(UTC),
                                        list_on_book=role == "trader")


async def lot_through_lifecycle(
    gw: Gateway, coop: Cooperative, area: GrowingArea, commune: str, spec_id: str, grade: str,
    lot_id: str, qty: int, harvest: date, ts: datetime, list_on_book: bool = True,
) -> None:
    """Register, assay, receive (and list) a demo lot: one journaled command each (``ts`` is
    unused: the sequencer stamps every command)."""
    del ts
    events = await gw.submit(RegisterLot(
        lot_id=lot_id, account=coop.id, cooperative_name=coop.name, cooperative_no=coop.number,
        spec_id=spec_id, qty=qty, harvest_date=harvest.isoformat(), commune=commune,
        growing_area=GrowingAreaIn(
            code=area.code, issuer=area.issuer, valid_from=area.valid_from.isoformat(),
            valid_until=None if area.valid_until is None else area.valid_until.isoformat())))
    assert type(events[0]) is LotUpdated, events
    cmd = assay_command(gw.catalogue.get(spec_id), lot_id=lot_id, lab=D.LAB[1],
                        sample_id=f"S-{lot_id}", results=assay_results(gw, spec_id, grade),
                        destination="domestic")
    assert cmd.decision.grade == grade, (lot_id, cmd.decision.grade, grade)
    events = await gw.submit(cmd)
    assert type(events[0]) is LotUpdated, events
    events = await gw.submit(ReceiveLot(lot_id=lot_id, account=coop.id,
                                        symbol=f"{spec_id}-{grade}", qty=qty,
                                        warehouse="Kho chợ đầu mối Lào Cai"))
    assert type(events[0]) is LotUpdated, events
    if list_on_book:
        events = await gw.submit(ListLotOnBook(lot_id=lot_id, account=coop.id))
        assert type(events[0]) is LotUpdated, events


class Bots:
    """The market maker and the random traders; every order goes through the pipeline."""

    def __init__(self, gw: Gateway, seed: int = 7) -> None:
        self.gw = gw
        self.rng = random.Random(seed)
        insts = {i.symbol: i for i in gw.exchange.instrument_views()}
        self.fair = {s: (i.last_price_vnd or i.ref_price_vnd or 10_000) for s, i in insts.items()}
        self.ticks = {s: i.tick_vnd for s, i in insts.items()}
        self.quotes: dict[str, list[int]] = {s: [] for s in insts}
        self.n = 0

    async def order(self, account: str, symbol: str, side: str, price: int, qty: int,
                    tif: str = "gtc") -> list[int]:
        self.n += 1
        events = await self.gw.submit(PlaceOrder(
            account=account, client_order_id=f"bot-{self.n}-{self.rng.getrandbits(32):x}",
            symbol=symbol, side=side, price_vnd=price, qty=qty, tif=tif))  # type: ignore[arg-type]
        return [e.order_id for e in events if type(e) is OrderAccepted]

    async def requote(self, symbol: str) -> None:
        tick, rng, mm = self.ticks[symbol], self.rng, D.MAKER[0]
        fair = self.fair[symbol] = max(tick * 10, self.fair[symbol] + rng.randint(-2, 2)
                                       * max(tick, self.fair[symbol] // 1000 // tick * tick))
        for oid in self.quotes[symbol]:
            await self.gw.submit(CancelOrder(account=mm, order_id=oid))
        if self.available(mm, symbol) < 1_500:  # keep the maker's inventory up
            await self.bring_lot(mm, symbol, 3_000)
        half = max(tick, fair // 300 // tick * tick)
        ids = []
        for level in range(3):
            qty = rng.randrange(20, 200, 10)
            ids += await self.order(mm, symbol, "buy", fair - half - level * tick, qty)
            ids += await self.order(mm, symbol, "sell", fair + half + level * tick, qty)
        self.quotes[symbol] = ids

    async def take(self, symbol: str) -> None:
        rng = self.rng
        buy = rng.random() < 0.5
        account = rng.choice(D.TRADERS)[0] if buy else self.seller_of(symbol)
        if account is None:  # the cooperatives sold out: one of them brings a new harvest
            await self.bring_lot(rng.choice(D.COOPERATIVES)[0], symbol,
                                 rng.randrange(500, 2_000, 10))
            return
        fair, tick = self.fair[symbol], self.ticks[symbol]
        half = max(tick, fair // 300 // tick * tick)
        aggressive = rng.random() < 0.7
        if buy:
            price = fair + half if aggressive else fair - half - rng.randint(1, 4) * tick
        else:
            price = fair - half if aggressive else fair + half + rng.randint(1, 4) * tick
        await self.order(account, symbol, "buy" if buy else "sell", price,
                         rng.randrange(10, 120, 10), "ioc" if aggressive else "gtc")

    def available(self, account: str, symbol: str) -> int:
        b = self.gw.exchange.balances(account)
        return 0 if b is None else sum(g.available_qty for g in b.goods if g.symbol == symbol)

    async def bring_lot(self, account: str, symbol: str, qty: int) -> None:
        """A new lot of ``symbol``'s herb and grade, through the whole lot lifecycle."""
        spec_id, grade = symbol.rsplit("-", 1)
        coops = {c[0]: c for c in D.COOPERATIVES}
        _, name, no, commune, area = coops.get(account) or (
            account, D.MAKER[1], 99, "Kho chợ đầu mối Lào Cai", "LC-KHO-0001")
        now = datetime.now(UTC)
        await lot_through_lifecycle(
            self.gw, Cooperative(id=account, name=name, number=no),
            GrowingArea(code=area, issuer="Chi cục Trồng trọt và BVTV Lào Cai",
                        valid_from=date(2024, 1, 1), valid_until=date(2030, 12, 31)),
            commune, spec_id, grade, f"LC26-{no:02d}R{len(self.gw.lots.lots):04d}", qty,
            (now - timedelta(days=10)).date(), now - timedelta(minutes=5))

    def seller_of(self, symbol: str) -> str | None:
        holders = [c[0] for c in D.COOPERATIVES if self.available(c[0], symbol) >= 120]
        return self.rng.choice(holders) if holders else None

    async def run(self) -> None:
        symbols = list(self.quotes)
        for s in symbols:
            await self.requote(s)
        pace = self.gw.settings.demo_pace_s
        while True:
            await asyncio.sleep(pace)
            try:
                for s in self.rng.sample(symbols, k=min(6, len(symbols))):
                    await self.requote(s)
                for s in self.rng.sample(symbols, k=min(3, len(symbols))):
                    await self.take(s)
            except Exception as exc:  # a refused or overloaded bot order is not fatal
                if not isinstance(exc, (Overloaded, PipelineFailed)):
                    log.debug("demo bot step failed: %r", exc)


# kind -> (spec, grade, qty kg): the cinnamon auction sells bark by English auction
AUCTIONED = {"english": ("QUE-BARK", "A", 1_000), "dutch": ("ATISO-LEAF", "A", 600),
             "sealed": ("TAMTHAT-ROOT", "A", 200)}
S = 1_000_000_000


class AuctionBots:
    """Keeps one English, one Dutch and one sealed auction running, each on a fresh lot that a
    cooperative brings through the lifecycle, and bids in them like traders would."""

    def __init__(self, gw: Gateway, seed: int = 11) -> None:
        self.gw = gw
        self.rng = random.Random(seed)
        self.n = 0
        self.sellers = {c[0] for c in D.COOPERATIVES}

    def fair(self, spec_id: str, grade: str) -> int:
        symbol = f"{spec_id}-{grade}"
        inst = self.gw.exchange.instrument(symbol)
        return int(inst.last_price_vnd or inst.ref_price_vnd)

    async def new_auction(self, kind: str) -> None:
        gw, rng = self.gw, self.rng
        spec_id, grade, qty = AUCTIONED[kind]
        pid, name, no, commune, area_code = rng.choice(D.COOPERATIVES)
        lot_id = f"LC26-AU{len(gw.lots.lots):04d}"
        now = datetime.now(UTC)
        await lot_through_lifecycle(
            gw, Cooperative(id=pid, name=name, number=no),
            GrowingArea(code=area_code, issuer="Chi cục Trồng trọt và BVTV Lào Cai",
                        valid_from=date(2024, 1, 1), valid_until=date(2030, 12, 31)),
            commune, spec_id, grade, lot_id, qty, (now - timedelta(days=15)).date(),
            now - timedelta(minutes=10), list_on_book=False)
        fair = self.fair(spec_id, grade)
        tick = gw.exchange.instrument(f"{spec_id}-{grade}").tick_vnd
        t0 = gw.now_ns()
        common = dict(seller=pid, lot_id=lot_id, qty=qty, start_ns=t0)
        if kind == "english":
            cmd = CreateAuction(kind="english", end_ns=t0 + 180 * S,
                                start_price_vnd=fair * 90 // 100 // tick * tick,
                                reserve_vnd=fair * 97 // 100 // tick * tick, extend_ns=20 * S,
                                extension_cap_ns=60 * S, **common)  # type: ignore[arg-type]
        elif kind == "sealed":
            cmd = CreateAuction(kind="sealed", end_ns=t0 + 120 * S, pricing="second",
                                start_price_vnd=fair * 85 // 100 // tick * tick,
                                **common)  # type: ignore[arg-type]
        else:
            step = max(tick, fair // 200 // tick * tick)
            cmd = CreateAuction(kind="dutch", start_price_vnd=(fair * 115 // 100) // tick * tick,
                                step_vnd=step, interval_ns=3 * S,
                                floor_vnd=fair * 85 // 100 // tick * tick, min_qty=100,
                                restart_steps=3, **common)  # type: ignore[arg-type]
        await gw.submit(cmd)  # lists the lot for auction in the same command

    async def bid(self, a: dict[str, object]) -> None:
        gw, rng = self.gw, self.rng
        trader = rng.choice(D.TRADERS)[0]
        spec_id, grade, _ = AUCTIONED[str(a["kind"])]
        fair = self.fair(spec_id, grade)
        tick = gw.exchange.instrument(f"{spec_id}-{grade}").tick_vnd
        aid = int(a["auction_id"])  # type: ignore[call-overload]
        price = int(a.get("price") or 0)  # type: ignore[call-overload]
        if a["kind"] == "english" and rng.random() < 0.3:
            floor = int(a.get("min_next_bid") or a["start_price"])  # type: ignore[call-overload]
            top = fair * rng.randint(95, 106) // 100 // tick * tick
            if floor <= top:  # a bidder stops at what the lot is worth to them
                await gw.submit(PlaceBid(auction_id=aid, account=trader, price_vnd=top))
        elif a["kind"] == "sealed" and rng.random() < 0.15:
            await gw.submit(PlaceBid(auction_id=aid, account=trader,
                                     price_vnd=fair * rng.randint(86, 104) // 100 // tick * tick))
        elif a["kind"] == "dutch" and price and price <= fair * 97 // 100 \
                and rng.random() < 0.3:
            await gw.submit(DutchBuy(auction_id=aid, account=trader, price_vnd=price, qty=100))

    async def run(self) -> None:
        while True:
            try:
                live = self.gw.auctions.live()
                for kind in AUCTIONED:
                    if not any(a["kind"] == kind for a in live):
                        await self.new_auction(kind)
                for a in live:  # only the market's own auctions: a person's are theirs
                    if a["status"] == "open" and a["seller"] in self.sellers:
                        await self.bid(a)
            except (Overloaded, PipelineFailed):
                pass
            except Exception as exc:  # a refused bid or a lot that would not grade: log it
                log.warning("demo auction step failed: %r", exc)
            await asyncio.sleep(self.gw.settings.demo_pace_s)


#: the demo's price-insurance season: cinnamon bark over the last 30 days of the demo history
DEMO_INSURED = ("QUE-BARK", 56_000, 30, 500)  # herb, floor VND/kg, window days, min kg


#: history commands per tick-store write while the history goes in
HISTORY_CHUNK = 1_000


async def demo_history(gw: Gateway) -> None:
    """Make the demo history once (in a thread: the market is already serving), put it into
    the tick store (`ingest_history`) and insure a demo season over its last days
    (docs/analytics.md)."""
    data = Path(gw.settings.data_dir)
    try:
        first = await asyncio.to_thread(first_command_ns, data / "engine")
        info = await asyncio.to_thread(make_history, data, first or gw.now_ns(),
                                       catalogue=gw.catalogue)
    except Exception as exc:  # the live demo goes on without its history
        log.warning("demo history not made: %r", exc)
        return
    try:
        await ingest_history(gw, info)
    except Exception as exc:  # noqa: BLE001 - the next start goes on from its position
        log.warning("demo history not in the tick store: %r", exc)
    herb, floor, days, min_kg = DEMO_INSURED
    season = f"{info.last_day[:4]}-DEMO"
    if any((t.herb, t.season) == (herb, season) for t in gw.exchange.insurance_terms()):
        return
    with contextlib.suppress(Problem):  # overloaded, or a market shutting down
        await gw.submit(SetInsuranceTerms(
            herb=herb, season=season, floor_vnd=floor, min_volume_kg=min_kg, demo=True,
            window_start_ns=info.end_ns - days * 86_400 * 10**9, window_end_ns=info.end_ns))
    log.info("demo history: %d trades from %s to %s", info.trades, info.first_day,
             info.last_day)


async def ingest_history(gw: Gateway, info: HistoryInfo) -> int:
    """The demo history's ticks into this market's tick store, marked ``demo``: a tick writer of
    its own (source ``demo_history``: its own position and keys, never the live writer's), so
    it goes in exactly once however often the market restarts or stops half-way. Returns how
    many history commands went in now."""
    store = gw.ticks
    if store is None:
        return 0
    lanes = gw.feed.lanes if gw.feed is not None else []
    while any(lane.consumer.name == "ticks" and not lane.ever_started for lane in lanes):
        await asyncio.sleep(0.2)  # the live writer opens the store (it retries while it is down)
    writer = TickWriter(store, source="demo_history")
    position = await writer.start()  # loads its position; the store is open already
    if position >= info.last_seq:
        return 0
    data = Path(gw.settings.data_dir)
    steps = await asyncio.to_thread(lambda: [s for s in history_steps(data) if s[0] > position])
    done = 0
    for i in range(0, len(steps), HISTORY_CHUNK):
        done += await writer.offer(steps[i:i + HISTORY_CHUNK])
    log.info("demo history: %d commands into the tick store (%s)", done, store.name)
    return done


async def start_demo(gw: Gateway) -> list[asyncio.Task[None]]:
    add_people(gw)
    await seed(gw)
    await seed_web_people(gw)
    return [asyncio.create_task(demo_history(gw), name="herbx-demo-history"),
            asyncio.create_task(Bots(gw).run(), name="herbx-demo-bots"),
            asyncio.create_task(AuctionBots(gw).run(), name="herbx-demo-auctions"),
            asyncio.create_task(settler.run(gw), name="herbx-demo-settlement")]
