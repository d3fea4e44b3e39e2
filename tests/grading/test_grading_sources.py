"""Where the grading figures come from, which basis they are stated on, and which are still
unverified: citations of real documents, the as-is/dried conversion with the lab's moisture,
and the unverified flag carried from the TOML to the docs and to every grade decision."""

import decimal
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from grading.assay import AssayError, AssayResult, grade_lot
from grading.catalogue import SPECS_DIR, load_catalogue
from grading.spec import REJECT, SpecError
from grading.spec_table import UNVERIFIED, contaminants_markdown, spec_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "grading.md"
SPEC_FILES = sorted(SPECS_DIR.rglob("*.toml"))

# What a citation of a document a quality officer can open looks like: a pharmacopoeia
# monograph or chapter, a numbered standard, a regulation or act, a published standard set,
# a registered geographical indication.
DOCUMENT = re.compile(
    r"Pharmacopoeia|\bISO \d{3,5}\b|\bSB/T \d|\bRegulation \(E[CU]\)|Commission Regulation|"
    r"Food Sanitation Act|Materia Medica Standards|Geographical indication"
)


# --- citations --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_no_spec_cites_an_issue(path):
    """A backlog item is not a document a quality officer can open."""
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"issue", text, re.IGNORECASE), path.name


def test_every_source_is_a_document_citation(catalogue):
    cited = 0
    for spec in catalogue:
        for key, citation in spec.sources.items():
            assert DOCUMENT.search(citation), (spec.id, key, citation)
            cited += 1
        figures = [*spec.parameters.values(),
                   *(p for lims in spec.contaminants.values() for p in lims.values())]
        for p in figures:
            assert p.source is None or p.source in spec.sources, (spec.id, p.name)
            # a figure a source confirms always names it
            assert not p.verified or p.source is not None or (p.min is None and p.max is None)
    assert cited >= 20


def test_tamthat_head_count_classes_cite_the_trade_grade_standard(catalogue):
    spec = catalogue.get("TAMTHAT-ROOT")
    assert spec.physical is not None and spec.physical.parameter == "roots_per_500g"
    assert {c.source for c in spec.physical.classes} == {"sbt_11174_3"}
    assert spec.sources["sbt_11174_3"].startswith("SB/T 11174.3-2016")
    # GB/T 19086 is the Wenshan Sanqi geographical-indication standard, not the trade grades
    assert not any("19086" in c for c in spec.sources.values())
    assert "19086" not in (SPECS_DIR / spec.file).read_text(encoding="utf-8")
    # 20头: at most 20 roots per 500 g
    assert [(c.name, c.max) for c in spec.physical.classes[:2]] == [
        ("20-head", Decimal("20")), ("30-head", Decimal("30"))]


# --- basis --------------------------------------------------------------------------------------


def test_every_quality_limit_records_its_basis(catalogue):
    for spec in catalogue:
        for p in spec.parameters.values():
            assert (p.basis is None) == (p.kind == "physical"), (spec.id, p.name)
        for lims in spec.contaminants.values():
            assert all(p.basis == "as_is" for p in lims.values())
    bark = catalogue.get("QUE-BARK")
    # ChP 2015 肉桂: only cinnamaldehyde is "按干燥品计算"; water, ash and oil are as received
    assert {n: p.basis for n, p in bark.parameters.items()} == {
        "essential_oil_pct": "as_is", "cinnamaldehyde_pct": "dried", "moisture_pct": "as_is",
        "total_ash_pct": "as_is", "thickness_mm": None}
    assert bark.moisture == "moisture_pct"


def _bark(catalogue, assay, **values):
    spec = catalogue.get("QUE-BARK")
    return spec, grade_lot(spec, assay(catalogue, spec.id, values), "domestic")


def test_cinnamon_as_is_cinnamaldehyde_is_converted_to_the_dried_basis(catalogue, assay):
    """Văn Yên bark at the low end of its GI water range (14.06 %) and oil (4.38 %): an as-is
    cinnamaldehyde of 1.30 % is below ChP's 1.5 % as it stands, but ChP states that limit on
    the dried drug: 1.30 × 100 / 85.94 = 1.5127 % dried, so the lot passes."""
    spec, d = _bark(catalogue, assay, moisture_pct="14.06", essential_oil_pct="4.38",
                    cinnamaldehyde_pct="1.30")
    dried = Decimal("1.30") * 100 / (100 - Decimal("14.06"))
    assert d.values["cinnamaldehyde_pct"] == dried
    assert Decimal("1.512") < dried < Decimal("1.513")
    assert d.passed and d.failures == ()
    assert d.converted == ("cinnamaldehyde_pct",)
    # passes ChP but misses band B's 2.0 % (dried) cinnamaldehyde: the catch-all grade
    assert (d.grade, d.decided_by) == ("C", "cinnamaldehyde_pct")
    # valuation prices a kg of bark as traded, with its water: the lab's as-is figure
    assert d.active_content == Decimal("1.30")


def test_cinnamon_dried_basis_result_is_converted_to_an_as_is_limit(catalogue, assay):
    """The reverse: a lab reports the volatile oil on the dried basis, 1.39 %, which would
    pass ChP's 1.2 % as it stands; ChP states the oil limit on the drug as received, and at
    14.06 % water that is 1.39 × 85.94 / 100 = 1.1946 %: REJECT."""
    spec = catalogue.get("QUE-BARK")
    results = [r if r.parameter != "essential_oil_pct" else
               AssayResult(parameter=r.parameter, value="1.39", unit=r.unit, basis="dried")
               for r in assay(catalogue, spec.id, {"moisture_pct": "14.06"})]
    d = grade_lot(spec, results, "domestic")
    assert d.grade == REJECT and d.decided_by == "essential_oil_pct"
    (f,) = d.failures
    assert (f.measured, f.allowed, f.bound) == (
        Decimal("1.39") * Decimal("85.94") / 100, Decimal("1.2"), "min")
    assert f.measured == Decimal("1.194566")


@pytest.mark.parametrize("as_is,passed", [("1.29", True), ("1.28", False)])
def test_dried_basis_boundary_is_exact(catalogue, assay, as_is, passed):
    # 1.29 × 100 / 86.0 = 1.5 exactly: a value at the limit passes, one digit lower fails
    _, d = _bark(catalogue, assay, moisture_pct="14.0", cinnamaldehyde_pct=as_is)
    assert d.passed is passed
    if passed:
        assert d.values["cinnamaldehyde_pct"] == Decimal("1.5")


def test_bark_above_the_water_limit_is_rejected_whatever_its_content(catalogue, assay):
    _, d = _bark(catalogue, assay, moisture_pct="15.74", cinnamaldehyde_pct="3.0")
    assert d.grade == REJECT and [f.parameter for f in d.failures] == ["moisture_pct"]


def test_conversion_ignores_the_callers_decimal_context(catalogue, assay):
    _, expected = _bark(catalogue, assay, moisture_pct="14.06", cinnamaldehyde_pct="1.30")
    with decimal.localcontext() as ctx:
        ctx.prec = 4
        ctx.rounding = decimal.ROUND_UP
        _, d = _bark(catalogue, assay, moisture_pct="14.06", cinnamaldehyde_pct="1.30")
    assert d.values == expected.values
    assert all(isinstance(v, Decimal) for v in d.values.values())


def test_a_dried_basis_limit_without_a_moisture_result_cannot_be_graded(catalogue, assay):
    spec = catalogue.get("QUE-BARK")
    with pytest.raises(AssayError) as e:
        grade_lot(spec, assay(catalogue, spec.id, drop=["moisture_pct"]), "domestic")
    assert (e.value.code, e.value.parameter) == ("missing_parameter", "moisture_pct")
    assert "cinnamaldehyde_pct" in e.value.detail and "dried" in e.value.detail


@pytest.mark.parametrize("spec_id,param,value,basis,culprit", [
    ("QUE-BARK", "moisture_pct", "12.1", "dried", "moisture_pct"),  # water is as received
    ("QUE-BARK", "moisture_pct", "100", "as_is", "moisture_pct"),  # no dry matter left
    ("QUE-BARK", "thickness_mm", "3.1", "dried", "thickness_mm"),  # no basis for a size
    ("QUE-OIL", "cinnamaldehyde_pct", "87.6", "dried", "cinnamaldehyde_pct"),  # no water
])
def test_bad_basis(catalogue, assay, spec_id, param, value, basis, culprit):
    spec = catalogue.get(spec_id)
    results = [r if r.parameter != param else
               AssayResult(parameter=param, value=value, unit=r.unit, basis=basis)
               for r in assay(catalogue, spec_id)]
    with pytest.raises(AssayError) as e:
        grade_lot(spec, results, "domestic")
    assert (e.value.code, e.value.parameter) == ("bad_basis", culprit)


# --- unverified figures -------------------------------------------------------------------------


def test_unverified_figures_are_flagged(catalogue):
    bark = catalogue.get("QUE-BARK")
    assert not [u for u in bark.unverified if u.startswith("parameters.")]  # ChP 2015, checked
    assert {"grades.A", "grades.B", "physical.thick"} <= set(bark.unverified)
    tamthat = catalogue.get("TAMTHAT-ROOT")
    assert {"parameters.saponins_pct", "parameters.moisture_pct", "physical.160-head",
            "physical.small"} <= set(tamthat.unverified)
    assert "physical.20-head" not in tamthat.unverified
    duongquy = catalogue.get("DUONGQUY-ROOT")
    assert "parameters.essential_oil_pct" in duongquy.unverified  # not in ISO 22584
    assert "parameters.ferulic_acid_pct" not in duongquy.unverified
    for spec_id in ("ATISO-LEAF", "SANHAN-FRUIT", "THAOQUA-FRUIT"):  # nothing was found
        spec = catalogue.get(spec_id)
        assert all(f"parameters.{n}" in spec.unverified for n, p in spec.parameters.items()
                   if p.kind == "quality"), spec_id
    assert "contaminants.eu.pb_mg_kg" in bark.unverified
    assert "contaminants.domestic.pb_mg_kg" not in bark.unverified
    assert "contaminants.domestic.pb_mg_kg" in catalogue.get("QUE-OIL").unverified


def test_every_unverified_figure_is_marked_where_the_spec_is_shown(catalogue):
    for spec in catalogue:
        table = spec_markdown(spec) + contaminants_markdown(spec)
        rows = table.splitlines()
        for key in spec.unverified:
            kind, *rest = key.split(".")
            if kind in ("grades", "physical"):  # a band or class row starts with its name
                marked = [r for r in rows if r.startswith(f"| {rest[0]} |")]
            elif kind == "parameters":
                marked = [r for r in rows if r.startswith(f"| `{rest[0]}` ")]
            else:
                marked = [r for r in rows if r.startswith(f"| `{rest[1]}` ")
                          and f"| {rest[0]} |" in r]
            assert marked and all(UNVERIFIED in r for r in marked), (spec.id, key)
        verified_rows = [r for r in rows if r.startswith("| ") and "| verified" in r]
        assert all(UNVERIFIED not in r for r in verified_rows)


def test_docs_show_every_spec_table(catalogue):
    """docs/grading.md carries each spec's tables verbatim, so it cannot drift from the TOML
    (on failure the message holds the block to paste)."""
    docs = DOCS.read_text(encoding="utf-8")
    profiles = {}
    for spec in catalogue:
        block = spec_markdown(spec)
        assert block in docs, block
        profiles.setdefault(spec.contaminant_profile, contaminants_markdown(spec))
    for block in profiles.values():
        assert block in docs, block


def test_decision_lists_the_unverified_figures_it_rested_on(catalogue, assay):
    bark = catalogue.get("QUE-BARK")
    d = grade_lot(bark, assay(catalogue, bark.id), "domestic")
    assert d.grade == "A"
    assert d.unverified == ("physical.thick", "grades.A")
    eu = grade_lot(bark, assay(catalogue, bark.id, destination="eu"), "eu")
    assert "contaminants.eu.pb_mg_kg" in eu.unverified
    tamthat = catalogue.get("TAMTHAT-ROOT")
    d = grade_lot(tamthat, assay(catalogue, tamthat.id, {"roots_per_500g": "150"}), "domestic")
    assert d.physical_class == "160-head" and "physical.160-head" in d.unverified
    assert "parameters.saponins_pct" in d.unverified


# --- the rules are enforced at start-up ---------------------------------------------------------


@pytest.fixture
def specs(tmp_path):
    root = tmp_path / "specs"
    shutil.copytree(SPECS_DIR, root)
    return root


@pytest.mark.parametrize("old,new,field,message", [
    ('basis = "dried"                  # 按干燥品计算\n', "", "parameters[1].basis",
     "say which basis"),
    ('source = "chp2015_rougui"\nverified = true\n\n[[parameters]]\nname = "cinnamaldehyde_pct"',
     'source = "chp2015_rougui"\n\n[[parameters]]\nname = "cinnamaldehyde_pct"',
     "parameters[0].verified", "verified = true or verified = false"),
    ('source = "chp2015_rougui"\nverified = true\n\n[[parameters]]\nname = "cinnamaldehyde_pct"',
     'source = "issue_3"\nverified = true\n\n[[parameters]]\nname = "cinnamaldehyde_pct"',
     "parameters[0].source", "unknown source 'issue_3'"),
    ('moisture = "moisture_pct"\n', "", "moisture", "need the water parameter named"),
    ('moisture = "moisture_pct"\n', 'moisture = "cinnamaldehyde_pct"\n', "moisture",
     "not a water content"),
    ('verified = false\nnote = "placeholder"\n', 'note = "placeholder"\n', "grades[1].verified",
     "verified = true or verified = false"),
    ('{ name = "thick", min = "3.0", verified = false }', '{ name = "thick", min = "3.0" }',
     "physical.classes[0].verified", "verified = true or verified = false"),
    ('method = "caliper, mean of 10 pieces"\n', 'method = "caliper"\nbasis = "as_is"\n',
     "parameters[4].basis", "a physical parameter has no as-is/dried basis"),
])
def test_broken_source_or_basis_names_file_and_field(specs, old, new, field, message):
    path = specs / "herbs" / "que_bark.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(SpecError) as e:
        load_catalogue(specs)
    assert (e.value.file, e.value.field) == ("herbs/que_bark.toml", field)
    assert message in e.value.message
