import shutil
from decimal import Decimal

import pytest

from grading.catalogue import SPECS_DIR, load_catalogue
from grading.spec import REJECT, SpecError

REQUIRED = ["QUE-BARK", "QUE-OIL", "TAMTHAT-ROOT", "DUONGQUY-ROOT", "CATCANH-ROOT",
            "SANHAN-FRUIT", "ATISO-LEAF"]


def test_catalogue_loads_every_herb(catalogue):
    ids = [s.id for s in catalogue]
    assert set(REQUIRED) <= set(ids) and len(ids) >= 8
    assert ids == sorted(ids)  # file order: deterministic
    assert [s.id for s in catalogue.by_code("QUE")] == ["QUE-BARK", "QUE-OIL"]


def test_checked_reference_figures(catalogue):
    def lim(spec_id, param):
        p = catalogue.get(spec_id).parameters[param]
        return p.min if p.min is not None else p.max

    assert lim("QUE-OIL", "cinnamaldehyde_pct") == Decimal("75.0")
    assert lim("QUE-BARK", "cinnamaldehyde_pct") == Decimal("1.5")
    assert lim("QUE-BARK", "essential_oil_pct") == Decimal("1.2")
    assert lim("QUE-BARK", "moisture_pct") == Decimal("15.0")
    assert lim("QUE-BARK", "total_ash_pct") == Decimal("5.0")
    assert lim("DUONGQUY-ROOT", "acid_insoluble_ash_pct") == Decimal("2.0")
    assert lim("DUONGQUY-ROOT", "ferulic_acid_pct") == Decimal("0.050")
    assert lim("DUONGQUY-ROOT", "moisture_pct") == Decimal("15.0")
    assert lim("DUONGQUY-ROOT", "total_ash_pct") == Decimal("7.0")
    assert lim("CATCANH-ROOT", "platycodin_d_pct") == Decimal("0.10")
    assert lim("CATCANH-ROOT", "loss_on_drying_pct") == Decimal("15.0")
    assert lim("CATCANH-ROOT", "total_ash_pct") == Decimal("6.0")
    dom = catalogue.get("ATISO-LEAF").contaminants["domestic"]
    assert {k: v.max for k, v in dom.items()} == {
        "pb_mg_kg": 5, "cd_mg_kg": 1, "as_mg_kg": 2, "hg_mg_kg": Decimal("0.2"), "cu_mg_kg": 20,
        "aflatoxin_b1_ug_kg": 5, "aflatoxin_total_ug_kg": 10, "so2_mg_kg": 150}


def test_every_spec_cites_sources_and_marks_unverified_values(catalogue):
    for spec in catalogue:
        assert spec.sources, spec.id
        assert any(u.startswith("grades.") for u in spec.unverified), spec.id  # placeholders
        text = (SPECS_DIR / spec.file).read_text(encoding="utf-8")
        assert "Sources" in text and "Unverified" in text, spec.file
        assert spec.name_vi and spec.name_latin and spec.plant_part
        assert spec.grades[-1].min == {} and spec.grades[-1].max == {}
        assert REJECT not in spec.grade_names
        for p in spec.parameters.values():
            assert p.unit and p.method


def test_every_spec_has_destinations(catalogue):
    for spec in catalogue:
        assert spec.destinations == ("domestic", "eu", "japan")


# --- validation errors name the file and the field --------------------------------------------


@pytest.fixture
def specs(tmp_path):
    root = tmp_path / "specs"
    shutil.copytree(SPECS_DIR, root)
    return root


def _edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("file,old,new,field,message", [
    ("catcanh_root.toml", 'min = "0.10"', "min = 0.10", "parameters[0].min",
     "Expected `str | null`, got `float`"),
    ("catcanh_root.toml", 'min = "0.10"', 'min = "0,10"', "parameters[0].min",
     "decimal separator"),
    ("catcanh_root.toml", 'unit = "%"', 'unit = "percent"', "parameters[0].unit",
     "unknown unit"),
    ("catcanh_root.toml", 'tick_vnd = 500', 'tick_vnd = 0', "tick_vnd", "Expected `int` >= 1"),
    ("catcanh_root.toml", 'platycodin_d_pct = "0.25"', 'platycodin_d_pct = 0.25',
     "grades[0].min.platycodin_d_pct", "expected a decimal string"),
    ("catcanh_root.toml", 'plant_part = "root"', 'plant_part = "root"\ncolour = "white"', "$",
     "unknown field `colour`"),
    ("catcanh_root.toml", 'code = "CATCANH"\n', "", "$", "missing required field `code`"),
    ("catcanh_root.toml", 'code = "CATCANH"', 'code = "cat-canh"', "code", "matching regex"),
    ("catcanh_root.toml", 'platycodin_d_pct = "0.25"', 'platycodin_d_pct = "0.05"',
     "grades[0].min.platycodin_d_pct", "below the limit min 0.10"),
    ("catcanh_root.toml", 'platycodin_d_pct = "0.25"', 'saponins_pct = "5"',
     "grades[0].min.saponins_pct", "not a quality parameter"),
    ("catcanh_root.toml", 'grade = "C"', 'grade = "C"\nmin = { platycodin_d_pct = "0.11" }',
     "grades[2]", "lowest band must have no conditions"),
    ("catcanh_root.toml", 'grade = "B"', 'grade = "A"', "grades[1].grade", "duplicate"),
    ("catcanh_root.toml", 'valuation = "platycodin_d_pct"', 'valuation = "total_ash_pct"',
     "valuation", "must be a required content"),
    ("catcanh_root.toml", 'contaminant_profile = "herbal_drug"',
     'contaminant_profile = "spice"', "contaminant_profile", "unknown profile"),
    ("catcanh_root.toml", 'name = "loss_on_drying_pct"', 'name = "platycodin_d_pct"',
     "parameters[1].name", "duplicate parameter"),
    ("que_bark.toml", 'gtin_item = 101', 'gtin_item = 401', "gtin_item",
     "also used by CATCANH-ROOT"),
    ("catcanh_root.toml", 'code = "CATCANH"', 'code = "CATCANH"\n[', "$", "not valid TOML"),
    ("tamthat_root.toml", 'parameter = "roots_per_500g"', 'parameter = "moisture_pct"',
     "physical.parameter", "not a physical parameter"),
    ("tamthat_root.toml", 'max = "14.0"', 'max = "14.0"\nmin = "20"', "parameters[1].min",
     "above max"),
])
def test_broken_spec_names_file_and_field(specs, file, old, new, field, message):
    _edit(specs / "herbs" / file, old, new)
    with pytest.raises(SpecError) as e:
        load_catalogue(specs)
    assert e.value.file == f"herbs/{file}"
    assert e.value.field == field
    assert message in e.value.message
    assert str(e.value).startswith(f"herbs/{file}: {field}: ")


@pytest.mark.parametrize("old,new,field,message", [
    ('pb_mg_kg = { max = "5.0"', "pb_mg_kg = { max = 5.0", "profiles.herbal_drug.eu.pb_mg_kg.max",
     "expected a decimal string"),
    ('pb_mg_kg = { max = "5.0", basis = "as_is", ', 'pb_mg_kg = "5.0"\nx = { ',
     "profiles.herbal_drug.eu.pb_mg_kg", "expected a table"),
    ('[profiles.herbal_drug.eu]\n', '[profiles.herbal_drug.eu]\nzn_mg_kg = { max = "50" }\n',
     "profiles.herbal_drug.eu.zn_mg_kg", "unknown contaminant"),
    ('pb_mg_kg = { max = "5.0", basis = "as_is"', 'pb_mg_kg = { max = "5.0", basis = "dry"',
     "profiles.herbal_drug.eu.pb_mg_kg.basis", "Invalid enum value 'dry'"),
    ('source = "ph_eur_1433", verified = false }', 'source = "ph_eur", verified = false }',
     "profiles.herbal_drug.eu.pb_mg_kg.source", "unknown source 'ph_eur'"),
    ('source = "chp_elements", verified = true }', 'verified = true }',
     "profiles.herbal_drug.domestic.pb_mg_kg.source", "a verified figure must name its source"),
    ('source = "ph_eur_1433", verified = false }', 'source = "ph_eur_1433" }',
     "profiles.herbal_drug.eu.pb_mg_kg", "missing required field `verified`"),
    ('unit = "µg/kg"', 'unit = "ng/g"', "contaminants.aflatoxin_b1_ug_kg.unit", "unknown unit"),
])
def test_broken_contaminant_file(specs, old, new, field, message):
    _edit(specs / "contaminants.toml", old, new)
    with pytest.raises(SpecError) as e:
        load_catalogue(specs)
    assert (e.value.file, e.value.field) == ("contaminants.toml", field)
    assert message in e.value.message


def test_empty_herb_directory(tmp_path):
    (tmp_path / "herbs").mkdir()
    shutil.copy(SPECS_DIR / "contaminants.toml", tmp_path)
    with pytest.raises(SpecError, match="no herb specification files"):
        load_catalogue(tmp_path)


def test_unknown_spec_id(catalogue):
    with pytest.raises(KeyError, match="no herb spec 'QUE-LEAF'"):
        catalogue.get("QUE-LEAF")
