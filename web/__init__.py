"""The web UI: what a person sees in a browser. Today the server-rendered start and trace pages
(`web.pages`), routed by `gateway.api.routes`.

Reads the engine only through its messages and views, and the market only through the gateway's
state; never changes anything (`tests/test_layout.py` checks its imports).
"""
