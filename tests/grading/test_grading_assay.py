from decimal import Decimal

import msgspec
import pytest
from grading_data import ALL_SPECS, CLEAN, GRADE_A, GRADE_B, GRADE_C

from grading.assay import AssayError, AssayResult, GradeDecision, grade_lot
from grading.spec import REJECT


@pytest.mark.parametrize("spec_id", ALL_SPECS)
@pytest.mark.parametrize("grade,changes", [("A", {}), ("B", GRADE_B), ("C", GRADE_C)])
def test_every_band_of_every_herb(catalogue, assay, spec_id, grade, changes):
    spec = catalogue.get(spec_id)
    d = grade_lot(spec, assay(catalogue, spec_id, changes.get(spec_id, {})), "domestic")
    assert d.grade == grade
    assert d.passed and d.failures == ()
    assert d.active_parameter == spec.valuation
    # valuation prices a kg of the lot as traded: the lab's as-is content, not the dried one
    reported = {**GRADE_A[spec_id], **changes.get(spec_id, {})}[spec.valuation]
    assert d.active_content == Decimal(reported)
    assert isinstance(d.active_content, Decimal)


def _reject_cases(catalogue_specs):
    for spec in catalogue_specs:
        for p in spec.parameters.values():
            if p.min is not None:
                yield spec.id, p.name, "min"
            if p.max is not None:
                yield spec.id, p.name, "max"


@pytest.fixture(scope="module")
def all_specs(catalogue):
    return list(catalogue)


def test_each_quality_limit_of_each_herb_rejects(catalogue, assay, all_specs):
    seen = 0
    for spec_id, param, bound in _reject_cases(all_specs):
        spec = catalogue.get(spec_id)
        p = spec.parameters[param]
        # just outside the limit, at the last digit a lab reports, on the limit's basis
        bad = p.min - Decimal("0.001") if bound == "min" else p.max + Decimal("0.001")
        d = grade_lot(spec, assay(catalogue, spec_id, {param: str(bad)}, on_limit_basis=True),
                      "domestic")
        assert d.grade == REJECT and not d.passed, (spec_id, param)
        assert d.decided_by == param
        (f,) = d.failures
        assert (f.parameter, f.bound, f.measured, f.kind) == (param, bound, bad, "quality")
        assert f.allowed == (p.min if bound == "min" else p.max)
        seen += 1
    assert seen >= 25


@pytest.mark.parametrize("spec_id", ALL_SPECS)
def test_values_exactly_at_the_limit_pass(catalogue, assay, spec_id):
    spec = catalogue.get(spec_id)
    at_limit = {n: str(p.min if p.min is not None else p.max)
                for n, p in spec.parameters.items() if p.min is not None or p.max is not None}
    d = grade_lot(spec, assay(catalogue, spec_id, at_limit, on_limit_basis=True), "domestic")
    assert d.passed, d.failures
    assert all(d.values[n] == Decimal(v) for n, v in at_limit.items())


@pytest.mark.parametrize("contaminant,value", [
    ("pb_mg_kg", "5.01"), ("cd_mg_kg", "1.2"), ("as_mg_kg", "2.5"), ("hg_mg_kg", "0.21"),
    ("cu_mg_kg", "20.5"), ("aflatoxin_b1_ug_kg", "5.4"), ("aflatoxin_total_ug_kg", "10.2"),
    ("so2_mg_kg", "180"),
])
def test_each_contaminant_rejects_a_dried_herb(catalogue, assay, contaminant, value):
    """One realistic reading per contaminant; the sweep below covers every herb."""
    spec = catalogue.get("TAMTHAT-ROOT")
    d = grade_lot(spec, assay(catalogue, spec.id, {contaminant: value}), "domestic")
    assert d.grade == REJECT and d.decided_by == contaminant
    assert [(f.parameter, f.kind, f.measured) for f in d.failures] == [
        (contaminant, "contaminant", Decimal(value))]


def test_every_failed_limit_is_listed_and_the_first_decides(catalogue, assay):
    spec = catalogue.get("QUE-BARK")
    d = grade_lot(spec, assay(catalogue, spec.id, {
        "cinnamaldehyde_pct": "1.2", "moisture_pct": "17.5", "pb_mg_kg": "6.3"}), "domestic")
    assert d.decided_by == "cinnamaldehyde_pct"
    assert [f.parameter for f in d.failures] == ["cinnamaldehyde_pct", "moisture_pct", "pb_mg_kg"]
    assert d.failures[1].measured == Decimal("17.5") and d.failures[1].allowed == Decimal("15.0")


def test_destination_changes_the_limits(catalogue, assay):
    spec = catalogue.get("DUONGQUY-ROOT")
    results = assay(catalogue, spec.id, {"hg_mg_kg": "0.15", "aflatoxin_b1_ug_kg": "3"})
    assert grade_lot(spec, results, "domestic").grade == "A"
    eu = grade_lot(spec, results, "eu")
    assert eu.grade == REJECT
    assert [(f.parameter, f.allowed) for f in eu.failures] == [
        ("hg_mg_kg", Decimal("0.1")), ("aflatoxin_b1_ug_kg", Decimal("2"))]
    assert grade_lot(spec, results, "japan").grade == "A"


def test_so2_sulphur_fumigated_lot_fails_eu_only(catalogue, assay):
    spec = catalogue.get("CATCANH-ROOT")
    results = assay(catalogue, spec.id, {"so2_mg_kg": "60"})
    assert grade_lot(spec, results, "domestic").passed
    assert grade_lot(spec, results, "eu").decided_by == "so2_mg_kg"


def test_oil_has_its_own_contaminant_profile(catalogue, assay):
    spec = catalogue.get("QUE-OIL")
    assert set(spec.contaminants["domestic"]) == {"pb_mg_kg", "cd_mg_kg", "as_mg_kg", "hg_mg_kg"}
    # a lab's full panel (aflatoxin included) is accepted, not "unknown"
    results = [*assay(catalogue, spec.id),
               AssayResult(parameter="aflatoxin_b1_ug_kg", value="0.2", unit="µg/kg")]
    assert grade_lot(spec, results, "domestic").grade == "A"


def test_decided_by_names_what_held_the_lot_back(catalogue, assay):
    spec = catalogue.get("QUE-BARK")
    top = grade_lot(spec, assay(catalogue, spec.id), "domestic")
    assert (top.grade, top.decided_by) == ("A", "cinnamaldehyde_pct")
    wet = grade_lot(spec, assay(catalogue, spec.id, {"moisture_pct": "14.2"}), "domestic")
    assert (wet.grade, wet.decided_by) == ("B", "moisture_pct")  # A needs <= 13.0 % water
    thin = grade_lot(spec, assay(catalogue, spec.id, GRADE_C["QUE-BARK"]), "domestic")
    assert (thin.grade, thin.decided_by) == ("C", "essential_oil_pct")


@pytest.mark.parametrize("roots,cls", [
    ("18", "20-head"), ("20", "20-head"), ("21", "30-head"), ("60", "60-head"),
    ("119", "120-head"), ("121", "160-head"), ("200", "200-head"), ("201", "small"),
])
def test_tamthat_head_count_classes(catalogue, assay, roots, cls):
    spec = catalogue.get("TAMTHAT-ROOT")
    d = grade_lot(spec, assay(catalogue, spec.id, {"roots_per_500g": roots}), "domestic")
    assert d.physical_class == cls and d.grade == "A"


def test_optional_parameters_may_be_missing(catalogue, assay):
    spec = catalogue.get("QUE-BARK")
    d = grade_lot(spec, assay(catalogue, spec.id, drop=["thickness_mm", "cu_mg_kg"]), "domestic")
    assert d.grade == "A" and d.physical_class is None
    assert d.not_tested == ("thickness_mm", "cu_mg_kg")


@pytest.mark.parametrize("thickness,cls", [("3.0", "thick"), ("2.99", "medium"), ("1.5", "thin")])
def test_cinnamon_thickness_classes(catalogue, assay, thickness, cls):
    spec = catalogue.get("QUE-BARK")
    d = grade_lot(spec, assay(catalogue, spec.id, {"thickness_mm": thickness}), "domestic")
    assert d.physical_class == cls


# --- decimals and units ----------------------------------------------------------------------


def test_units_are_converted_exactly(catalogue, assay):
    spec = catalogue.get("TAMTHAT-ROOT")
    results = [r for r in assay(catalogue, spec.id) if r.parameter not in ("pb_mg_kg",
                                                                          "aflatoxin_b1_ug_kg")]
    results += [AssayResult(parameter="pb_mg_kg", value="420", unit="µg/kg"),
                AssayResult(parameter="aflatoxin_b1_ug_kg", value="0.0006", unit="mg/kg")]
    d = grade_lot(spec, results, "domestic")
    assert d.values["pb_mg_kg"] == Decimal("0.42")
    assert d.values["aflatoxin_b1_ug_kg"] == Decimal("0.6")
    assert d.passed


def test_a_mass_fraction_can_be_given_in_mg_per_kg(catalogue, assay):
    spec = catalogue.get("DUONGQUY-ROOT")
    results = [r for r in assay(catalogue, spec.id) if r.parameter != "ferulic_acid_pct"]
    results.append(AssayResult(parameter="ferulic_acid_pct", value="495", unit="mg/kg",
                               basis="dried"))
    d = grade_lot(spec, results, "domestic")
    assert d.grade == REJECT and d.failures[0].measured == Decimal("0.0495")


@pytest.mark.parametrize("param,unit", [
    ("essential_oil_pct", "%"),  # oil is % v/w (ml/100 g), not a mass fraction
    ("cinnamaldehyde_pct", "% v/w"),
    ("pb_mg_kg", "mg/L"),
    ("thickness_mm", "cm"),
])
def test_unit_errors(catalogue, assay, param, unit):
    spec = catalogue.get("QUE-BARK")
    results = [AssayResult(parameter=r.parameter, value=r.value,
                           unit=unit if r.parameter == param else r.unit)
               for r in assay(catalogue, spec.id)]
    with pytest.raises(AssayError) as e:
        grade_lot(spec, results, "domestic")
    assert (e.value.code, e.value.parameter) == ("bad_unit", param)


@pytest.mark.parametrize("value", ["2,91", "-2.9", "2.9e0", "NaN", "", "two"])
def test_bad_decimal_values(catalogue, assay, value):
    spec = catalogue.get("QUE-BARK")
    with pytest.raises(AssayError) as e:
        grade_lot(spec, assay(catalogue, spec.id, {"cinnamaldehyde_pct": value}), "domestic")
    assert (e.value.code, e.value.parameter) == ("bad_decimal", "cinnamaldehyde_pct")


def test_float_values_are_refused_at_decoding():
    with pytest.raises(msgspec.ValidationError, match="Expected `str`, got `float`"):
        msgspec.json.decode(b'{"parameter": "pb_mg_kg", "value": 0.4, "unit": "mg/kg"}',
                            type=AssayResult)


def test_results_decode_from_json_as_strings(catalogue, assay):
    raw = msgspec.json.encode(assay(catalogue, "CATCANH-ROOT"))
    results = msgspec.json.decode(raw, type=list[AssayResult])
    assert grade_lot(catalogue.get("CATCANH-ROOT"), results, "domestic").grade == "A"


def test_decision_encodes_decimals_as_strings(catalogue, assay):
    d = grade_lot(catalogue.get("CATCANH-ROOT"), assay(catalogue, "CATCANH-ROOT"), "domestic")
    wire = msgspec.json.decode(msgspec.json.encode(d))
    assert wire["active_content"] == "0.31" and wire["grade"] == "A"
    assert msgspec.json.decode(msgspec.json.encode(d), type=GradeDecision) == d


def test_no_float_arithmetic_at_the_boundary(catalogue, assay):
    # 0.1 + 0.2 != 0.3 in binary floats; our limits compare decimals exactly
    spec = catalogue.get("CATCANH-ROOT")
    d = grade_lot(spec, assay(catalogue, spec.id, {"platycodin_d_pct": "0.10"},
                              on_limit_basis=True), "domestic")
    assert d.passed and d.values["platycodin_d_pct"] == Decimal("0.1")


# --- missing, unknown, duplicate ---------------------------------------------------------------


@pytest.mark.parametrize("spec_id,missing", [
    ("QUE-BARK", "cinnamaldehyde_pct"), ("TAMTHAT-ROOT", "moisture_pct"),
    ("ATISO-LEAF", "pb_mg_kg"), ("SANHAN-FRUIT", "aflatoxin_total_ug_kg"),
])
def test_missing_required_parameter_is_an_error(catalogue, assay, spec_id, missing):
    with pytest.raises(AssayError) as e:
        grade_lot(catalogue.get(spec_id), assay(catalogue, spec_id, drop=[missing]), "domestic")
    assert (e.value.code, e.value.parameter) == ("missing_parameter", missing)


def test_unknown_parameter_is_an_error(catalogue, assay):
    results = [*assay(catalogue, "ATISO-LEAF"),
               AssayResult(parameter="cynarin_pct", value="0.4", unit="%")]
    with pytest.raises(AssayError) as e:
        grade_lot(catalogue.get("ATISO-LEAF"), results, "domestic")
    assert (e.value.code, e.value.parameter) == ("unknown_parameter", "cynarin_pct")


def test_a_parameter_of_another_herb_is_unknown(catalogue, assay):
    results = [*assay(catalogue, "ATISO-LEAF"),
               AssayResult(parameter="saponins_pct", value="5", unit="%")]
    with pytest.raises(AssayError, match="unknown_parameter"):
        grade_lot(catalogue.get("ATISO-LEAF"), results, "domestic")


def test_duplicate_parameter_is_an_error(catalogue, assay):
    results = assay(catalogue, "ATISO-LEAF")
    with pytest.raises(AssayError) as e:
        grade_lot(catalogue.get("ATISO-LEAF"), [*results, results[0]], "domestic")
    assert e.value.code == "duplicate_parameter"


def test_unknown_destination_is_an_error(catalogue, assay):
    with pytest.raises(AssayError) as e:
        grade_lot(catalogue.get("ATISO-LEAF"), assay(catalogue, "ATISO-LEAF"), "mars")
    assert e.value.code == "unknown_destination"


def test_contaminants_clean_panel_is_complete(catalogue):
    for spec in catalogue:
        for dest in spec.destinations:
            assert set(spec.contaminants[dest]) <= set(CLEAN)


def test_each_contaminant_limit_of_each_herb_and_destination_rejects(catalogue, assay):
    seen = 0
    for spec in catalogue:
        for dest, limits in spec.contaminants.items():
            for name, p in limits.items():
                over = str(p.max + Decimal("0.01"))
                d = grade_lot(spec, assay(catalogue, spec.id, {name: over}, destination=dest),
                              dest)
                assert (d.grade, d.decided_by) == (REJECT, name), (spec.id, dest, name)
                assert grade_lot(spec, assay(catalogue, spec.id, {name: str(p.max)},
                                             destination=dest), dest).passed
                seen += 1
    assert seen == 7 * 3 * 8 + 3 * 4
