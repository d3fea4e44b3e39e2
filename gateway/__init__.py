"""The gateway: the market's network edge, one process (or several, in multi-process mode).

Subpackages by what they do: `gateway.api` (REST: routes, guard, handlers, problems, the one
reason → status table), `gateway.stream` (the published market: market data, the auction
board, fan-out, the WebSocket), `gateway.link` (the single-writer pipeline to the engine, or the
Redis link to an engine process, and the purge schedule), `gateway.demo` (the demo market's
seeding and bots). At the top: `app` (assembly), `state` (the typed app state every handler
reaches), `config`, `auth` (participants and tokens, used by REST and WebSocket alike), `lots`
(lot records), `connections` (the connection guard), `serve` and `cli` (the `herbx` command
line, which only parses and dispatches).

Never decides a business rule (the engine and the grading lifecycle do) and never changes the
engine except through `Gateway.submit`.
"""
