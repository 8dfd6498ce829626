"""The data files inside the package: shipped by pyproject's package-data, and well-formed.

``lab/defaults.toml`` holds the default arms of ``reglab compare`` per data kind; a person
edits it when strengths are re-selected, so a typo in a key or a missing arm must fail here.
``report/catalogue.toml`` holds every en/vi text (its contents are tested in test_i18n.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from reglab.lab.arms import ARMS, BASE, EXAMPLES, MODEL_BASE, arm_changes, base_changes
from reglab.lab.spec import RunSpec, read_package_toml
from reglab.report import i18n

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "reglab"


def test_every_data_file_in_the_package_is_in_package_data():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["reglab"]
    shipped = {p for pattern in patterns for p in PACKAGE.glob(pattern)}
    data = {p for ext in ("toml", "json", "j2") for p in PACKAGE.rglob(f"*.{ext}")}
    assert data and data <= shipped, sorted(str(p.relative_to(PACKAGE)) for p in data - shipped)


def test_defaults_give_each_kind_a_base_and_every_arm():
    assert {"image", "signal", "tabular"} <= set(BASE)
    for kind in BASE:
        assert list(arm_changes(kind)) == [*ARMS, *EXAMPLES], kind


@pytest.mark.parametrize("kind", sorted(BASE))
def test_every_default_arm_is_a_valid_spec(kind):
    for model in (None, *MODEL_BASE[kind]):  # the kind's defaults, then each model's own
        base = base_changes(kind, model)
        assert isinstance(base["hidden"], tuple)  # TOML lists come back as the spec's tuples
        assert model is None or base["model"] == model
        for arm, changes in arm_changes(kind, model).items():
            spec = RunSpec(data="digits", **{**base, **changes})  # unknown keys / values raise
            assert {k: getattr(spec, k) for k in changes} == changes, (kind, model, arm)


def test_a_models_own_tables_name_only_known_models_and_arms():
    doc = read_package_toml("reglab.lab", "defaults.toml")
    for kind, table in doc.items():
        assert set(table) <= {"base", "arms", "models"}, kind
        for model, own in table.get("models", {}).items():
            assert model in ("linear", "mlp", "cnn") and set(own) <= {"base", "arms"}, model
            assert set(own.get("arms", {})) <= set(ARMS), (kind, model)
            assert "model" not in own.get("base", {})  # the table's name says which


def test_a_catalogue_key_without_one_text_per_language_is_an_error(monkeypatch):
    doc = {"note_says_vi": {}, "report.title": {"en": "reglab report: {name}"}}
    monkeypatch.setattr(i18n, "read_package_toml", lambda package, name: doc)
    with pytest.raises(ValueError) as err:
        i18n._read_catalogue()
    assert str(err.value) == ("report/catalogue.toml: ['report.title'] has ['en']; every key "
                              "has one text per language of ('en', 'vi')")


def test_a_lab_template_without_its_vietnamese_is_an_error(monkeypatch):
    doc = {"note_says_vi": {}, "lab_vi": {"label_check": {}, "path": {}}}
    monkeypatch.setattr(i18n, "read_package_toml", lambda package, name: doc)
    with pytest.raises(ValueError) as err:
        i18n._read_catalogue()
    assert str(err.value).startswith("report/catalogue.toml: ['label_check.")
    assert str(err.value).endswith("has ['en']; every key has one text per language of "
                                   "('en', 'vi')")
