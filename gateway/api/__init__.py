"""The HTTP API under ``/api/v1``: the endpoint table, the guard (token, rate limit, role),
request and response schemas, problem+json errors, the one reason → HTTP status table and the
handlers, a few lines each.

Reaches the engine only through `gateway.state.Gateway` (`submit` to change it, views to read
it); never imports the pipeline or the link (`gateway.link`), so a handler runs the same in
single- and multi-process mode (`tests/test_layout.py` checks it).
"""
