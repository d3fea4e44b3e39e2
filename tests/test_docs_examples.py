"""The command examples in docs/engine.md are real: every line decodes and runs."""

from __future__ import annotations

import re
from pathlib import Path

from engine.messages import (
    Command,
    CommandRejected,
    OrderRejected,
    OrdersPurged,
    TradeExecuted,
)
from engine.tools.scenario import read_commands, run

DOC = Path(__file__).resolve().parent.parent / "docs" / "engine.md"


def example_block() -> list[str]:
    blocks = re.findall(r"```jsonl\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    return blocks[0].splitlines()


def test_every_command_type_has_an_example() -> None:
    kinds = {type(c) for c in read_commands(example_block())}
    expected = {t for t in Command.__args__ if t.__module__ == "engine.messages"}
    core = {t for t in expected if t.__struct_config__.tag in {
        "add_instrument", "halt_instrument", "resume_instrument", "deposit", "withdraw",
        "receive_lot", "withdraw_lot", "place_order", "cancel_order", "replace_order", "tick",
        "purge_orders"}}
    assert core <= kinds


def test_the_example_session_runs() -> None:
    events = list(run(example_block()))
    trades = [e for e in events if isinstance(e, TradeExecuted)]
    assert [(t.buyer, t.seller, t.qty, t.price_vnd) for t in trades] == [
        ("T01", "HTX-VANBAN", 50, 62500)]
    purged = [e for e in events if isinstance(e, OrdersPurged)]
    assert [(p.upto_order_id, p.count) for p in purged] == [(12, 2)]  # 10 cancelled, 11 filled
    refusals = [e for e in events if isinstance(e, (CommandRejected, OrderRejected))]
    # the halted instrument is resumed before trading; nothing in the example is refused
    assert refusals == []
