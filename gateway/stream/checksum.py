"""The book checksum of the public contract (Kraken's, for integer prices and quantities).

CRC32 (unsigned) of the ASCII string of the top 10 asks (lowest first) then the top 10 bids
(highest first), each level written as its price then its quantity in decimal digits with no
separators. Shared by the server, `herbx watch` and the tests, so all three agree by construction;
the tests also check it against a hand-computed value.

Never depends on anything but the levels given (no gateway state).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

DEPTH = 10


def book_checksum(bids: Sequence[Sequence[int]], asks: Sequence[Sequence[int]]) -> int:
    """``bids`` best (highest) first, ``asks`` best (lowest) first; only the top 10 count."""
    text = "".join(f"{p}{q}" for p, q in asks[:DEPTH]) + "".join(
        f"{p}{q}" for p, q in bids[:DEPTH]
    )
    return zlib.crc32(text.encode("ascii"))
