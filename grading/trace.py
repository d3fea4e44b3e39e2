"""GS1 identifiers and trace codes: GTIN check digits, the lot part, Digital Link URLs.

Owns: the GS1 mod-10 check digit (GTIN-8/12/13/14), the placeholder GTIN scheme used until a
cooperative has its own GS1 numbers, the AI (10) lot-number rules, and the trace URL
``https://<resolver>/01/<GTIN-14>/10/<lot>`` (GS1 Digital Link URI syntax 1.x) with its parser.
Must never do I/O: the resolver host comes from `TraceConfig`, passed in.

Placeholder GTIN scheme (docs/grading.md): GTIN-14 = ``0`` (indicator) + ``04`` (GS1 prefix
04, reserved by GS1 for restricted-circulation numbers used inside one company, so it can never
collide with a real trade item) + 5-digit cooperative number assigned by the market + 5-digit
item number of the herb product (``gtin_item`` in its spec) + check digit.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit

from msgspec import Struct

from grading.lot import Lot
from grading.spec import HerbSpec

# GS1 AI encodable character set 82 (GS1 General Specifications, figure 7.11-1).
_CSET82 = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
                   r"(:[0-9]{1,5})?$")
PLACEHOLDER_PREFIX = "04"
LOT_MAX_LEN = 20


class TraceConfig(Struct, frozen=True, kw_only=True):
    """Where trace codes resolve. The default host is a placeholder (RFC 2606 ``.example``)
    that the operator must replace with the market's resolver before printing labels."""

    resolver_host: str = "trace.herbx.example"
    scheme: str = "https"

    def __post_init__(self) -> None:
        if not _HOST.fullmatch(self.resolver_host):
            raise ValueError(f"resolver host {self.resolver_host!r} is not a lower-case DNS name")
        if self.scheme not in ("https", "http"):
            raise ValueError(f"scheme must be https or http, got {self.scheme!r}")


def check_digit(digits: str) -> int:
    """GS1 mod-10 check digit of ``digits`` (the number without its check digit): weights 3
    and 1 alternate from the rightmost digit, which gets 3."""
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(f"{digits!r} must be ASCII digits")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def is_valid_gtin(gtin: str) -> bool:
    """True for an 8, 12, 13 or 14-digit GTIN whose last digit is its check digit."""
    if len(gtin) not in (8, 12, 13, 14) or not gtin.isascii() or not gtin.isdigit():
        return False
    return check_digit(gtin[:-1]) == int(gtin[-1])


def to_gtin14(gtin: str) -> str:
    """Left-pad a valid GTIN-8/12/13 to the 14 digits a Digital Link URI carries."""
    if not is_valid_gtin(gtin):
        raise ValueError(f"{gtin!r} is not a valid GTIN (length or check digit)")
    return gtin.zfill(14)


def placeholder_gtin(cooperative_no: int, item_no: int) -> str:
    """The placeholder GTIN-14 of a cooperative's herb product (see the module docstring)."""
    if not 1 <= cooperative_no <= 99999:
        raise ValueError("cooperative number must be 1..99999")
    if not 1 <= item_no <= 99999:
        raise ValueError("item number must be 1..99999")
    body = f"0{PLACEHOLDER_PREFIX}{cooperative_no:05d}{item_no:05d}"
    return body + str(check_digit(body))


def validate_lot_part(lot: str) -> str:
    """An AI (10) batch/lot number: 1–20 characters of GS1 character set 82."""
    if not _CSET82.fullmatch(lot):
        raise ValueError(f"lot {lot!r} must be 1-{LOT_MAX_LEN} characters of GS1 set 82 "
                         "(A-Z a-z 0-9 and !\"%&'()*+,-./:;<=>?_)")
    return lot


def trace_url(config: TraceConfig, gtin: str, lot: str) -> str:
    """``https://<resolver>/01/<GTIN-14>/10/<lot>``; the lot is percent-encoded where the
    Digital Link syntax requires it (e.g. ``/`` → ``%2F``)."""
    gtin14 = to_gtin14(gtin)
    validate_lot_part(lot)
    return f"{config.scheme}://{config.resolver_host}/01/{gtin14}/10/{quote(lot, safe='')}"


def parse_trace_url(url: str) -> tuple[str, str]:
    """``(gtin14, lot)`` from a trace URL, verifying the check digit and the lot part."""
    parts = urlsplit(url)
    segs = parts.path.split("/")
    if parts.scheme not in ("https", "http") or len(segs) != 5 or segs[0] != "" \
            or segs[1] != "01" or segs[3] != "10":
        raise ValueError(f"{url!r} is not a /01/<gtin>/10/<lot> Digital Link URI")
    gtin, lot = segs[2], unquote(segs[4])
    if len(gtin) != 14 or not is_valid_gtin(gtin):
        raise ValueError(f"GTIN {gtin!r} in {url!r} fails its check digit or length")
    return gtin, validate_lot_part(lot)


def lot_gtin(lot: Lot, spec: HerbSpec) -> str:
    """The cooperative's real GTIN for this product if it has one, else the placeholder."""
    real = lot.cooperative.gtins.get(spec.id)
    if real is not None:
        return to_gtin14(real)
    return placeholder_gtin(lot.cooperative.number, spec.gtin_item)


def lot_trace_url(config: TraceConfig, lot: Lot, spec: HerbSpec) -> str:
    """The trace URL printed on the lot's label and used as its EPCIS class identifier."""
    if spec.id != lot.spec_id:
        raise ValueError(f"spec {spec.id} is not the lot's ({lot.spec_id})")
    return trace_url(config, lot_gtin(lot, spec), lot.lot_id)
