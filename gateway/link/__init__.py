"""The path from requests to the engine: the single-writer pipeline (group commit, answer and
publish after durability), its multi-process twin over Redis Streams with the `herbx engine`
process, and the schedule that tells the engine to forget done orders.

Never parses a request nor formats an answer: it takes commands and gives back events. Only
`gateway.app` and `gateway.state` import it (and the command line to start `herbx engine`, the
demo for the pipeline's errors).
"""
