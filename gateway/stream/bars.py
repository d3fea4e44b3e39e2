"""Live bars on the WebSocket: the channels ``bars:<symbol>:<interval>``.

Owns the bar channels' names and message seqs: after each durable tick write, every bar it
changed goes out as ``{"channel": "bars:QUE-BARK-A:1m", "type": "bar", "seq": N, ...}`` (the
bar as stored, in the REST form of `settlement.ticks.export.bar_json`); ``seq`` rises by exactly
one per message of the channel, and heartbeats report it. Subscribing is public. A bar message
is built only for a channel someone holds. Never awaits.
"""

from __future__ import annotations

from gateway.stream.fanout import Hub
from gateway.stream.marketdata import Message, Target
from settlement.ticks.export import bar_json
from settlement.ticks.model import INTERVALS, Bar


def bars_channel(symbol: str, interval: str) -> str:
    return f"bars:{symbol}:{interval}"


def known_bars_channel(name: str, symbols: object) -> bool:
    """``name`` (after ``bars:``) is ``<symbol>:<interval>`` of a listed symbol."""
    symbol, _, interval = name.rpartition(":")
    return interval in INTERVALS and symbol in symbols  # type: ignore[operator]


class BarChannels:
    def __init__(self, hub: Hub, seqs: dict[str, int]) -> None:
        self.hub = hub
        # the market data's table of channel seqs, so that heartbeats report these too
        self.seqs = seqs

    def publish(self, bars: list[Bar]) -> None:
        out: list[tuple[Target, Message]] = []
        for b in bars:
            ch = bars_channel(b.symbol, b.interval)
            seq = self.seqs[ch] = self.seqs.get(ch, 0) + 1
            if ch in self.hub.channels:
                out.append((("channel", ch), {"channel": ch, "type": "bar", "seq": seq,
                                              **bar_json(b)}))
        if out:
            self.hub.publish(out)
