"""Tools that drive or watch a market from outside: the benchmarks (`loadtest.bench`), the
terminal client `herbx watch` (`loadtest.watch`), and later the locust load tests.

May import anything; nothing the market runs imports it (the command line only dispatches to
it; `tests/test_layout.py` checks it).
"""
