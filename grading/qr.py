"""QR codes and printable lot labels.

Owns: rendering a trace URL as a QR code (SVG text or PNG bytes) with segno, and the printable
label (herb, grade, lot, weight, cooperative, growing area, QR) as one self-contained SVG sized
in millimetres. Error correction is level Q (25 %): labels on sacks get scuffed. Must never write
files or fetch anything: callers store or serve the returned text and bytes.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape, quoteattr

import segno
from msgspec import Struct

from grading.lot import Lot
from grading.spec import HerbSpec

ERROR_LEVEL = "q"
QUIET_ZONE = 4  # modules; ISO/IEC 18004 requires 4
LABEL_W_MM, LABEL_H_MM = 100, 60
_UNITS_PER_MM = 4  # label user units: 0.25 mm, so integer QR module sizes fit well


def _qr(data: str) -> segno.QRCode:
    if not data:
        raise ValueError("nothing to encode")
    return segno.make_qr(data, error=ERROR_LEVEL, boost_error=False)


def qr_svg(data: str, scale: int = 4) -> str:
    """A standalone SVG document of the QR code for ``data``."""
    buf = io.BytesIO()
    _qr(data).save(buf, kind="svg", scale=scale, border=QUIET_ZONE, xmldecl=True,
                   title=data, encoding="utf-8")
    return buf.getvalue().decode("utf-8")


def qr_png(data: str, scale: int = 8) -> bytes:
    """A PNG of the QR code for ``data`` (``scale`` pixels per module)."""
    buf = io.BytesIO()
    _qr(data).save(buf, kind="png", scale=scale, border=QUIET_ZONE)
    return buf.getvalue()


class LabelInfo(Struct, frozen=True, kw_only=True):
    herb_name_vi: str
    herb_name_latin: str
    grade: str
    physical_class: str | None = None
    lot_id: str
    weight_kg: int
    cooperative: str
    growing_area_code: str
    harvest_date: str  # ISO date, as printed
    trace_url: str


def label_svg(info: LabelInfo) -> str:
    """A 100 × 60 mm label: text on the left, the QR code (≥ 45 mm) on the right."""
    qr = _qr(info.trace_url)
    modules = qr.symbol_size(scale=1, border=QUIET_ZONE)[0]
    room = (LABEL_H_MM - 6) * _UNITS_PER_MM  # 3 mm margin top and bottom
    scale = max(1, room // modules)
    size = modules * scale
    x = LABEL_W_MM * _UNITS_PER_MM - size - 2 * _UNITS_PER_MM
    y = (LABEL_H_MM * _UNITS_PER_MM - size) // 2
    qr_el = qr.svg_inline(scale=scale, border=QUIET_ZONE).replace(
        "<svg ", f'<svg x="{x}" y="{y}" ', 1)
    grade = info.grade + (f" · {info.physical_class}" if info.physical_class else "")
    lines = [
        (16, "bold", info.herb_name_vi),
        (9, "italic", info.herb_name_latin),
        (14, "bold", f"Hạng / Grade: {grade}"),
        (11, "normal", f"Lô / Lot: {info.lot_id}"),
        (11, "normal", f"Khối lượng / Net: {info.weight_kg} kg"),
        (10, "normal", f"HTX: {info.cooperative}"),
        (9, "normal", f"Vùng trồng: {info.growing_area_code}"),
        (9, "normal", f"Thu hoạch: {info.harvest_date}"),
    ]
    text = []
    ty = 12
    avail = x - 10 - 2 * _UNITS_PER_MM  # text column width, left of the QR code
    for size_u, style, content in lines:
        ty += size_u + 6
        weight = ' font-weight="bold"' if style == "bold" else ""
        italic = ' font-style="italic"' if style == "italic" else ""
        # A sans-serif glyph averages ~0.55 em; squeeze a line that would run into the QR.
        fit = (f' textLength="{avail}" lengthAdjust="spacingAndGlyphs"'
               if len(content) * size_u * 0.55 > avail else "")
        text.append(f'<text x="10" y="{ty}" font-size="{size_u}"{weight}{italic}{fit}>'
                    f"{escape(content)}</text>")
    w, h = LABEL_W_MM * _UNITS_PER_MM, LABEL_H_MM * _UNITS_PER_MM
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_W_MM}mm" '
        f'height="{LABEL_H_MM}mm" viewBox="0 0 {w} {h}" font-family="sans-serif">'
        f"<title>{escape(info.lot_id)}</title>"
        f'<rect x="1" y="1" width="{w - 2}" height="{h - 2}" fill="#fff" stroke="#000"/>'
        + "".join(text)
        + f'<text x="10" y="{h - 10}" font-size="7" data-url={quoteattr(info.trace_url)}>'
        f"{escape(info.trace_url)}</text>"
        + qr_el
        + "</svg>"
    )


def label_info(lot: Lot, spec: HerbSpec, trace_url: str) -> LabelInfo:
    """What the label of a graded lot shows (the latest grade record)."""
    if lot.grade is None:
        raise ValueError(f"lot {lot.lot_id} has no grade yet")
    d = lot.grade.decision
    return LabelInfo(
        herb_name_vi=spec.name_vi, herb_name_latin=spec.name_latin, grade=d.grade,
        physical_class=d.physical_class, lot_id=lot.lot_id, weight_kg=lot.remaining_qty,
        cooperative=lot.cooperative.name, growing_area_code=lot.growing_area.code,
        harvest_date=lot.harvest_date.isoformat(), trace_url=trace_url,
    )
