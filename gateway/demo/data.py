"""Data of the demo market: participants, fair prices, realistic assays. Data, not code.

Assays are `grading.samples` (the grading tests use the same figures); fair prices are
wholesale VND per kg of grade A in Lào Cai in 2026, rough and for the demo only; grades B and C
trade at fixed discounts.
"""

from __future__ import annotations

# spec id -> fair price of grade A, VND per kg (demo figures)
FAIR_A_VND: dict[str, int] = {
    "QUE-BARK": 62_000, "QUE-OIL": 1_050_000, "TAMTHAT-ROOT": 1_600_000,
    "ATISO-LEAF": 85_000, "DUONGQUY-ROOT": 180_000, "SANHAN-FRUIT": 350_000,
    "CATCANH-ROOT": 120_000, "THAOQUA-FRUIT": 230_000,
}
GRADE_DISCOUNT_PCT = {"A": 100, "B": 78, "C": 60}

# id, name, registration number, commune, growing-area code
COOPERATIVES = [
    ("HTX-VANBAN", "HTX Quế Văn Bàn", 1, "Xã Dương Quỳ", "LC-VB-QUE-0012"),
    ("HTX-BATXAT", "HTX Dược liệu Bát Xát", 2, "Xã Y Tý", "LC-BX-DL-0031"),
    ("HTX-BACHA", "HTX Nông sản Bắc Hà", 3, "Xã Tả Van Chư", "LC-BH-DL-0007"),
    ("HTX-SAPA", "HTX Atisô Sa Pa", 4, "Xã Tả Phìn", "LC-SP-AT-0019"),
    ("HTX-BAOYEN", "HTX Quế Bảo Yên", 5, "Xã Xuân Thượng", "LC-BY-QUE-0044"),
]
TRADERS = [
    ("T01", "Công ty CP Dược phẩm Traphaco"), ("T02", "OPC Pharma"),
    ("T03", "Tuệ Linh JSC"), ("T04", "Hanoi Herbal Export Co."),
    ("T05", "Nam Dược"), ("T06", "Vinacinnamon Export"),
    ("T07", "Saigon Spice Trading"), ("T08", "Bảo Long Đường"),
    ("T09", "Lào Cai Herb Wholesale"), ("T10", "EuroHerb Import GmbH"),
]
MAKER = ("MM-01", "HerbX liquidity provider (demo bot)")
LAB = ("LAB-LC", "Trung tâm Kiểm nghiệm Lào Cai")
ANALYST = ("FUND-01", "Quỹ bảo hiểm giá quế (analyst)")

# The people a visitor signs in as from the web UI's start page, one per role (two traders, so
# that one can cross the other's order by hand): never used by the bots, so what they see is
# only what they did. id, name, role
WEB_PEOPLE = [
    ("WEB-T1", "Chị Lan — Công ty Dược Sa Pa (người mua)", "trader"),
    ("WEB-T2", "Anh Minh — Xuất khẩu Quế Yên Bái (người mua)", "trader"),
    ("WEB-HTX", "HTX Dược liệu Mường Hum (demo)", "cooperative"),
    ("WEB-LAB", "Phòng kiểm nghiệm demo", "lab"),
    ("WEB-FUND", "Chuyên viên Quỹ bảo hiểm giá (demo)", "analyst"),
    ("WEB-OPS", "Ban quản lý chợ — ca trực demo", "operator"),
]
WEB_CASH_VND = 5_000_000_000  # each web trader's opening cash
# the web cooperative's goods in custody: (spec id, grade, kg) of lots graded and received,
# not listed, so the person chooses to list or auction them
WEB_LOTS = [("QUE-BARK", "A", 2_000), ("ATISO-LEAF", "A", 1_200), ("TAMTHAT-ROOT", "A", 300)]
