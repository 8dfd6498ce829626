"""Real tables (issue 14): CSV / TSV read with pandas, text columns one-hot encoded and missing
cells imputed by encoders fitted on the training split only, rows without a target dropped,
ID-like columns flagged, splits by time, group, column or a separate test file, the
shuffle pitfall warned about, and predict applying the run's encoders to raw rows."""

from __future__ import annotations

import csv
import json
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

SPECIES = {"Adelie": ("Torgersen", 38.8, 18.3, 190, 3700), "Chinstrap": ("Dream", 48.8, 18.4, 196, 3730),
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
