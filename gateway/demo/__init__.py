"""`herbx serve --demo`: the demo market (seeding through the real lot lifecycle, bots) and its
data. Runs in the gateway process as one more client of `Gateway.submit`; never used by a
market started without ``--demo``, and a demo data directory stays a demo.
"""
