"""`herbx watch`: follows a live book, proving each update by seq and checksum."""

from __future__ import annotations

import asyncio
import io

from loadtest.watch import WatchedBook, watch
from tests.gateway.conftest import SYMBOL, Market, settings, start


async def test_watch_follows_and_proves_the_book(tmp_path) -> None:
    market = await start(settings(tmp_path, conflate_ms=0))  # one update per order
    try:
        await _follow(market)
    finally:
        await market.client.close()


async def _follow(market: Market) -> None:
    out = io.StringIO()
    task = asyncio.create_task(watch(market.ws_url, SYMBOL, count=4, out=out, clear=False))
    async with asyncio.timeout(30):
        while not market.gw.hub.channels.get(f"book:{SYMBOL}"):
            await asyncio.sleep(0.01)
    for i in range(4):
        await market.order("T1", price=60_000 + 100 * i, qty=1 + i)
    book = await asyncio.wait_for(task, 30)
    assert (book.updates, book.resyncs) == (4, 0)
    assert book.bids == {60_000: 1, 60_100: 2, 60_200: 3, 60_300: 4}
    assert "checksum ok" in out.getvalue() and "60300" in out.getvalue()


def test_watched_book_detects_gaps_and_bad_checksums() -> None:
    b = WatchedBook()
    assert b.apply({"type": "snapshot", "seq": 5, "bids": [[100, 1]], "asks": [],
                    "checksum": 0}) == "checksum mismatch at seq 5"
    from gateway.stream.checksum import book_checksum

    b.apply({"type": "snapshot", "seq": 5, "bids": [[100, 1]], "asks": [],
             "checksum": book_checksum([[100, 1]], [])})
    assert b.apply({"type": "update", "seq": 7, "bids": [], "asks": [],
                    "checksum": 0}).startswith("gap")


def test_checksum_is_crc32_of_asks_then_bids_top_ten() -> None:
    from gateway.stream.checksum import book_checksum

    # "12"+"34" (ask) then "56"+"789" (bid) is "123456789", whose CRC-32 is the standard
    # check value 0xCBF43926
    assert book_checksum([[56, 789]], [[12, 34]]) == 0xCBF43926
    deep = [[1000 - i, 1] for i in range(15)]
    assert book_checksum(deep, []) == book_checksum(deep[:10], [])
    assert book_checksum(deep, []) != book_checksum(deep[1:], [])


def test_watched_book_checksum_counts_the_top_ten_of_a_deep_book() -> None:
    """The copy's checksum (top 10 found by selection, not a full sort) is the contract's
    checksum of the whole sorted book, for books deeper and shallower than ten levels."""
    import random

    from gateway.stream.checksum import book_checksum

    rng = random.Random(15)
    for depth in (0, 3, 10, 11, 40):
        b = WatchedBook()
        b.bids = {rng.randrange(50_000, 60_000) * 100: rng.randrange(1, 500) for _ in range(depth)}
        b.asks = {rng.randrange(60_001, 70_000) * 100: rng.randrange(1, 500) for _ in range(depth)}
        bids, asks = b.levels()
        assert b.checksum() == book_checksum(bids, asks)


def test_iso_ts_keeps_its_format_across_seconds_and_far_times() -> None:
    """`iso_ts` reuses the text of the last second it formatted; every time still comes out
    as the plain UTC form, to the millisecond, and reads back to the same millisecond."""
    import random
    import time

    from gateway.stream.wire import iso_ts, parse_iso_ns

    rng = random.Random(15)
    base = 1_796_000_000 * 10**9
    times = sorted(base + rng.randrange(0, 5 * 10**9) for _ in range(500))
    times += [rng.randrange(0, 2**62) for _ in range(500)] + [0, base - 1, base]
    for t in times:
        secs, ns = divmod(t, 10**9)
        text = iso_ts(t)
        assert text == time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + \
            f".{ns // 10**6:03d}Z"
        assert parse_iso_ns(text) == t // 10**6 * 10**6
