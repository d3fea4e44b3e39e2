"""The `herbx` command line: one entry point for every part of the market.

Owns the options (flags, help texts, defaults, environment variables) and the dispatch: each
`cmd_*` imports the module that owns the command and hands it the parsed options; the work is
there (`gateway.serve`, `gateway.link.engine_proc`, `gateway.auth`, the engine's tools,
`loadtest.bench`, `loadtest.watch`). Never holds a command's logic.
Subcommands import their modules lazily so that `herbx scenario` never pays for aiohttp.
Every flag has an environment variable (HERBX_<FLAG>), read as the flag's default, and help
text; `--help` shows each flag's default and variable (`_HelpFormatter`), and a test checks
that every option of every subcommand has all three.
"""

from __future__ import annotations

import argparse
import os
import sys


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"HERBX_{name.upper().replace('-', '_')}", default)


def env_name(option: str) -> str:
    """The environment variable of a flag: ``--data-dir`` -> ``HERBX_DATA_DIR``."""
    return f"HERBX_{option.lstrip('-').upper().replace('-', '_')}"


class _HelpFormatter(argparse.HelpFormatter):
    """Adds each option's default (the effective one: its environment variable included) and
    its environment variable to its help text."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if not action.option_strings or action.dest == "help":
            return text
        env = env_name(action.option_strings[-1])
        if isinstance(action, argparse._StoreTrueAction):
            return f"{text} (off unless given; env {env}=1)"
        if "default" in text:  # the text says it better (e.g. a default that depends)
            return f"{text} (env {env})"
        default = "none" if action.default in (None, "") else str(action.default)
        return f"{text} (default: {default.replace('%', '%%')}; env {env})"


def _int_env(name: str, default: int) -> int:
    value = _env(name)
    return default if value is None else int(value)


def _cycle_refused(args: argparse.Namespace) -> str | None:
    """The settlement cycle T+N is N calendar days, 0 (same day) to 365."""
    days = args.settlement_cycle_days
    return None if 0 <= days <= 365 else f"--settlement-cycle-days {days} is not in 0..365"


def cmd_scenario(args: argparse.Namespace) -> int:
    from engine.tools.scenario import main

    return main(args.file)


def cmd_demo(args: argparse.Namespace) -> int:
    from engine.tools.demo import main

    return main(seed=args.seed, minutes=args.minutes, pace_ms=args.pace_ms)


def cmd_bench(args: argparse.Namespace) -> int:
    if args.part == "engine":
        from loadtest.bench.engine import main as engine_bench

        return engine_bench(
            orders=args.orders or 200_000, seed=args.seed, journal=args.journal,
            resting=args.resting, compiled=args.compiled,
        )
    if args.part == "peers":
        from loadtest.bench.peers import main as peers_bench

        return peers_bench(driver=args.peer_driver, orders=args.orders or 200_000, seed=args.seed,
                           runs=args.runs, workdir=args.workdir, python312=args.python312,
                           clock=args.clock)
    if args.part == "auctions":
        from loadtest.bench.auctions import main as auctions_bench

        return auctions_bench(seed=args.auction_seed)
    if args.part == "settlement":
        from loadtest.bench.settlement import main as settlement_bench

        return settlement_bench(store=args.store, database_url=args.database_url,
                                trades=args.trades, seed=args.seed)
    if args.part == "web":
        from loadtest.bench.web import main as web_bench

        return web_bench(loads=args.loads)
    if args.part == "ticks":
        from loadtest.bench.ticks import main as ticks_bench

        return ticks_bench(database_url=args.database_url, ticks=args.ticks, seed=args.seed)
    if args.part == "fanout":
        from loadtest.bench.fanout import main as fanout_bench

        return fanout_bench(subscribers=args.subscribers, rate=args.rate, seconds=args.seconds)
    from loadtest.bench.gateway import main as gateway_bench  # choices= leaves only "gateway"

    return gateway_bench(orders=args.orders or 20_000, connections=args.connections,
                         window=args.window, subscribers=args.subscribers, rate=args.rate,
                         seconds=args.seconds, procs=args.procs)


def _choose_core() -> None:
    """The compiled core when it was built (`engine.tools.compiled.activate`), before anything
    imports the engine; the process logs `core_note` once logging is set up."""
    from engine.tools.compiled import activate

    activate()


def cmd_serve(args: argparse.Namespace) -> int:
    _choose_core()
    from gateway.serve import command

    if (refused := _cycle_refused(args)) is not None:
        print(f"herbx serve: {refused}", file=sys.stderr)
        return 2
    return command(args)


def cmd_gateway(args: argparse.Namespace) -> int:
    _choose_core()  # a gateway applies the journal to a replica engine: the same core helps
    from gateway.serve import command

    if (refused := _cycle_refused(args)) is not None:
        print(f"herbx gateway: {refused}", file=sys.stderr)
        return 2
    return command(args, mode="gateway")


def cmd_engine(args: argparse.Namespace) -> int:
    _choose_core()
    from gateway.link.engine_proc import main

    return main(redis_url=args.redis_url, data_dir=args.data_dir, prefix=args.redis_prefix,
                tick_ms=args.tick_ms, log_level=args.log_level,
                order_retention_s=args.order_retention_s, database_url=args.database_url,
                database_schema=args.database_schema, public_url=args.public_url)


def cmd_watch(args: argparse.Namespace) -> int:
    from loadtest.watch import main

    return main(args.symbol, url=args.url, depth=args.depth, count=args.count)


def cmd_operator_token(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gateway.auth import operator_token_command

    return operator_token_command(Path(args.data_dir), revoke_old=args.revoke_old)


def cmd_reconcile(args: argparse.Namespace) -> int:
    from pathlib import Path

    from settlement.reconcile import main

    return main(Path(args.data_dir), args.database_url,
                Path(args.ledger) if args.ledger else None, args.strict)


def cmd_loadtest(args: argparse.Namespace) -> int:
    from loadtest.run import main

    return main(users=args.users, duration=args.duration, gateways=args.gateways,
                symbols=args.symbols, redis_url=args.redis_url, processes=args.processes,
                profile=args.profile, out_root=args.out, database_url=args.database_url)


def cmd_fuzz(args: argparse.Namespace) -> int:
    from loadtest.fuzz import main

    return main(examples=args.examples, ws_examples=args.ws_examples, seed=args.seed,
                out_root=args.out)


def cmd_chaos(args: argparse.Namespace) -> int:
    from loadtest.chaos import main

    return main(kills=args.kills, seed=args.seed, database_url=args.database_url,
                mode=args.mode, data_dir=args.data_dir, consumer=args.consumer,
                workers=args.workers, subscribers=args.subscribers, restart=args.restart,
                only=args.only)


def cmd_consume(args: argparse.Namespace) -> int:
    from gateway.link.consume import main

    return main(data_dir=args.data_dir, database_url=args.database_url,
                database_schema=args.database_schema, public_url=args.public_url,
                poll_ms=args.poll_ms, log_level=args.log_level, consumer=args.consumer,
                health_host=args.health_host, health_port=args.health_port)


def _flag(name: str) -> bool:
    return (_env(name) or "").lower() in ("1", "true", "yes", "on")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="herbx", description="HerbX herb market engine")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("scenario", help="run a JSON-lines command file, print events")
    p.add_argument("file", help="scenario file (one JSON command per line), or - for stdin")
    p.set_defaults(func=cmd_scenario)

    p = sub.add_parser("demo", help="replay a seeded trading session and print books and trades")
    p.add_argument("--seed", type=int, default=_int_env("seed", 7),
                   help="seed of the simulated traders (same seed, same session)")
    p.add_argument("--minutes", type=int, default=_int_env("minutes", 30),
                   help="simulated trading minutes")
    p.add_argument("--pace-ms", type=int, default=_int_env("pace_ms", 20),
                   help="wall milliseconds between printed steps (0 = as fast as possible)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("bench", help="run a benchmark; the last line is one JSON object")
    p.add_argument("part", choices=["engine", "auctions", "fanout", "gateway", "settlement",
                                    "ticks", "web", "peers"],
                   help="what to measure (see docs/benchmarks.md)")
    p.add_argument("--subscribers", type=int, default=_int_env("subscribers", 1000),
                   help="fanout: WebSocket clients")
    p.add_argument("--loads", type=int, default=_int_env("loads", 5),
                   help="web: cold loads of the trading floor")
    p.add_argument("--rate", type=int, default=_int_env("rate", 200),
                   help="fanout: book updates per second")
    p.add_argument("--seconds", type=float, default=float(_env("seconds", "5") or 5),
                   help="fanout: how long to publish")
    p.add_argument("--orders", type=int, default=_env("orders") and _int_env("orders", 0),
                   help="engine: orders (default 200,000); gateway: orders over WebSocket "
                        "(default 20,000)")
    p.add_argument("--connections", type=int, default=_int_env("connections", 4),
                   help="gateway: order-entry connections per side (buyers, sellers)")
    p.add_argument("--window", type=int, default=_int_env("window", 64),
                   help="gateway: orders in flight per connection")
    p.add_argument("--procs", type=int, default=_int_env("procs", 2),
                   help="gateway: subscriber client processes")
    p.add_argument("--seed", type=int, default=_int_env("seed", 42),
                   help="engine, settlement: seed of the order stream")
    p.add_argument("--journal", default=_env("journal"),
                   help="engine: measure with the journal on, in this directory")
    p.add_argument("--auction-seed", type=int, default=_int_env("auction_seed", 20261129),
                   help="auctions: the workload seed")
    p.add_argument("--compiled", action="store_true", default=_flag("compiled"),
                   help="engine: run on the mypyc build of the core (built on first use)")
    p.add_argument("--resting", type=int, default=_int_env("resting", 0),
                   help="engine: also fill a book with this many resting orders and measure memory")
    p.add_argument("--store", default=_env("store", "sqlite"), choices=["sqlite", "postgres"],
                   help="settlement: the ledger store to book into")
    p.add_argument("--database-url", default=_env("database_url"),
                   help="settlement: PostgreSQL URL for --store postgres (default "
                        "postgresql://127.0.0.1:5432/test; the bench uses a fresh schema and "
                        "drops it)")
    p.add_argument("--trades", type=int, default=_int_env("trades", 100_000),
                   help="settlement: trades to book")
    p.add_argument("--ticks", type=int, default=_int_env("ticks", 10_000_000),
                   help="ticks: synthetic ticks to load into PostgreSQL (--database-url, a "
                        "fresh schema, dropped afterwards)")
    p.add_argument("--peer-driver", default=_env("peer_driver"),
                   help="peers: path of the peer driver peer_bench.py (not in this repository)")
    p.add_argument("--runs", type=int, default=_int_env("runs", 3),
                   help="peers: runs per engine (the median is reported)")
    p.add_argument("--workdir", default=_env("workdir"),
                   help="peers: where the throwaway virtual environments go (default: "
                        "<temp dir>/herbx-peers)")
    p.add_argument("--clock", choices=["wall", "cpu"], default=_env("clock", "wall"),
                   help="peers: time each engine by the driver's wall clock, or by its "
                        "process's CPU time (steadier on a shared machine)")
    p.add_argument("--python312", default=_env("python312"),
                   help="peers: a Python 3.12 for matching-engine (default: python3.12 on the "
                        "path, else pyenv's)")
    p.set_defaults(func=cmd_bench)

    for name, func, text in (
        ("serve", cmd_serve, "run the market (engine, API, WebSocket) in one process"),
        ("gateway", cmd_gateway, "multi-process mode: an API/WebSocket gateway of an engine "
                                 "reached through Redis"),
    ):
        p = sub.add_parser(name, help=text)
        if name == "serve":  # the demo seeds the engine, which a gateway does not own
            p.add_argument("--demo", action="store_true", default=_flag("demo"),
                           help="seed a live demo market with bots")
            p.add_argument("--demo-pace-s", type=float,
                           default=float(_env("demo_pace_s", "1") or 1),
                           help="seconds between two steps of the demo bots")
        p.add_argument("--host", default=_env("host", "127.0.0.1"),
                       help="address to listen on for HTTP and WebSocket")
        p.add_argument("--port", type=int, default=_int_env("port", 8080),
                       help="port to listen on")
        p.add_argument("--data-dir", default=_env("data_dir", "./var"),
                       help="directory for the journal, snapshots and the gateway's files")
        p.add_argument("--database-url", default=_env("database_url"),
                       help="PostgreSQL URL of the settlement ledger and the tick store "
                            "(default: SQLite at <data-dir>/ledger.sqlite and ticks.sqlite; "
                            "a gateway only reads them)")
        p.add_argument("--database-schema", default=_env("database_schema"),
                       help="PostgreSQL schema of the ledger (default: the search_path); the "
                            "ticks go in <schema>_ticks (default: ticks)")
        p.add_argument("--redis-url", default=_env("redis_url"),
                       help="Redis URL of multi-process mode (required by `gateway`)")
        p.add_argument("--log-level", default=_env("log_level", "info"),
                       choices=["debug", "info", "warning", "error"], help="logging threshold")
        p.add_argument("--tick-ms", type=int, default=_int_env("tick_ms", 250),
                       help="clock tick interval (0 = off)")
        p.add_argument("--public-url", default=_env("public_url", ""),
                       help="base URL that trace codes point at (default http://host:port)")
        p.add_argument("--rate-per-s", type=float, default=float(_env("rate_per_s", "200") or 200),
                       help="requests per second per token (or address)")
        p.add_argument("--rate-burst", type=int, default=_int_env("rate_burst", 400),
                       help="requests a token (or address) may make at once above the rate")
        p.add_argument("--order-retention-s", type=float,
                       default=float(_env("order_retention_s", "3600") or 3600),
                       help="forget done orders (and free their client order ids) after this "
                            "many seconds; 0 = never")
        p.add_argument("--conflate-ms", type=int, default=_int_env("conflate_ms", 50),
                       help="book updates per instrument at most this often (0 = every change)")
        p.add_argument("--max-connections", type=int, default=_int_env("max_connections", 12_000),
                       help="open connections (HTTP and WebSocket) per process; over it 503")
        p.add_argument("--header-timeout-s", type=float,
                       default=float(_env("header_timeout_s", "10") or 10),
                       help="seconds to send a whole request head before the socket is closed")
        p.add_argument("--keepalive-timeout-s", type=float,
                       default=float(_env("keepalive_timeout_s", "75") or 75),
                       help="an idle keep-alive connection is closed after this many seconds")
        p.add_argument("--settlement-cycle-days", type=int,
                       default=_int_env("settlement_cycle_days", 1),
                       help="settlement cycle T+N: a trade is due N calendar days (Vietnam "
                            "time) after its date")
        p.set_defaults(func=func)
        p.add_argument("--redis-prefix", default=_env("redis_prefix", "herbx"),
                       help="names of the Redis streams: <prefix>:commands, <prefix>:journal")

    p = sub.add_parser("engine", help="multi-process mode: the engine, fed through Redis")
    p.add_argument("--redis-url", default=_env("redis_url"), help="Redis URL (required)")
    p.add_argument("--redis-prefix", default=_env("redis_prefix", "herbx"),
                   help="names of the Redis streams: <prefix>:commands, <prefix>:journal")
    p.add_argument("--data-dir", default=_env("data_dir", "./var"),
                   help="directory for the journal and snapshots")
    p.add_argument("--tick-ms", type=int, default=_int_env("tick_ms", 250),
                   help="clock tick interval (0 = off)")
    p.add_argument("--order-retention-s", type=float,
                   default=float(_env("order_retention_s", "3600") or 3600),
                   help="forget done orders (and free their client order ids) after this "
                        "many seconds; 0 = never")
    p.add_argument("--log-level", default=_env("log_level", "info"),
                   choices=["debug", "info", "warning", "error"], help="logging threshold")
    p.add_argument("--database-url", default=_env("database_url"),
                   help="PostgreSQL URL of the settlement ledger this engine books and the "
                        "tick store it writes (default: SQLite at <data-dir>/ledger.sqlite "
                        "and ticks.sqlite)")
    p.add_argument("--database-schema", default=_env("database_schema"),
                   help="PostgreSQL schema of the ledger (default: the search_path); the "
                        "ticks go in <schema>_ticks (default: ticks)")
    p.add_argument("--public-url", default=_env("public_url", ""),
                   help="base URL that the ledger's trace codes point at (the gateways' "
                        "--public-url; default http://127.0.0.1:8080)")
    p.set_defaults(func=cmd_engine)

    p = sub.add_parser("operator-token", help="with the market stopped: issue a new operator "
                                              "token (a lost one), print it once")
    p.add_argument("--data-dir", default=_env("data_dir", "./var"),
                   help="the stopped market's data directory")
    p.add_argument("--revoke-old", action="store_true", default=_flag("revoke_old"),
                   help="also revoke the operator's other tokens (one leaked)")
    p.set_defaults(func=cmd_operator_token)

    p = sub.add_parser("watch", help="tail a live book, verifying sequence and checksum")
    p.add_argument("symbol", help="instrument to watch, e.g. QUE-BARK-A")
    p.add_argument("--url", default=_env("url", "ws://127.0.0.1:8080/ws"),
                   help="WebSocket URL of the market")
    p.add_argument("--depth", type=int, default=_int_env("depth", 5),
                   help="price levels shown per side")
    p.add_argument("--count", type=int, default=_int_env("count", 0),
                   help="stop after this many updates (0 = run until interrupted)")
    p.set_defaults(func=cmd_watch)
    p = sub.add_parser("reconcile", help="compare the engine (rebuilt from the data directory) "
                                         "with the ledger; list every difference; exit 1 on any")
    p.add_argument("--data-dir", default=_env("data_dir", "./var"),
                   help="the market's data directory (journal and snapshots; read only)")
    p.add_argument("--database-url", default=_env("database_url"),
                   help="PostgreSQL URL of the ledger (default: the SQLite ledger)")
    p.add_argument("--ledger", default=_env("ledger"),
                   help="SQLite ledger file (default: <data-dir>/ledger.sqlite)")
    p.add_argument("--strict", action="store_true", default=_flag("strict"),
                   help="a ledger behind the journal is a difference too")
    p.set_defaults(func=cmd_reconcile)

    p = sub.add_parser("loadtest", help="start a market, run locust against it headless, "
                                        "print a summary (last line JSON)")
    p.add_argument("--users", type=int, default=_int_env("users", 200),
                   help="concurrent locust users")
    p.add_argument("--duration", default=_env("duration", "60s"),
                   help="how long locust runs (60s, 5m, ...)")
    p.add_argument("--gateways", type=int, default=_int_env("gateways", 0),
                   help="0: one `herbx serve --demo` process; K: `herbx engine` + K gateways "
                        "over Redis")
    p.add_argument("--symbols", type=int, default=_int_env("symbols", 8),
                   help="books the load traders and cooperatives trade (grade A)")
    p.add_argument("--redis-url", default=_env("redis_url", "redis://127.0.0.1:6379/0"),
                   help="Redis of the multi-process mode (streams under a prefix of the run)")
    p.add_argument("--processes", type=int, default=_int_env("processes", 1),
                   help="locust processes (-1: one per core)")
    p.add_argument("--profile", action="store_true", default=_flag("profile"),
                   help="sample the engine-owning process with py-spy during the run")
    p.add_argument("--out", default=_env("out", "var/loadtest"),
                   help="reports go to a new directory <out>/<UTC time>/")
    p.add_argument("--database-url", default=_env("database_url"),
                   help="the market's ledger and tick store in this PostgreSQL, in schemas of "
                        "the run's own (dropped afterwards); needed for a multi-process market "
                        "to serve statements and tick reads from every gateway")
    p.set_defaults(func=cmd_loadtest)
    p = sub.add_parser("fuzz", help="schemathesis over the served OpenAPI document (every "
                                    "role, stateful too) and hostile WebSocket frames, then "
                                    "SIGKILL and restart; the last line is JSON")
    p.add_argument("--examples", type=int, default=_int_env("examples", 50),
                   help="schemathesis examples per operation and phase")
    p.add_argument("--ws-examples", type=int, default=_int_env("ws_examples", 2000),
                   help="hostile WebSocket frames")
    p.add_argument("--seed", type=int, default=_int_env("seed", 8),
                   help="seed of schemathesis and of the WebSocket frames")
    p.add_argument("--out", default=_env("out", "var/fuzz"),
                   help="reports go to a new directory <out>/<UTC time>/")
    p.set_defaults(func=cmd_fuzz)
    sub.choices["serve"].add_argument(
        "--no-consumers", action="store_true", default=_flag("no_consumers"),
        help="book no ledger and write no ticks in this process (`herbx consume` does; the "
             "journal is then never pruned)")

    p = sub.add_parser("consume", help="book the ledger (or write the ticks) in its own "
                                       "process, following the journal of a data directory "
                                       "(with serve --no-consumers)")
    p.add_argument("--consumer", default=_env("consumer", "ledger"), choices=["ledger", "ticks"],
                   help="which downstream consumer this process runs (one process each)")
    p.add_argument("--data-dir", default=_env("data_dir", "./var"),
                   help="the market's data directory (read only)")
    p.add_argument("--database-url", default=_env("database_url"),
                   help="PostgreSQL URL of the ledger (default: SQLite at "
                        "<data-dir>/ledger.sqlite)")
    p.add_argument("--database-schema", default=_env("database_schema"),
                   help="PostgreSQL schema of the ledger (default: the search_path)")
    p.add_argument("--public-url", default=_env("public_url", ""),
                   help="base URL that the ledger's trace codes point at (the market's "
                        "--public-url; default http://127.0.0.1:8080)")
    p.add_argument("--poll-ms", type=int, default=_int_env("poll_ms", 50),
                   help="how often to look for new journal records")
    p.add_argument("--health-port", type=int, default=_int_env("health_port", 0),
                   help="serve GET /healthz (state, position, lag, gaps, duplicates) on this "
                        "port; 0 = off")
    p.add_argument("--health-host", default=_env("health_host", "127.0.0.1"),
                   help="address of the health endpoint")
    p.add_argument("--log-level", default=_env("log_level", "info"),
                   choices=["debug", "info", "warning", "error"], help="logging threshold")
    p.set_defaults(func=cmd_consume)

    p = sub.add_parser("chaos", help="crash recovery under load: SIGKILL the market at random "
                                     "moments, restart, check nothing was lost (last line JSON)")
    p.add_argument("--kills", type=int, default=_int_env("kills", 20),
                   help="how many kills (each followed by a restart and the checks)")
    p.add_argument("--seed", type=int, default=_int_env("seed", 15),
                   help="seed of the load and of the kill moments")
    p.add_argument("--database-url", default=_env("database_url"),
                   help="PostgreSQL URL for the ledger (a fresh schema per run; default: "
                        "SQLite in the data directory)")
    p.add_argument("--mode", default=_env("mode", "serve"), choices=["serve", "multi"],
                   help="serve: kill `herbx serve`; multi: kill `herbx engine` (private Redis, "
                        "two gateways)")
    p.add_argument("--data-dir", default=_env("data_dir"),
                   help="the market's data directory (default: a temporary one; must be empty)")
    p.add_argument("--consumer", action="store_true", default=_flag("consumer"),
                   help="book the ledger and write the ticks in two `herbx consume` "
                        "processes, which are killed too")
    p.add_argument("--workers", type=int, default=_int_env("workers", 8),
                   help="concurrent order-entry clients")
    p.add_argument("--subscribers", type=int, default=_int_env("subscribers", 3),
                   help="WebSocket book subscribers kept across kills")
    p.add_argument("--restart", default=_env("restart", ""),
                   help="also stop and start these services under load, comma-separated: redis "
                        "(private, --mode multi), postgres (a private cluster holds the ledger)")
    p.add_argument("--only", default=_env("only", ""),
                   help="kill only these, comma-separated: serve or engine, consumer (the "
                        "ledger's `herbx consume`), ticks (the tick writer's), redis, postgres "
                        "(default: any of the run's)")
    p.set_defaults(func=cmd_chaos)

    for p in sub.choices.values():  # every subcommand, those added later included
        p.formatter_class = _HelpFormatter
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
