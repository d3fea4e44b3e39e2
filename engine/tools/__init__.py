"""Tools around the engine core: the scenario runner, the demo session, the mypyc build and the
process settings of a process that runs the engine.

Each may do I/O (files, the clock, printing, a compiler); the core never imports them. The
benchmarks live in `loadtest/bench/`.
"""
