import pytest

from grading.trace import (
    TraceConfig,
    check_digit,
    is_valid_gtin,
    parse_trace_url,
    placeholder_gtin,
    to_gtin14,
    trace_url,
    validate_lot_part,
)

# Published examples: GS1's "how to calculate a check digit manually" (GTIN-13 629104150021|3),
# the GS1 Digital Link standard's example GTIN 09520123456788, and the EAN-8/EAN-13/UPC-A
# examples widely reproduced from the GS1 General Specifications.
PUBLISHED = ["6291041500213", "09520123456788", "00012345600012", "4006381333931",
             "036000291452", "96385074"]


@pytest.mark.parametrize("gtin", PUBLISHED)
def test_published_check_digits(gtin):
    assert check_digit(gtin[:-1]) == int(gtin[-1])
    assert is_valid_gtin(gtin)


@pytest.mark.parametrize("gtin", PUBLISHED)
def test_any_single_digit_error_is_caught(gtin):
    for i in range(len(gtin)):
        for d in "0123456789":
            if d != gtin[i]:
                assert not is_valid_gtin(gtin[:i] + d + gtin[i + 1:])


@pytest.mark.parametrize("bad", ["", "123", "629104150021", "62910415002133", "6291041500213x",
                                 "629104150021٣", "０9520123456788"])
def test_invalid_gtins(bad):
    assert not is_valid_gtin(bad)


def test_to_gtin14_pads():
    assert to_gtin14("6291041500213") == "06291041500213"
    assert to_gtin14("96385074") == "00000096385074"
    with pytest.raises(ValueError):
        to_gtin14("6291041500214")


def test_placeholder_scheme():
    g = placeholder_gtin(123, 101)
    assert len(g) == 14 and g[:3] == "004" and g[3:8] == "00123" and g[8:13] == "00101"
    assert is_valid_gtin(g)
    assert placeholder_gtin(1, 1) != placeholder_gtin(1, 2) != placeholder_gtin(2, 1)
    for bad in [(0, 1), (100000, 1), (1, 0), (1, 100000)]:
        with pytest.raises(ValueError):
            placeholder_gtin(*bad)


@pytest.mark.parametrize("lot", ["LC-2026-0001", "A", "x" * 20, "AB/12", "a.b_c:d", "(1)+2"])
def test_lot_part_allowed(lot):
    assert validate_lot_part(lot) == lot


@pytest.mark.parametrize("lot", ["", "x" * 21, "LÔ-1", "A B", "A#1", "A~1", "A@1", "A\n"])
def test_lot_part_refused(lot):
    with pytest.raises(ValueError, match="GS1 set 82"):
        validate_lot_part(lot)


def test_trace_url_and_parse():
    cfg = TraceConfig(resolver_host="id.herbx-laocai.vn")
    url = trace_url(cfg, placeholder_gtin(42, 201), "TT-2026/07")
    assert url == "https://id.herbx-laocai.vn/01/00400042002015/10/TT-2026%2F07"
    assert parse_trace_url(url) == ("00400042002015", "TT-2026/07")


def test_trace_url_pads_short_gtin_and_default_host_is_placeholder():
    url = trace_url(TraceConfig(), "6291041500213", "L1")
    assert url == "https://trace.herbx.example/01/06291041500213/10/L1"


@pytest.mark.parametrize("host", ["", "HTTP://x", "a b", "x/y", "-bad.example"])
def test_bad_resolver_host(host):
    with pytest.raises(ValueError):
        TraceConfig(resolver_host=host)


@pytest.mark.parametrize("url", [
    "https://r.example/01/09520123456789/10/L1",       # bad check digit
    "https://r.example/01/9520123456788/10/L1",        # 13 digits
    "https://r.example/01/09520123456788/21/L1",       # serial, not lot
    "https://r.example/01/09520123456788",             # no lot
    "ftp://r.example/01/09520123456788/10/L1",
    "https://r.example/01/09520123456788/10/" + "x" * 21,
])
def test_parse_refuses(url):
    with pytest.raises(ValueError):
        parse_trace_url(url)
