import io
import xml.etree.ElementTree as ET

import pytest
import zxingcpp
from grading_lots import Clock, lot_in
from PIL import Image

from grading.lot import Cooperative
from grading.qr import LabelInfo, label_info, label_svg, qr_png, qr_svg
from grading.trace import TraceConfig, lot_gtin, lot_trace_url, parse_trace_url

SVG = "{http://www.w3.org/2000/svg}"
URL = "https://trace.herbx.example/01/00400042001018/10/LC-2026-0001"


def _decode_png(png: bytes) -> list[str]:
    img = Image.open(io.BytesIO(png))
    qr = zxingcpp.BarcodeFormat.QRCode
    return [r.text for r in zxingcpp.read_barcodes(img) if r.format == qr]


def test_png_round_trip():
    png = qr_png(URL)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert _decode_png(png) == [URL]


def test_png_round_trip_of_a_real_lot(catalogue):
    lot = lot_in(catalogue, "graded", Clock())
    url = lot_trace_url(TraceConfig(resolver_host="id.example.vn"), lot, catalogue.get(lot.spec_id))
    (decoded,) = _decode_png(qr_png(url, scale=3))
    assert decoded == url
    assert parse_trace_url(decoded) == (lot_gtin(lot, catalogue.get(lot.spec_id)), lot.lot_id)


def test_svg_is_well_formed_and_draws_the_same_symbol():
    svg = qr_svg(URL)
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title").text == URL
    assert root.find(f"{SVG}path") is not None


def test_svg_round_trip_via_rasterised_path():
    # No SVG renderer is needed: segno's SVG path is a run-length "h" drawing of the matrix,
    # so we rasterise it ourselves and decode the pixels.
    import re

    svg = qr_svg(URL, scale=1)
    root = ET.fromstring(svg.encode("utf-8"))
    w = int(root.get("width"))
    d = root.find(f"{SVG}path").get("d")
    img = Image.new("L", (w, w), 255)
    x = y = 0.0
    for cmd, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?:\s+(-?[\d.]+))?", d):
        if cmd == "M":
            x, y = float(a), float(b)
        elif cmd == "m":
            x, y = x + float(a), y + float(b)
        else:
            for i in range(int(float(a))):
                img.putpixel((int(x) + i, int(y - 0.5)), 0)
            x += float(a)
    img = img.resize((w * 6, w * 6), Image.NEAREST)
    assert [r.text for r in zxingcpp.read_barcodes(img)] == [URL]


def test_label_svg(catalogue):
    lot = lot_in(catalogue, "graded", Clock())
    spec = catalogue.get(lot.spec_id)
    url = lot_trace_url(TraceConfig(), lot, spec)
    svg = label_svg(label_info(lot, spec, url))
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.get("width") == "100mm" and root.get("height") == "60mm"
    texts = " | ".join(t.text for t in root.iter(f"{SVG}text"))
    for needle in ["Quế (vỏ)", "Grade: A · thick", "LC-2026-0001", "500 kg",
                   "HTX Quế Hồi Bát Xát", "LC-BX-QUE-0007", "2026-10-20", url]:
        assert needle in texts, needle
    assert root.find(f"{SVG}svg") is not None  # the embedded QR code


def test_label_escapes_markup():
    info = LabelInfo(herb_name_vi="<b>&", herb_name_latin="x", grade="A", lot_id="L<1>",
                     weight_kg=1, cooperative='HTX "A" & B', growing_area_code="x",
                     harvest_date="2026-01-01", trace_url=URL + "?a=1&b=2")
    root = ET.fromstring(label_svg(info).encode("utf-8"))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "<b>&" in texts and 'HTX: HTX "A" & B' in texts


def test_label_needs_a_grade(catalogue):
    lot = lot_in(catalogue, "sampled", Clock())
    with pytest.raises(ValueError, match="no grade"):
        label_info(lot, catalogue.get(lot.spec_id), URL)


def test_real_gtin_replaces_the_placeholder(catalogue):
    import msgspec

    lot = lot_in(catalogue, "graded", Clock())
    spec = catalogue.get(lot.spec_id)
    assert lot_gtin(lot, spec) == "00400042001018"
    coop = Cooperative(id="c", name="n", number=42, gtins={"QUE-BARK": "8930000000019"})
    real = msgspec.structs.replace(lot, cooperative=coop)
    assert lot_gtin(real, spec) == "08930000000019"
    with pytest.raises(ValueError):
        lot_trace_url(TraceConfig(), real, catalogue.get("ATISO-LEAF"))


def test_empty_data_refused():
    with pytest.raises(ValueError):
        qr_png("")
