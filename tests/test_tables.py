"""Real tables (issue 14): CSV / TSV read with pandas, text columns one-hot encoded and missing
cells imputed by encoders fitted on the training split only, rows without a target dropped,
ID-like columns flagged, splits by time, group, column or a separate test file, the
shuffle pitfall warned about, and predict applying the run's encoders to raw rows."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder

import reglab as rl
from reglab.data import DataError, DataWarning
from reglab.data._table import apply_encoding
from reglab.lab.execute import load_data
from reglab.lab.model_file import load_model, read_metadata
from reglab.lab.spec import RunSpec

SPECIES = {"Adelie": ("Torgersen", 38.8, 18.3, 190, 3700),
           "Chinstrap": ("Dream", 48.8, 18.4, 196, 3730),
           "Gentoo": ("Biscoe", 47.5, 15.0, 217, 5080)}


def penguins_like(path: Path, n: int = 102, sep: str = ",") -> Path:
    """The Palmer penguins file as published: species, island, sex as text, NA cells (two
    rows with every measurement NA, some more with sex NA), rows grouped by species."""
    rng = np.random.default_rng(7)
    cols = ["species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm",
            "body_mass_g", "sex", "year"]
    rows = []
    for i in range(n):
        sp = list(SPECIES)[i * 3 // n]
        island, bl, bd, fl, bm = SPECIES[sp]
        if sp == "Adelie" and i % 3:
            island = "Dream" if i % 3 == 1 else "Biscoe"
        row = [sp, island, f"{bl + rng.normal(0, 2):.1f}", f"{bd + rng.normal(0, 1):.1f}",
               str(int(fl + rng.normal(0, 6))), str(int(bm + rng.normal(0, 300))),
               "male" if rng.random() < 0.5 else "female", str(2007 + i % 3)]
        if i in (3, 70):
            row[2:7] = ["NA"] * 5
        elif i % 11 == 5:
            row[6] = "NA"
        rows.append(row)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, delimiter=sep)
        w.writerow(cols)
        w.writerows(rows)
    return path


def messy_table(path: Path, sep: str = ",", bom: bool = False) -> Path:
    """Categories, NaN, an ID column, a quoted field holding the delimiter, missing targets."""
    rng = np.random.default_rng(3)
    lines = [sep.join(["PassengerId", "Sex", "Cabin", "Age", "Fare", "Survived"])]
    for i in range(120):
        sex = "male" if rng.random() < 0.5 else "female"
        age = "" if i % 9 == 0 else f"{rng.uniform(1, 80):.0f}"
        cabin = '"C, deck"' if i % 4 == 0 else ("B" if i % 4 == 1 else "")
        label = "" if i in (10, 20, 30) else str(int((sex == "female") ^ (rng.random() < 0.2)))
        lines.append(sep.join([str(i + 1), sex, cabin, age, f"{rng.uniform(5, 90):.2f}", label]))
    path.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def load(path, **kw):
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        ds = rl.data.load(path, seed=0, **kw)
    return ds, [str(w.message) for w in got if issubclass(w.category, DataWarning)]


def run_cli(argv):
    """``reglab ARGV`` as its own process (a new process, as a user would run it)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-m", "reglab.cli", *argv], env=env, text=True,
                       capture_output=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def run_here(argv):
    """``reglab ARGV`` in this process (an error path: no new process needed to see it)."""
    import contextlib
    import io
    from reglab.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


# -- reading ---------------------------------------------------------------------------------
def test_the_penguins_file_as_published_loads_with_each_step_announced(tmp_path):
    ds, said = load(penguins_like(tmp_path / "penguins.csv"), target="species")
    assert ds.class_names == ["Adelie", "Chinstrap", "Gentoo"]
    assert len(ds.train) + len(ds.val) + len(ds.test) == 102
    assert ds.feature_names == ["island=Biscoe", "island=Dream", "island=Torgersen",
                                "bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                                "body_mass_g", "sex=female", "sex=male", "year"]
    assert all(torch.isfinite(s.X).all() for s in (ds.train, ds.val, ds.test))
    frame = pd.read_csv(tmp_path / "penguins.csv")  # pandas' own NA reading as the reference
    filled = [f"'{c}' ({n})" for c, n in frame.drop(columns="species").isna().sum().items() if n]
    assert said == [
        f"Data file '{tmp_path / 'penguins.csv'}': filled {frame.isna().sum().sum()} missing "
        "cell(s) with the training split's mean (numbers) or most frequent value (text): "
        + ", ".join(filled) + ".",
        f"Data file '{tmp_path / 'penguins.csv'}': one-hot encoded text column(s) 'island' (3 "
        "categories), 'sex' (2 categories) with the training split's categories (unseen ones "
        "encode as all zeros)."]


@pytest.mark.parametrize("name, sep, bom", [("t.csv", ",", False), ("t.tsv", "\t", True),
                                            ("t.csv", ";", True), ("t.txt.csv", "|", False)])
def test_csv_tsv_bom_and_quoted_fields_read_the_same_table(tmp_path, name, sep, bom):
    ds, said = load(messy_table(tmp_path / name, sep=sep, bom=bom), target="Survived")
    ref, _ = load(messy_table(tmp_path / "ref.csv"), target="Survived")
    assert ds.feature_names == ["PassengerId", "Sex=female", "Sex=male", "Cabin=B",
                                "Cabin=C, deck", "Age", "Fare"]  # "C, deck" stayed one field
    assert torch.equal(ds.train.X, ref.train.X) and torch.equal(ds.test.y, ref.test.y)
    where = f"Data file '{tmp_path / name}'"
    assert said[:2] == [
        f"{where}: dropped 3 of 120 rows whose target 'Survived' is missing.",
        f"{where}: column 'PassengerId' looks like a row ID (increasing integers, 117 of 117 "
        "rows unique); it is used as a feature unless you drop it (--drop PassengerId)."]


def test_features_and_drop_choose_the_columns(tmp_path):
    path = messy_table(tmp_path / "t.csv")
    ds, said = load(path, target="Survived", drop=["PassengerId"])
    assert ds.feature_names == ["Sex=female", "Sex=male", "Cabin=B", "Cabin=C, deck", "Age",
                                "Fare"]
    assert not any("row ID" in s for s in said)
    assert f"Data file '{path}': dropped column(s) 'PassengerId' (drop option)." in said
    ds, _ = load(path, target="Survived", features=["Fare", "Sex"])
    assert ds.feature_names == ["Fare", "Sex=female", "Sex=male"]
    with pytest.raises(DataError, match=r"^Unknown column 'Nope' in the 'drop' option for file "):
        load(path, target="Survived", drop=["Nope"])


def test_a_text_id_column_is_flagged_too(tmp_path):
    rows = ["id,x,y"] + [f"row{i:03d},{i % 7},{i % 2}" for i in range(40)]
    (tmp_path / "ids.csv").write_text("\n".join(rows) + "\n")
    _, said = load(tmp_path / "ids.csv", target="y")
    assert any("column 'id' looks like a row ID (a distinct text value in every row" in s
               for s in said)
    assert not any("column 'x'" in s for s in said)


# -- encoders fitted on train only -----------------------------------------------------------
def test_encoders_are_fitted_on_the_training_rows_only(tmp_path):
    path = messy_table(tmp_path / "t.csv")
    ds, _ = load(path, target="Survived", drop=["PassengerId"], standardize=False)
    frame = pd.read_csv(path, keep_default_na=True).dropna(subset=["Survived"])
    frame = frame.reset_index(drop=True)
    train, test = frame.iloc[ds.train.indices.numpy()], frame.iloc[ds.test.indices.numpy()]
    # the reference: scikit-learn's transformers fitted on the training rows alone
    num = SimpleImputer(strategy="mean").fit(train[["Age", "Fare"]])
    cat_imp = SimpleImputer(strategy="most_frequent").fit(train[["Sex", "Cabin"]])
    ohe = OneHotEncoder(handle_unknown="ignore").fit(cat_imp.transform(train[["Sex", "Cabin"]]))

    def reference(rows):
        cats = ohe.transform(cat_imp.transform(rows[["Sex", "Cabin"]])).toarray()
        return np.concatenate([cats, num.transform(rows[["Age", "Fare"]])], axis=1)

    for split, rows in ((ds.train, train), (ds.test, test)):
        np.testing.assert_allclose(split.X.numpy(), reference(rows), rtol=1e-6)
    assert ds.encoding["fill"]["Age"] == pytest.approx(train["Age"].mean())
    assert ds.encoding["fill"]["Age"] != pytest.approx(frame["Age"].mean())


def test_a_category_seen_only_outside_train_encodes_as_zeros(tmp_path):
    path = messy_table(tmp_path / "t.csv")
    ds, _ = load(path, target="Survived", drop=["PassengerId"])
    rows = pd.DataFrame({"Sex": ["male", "robot"], "Cabin": ["B", "Z"], "Age": [None, 30],
                         "Fare": [10.0, 20.0]})
    X = apply_encoding(ds.encoding, rows)
    assert X[:, :4].tolist() == [[0, 1, 1, 0], [0, 0, 0, 0]]  # Sex=female, male, Cabin=B, C,
    assert X[0, 4] == ds.encoding["fill"]["Age"]                # the training mean


# -- splits ------------------------------------------------------------------------------------
def grouped_table(path: Path) -> Path:
    rng = np.random.default_rng(1)
    lines = ["patient,visit,x,y"]
    for i in range(150):
        patient = f"p{rng.integers(0, 30):02d}"
        lines.append(f"{patient},{1000 - i * 3},{rng.normal():.3f},{i % 3}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_group_column_puts_no_group_on_two_sides(tmp_path):
    path = grouped_table(tmp_path / "g.csv")
    frame = pd.read_csv(path)
    for seed in range(4):
        ds = rl.data.load(path, target="y", group_column="patient", seed=seed)
        groups = [set(frame.patient.iloc[s.indices.numpy()]) for s in (ds.train, ds.val, ds.test)]
        assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
        assert sum(len(s) for s in (ds.train, ds.val, ds.test)) == 150
        assert "patient" not in ds.feature_names
        assert len(ds.test) >= round(0.2 * 150) and len(ds.val) >= round(0.15 * 150)


def test_time_split_keeps_the_order(tmp_path):
    path = grouped_table(tmp_path / "g.csv")   # 'visit' decreases down the file
    frame = pd.read_csv(path)
    ds = rl.data.load(path, target="y", split="time", order_column="visit")
    times = [frame.visit.iloc[s.indices.numpy()].to_numpy() for s in (ds.train, ds.val, ds.test)]
    assert times[0].max() < times[1].min() and times[1].max() < times[2].min()
    assert all(np.all(np.diff(t) > 0) for t in times)   # each split in time order
    assert [len(t) for t in times] == [97, 23, 30]  # round(0.15 * 150) = 23, 0.2 * 150
    with pytest.raises(DataError, match="split='time' and order_column go together"):
        rl.data.load(path, target="y", split="time")


def test_split_column_and_a_separate_test_file(tmp_path):
    rows = ["x,c,part,y"] + [f"{i},{'ab'[i % 2]},{['train', 'val', 'test'][(i // 4) % 3]},{i % 2}"
                             for i in range(60)]
    (tmp_path / "s.csv").write_text("\n".join(rows) + "\n")
    ds = rl.data.load(tmp_path / "s.csv", target="y", split_column="part")
    part = np.array([["train", "val", "test"][(i // 4) % 3] for i in range(60)])
    for name, s in (("train", ds.train), ("val", ds.val), ("test", ds.test)):
        assert set(part[s.indices.numpy()]) == {name}
    assert ds.feature_names == ["x", "c=a", "c=b"]
    train, test = messy_table(tmp_path / "train.csv"), tmp_path / "test.csv"
    test.write_text("PassengerId,Sex,Cabin,Age,Fare,Survived\n1,robot,,,12.5,1\n2,male,B,40,3,0\n")
    ds, _ = load(train, target="Survived", test_data=str(test), drop=["PassengerId"])
    assert len(ds.test) == 2 and len(ds.train) + len(ds.val) == 117
    raw = ds.test.X * ds.std + ds.mean   # undo the standardization
    assert raw[0, :2].tolist() == pytest.approx([0.0, 0.0], abs=1e-6)  # unseen 'robot': zeros
    assert raw[0, 4].item() == pytest.approx(ds.encoding["fill"]["Age"], rel=1e-5)


# -- the shuffle pitfall -------------------------------------------------------------------------
def test_labels_in_long_runs_without_shuffle_are_warned_about(tmp_path):
    path = penguins_like(tmp_path / "penguins.csv")   # sorted by species, as published
    _, said = load(path, target="species", shuffle=False)
    runs = [s for s in said if "long runs" in s]
    assert runs == [
        f"Data file '{path}': the labels come in long runs (3 runs over 102 rows; about 68 in "
        "random order) and the split does not shuffle (shuffle=False); class counts train "
        "[34, 33, 0], val [0, 1, 14], test [0, 0, 20]: validation and test do not look like "
        "train, so early stopping and the test score estimate the wrong thing. Shuffle the "
        "split unless the order is the point."]
    _, said = load(path, target="species")            # shuffled: nothing to say
    assert not any("long runs" in s for s in said)


# -- the CLI and models that travel --------------------------------------------------------------
@pytest.mark.slow  # 16 s; predict in a new process stays in the default run (test_model_file)
def test_cli_trains_on_raw_penguins_and_predict_in_a_new_process_gives_the_runs_predictions(
        tmp_path):
    path = penguins_like(tmp_path / "penguins.csv")
    code, _, err = run_cli(["run", "--data", str(path), "--target", "species", "--drop", "year",
                            "--epochs", "3", "--out", str(tmp_path / "runs"), "--name", "p",
                            "-q"])
    assert code == 0, err
    lines = err.splitlines()
    assert f"reglab: warning: Data file '{path}': dropped column(s) 'year' (drop option)." in lines
    assert len(lines) == len(set(lines))   # each step said once, not once per load
    weights = tmp_path / "runs" / "p" / "models" / "run-s0.safetensors"
    model, predictor = load_model(weights)
    assert read_metadata(weights)["encoding"]["columns"][0] == "island"
    ds = rl.data.load(path, target="species", drop=["year"], seed=0)
    with torch.no_grad():
        expected = torch.softmax(model(ds.test.X), dim=1).numpy()
    raw = pd.read_csv(path, dtype=str, keep_default_na=False).iloc[ds.test.indices.numpy()]
    raw.to_csv(tmp_path / "new.csv", index=False)      # raw cells: text, "NA"
    code, out, err = run_cli(["predict", str(weights), "--data", str(tmp_path / "new.csv")])
    assert code == 0, err
    got = pd.read_csv(pd.io.common.StringIO(out))
    np.testing.assert_allclose(got[[f"prob_{c}" for c in ds.class_names]].to_numpy(), expected,
                               rtol=1e-5, atol=1e-7)
    assert list(got.prediction) == [ds.class_names[k] for k in expected.argmax(axis=1)]


def test_the_data_cache_tells_runs_with_other_columns_or_splits_apart(tmp_path):
    path = str(grouped_table(tmp_path / "g.csv"))
    plain = load_data(RunSpec(data=path, target="y"))
    dropped = load_data(RunSpec(data=path, target="y", drop=("patient",)))
    grouped = load_data(RunSpec(data=path, target="y", group_column="patient"))
    timed = load_data(RunSpec(data=path, target="y", split="time", order_column="visit"))
    assert "patient=p00" in plain.feature_names and "patient=p00" not in dropped.feature_names
    assert not torch.equal(grouped.test.indices, timed.test.indices)
    assert load_data(RunSpec(data=path, target="y", drop=("patient",))) is dropped


def test_cli_split_flags_reach_the_data(tmp_path):
    path = grouped_table(tmp_path / "g.csv")
    code, _, err = run_cli(["run", "--data", str(path), "--target", "y", "--split", "time",
                            "--order-column", "visit", "--drop", "patient", "--epochs", "2",
                            "--out", str(tmp_path / "runs"), "--name", "t", "-q"])
    assert code == 0, err
    meta = read_metadata(tmp_path / "runs" / "t" / "models" / "run-s0.safetensors")
    assert meta["spec"]["split"] == "time" and meta["spec"]["order_column"] == "visit"
    assert meta["encoding"]["columns"] == ["x"]          # visit orders, patient dropped
    code, _, err = run_here(["run", "--data", str(path), "--target", "y", "--split", "time",
                             "--epochs", "2", "--out", str(tmp_path / "runs"), "-q"])
    assert code == 2 and err.endswith("split='time' and order_column go together (a "
                                      "time-ordered split needs the column that orders the "
                                      "rows).\n"), err
