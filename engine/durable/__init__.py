"""The engine's durable shell: the journal, snapshot files and the sequencer.

These modules do the I/O around the pure core: the sequencer stamps each command with its seq
and time (the only clock), journals it before the exchange applies it, writes snapshots and
recovers from them. The core (`engine/*.py`, `engine/auctions/`) never imports anything from
here; nothing here imports the gateway.
"""
