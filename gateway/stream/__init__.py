"""The market as published, and its delivery: market data (mirror books, trades, tickers,
fills), the public auction board, public names (`wire`), the book checksum, the fan-out and the
WebSocket ``/ws``.

Fed only with committed events (durable before visible); never imports the pipeline or the link
(`gateway.link`): WebSocket order entry goes through the same `Gateway.submit` as REST
(`tests/test_layout.py` checks it).
"""
