"""The command line: scenario runner output, demo determinism, benchmark JSON line."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from engine.messages import Event, TradeExecuted
from loadtest.bench.gateway import free_port

HERBX = [sys.executable, "-m", "gateway.cli"]
ROOT = Path(__file__).resolve().parent.parent


def herbx(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HERBX, *args], capture_output=True, text=True, input=stdin,
                          cwd=ROOT, timeout=300)


SCENARIO = """\
# a seller, a buyer, one trade
{"type":"add_instrument","symbol":"QUE-BARK-A","herb":"QUE","grade":"A","tick_vnd":100}
{"type":"deposit","account":"B1","amount_vnd":100000000}
{"type":"receive_lot","lot_id":"L1","account":"S1","symbol":"QUE-BARK-A","qty":500}

{"type":"place_order","account":"S1","client_order_id":"a","symbol":"QUE-BARK-A","side":"sell","price_vnd":61500,"qty":100}
{"type":"place_order","account":"B1","client_order_id":"b","symbol":"QUE-BARK-A","side":"buy","price_vnd":61600,"qty":40,"ts_ns":5}
"""


def test_scenario_prints_one_event_per_line(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(SCENARIO)
    result = herbx("scenario", str(path))
    assert result.returncode == 0, result.stderr
    events = [msgspec.json.decode(line, type=Event) for line in result.stdout.splitlines()]
    assert [e.seq for e in events] == [1, 2, 3, 4, 4, 5, 5, 5]
    trade = next(e for e in events if isinstance(e, TradeExecuted))
    assert (trade.price_vnd, trade.qty, trade.ts_ns, trade.lots[0].lot_id) == (61500, 40, 5, "L1")
    assert herbx("scenario", "-", stdin=SCENARIO).stdout == result.stdout


def test_scenario_reports_a_bad_line() -> None:
    result = herbx("scenario", "-", stdin='{"type":"place_order","qty":"many"}\n')
    assert result.returncode == 2
    assert "line 1" in result.stderr


def herbx_bytes(*args: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*HERBX, *args], capture_output=True, input=stdin, cwd=ROOT,
                          timeout=300)


SETUP = SCENARIO.splitlines()[1:4]  # instrument, a funded buyer, a seller with goods


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ('{"type":"tick","seq":2}', "seq 2 is not after 3"),
        ('{"type":"tick","seq":3}', "seq 3 is not after 3"),
        ('{"type":"place_order","account":"B1","client_order_id":"x","symbol":"QUE-BARK-A",'
         '"side":"buy","price_vnd":61500,"qty":1,"post_onyl":true}', "unknown field `post_onyl`"),
        ('{"type":"place_order","account":"B1","client_order_id":"x","symbol":"QUE-BARK-A",'
         '"side":"buy","price_vnd":61500,"qty":1,"time_in_force":"ioc"}',
         "unknown field `time_in_force`"),
        ('{"type":"deposit","account":"B1","amount_vnd":5,"amount":7}', "unknown field `amount`"),
    ],
)
def test_scenario_refuses_a_bad_line_cleanly(tmp_path: Path, bad: str, says: str) -> None:
    text = "\n".join([*SETUP, bad, SETUP[1]]) + "\n"
    path = tmp_path / "s.jsonl"
    path.write_text(text)
    for result in (herbx("scenario", str(path)), herbx("scenario", "-", stdin=text)):
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("herbx scenario: line 4: "), result.stderr
        assert says in result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_scenario_refuses_invalid_utf8_cleanly(tmp_path: Path) -> None:
    text = ("\n".join(SETUP) + "\n").encode()
    bad = b'{"type":"deposit","account":"B\xff1","amount_vnd":5}\n'
    path = tmp_path / "s.jsonl"
    path.write_bytes(text + bad)
    from_file = subprocess.run([*HERBX, "scenario", str(path)], capture_output=True, cwd=ROOT,
                               timeout=300)
    from_stdin = herbx_bytes("scenario", "-", stdin=text + bad)
    for result in (from_file, from_stdin):
        err = result.stderr.decode()
        assert result.returncode == 2, err
        assert err.startswith("herbx scenario: line 4: not valid UTF-8"), err
        assert "Traceback" not in err and len(err.splitlines()) == 1


def test_scenario_seq_may_jump_ahead_and_lines_without_seq_follow(tmp_path: Path) -> None:
    text = "\n".join([*SETUP, '{"type":"tick","seq":10}', SETUP[1]]) + "\n"
    result = herbx("scenario", "-", stdin=text)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["seq"] for line in result.stdout.splitlines()] == [1, 2, 3, 11]


def test_a_second_market_on_one_data_dir_says_who_holds_it_in_one_line(tmp_path: Path) -> None:
    serve = ["serve", "--data-dir", str(tmp_path), "--tick-ms", "0", "--host", "127.0.0.1"]
    first = subprocess.Popen([*HERBX, *serve, "--port", str(free_port())], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert first.stdout is not None
        assert "HerbX market on" in first.stdout.readline()  # its engine is open
        second = herbx(*serve, "--port", str(free_port()))
        assert second.returncode != 0
        assert second.stderr.splitlines() == [
            f"herbx serve: {tmp_path / 'engine'} is in use by HerbX process {first.pid}: stop it "
            f"(kill {first.pid}), or give this one another data directory (--data-dir / "
            "HERBX_DATA_DIR)"
        ]
    finally:
        first.terminate()
        first.wait(timeout=30)
        if first.stdout is not None:
            first.stdout.close()


def test_a_data_dir_of_older_market_rules_is_refused_in_one_line(tmp_path: Path) -> None:
    """A journal written under older rules (here: version 2, before a failed trade undid its
    lots' sales) stops `herbx serve` with the reason in one line, not a traceback."""
    import struct
    import zlib

    serve = ["serve", "--data-dir", str(tmp_path), "--tick-ms", "0", "--host", "127.0.0.1"]
    first = subprocess.Popen([*HERBX, *serve, "--port", str(free_port())], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert first.stdout is not None
        assert "HerbX market on" in first.stdout.readline()
    finally:
        first.terminate()
        first.wait(timeout=30)
        if first.stdout is not None:
            first.stdout.close()
    segment = sorted((tmp_path / "engine" / "journal").glob("journal-*.log"))[0]
    data = bytearray(segment.read_bytes())
    struct.pack_into("<I", data, 8, 2)  # the header's version, then its crc
    struct.pack_into("<I", data, 20, zlib.crc32(bytes(data[:20])))
    segment.write_bytes(bytes(data))
    again = herbx(*serve, "--port", str(free_port()))
    assert again.returncode == 2, again.stderr
    lines = again.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("herbx serve: journal corrupt: "), lines
    assert "(journal version 2)" in lines[0] and "start a new data directory" in lines[0]
    # a consumer cannot read it either, and says so once instead of retrying for good
    consume = herbx("consume", "--consumer", "ticks", "--data-dir", str(tmp_path))
    assert consume.returncode == 2, consume.stdout + consume.stderr
    assert "(journal version 2)" in consume.stdout.splitlines()[-1]


def subcommands() -> dict[str, argparse.ArgumentParser]:
    from gateway.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def env_value(action: argparse.Action) -> str:
    """A valid value, different from the default, for the option's environment variable."""
    if action.choices:
        return str([c for c in action.choices if c != action.default][0])
    if action.type is int:
        return str((action.default or 0) + 7)
    if action.type is float:
        return str((action.default or 0) + 7.5)
    return "from-the-environment"


def test_every_option_of_every_subcommand_has_help_default_and_its_env_var(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gateway.cli import env_name

    parsers = subcommands()
    assert set(parsers) >= {"scenario", "demo", "bench", "serve", "gateway", "engine", "watch"}
    for name, parser in parsers.items():
        formatter = parser._get_formatter()
        for action in parser._actions:
            if action.dest == "help":
                continue
            where = f"herbx {name} {action.option_strings or action.dest}"
            assert action.help and action.help != argparse.SUPPRESS, where
            if not action.option_strings:
                continue  # a positional argument: help text only
            shown = formatter._get_help_string(action) or ""
            env = env_name(action.option_strings[-1])
            assert f"env {env}" in shown, where
            assert "default" in shown or isinstance(action, argparse._StoreTrueAction), where
            # the variable the help names is the one the option reads
            value = "1" if isinstance(action, argparse._StoreTrueAction) else env_value(action)
            with monkeypatch.context() as m:
                m.setenv(env, value)
                again = next(a for a in subcommands()[name]._actions if a.dest == action.dest)
            expected = True if value == "1" else action.type(value) if action.type else value
            assert again.default == expected, (where, again.default, expected)


def test_the_gateway_offers_no_demo() -> None:
    assert "--demo" in herbx("serve", "--help").stdout
    result = herbx("gateway", "--help")
    assert result.returncode == 0 and "--demo" not in result.stdout
    assert herbx("gateway", "--demo").returncode == 2


def test_demo_is_deterministic() -> None:
    a = herbx("demo", "--minutes", "5", "--pace-ms", "0")
    b = herbx("demo", "--minutes", "5", "--pace-ms", "0")
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    assert "QUE-BARK-A" in a.stdout and "trades from" in a.stdout


def test_bench_engine_last_line_is_json() -> None:
    result = herbx("bench", "engine", "--orders", "3000", "--seed", "1")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("commands_per_s", "p50_ns", "p99_ns", "p999_ns", "trades", "resting_orders",
                "peak_rss_bytes"):
        assert isinstance(figures[key], int) and figures[key] >= 0, key
    assert figures["trades"] > 0 and figures["commands"] == 3003


def test_the_settlement_cycle_is_a_number_of_days() -> None:
    assert "HERBX_SETTLEMENT_CYCLE_DAYS" in herbx("serve", "--help").stdout
    bad = herbx("serve", "--settlement-cycle-days", "-1")
    assert bad.returncode == 2 and "0..365" in bad.stderr
