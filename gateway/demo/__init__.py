"""`herbx serve --demo`: the demo market (seeding through the real lot lifecycle, bots) and its
data. Runs in the gateway process as one more client of `Gateway.submit`; its bots and seed
never run in a market started without ``--demo``. Every start asks `market.demo_refusal` whether
the data directory's kind (demo or real, recorded at creation) matches the flag, so that a demo
directory stays a demo and a real one never becomes one.
"""
