"""Bad input, everywhere (issue 8): one table of bad inputs over the Python API, the CLI's flags,
TOML specs and users' data files.

For every row:

- Python API: the call raises ``rl.InvalidParameterError`` (``DataError`` for data, a subclass)
  whose message matches the row's regex in full: it names the input and what is allowed.
- CLI (``reglab.cli.main`` in this process, which returns the exit code the entry point passes
  to ``sys.exit``; ``test_the_entry_point_in_a_subprocess_*`` checks that the installed program
  behaves the same): exit code 2, stderr is exactly one line ``reglab: error: <message>`` with
  the message matching the row's regex, no "Traceback" anywhere.
- Nothing half-written. The rule: a rejected command leaves the ``--out`` folder as it found
  it: no new file or folder (so no experiment folder for a rejected new experiment), and an
  existing experiment keeps the same files with the same bytes, its SQLite store the same rows.

Paths in messages are matched with the data folder shown as ``D``.

Rows once marked ``xfail(strict=True)`` were real bugs found by this table; all are fixed.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import sqlite3
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

import reglab as rl
from reglab import augment as A
from reglab.cli import main
from reglab.data import DataError
from reglab.lab import arms as arms_mod
from reglab.lab.compare import make_plan
from reglab.lab.spec import RunSpec, load_toml
from reglab.lab.store import Store, check_name

NAN = float("nan")
# A command that would succeed costs about a second with these (so a row whose check is
# missing fails fast instead of training the default 21-run comparison).
CHEAP = ["--epochs", "1", "--hidden", "8", "--seeds", "1", "--arms", "none", "--workers", "1",
         "--quiet"]


def tpl(name: str, owner: str, allowed: str, got: str) -> str:
    """The one message template, as a regex: parameter, owner, what is allowed, value."""
    return re.escape(f"The '{name}' parameter of {owner} must be {allowed}. Got {got} instead.")


def spec(name: str, allowed: str, got: str) -> str:
    return tpl(name, "RunSpec", allowed, got)


# The CLI names the flag or the TOML file, line and key of a bad value, not RunSpec (issue 15).
def flag(names: str, allowed: str, got: str) -> str:
    return re.escape(f"Invalid value for {names}: must be {allowed}. Got {got} instead.")


def toml(file: str, line: int, key: str, allowed: str, got: str, table: str = "") -> str:
    of = f" of [{table}]" if table else ""
    return re.escape(f"D/{file}, line {line}: key '{key}'{of} must be {allowed}. Got {got} "
                     "instead.")


def unknown(file: str, line: int, key: str, hint: str = "", table: str = "",
            keys: str = "{" + ", ".join(RunSpec.keys()) + "}") -> str:
    within = f" in [{table}]" if table else ""
    more = f" Did you mean '{hint}'?" if hint else ""
    return re.escape(f"D/{file}, line {line}: unknown key '{key}'{within}; the keys are "
                     f"{keys}.{more}")


SPEC_KEYS = ", ".join(RunSpec.keys())  # every key, in declaration order
# the built-in arms, then the example arms one can ask for (reglab.lab.arms.EXAMPLES)
ARMS = "{" + ", ".join([*arms_mod.ARMS, *arms_mod.EXAMPLES]) + "}"
NAME_RULE = "1-128 letters, digits, '.', '_' or '-' (no path separators, no '..')"
IMAGE_AUGS = "{'rotate', 'flip', 'vflip', 'scale', 'translate', 'noise', 'erase'}"
UNKNOWN_KEY = spec("key", "one of {" + SPEC_KEYS + "}", "'{}'")
FLOAT = "a float in the range [0, inf)"
AUGS = f"one of {IMAGE_AUGS} for kind 'image'"
BUILTINS = "digits, mnist1d, breast_cancer, wine, sparse, diabetes, sparse_regression"


# -- users' files: one folder for the whole module -------------------------------------------
FILES = {
    "labels.csv": "a,b,label\n" + "".join(f"{i},{i % 5},{'xy'[i % 2]}\n" for i in range(30)),
    "text.csv": "a,b,label\n1,2,x\n3,abc,y\n" + "".join(f"{i},{i},{'xy'[i % 2]}\n"
                                                        for i in range(30)),
    "nan.csv": "a,b,label\n1,,x\n" + "".join(f"{i},{i},{'xy'[i % 2]}\n" for i in range(30)),
    "nan_text.csv": "a,b,label\n1,nan,x\n" + "".join(f"{i},{i},{'xy'[i % 2]}\n"
                                                     for i in range(30)),
    "one_class.csv": "a,b,label\n" + "".join(f"{i},{i},x\n" for i in range(30)),
    "empty.csv": "",
    "header_only.csv": "a,b,label\n",
    "ragged.csv": "a,b,label\n1,2\n",
    "notes.txt": "hello\n",
    "empty.npz": "",
    "truncated.toml": "epochs = 3\nhidden = [16,\n",
    "unknown_key.toml": "epochs = 1\nhidden = [8]\ndropuot = 0.5\n",
    "out_of_range.toml": "epochs = 1\nhidden = [8]\ndropout = 1.0\n",
    "wrong_type.toml": 'epochs = "ten"\n',
    "nan.toml": "epochs = 1\nhidden = [8]\nl2 = nan\n",
    "not_utf8.toml": b"epochs = \xff\n",
    "run_table.toml": "[run]\nepochs = 0\n",
    "seeds_0.toml": "seeds = 0\nepochs = 1\nhidden = [8]\narms = ['none']\n",
    "seeds_bool.toml": "seeds = true\nepochs = 1\nhidden = [8]\narms = ['none']\n",
    "arms_unknown.toml": "epochs = 1\nhidden = [8]\nseeds = 1\narms = ['none', 'bogus']\n",
    "arm_table_unknown.toml": "[arms.Big-L2]\nl2 = 0.1\n",  # [arms.bogus] is a new arm
    "arm_table_key.toml": "[arms.l2]\nl3 = 0.1\n",
    "arm_table_value.toml": "[arms.l2]\nl2 = -0.1\n",
    "arms_int.toml": "epochs = 1\nhidden = [8]\nseeds = 1\narms = 3\n",
    "compare_table_key.toml": "[compare]\narms = ['none']\nrepeats = 2\n",
    "compare_table_arm.toml": "[compare]\narms = ['none', 'bogus']\n",
    "arms_scalar.toml": "[arms]\nl2 = 0.1\n",
    # issue 16 and its red-team pass
    "huge_values.csv": "a,b,label\n" + "".join(  # b: unique, not monotone (no ID warning)
        f"{(-1) ** i * 1.7e308!r},{i * 7 % 30},{'xy'[i % 2]}\n" for i in range(30)),
    "big.toml": "# " + "x" * (1 << 20) + "\nepochs = 1\n",
    "deep.toml": "a = " + "[" * 5000 + "]" * 5000 + "\n",
    "spec_list.toml": "hidden = [8, 0.5]\n",
    "run_and_top.toml": "epochs = 5\n[run]\nlr = 0.1\n",
    "bom.csv": "\ufeffa,b,label\n" + "".join(f"{i},{i % 5},{'xy'[i % 2]}\n" for i in range(30)),
    "dup_header.csv": "a,a,label\n1,2,x\n",
    "inf.csv": "a,b,label\n1,inf,x\n" + "".join(f"{i},{i},{'xy'[i % 2]}\n" for i in range(30)),
    "hex.csv": "a,b,label\n0x10,2,x\n" + "".join(f"{i},{i},{'xy'[i % 2]}\n" for i in range(30)),
    "empty_label.csv": "a,b,label\n1,2,\n" + "".join(f"{i},{i},{'xy'[i % 2]}\n"
                                                      for i in range(30)),
    "only_target.csv": "label\nx\ny\n",
    "tiny_class.csv": "a,label\n" + "".join(f"{i},x\n" for i in range(30)) + "1,y\n",
    "latin1.csv": "a,b,label\n1,2,caf\xe9\n".encode("latin-1"),
    "nul.csv": b"a,b,label\n1,2\x00,x\n",
}


@pytest.fixture(scope="module")
def d(tmp_path_factory) -> Path:
    """The folder of users' bad files (and a few good ones) shared by every row."""
    root = tmp_path_factory.mktemp("userdata")
    for name, text in FILES.items():
        (root / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    np.savez(root / "no_y.npz", X=np.zeros((10, 3)))
    rng0 = np.random.default_rng(0)
    y60 = np.arange(60) % 2
    np.save(root / "single.npy", np.zeros((10, 3)))
    (root / "single.npz").write_bytes((root / "single.npy").read_bytes())  # a renamed .npy
    np.savez(root / "no_features.npz", X=np.zeros((60, 0)), y=y60)
    np.savez(root / "huge_labels.npz", X=rng0.normal(size=(60, 3)),
             y=np.where(y60 == 1, 1e300, 2e300))
    np.savez(root / "huge_images.npz", y=y60,
             X=np.stack([np.zeros((60, 4, 4)), 1.7e308 * rng0.choice([-1.0, 1.0], (60, 4, 4))],
                        axis=1))
    np.savez(root / "tiny_images.npz", X=rng0.normal(size=(60, 1, 2, 2)), y=y60)
    np.savez(root / "short_signal.npz", X=rng0.normal(size=(60, 1, 1)), y=y60)
    np.savez(root / "short_signal3.npz", X=rng0.normal(size=(60, 1, 3)), y=y60)
    np.savez(root / "bad_names.npz", X=rng0.normal(size=(60, 3)), y=y60,
             feature_names=np.array(["a", "b"]))
    np.savez(root / "object_x.npz", X=np.array([[1, "a"]] * 60, dtype=object), y=y60)
    np.savez(root / "complex_x.npz", X=np.ones((60, 2), dtype=complex), y=y60)
    np.savez(root / "short_y.npz", X=np.zeros((60, 2)), y=y60[:50])
    np.savez(root / "two_d_y.npz", X=np.zeros((60, 2)), y=np.zeros((60, 2)))
    np.savez(root / "half_labels.npz", X=rng0.normal(size=(60, 2)), y=y60 + 0.5)
    (root / "not_zip.npz").write_bytes(b"PK\x03\x04garbage")
    os.mkfifo(root / "fifo.toml")
    os.mkfifo(root / "fifo.csv")
    _bomb(root / "bomb.npz")
    (root / "zero.csv").symlink_to("/dev/zero")
    for folder in ("no_images/cat", "no_images/dog", "no_classes", "corrupt/cat", "corrupt/dog"):
        (root / folder).mkdir(parents=True)
    from PIL import Image
    rng = np.random.default_rng(0)
    for c in ("cat", "dog"):
        for i in range(6):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(
                root / "corrupt" / c / f"{i}.png")
    (root / "corrupt" / "dog" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot an image")
    return root


def _bomb(path: Path) -> None:
    """An .npz whose X header promises 10**7 x 10**5 float64 (7.3 TiB) and holds no data:
    what a compressed archive of zeros looks like to the loader, at no cost to the test."""
    import zipfile
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (10**7, 10**5)})
    y = io.BytesIO()
    np.save(y, np.zeros(2))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("X.npy", header.getvalue())  # the magic and the header, no data
        zf.writestr("y.npy", y.getvalue())


@dataclass(frozen=True)
class Row:
    """One bad input: how it is given, what is expected, and (for known bugs) the fix."""

    id: str
    how: str  # "api" or "cli"
    call: Callable[[Path], object] | list[str]  # api: f(d); cli: argv with "{d}" for the folder
    message: str  # regex the whole message must match (the data folder shown as D)
    error: type = rl.InvalidParameterError
    bug: str | None = None  # xfail reason: the bug and its fix

    def param(self):
        marks = [pytest.mark.xfail(strict=True, reason=self.bug)] if self.bug else []
        return pytest.param(self, id=f"{self.how}-{self.id}", marks=marks)


def api(id, call, message, error=rl.InvalidParameterError, bug=None) -> Row:
    return Row(id, "api", call, message, error, bug)


def cli(id, argv, message, bug=None, cheap=True) -> Row:
    # cheap flags first: for a repeated option the last value wins, so the row's flags decide
    argv = [argv[0], *(CHEAP if cheap else []), *argv[1:]]
    return Row(id, "cli", argv, message, rl.InvalidParameterError, bug)


lin = torch.nn.Linear(3, 2)


ROWS = [
    # ---- Python API: core regularizers ------------------------------------------------------
    api("l1-negative", lambda d: rl.L1(-1.0),
        tpl("lam", "L1", "a float in the range [0, inf) or a schedule", "-1.0")),
    api("l2-nan", lambda d: rl.L2(NAN), tpl("lam", "L2", "a float in the range [0, inf) or a "
                                            "schedule", "nan")),
    api("l1-inf", lambda d: rl.L1(math.inf),
        tpl("lam", "L1", "a float in the range [0, inf) or a schedule", "inf")),
    api("l1-string", lambda d: rl.L1("0.1"),
        tpl("lam", "L1", "a float in the range [0, inf) or a schedule", "'0.1'")),
    api("elasticnet-ratio", lambda d: rl.ElasticNet(0.1, l1_ratio=1.5),
        tpl("l1_ratio", "ElasticNet", "a float in the range [0, 1]", "1.5")),
    api("grouplasso-negative", lambda d: rl.GroupLasso(-0.1),
        tpl("lam", "GroupLasso", "a float in the range [0, inf) or a schedule", "-0.1")),
    api("proximal-nan", lambda d: rl.ProximalL1(NAN),
        tpl("lam", "ProximalL1", "a float in the range [0, inf) or a schedule", "nan")),
    api("decay-negative", lambda d: rl.DecoupledWeightDecay(-1e-2),
        tpl("lam", "DecoupledWeightDecay", "a float in the range [0, inf) or a schedule",
            "-0.01")),
    api("param-groups-negative", lambda d: rl.param_groups(lin, weight_decay=-1),
        tpl("weight_decay", "param_groups", "a float in the range [0, inf)", "-1")),
    api("dropout-rate-1", lambda d: rl.Dropout(drop=1.0),
        tpl("drop", "Dropout", "a float in the range [0, 1) or a schedule", "1.0")),
    api("dropout-nan", lambda d: rl.Dropout(drop=NAN),
        tpl("drop", "Dropout", "a float in the range [0, 1) or a schedule", "nan")),
    api("dropout-drop-and-keep", lambda d: rl.Dropout(drop=0.5, keep=0.5),
        re.escape("Exactly one of the 'drop' and 'keep' parameters of Dropout must be given "
                  "(keep = 1 - drop; PyTorch's p is drop). Got both drop=0.5 and keep=0.5 "
                  "instead.")),
    api("dropout-keep-0", lambda d: rl.Dropout(keep=0.0),
        tpl("keep", "Dropout", "a float in the range (0, 1] or a schedule", "0.0")),
    api("functional-dropout-1", lambda d: rl.dropout.dropout(torch.zeros(3), 1.0),
        tpl("drop", "dropout", "a float in the range [0, 1)", "1.0")),
    api("droppath-negative", lambda d: rl.DropPath(drop=-0.1),
        tpl("drop", "DropPath", "a float in the range [0, 1) or a schedule", "-0.1")),
    api("dropconnect-not-linear", lambda d: rl.DropConnect(torch.nn.ReLU(), drop=0.5),
        tpl("linear", "DropConnect", "an nn.Linear", "ReLU()")),
    api("dropblock-size-0", lambda d: rl.DropBlock2d(drop=0.1, block_size=0),
        tpl("block_size", "DropBlock2d", "an int in the range [1, inf)", "0")),
    api("mc-predict-0-samples", lambda d: rl.mc_predict(
        torch.nn.Sequential(lin, rl.Dropout(drop=0.5)), torch.zeros(2, 3), samples=0),
        tpl("samples", "mc_predict", "an int in the range [1, inf)", "0")),
    # ---- Python API: early stopping ---------------------------------------------------------
    api("patience-negative", lambda d: rl.EarlyStopping(patience=-1),
        tpl("patience", "EarlyStopping", "an int in the range [0, inf) or None", "-1")),
    api("monitor-unknown-key", lambda d: rl.EarlyStopping(monitor="val_los").step(
        {"val_loss": 1.0}),
        re.escape("The 'metrics' parameter of EarlyStopping.step must contain the key "
                  "'val_los'. Got keys ['val_loss'] instead.")),
    api("mode-unknown", lambda d: rl.EarlyStopping(mode="maximum"),
        tpl("mode", "EarlyStopping", "one of {'min', 'max'}", "'maximum'")),
    api("min-delta-nan", lambda d: rl.EarlyStopping(min_delta=NAN),
        tpl("min_delta", "EarlyStopping", "a float in the range [0, inf)", "nan")),
    api("gl-alpha-negative", lambda d: rl.GL(alpha=-1),
        tpl("alpha", "GL", "a float in the range (0, inf)", "-1")),
    # ---- Python API: augmentation -----------------------------------------------------------
    api("noise-negative", lambda d: A.GaussianNoise(-1.0),
        tpl("std", "GaussianNoise", "a float in the range [0, inf)", "-1.0")),
    api("rotation-nan", lambda d: A.RandomRotation(NAN),
        tpl("degrees", "RandomRotation", "a float in the range [0, 180]", "nan")),
    api("flip-p", lambda d: A.HorizontalFlip(p=1.5),
        tpl("p", "HorizontalFlip", "a float in the range [0, 1]", "1.5")),
    api("mixup-negative", lambda d: A.Mixup(alpha=-1),
        tpl("alpha", "Mixup", "a float in the range (0, inf)", "-1")),
    api("augment-unknown-name", lambda d: A.from_names(["bogus"], "image"),
        tpl("names", "from_names", f"one of {IMAGE_AUGS} for kind 'image'", "'bogus'")),
    api("augment-unknown-kind", lambda d: A.from_names(["noise"], "audio"),
        tpl("kind", "from_names", "one of {'image', 'signal', 'tabular'}", "'audio'")),
    api("compose-strength-negative", lambda d: A.Compose([A.GaussianNoise(0.1)], strength=-1),
        tpl("strength", "Compose", "a float in the range [0, inf) or a schedule", "-1")),
    # ---- Python API: the lab ----------------------------------------------------------------
    api("spec-dropout-1", lambda d: RunSpec(dropout=1.0),
        spec("dropout", "a float in the range [0, 1)", "1.0")),
    api("spec-lr-nan", lambda d: RunSpec(lr=NAN), spec("lr", "a float in the range (0, inf)",
                                                       "nan")),
    api("spec-unknown-key", lambda d: RunSpec.from_dict({"dropuot": 0.5}),
        UNKNOWN_KEY.replace("'\\{\\}'", "'dropuot'") + re.escape(" Did you mean 'dropout'?")),
    api("spec-patience-negative", lambda d: RunSpec(patience=-1),
        spec("patience", "an int in the range [0, 100000]", "-1")),
    api("plan-unknown-arm", lambda d: make_plan(RunSpec(), "image", ["none", "bogus"], 2),
        tpl("arms", "compare", f"a list of {ARMS}", "'bogus'")),
    api("plan-seeds-0", lambda d: make_plan(RunSpec(), "image", ["none"], 0),
        tpl("seeds", "compare", "an int in the range [1, 1000]", "0")),
    api("name-dotdot", lambda d: check_name("../x"),
        tpl("name", "the experiment", NAME_RULE, "'../x'")),
    api("name-absolute", lambda d: Store.open(d / "out", "/etc"),
        tpl("name", "the experiment", NAME_RULE, "'/etc'")),
    api("store-out-is-a-file", lambda d: Store.open(d / "notes.txt", "x"),
        tpl("out", "the experiment", "a folder that can be created and written", "'D/notes.txt'")),
    api("toml-truncated", lambda d: load_toml(d / "truncated.toml"),
        r"The config file 'D/truncated\.toml' is not valid TOML: .+\."),
    api("toml-missing", lambda d: load_toml(d / "missing.toml"),
        spec("config", "an existing TOML file", "'D/missing.toml'")),
    api("toml-folder", lambda d: load_toml(d),
        spec("config", "an existing, readable TOML file", "'D'")),
    # ---- Python API: users' data ------------------------------------------------------------
    api("data-unknown", lambda d: rl.data.load("nope"),
        re.escape(f"Unknown data set 'nope': not a built-in ({BUILTINS}) and no file or folder "
                  "of that name exists."), DataError),
    api("csv-missing-target-column", lambda d: rl.data.load(d / "labels.csv", target="y"),
        re.escape("Unknown target column 'y' in file 'D/labels.csv'; available columns: a, b, "
                  "label."), DataError),
    api("csv-one-class", lambda d: rl.data.load(d / "one_class.csv", target="label"),
        re.escape("Only one class ('x', 30 samples) in the labels of file 'D/one_class.csv'; "
                  "classification needs at least 2."), DataError),
    api("csv-empty-file", lambda d: rl.data.load(d / "empty.csv", target="label"),
        re.escape("Data file 'D/empty.csv' is empty."), DataError),
    api("npz-without-y", lambda d: rl.data.load(d / "no_y.npz"),
        re.escape("Data file 'D/no_y.npz' has no array named 'y'; it needs arrays 'X' and 'y', "
                  "and holds: X."), DataError),
    api("folder-without-images", lambda d: rl.data.load(d / "no_images"),
        re.escape("Data folder 'D/no_images' has no images in its class sub-folders (cat, dog); "
                  "image suffixes read: .png, .jpg, .jpeg, .bmp, .gif, .tif, .tiff, .webp, "
                  ".ppm, .pgm."), DataError),
    api("corrupt-image", lambda d: rl.data.load(d / "corrupt"),
        r"Corrupt or unreadable image 'D/corrupt/dog/bad\.png' in folder 'D/corrupt': .+\.",
        DataError),
    api("data-seed-negative", lambda d: rl.data.load("wine", seed=-1),
        tpl("seed", "reglab.data.load", "an int in the range [0, inf)", "-1"), DataError),
    api("data-unknown-option", lambda d: rl.data.load("wine", bogus=1),
        re.escape("Unknown option 'bogus' for the built-in data set 'wine'; allowed options: "
                  "none."), DataError),

    # ---- CLI flags --------------------------------------------------------------------------
    cli("l2-negative", ["compare", "--l2", "-1"],
        flag("'--l2'", "a float in the range [0, inf)", "-1.0")),
    cli("l1-nan", ["compare", "--l1", "nan"], flag("'--l1'", FLOAT, "nan")),
    cli("l2-overflows-to-inf", ["compare", "--l2", "1e400"],
        flag("'--l2'", "a float in the range [0, inf)", "inf")),
    cli("dropout-1", ["compare", "--dropout", "1"],
        flag("'--dropout'", "a float in the range [0, 1)", "1.0")),
    cli("dropout-nan", ["run", "--dropout", "nan"],
        flag("'--dropout'", "a float in the range [0, 1)", "nan"), cheap=False),
    cli("patience-negative", ["compare", "--patience", "-1"],
        flag("'--patience' / '--early-stopping'", "an int in the range [0, 100000]", "-1")),
    cli("unknown-arm", ["compare", "--arms", "none,bogus"],
        flag("'--arms'", f"a list of {ARMS}", "'bogus'")),
    cli("no-arms", ["compare", "--arms", ""],
        flag("'--arms'", f"a non-empty list of {ARMS}", "[]")),
    cli("repeated-arm", ["compare", "--arms", "none,none"],
        flag("'--arms'", "a list without repeats", "'none,none'")),
    cli("seeds-0", ["compare", "--seeds", "0"],
        flag("'--seeds' / '-s'", "an int in the range [1, 1000]", "0")),
    cli("seeds-not-a-number", ["compare", "--seeds", "abc"],
        r"Invalid value for '--seeds' / '-s': .*integer.*"),
    cli("epochs-negative", ["compare", "--epochs", "-1"],
        flag("'--epochs' / '-e'", "an int in the range [1, 100000]", "-1")),
    cli("epochs-0", ["run", "--epochs", "0"],
        flag("'--epochs' / '-e'", "an int in the range [1, 100000]", "0"), cheap=False),
    cli("seed-negative", ["run", "--epochs", "1", "--seed", "-1"],
        flag("'--seed'", "an int in the range [0, 4294967295]", "-1"), cheap=False),
    cli("unknown-model", ["compare", "--model", "resnet"],
        flag("'--model' / '-m'", "one of {'linear', 'mlp', 'cnn'}", "'resnet'")),
    cli("cnn-on-tabular", ["compare", "--model", "cnn", "--data", "wine"],
        flag("'--model' / '-m'",
             "'linear' or 'mlp' for tabular data (cnn needs an image or a signal)",
             "'cnn'")),
    cli("unknown-data", ["compare", "--data", "nope"],
        re.escape(f"Unknown data set 'nope': not a built-in ({BUILTINS}) and no file or folder "
                  "of that name exists.")),
    cli("empty-data-name", ["compare", "--data", ""],
        flag("'--data' / '-d'", "a non-empty string", "''")),
    cli("unknown-augment", ["compare", "--arms", "none,augment", "--augment", "bogus"],
        flag("'--augment' / '-a'", f"one of {IMAGE_AUGS} for kind 'image'", "'bogus'")),
    cli("unknown-augment-arm-not-run", ["compare", "--augment", "bogus"],
        flag("'--augment' / '-a'", f"one of {IMAGE_AUGS} for kind 'image'", "'bogus'")),
    cli("image-augment-on-tabular", ["compare", "--data", "wine", "--arms", "none,augment",
                                     "--augment", "rotate"],
        flag("'--augment' / '-a'", "one of {'noise', 'swap'} for kind 'tabular'", "'rotate'")),
    cli("cutmix-on-tabular-arm-not-run", ["compare", "--data", "wine", "--cutmix", "1"],
        flag("'--cutmix'", "0 for data that is not an image", "1.0")),
    cli("augment-strength-nan", ["compare", "--augment-strength", "nan"],
        flag("'--augment-strength'", "a float in the range [0, inf)", "nan")),
    cli("mixup-negative", ["compare", "--mixup", "-1"],
        flag("'--mixup'", "a float in the range [0, inf)", "-1.0")),
    cli("lr-not-a-number", ["compare", "--lr", "abc"],
        r"Invalid value for '--lr': .*number.*"),
    cli("lr-0", ["compare", "--lr", "0"], flag("'--lr'", "a float in the range (0, inf)", "0.0")),
    cli("batch-size-0", ["compare", "--batch-size", "0"],
        flag("'--batch-size'", "an int in the range [1, 1000000]", "0")),
    cli("hidden-0", ["compare", "--hidden", "0"],
        flag("'--hidden'", "a non-empty list of ints in the range [1, 65536]", "(0,)")),
    cli("hidden-not-ints", ["compare", "--hidden", "8,,x"],
        flag("'--hidden'", "comma-separated ints", "'8,,x'")),
    cli("unknown-activation", ["compare", "--activation", "swish"],
        flag("'--activation'", "one of {'relu', 'gelu', 'tanh', 'silu'}", "'swish'")),
    cli("unknown-optimizer", ["compare", "--optimizer", "lbfgs"],
        flag("'--optimizer'", "one of {'sgd', 'adam', 'adamw'}", "'lbfgs'")),
    cli("unknown-device", ["compare", "--device", "tpu"],
        flag("'--device'", "one of {'cpu', 'cuda', 'mps', 'auto'}", "'tpu'")),
    cli("name-with-dotdot", ["compare", "--name", "../escape"],
        tpl("name", "the experiment", NAME_RULE, "'../escape'")),
    cli("absolute-name", ["compare", "--name", "/tmp/abs"],
        tpl("name", "the experiment", NAME_RULE, "'/tmp/abs'")),
    cli("name-with-slash", ["run", "--epochs", "1", "--name", "a/b"],
        tpl("name", "the experiment", NAME_RULE, "'a/b'"), cheap=False),
    cli("workers-0", ["compare", "--workers", "0"],
        flag("'--workers' / '-w'", "an int in the range [1, inf)", "0")),
    cli("workers-negative", ["compare", "--workers", "-3"],
        flag("'--workers' / '-w'", "an int in the range [1, inf)", "-3")),
    cli("unknown-flag", ["compare", "--bogus-flag"], re.escape("No such option: --bogus-flag")),
    cli("unknown-command", ["frobnicate"], r"No such command 'frobnicate'\.", cheap=False),
    cli("target-on-a-builtin", ["compare", "--target", "label"],
        re.escape("Unknown option 'target' for the built-in data set 'digits'; allowed options: "
                  "none.")),
    cli("check-augment-unknown-name", ["check-augment", "--augment", "bogus"],
        flag("'--augment' / '-a'", f"one of {IMAGE_AUGS} for kind 'image'", "'bogus'"),
        cheap=False),
    cli("check-augment-strength-negative", ["check-augment", "--augment", "rotate",
                                            "--strength", "-1"],
        flag("'--strength'", "a float in the range [0, inf) or a schedule", "-1.0"),
        cheap=False),
    # ---- CLI: TOML specs (--config) ---------------------------------------------------------
    cli("toml-truncated", ["compare", "--config", "{d}/truncated.toml"],
        r"The config file 'D/truncated\.toml' is not valid TOML: .+\."),
    cli("toml-not-utf8", ["compare", "--config", "{d}/not_utf8.toml"],
        r"The config file 'D/not_utf8\.toml' is not valid TOML: .*utf-8.*\."),
    cli("toml-missing", ["compare", "--config", "{d}/missing.toml"],
        flag("'--config' / '-c'", "an existing TOML file", "'D/missing.toml'")),
    cli("toml-folder", ["compare", "--config", "{d}"],
        flag("'--config' / '-c'", "an existing, readable TOML file", "'D'")),
    cli("toml-unknown-key", ["run", "--config", "{d}/unknown_key.toml"],
        unknown("unknown_key.toml", 3, "dropuot", hint="dropout"), cheap=False),
    cli("toml-unknown-key-compare", ["compare", "--config", "{d}/unknown_key.toml"],
        unknown("unknown_key.toml", 3, "dropuot", hint="dropout")),
    cli("toml-out-of-range", ["compare", "--config", "{d}/out_of_range.toml"],
        toml("out_of_range.toml", 3, "dropout", "a float in the range [0, 1)", "1.0")),
    cli("toml-wrong-type", ["run", "--config", "{d}/wrong_type.toml"],
        toml("wrong_type.toml", 1, "epochs", "an int in the range [1, 100000]", "'ten'"),
        cheap=False),
    cli("toml-nan", ["compare", "--config", "{d}/nan.toml"],
        toml("nan.toml", 3, "l2", FLOAT, "nan")),
    cli("toml-run-table-epochs-0", ["run", "--config", "{d}/run_table.toml"],
        toml("run_table.toml", 2, "epochs", "an int in the range [1, 100000]", "0", "run"),
        cheap=False),
    cli("toml-seeds-0", ["compare", "--config", "{d}/seeds_0.toml", "--quiet"],
        toml("seeds_0.toml", 1, "seeds", "an int in the range [1, 1000]", "0"), cheap=False),
    cli("toml-seeds-bool", ["compare", "--config", "{d}/seeds_bool.toml", "--quiet"],
        toml("seeds_bool.toml", 1, "seeds", "an int in the range [1, 1000]", "True"),
        cheap=False),
    cli("toml-seeds-in-run", ["run", "--config", "{d}/seeds_0.toml"],
        unknown("seeds_0.toml", 1, "seeds", hint="seed"), cheap=False),
    cli("toml-unknown-arm", ["compare", "--config", "{d}/arms_unknown.toml", "--quiet"],
        toml("arms_unknown.toml", 4, "arms", f"a list of {ARMS}", "'bogus'"), cheap=False),
    cli("toml-bad-arm-table-name", ["compare", "--config", "{d}/arm_table_unknown.toml"],
        re.escape("D/arm_table_unknown.toml: key 'arms' must be arm names of lowercase "
                  "letters, digits and '_'. Got 'Big-L2' instead.")),
    cli("toml-arm-table-unknown-key", ["compare", "--config", "{d}/arm_table_key.toml",
                                       "--arms", "none,l2"],
        unknown("arm_table_key.toml", 2, "l3", table="arms.l2")),
    cli("toml-arm-table-bad-value", ["compare", "--config", "{d}/arm_table_value.toml",
                                     "--arms", "none,l2"],
        toml("arm_table_value.toml", 2, "l2", FLOAT, "-0.1", "arms.l2")),
    cli("toml-arm-table-unknown-key-arm-not-run", ["compare", "--config",
                                                   "{d}/arm_table_key.toml"],
        unknown("arm_table_key.toml", 2, "l3", table="arms.l2")),
    cli("toml-arm-table-bad-value-arm-not-run", ["compare", "--config",
                                                 "{d}/arm_table_value.toml"],
        toml("arm_table_value.toml", 2, "l2", FLOAT, "-0.1", "arms.l2")),
    cli("toml-arms-an-int", ["compare", "--config", "{d}/arms_int.toml", "--quiet",
                             "--workers", "1"],
        toml("arms_int.toml", 4, "arms", "a list of arm names or [arms.NAME] tables", "3"),
        cheap=False),
    cli("toml-compare-table-unknown-key", ["compare", "--config", "{d}/compare_table_key.toml"],
        unknown("compare_table_key.toml", 3, "repeats", table="compare",
                keys="{arms, seeds}")),
    cli("toml-compare-table-unknown-arm", ["compare", "--config",
                                           "{d}/compare_table_arm.toml", "--quiet"],
        toml("compare_table_arm.toml", 2, "arms", f"a list of {ARMS}", "'bogus'", "compare"),
        cheap=False),
    cli("toml-arms-table-of-scalars", ["compare", "--config", "{d}/arms_scalar.toml"],
        toml("arms_scalar.toml", 2, "l2", "a table of spec keys", "0.1", "arms")),
    # ---- CLI: users' data files -------------------------------------------------------------
    cli("csv-missing-target-column", ["compare", "--data", "{d}/labels.csv", "--target", "y"],
        re.escape("Unknown target column 'y' in file 'D/labels.csv'; available columns: a, b, "
                  "label.")),
    cli("csv-no-target-given", ["compare", "--data", "{d}/labels.csv"],
        re.escape("Missing target= for CSV file 'D/labels.csv': name its label column, one of: "
                  "a, b, label.")),
    cli("csv-one-class", ["compare", "--data", "{d}/one_class.csv", "--target", "label"],
        re.escape("Only one class ('x', 30 samples) in the labels of file 'D/one_class.csv'; "
                  "classification needs at least 2.")),
    cli("csv-empty-file", ["compare", "--data", "{d}/empty.csv", "--target", "label"],
        re.escape("Data file 'D/empty.csv' is empty.")),
    cli("csv-header-only", ["compare", "--data", "{d}/header_only.csv", "--target", "label"],
        re.escape("Data file 'D/header_only.csv' is empty: it has a header but no data rows.")),
    cli("csv-ragged-row", ["compare", "--data", "{d}/ragged.csv", "--target", "label"],
        re.escape("Line 2 of file 'D/ragged.csv' has 2 fields but the header has 3.")),
    cli("unsupported-suffix", ["compare", "--data", "{d}/notes.txt"],
        re.escape("Unsupported data file suffix '.txt' for 'D/notes.txt'; allowed: .csv, .tsv, "
                  ".npz, or a folder of images with one sub-folder per class.")),
    cli("missing-file", ["compare", "--data", "{d}/missing.csv"],
        r"Data file 'D/missing\.csv' does not exist \(looked for .*D/missing\.csv\); give a "
        r"\.csv, \.tsv or \.npz file, a folder of images, or a built-in name\."),
    cli("npz-empty-file", ["compare", "--data", "{d}/empty.npz"],
        re.escape("Data file 'D/empty.npz' is empty.")),
    cli("npz-without-y", ["compare", "--data", "{d}/no_y.npz"],
        re.escape("Data file 'D/no_y.npz' has no array named 'y'; it needs arrays 'X' and 'y', "
                  "and holds: X.")),
    cli("folder-without-images", ["compare", "--data", "{d}/no_images"],
        re.escape("Data folder 'D/no_images' has no images in its class sub-folders (cat, dog); "
                  "image suffixes read: .png, .jpg, .jpeg, .bmp, .gif, .tif, .tiff, .webp, "
                  ".ppm, .pgm.")),
    cli("folder-without-classes", ["compare", "--data", "{d}/no_classes"],
        re.escape("Data folder 'D/no_classes' has no class sub-folders; put each class's images "
                  "in a sub-folder named after the class (e.g. no_classes/cat/1.png).")),
    cli("corrupt-image", ["compare", "--data", "{d}/corrupt"],
        r"Corrupt or unreadable image 'D/corrupt/dog/bad\.png' in folder 'D/corrupt': .+\."),
    cli("out-is-a-file", ["compare", "--data", "wine", "--out", "{d}/notes.txt"],
        tpl("out", "the experiment", "a folder that can be created and written",
            "'D/notes.txt'")),
    # ---- issue 16: paths, bad data, sizes and devices -------------------------------------
    cli("name-with-a-final-newline", ["compare", "--name", "abc\n"],
        tpl("name", "the experiment", NAME_RULE, "'abc\\n'")),
    cli("name-with-a-tab", ["compare", "--name", "a\tb"],
        tpl("name", "the experiment", NAME_RULE, "'a\\tb'")),
    cli("name-non-ascii", ["compare", "--name", "donn\u00e9es"],
        tpl("name", "the experiment", NAME_RULE, "'donn\u00e9es'")),
    cli("name-129-chars", ["compare", "--name", "a" * 129],
        tpl("name", "the experiment", NAME_RULE, repr("a" * 129))),
    cli("npz-is-a-renamed-npy", ["compare", "--data", "{d}/single.npz"],
        re.escape("Data file 'D/single.npz' is a single .npy array, not an .npz archive; save "
                  "it with numpy.savez(path, X=X, y=y).")),
    cli("npz-no-features", ["compare", "--data", "{d}/no_features.npz"],
        re.escape("Array 'X' of file 'D/no_features.npz' has shape (60, 0): its samples hold "
                  "no values; each sample needs at least one feature.")),
    cli("npz-labels-1e300", ["compare", "--data", "{d}/huge_labels.npz"],
        re.escape("Labels of file 'D/huge_labels.npz' must be integers within +-2**53 or "
                  "strings; row 0 has 2e+300.")),
    # non-integer labels are a regression target unless classification is forced
    cli("npz-half-labels", ["compare", "--data", "{d}/half_labels.npz", "--task",
                            "classification"],
        re.escape("Labels of file 'D/half_labels.npz' must be integers within +-2**53 or "
                  "strings; row 0 has 0.5.")),
    cli("csv-values-near-1e308", ["compare", "--data", "{d}/huge_values.csv", "--target",
                                  "label"],
        re.escape("Data file 'D/huge_values.csv' has values too large to train on in column "
                  "'a' (standardizing it overflows: |values| must stay well below 1e38); "
                  "rescale that data first.")),
    cli("npz-image-values-near-1e308", ["compare", "--data", "{d}/huge_images.npz"],
        re.escape("Data file 'D/huge_images.npz' has values too large to train on in channel 1 "
                  "(standardizing it overflows: |values| must stay well below 1e38); rescale "
                  "that data first.")),
    cli("csv-inf-cell", ["compare", "--data", "{d}/inf.csv", "--target", "label"],
        re.escape("Data file 'D/inf.csv' has 1 NaN or infinite values in columns 'b' (1) (empty "
                  "cells count as missing); fill or drop them first.")),
    cli("csv-duplicate-header", ["compare", "--data", "{d}/dup_header.csv", "--target",
                                 "label"],
        re.escape("Column name 'a' appears more than once in the header of file "
                  "'D/dup_header.csv'.")),
    cli("csv-only-the-target", ["compare", "--data", "{d}/only_target.csv", "--target",
                                "label"],
        re.escape("Data file 'D/only_target.csv' has no feature columns besides the target "
                  "'label'.")),
    cli("csv-a-class-of-one", ["compare", "--data", "{d}/tiny_class.csv", "--target", "label"],
        r"Class 'y' of file 'D/tiny_class\.csv' has only 1 sample\(s\); .+\."),
    cli("csv-latin-1", ["compare", "--data", "{d}/latin1.csv", "--target", "label"],
        re.escape("Data file 'D/latin1.csv' cannot be read as UTF-8 text (byte 0xe9 at offset "
                  "17); save it as a UTF-8 CSV file.")),
    cli("csv-nul-byte", ["compare", "--data", "{d}/nul.csv", "--target", "label"],
        re.escape("Data file 'D/nul.csv' holds a NUL byte at line 2; it is not a text table. "
                  "Save it as a UTF-8 CSV file.")),
    cli("npz-feature-names-wrong-length", ["compare", "--data", "{d}/bad_names.npz"],
        re.escape("Array 'feature_names' of file 'D/bad_names.npz' has shape (2,); it must be "
                  "1-D with one name per column of X (3).")),
    cli("npz-object-x", ["compare", "--data", "{d}/object_x.npz"],
        r"Data file 'D/object_x\.npz' cannot be read as an \.npz archive: .*allow_pickle.*\."),
    cli("npz-complex-x", ["compare", "--data", "{d}/complex_x.npz"],
        re.escape("Array 'X' of file 'D/complex_x.npz' has dtype complex128; it must be "
                  "numeric.")),
    cli("npz-y-shorter-than-x", ["compare", "--data", "{d}/short_y.npz"],
        re.escape("X and y of file 'D/short_y.npz' have different lengths: X has 60 rows, y has "
                  "50 labels.")),
    cli("npz-two-column-y", ["compare", "--data", "{d}/two_d_y.npz"],
        re.escape("Array 'y' of file 'D/two_d_y.npz' has shape (60, 2); it must be 1-D, one "
                  "label per row.")),
    cli("npz-header-promises-7-tib", ["compare", "--data", "{d}/bomb.npz"],
        r"Data file 'D/bomb\.npz' holds arrays of 7450\.6 GiB once uncompressed; only "
        r"[\d.]+ GiB of memory is available\."),
    cli("npz-not-a-zip", ["compare", "--data", "{d}/not_zip.npz"],
        r"Data file 'D/not_zip\.npz' cannot be read as an \.npz archive: .+\."),
    cli("cnn-on-2x2-images", ["compare", "--data", "{d}/tiny_images.npz", "--model", "cnn"],
        flag("'--model' / '-m'", "'linear' or 'mlp' for inputs of size 2x2 (cnn halves each "
             "side 2 times: it needs at least 4 per side)", "'cnn'")),
    # signals with --model cnn default to the global_pool CNN (one pool by 2)
    cli("cnn-on-length-1-signals", ["compare", "--data", "{d}/short_signal.npz", "--model",
                                    "cnn"],
        flag("'--model' / '-m'", "'linear' or 'mlp' for inputs of size 1 (cnn halves each "
             "side 1 time: it needs at least 2 per side)", "'cnn'")),
    cli("two-block-cnn-on-length-3-signals", ["compare", "--data", "{d}/short_signal3.npz",
                                              "--model", "cnn", "--cnn-arch", "two_block"],
        flag("'--model' / '-m'", "'linear' or 'mlp' for inputs of size 3 (cnn halves each "
             "side 2 times: it needs at least 4 per side)", "'cnn'")),
    # 16 layers: 6.9e10 parameters, 1.3 TB to train, more than any test machine has
    cli("hidden-too-big-for-memory", ["compare", "--hidden", ",".join(["65536"] * 16)],
        re.escape("Invalid value for '--hidden': must be widths whose model fits in memory "
                  "(this one has 6.44e+10 parameters, about 1200.1 GiB to train; ")
        + r"[\d.]+ GiB available\)\. Got \((65536, ){15}65536\) instead\."),
    cli("device-mps-without-mps", ["compare", "--device", "mps"],
        flag("'--device'", "'cpu' or 'auto' on a machine without MPS (Apple GPUs)", "'mps'")),
    cli("proximal-l1-1e300", ["compare", "--arms", "none,l1", "--proximal-l1", "1e300"],
        flag("'--proximal-l1'", "a float with lr * proximal_l1 <= 3.403e+38 (lr = 0.001)",
             "1e+300")),
    cli("proximal-l1-1e300-run", ["run", "--epochs", "1", "--proximal-l1", "1e300"],
        flag("'--proximal-l1'", "a float with lr * proximal_l1 <= 3.403e+38 (lr = 0.001)",
             "1e+300"), cheap=False),
    cli("csv-is-a-fifo", ["compare", "--data", "{d}/fifo.csv", "--target", "a"],
        re.escape("Data 'D/fifo.csv' is not a regular file (a FIFO, a device or a socket); give "
                  "a .csv, .tsv or .npz file or a folder of images.")),
    cli("csv-links-to-dev-zero", ["compare", "--data", "{d}/zero.csv", "--target", "a"],
        re.escape("Data 'D/zero.csv' is not a regular file (a FIFO, a device or a socket); give "
                  "a .csv, .tsv or .npz file or a folder of images.")),
    cli("toml-run-table-and-top-level-keys", ["compare", "--config", "{d}/run_and_top.toml"],
        re.escape("The config file 'D/run_and_top.toml' has a [run] table and top-level keys "
                  "(epochs); put every key in the [run] table or none.")),
    cli("toml-dev-zero", ["compare", "--config", "/dev/zero"],
        flag("'--config' / '-c'", "an existing, readable TOML file", "'/dev/zero'")),
    cli("toml-fifo", ["compare", "--config", "{d}/fifo.toml"],
        flag("'--config' / '-c'", "an existing, readable TOML file", "'D/fifo.toml'")),
    cli("toml-over-1-mib", ["compare", "--config", "{d}/big.toml"],
        re.escape("The config file 'D/big.toml' is 1048590 bytes; a spec file is at most "
                  "1048576 bytes (1 MiB).")),
    cli("toml-nested-5000-deep", ["compare", "--config", "{d}/deep.toml"],
        r"The config file 'D/deep\.toml' is not valid TOML: .+\."),
    cli("toml-hidden-with-a-float", ["compare", "--config", "{d}/spec_list.toml"],
        toml("spec_list.toml", 1, "hidden", "a non-empty list of ints in the range [1, 65536]",
             "[8, 0.5]")),
    cli("l1-1e400", ["compare", "--l1", "1e400"],
        flag("'--l1'", "a float in the range [0, inf)", "inf")),
    cli("lr-negative-zero", ["compare", "--lr", "-0"],
        flag("'--lr'", "a float in the range (0, inf)", "-0.0")),
    cli("batch-size-huge", ["compare", "--batch-size", "10000001"],
        flag("'--batch-size'", "an int in the range [1, 1000000]", "10000001")),
    cli("epochs-huge", ["compare", "--epochs", "100001"],
        flag("'--epochs' / '-e'", "an int in the range [1, 100000]", "100001")),
    cli("seed-too-big", ["run", "--epochs", "1", "--seed", "4294967296"],
        flag("'--seed'", "an int in the range [0, 4294967295]", "4294967296"), cheap=False),
    cli("seeds-1001", ["compare", "--seeds", "1001"],
        flag("'--seeds' / '-s'", "an int in the range [1, 1000]", "1001")),
    cli("dropout-negative", ["compare", "--dropout", "-0.1"],
        flag("'--dropout'", "a float in the range [0, 1)", "-0.1")),
    cli("hidden-65537", ["compare", "--hidden", "65537"],
        flag("'--hidden'", "a non-empty list of ints in the range [1, 65536]", "(65537,)")),
    cli("hidden-negative", ["compare", "--hidden", "-8"],
        flag("'--hidden'", "a non-empty list of ints in the range [1, 65536]", "(-8,)")),
    cli("unknown-engine", ["compare", "--engine", "gpu"],
        flag("'--engine'", "one of {'auto', 'vectorized', 'sequential'}", "'gpu'")),
    cli("nproc-0", ["run", "--epochs", "1", "--nproc", "0"],
        flag("'--nproc'", "an int in the range [1, inf)", "0"), cheap=False),
    cli("data-is-dev-null", ["compare", "--data", "/dev/null"],
        re.escape("Data '/dev/null' is not a regular file (a FIFO, a device or a socket); give "
                  "a .csv, .tsv or .npz file or a folder of images.")),
    cli("name-dot", ["compare", "--name", "."], tpl("name", "the experiment", NAME_RULE, "'.'")),
    cli("name-empty", ["compare", "--name", ""],
        tpl("name", "the experiment", NAME_RULE, "''")),
]


def test_the_table_is_at_least_40_bad_inputs_of_each_origin():
    ids = [f"{r.how}-{r.id}" for r in ROWS]
    assert len(set(ids)) == len(ids)
    assert sum(r.how == "api" for r in ROWS) >= 40 and sum(r.how == "cli" for r in ROWS) >= 40
    toml = [r for r in ROWS if r.how == "cli" and "--config" in r.call]
    files = [r for r in ROWS if r.how == "cli" and any("{d}/" in a and "toml" not in a
                                                       for a in r.call)]
    assert len(toml) >= 10 and len(files) >= 12


def _shown(text: str, d: Path) -> str:
    return text.replace(str(d), "D")


@pytest.mark.parametrize("row", [r.param() for r in ROWS if r.how == "api"])
def test_python_api_raises_one_clear_error(row, d):
    with pytest.raises(row.error) as info:
        row.call(d)
    assert isinstance(info.value, rl.InvalidParameterError)
    message = _shown(str(info.value), d)
    assert re.fullmatch(row.message, message), message


# -- CLI ------------------------------------------------------------------------------------
def snapshot(root: Path) -> dict[str, object]:
    """Every file under ``root`` with its bytes; a SQLite store by its rows (its bytes may be
    rewritten by a checkpoint without a change of content); WAL side files left out."""
    out: dict[str, object] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_dir():
            out[rel] = "dir"
        elif p.name.endswith(("-wal", "-shm")):
            continue
        elif p.suffix == ".sqlite":
            conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
            out[rel] = list(conn.iterdump())
            conn.close()
        else:
            out[rel] = p.read_bytes()
    return out


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``reglab ARGV`` in this process: (exit code, stdout, stderr).

    stderr holds what a terminal would show: pytest records Python warnings instead of
    printing them, so every warning that is not reglab's own one-line DataWarning (a numpy
    RuntimeWarning from a library, say) is put back into stderr, formatted as Python prints
    it, where it breaks the one-line rule as it would for a user."""
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    shown = "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno)
                    for w in caught)  # (DataWarnings never get here: main prints them)
    return code, out.getvalue(), shown + err.getvalue()


def assert_rejected(code: int, out: str, err: str, pattern: str, d: Path | None = None) -> None:
    """Exit 2, exactly one non-empty stderr line ``reglab: error: MESSAGE``, no traceback."""
    assert "Traceback" not in out + err
    assert code == 2, (code, err)
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("reglab: error: ") and err.strip() != "reglab: error:"
    message = err[len("reglab: error: "):-1]
    message = _shown(message, d) if d is not None else message
    assert re.fullmatch(pattern, message), message


@pytest.mark.parametrize("row", [r.param() for r in ROWS if r.how == "cli"])
def test_cli_exits_2_with_one_line_and_writes_nothing(row, d, tmp_path):
    out_dir = tmp_path / "runs"
    out_dir.mkdir()
    argv = [a.replace("{d}", str(d)) for a in row.call]
    if argv[0] in ("compare", "run") and "--out" not in argv:
        argv += ["--out", str(out_dir)]
    before = snapshot(out_dir)
    code, out, err = run_cli(argv)
    assert_rejected(code, out, err, row.message, d)
    assert snapshot(out_dir) == before == {}


# -- an existing experiment is never half-overwritten by a rejected rerun ------------------------
RERUN = ["compare", "--data", "wine", "--epochs", "1", "--hidden", "8", "--seeds", "1",
         "--workers", "1", "--quiet", "--name", "e"]


@pytest.mark.parametrize("first,second", [
    pytest.param(["--arms", "none,l2"], ["--arms", "none,l2", "--epochs", "2"],
                 id="first-run-conflicts"),
    pytest.param(["--arms", "l2"], ["--arms", "none,l2", "--l2", "0.5"],
                 id="a-later-run-conflicts"),
])
def test_a_rejected_rerun_leaves_the_experiment_as_it_was(tmp_path, first, second):
    code, _, err = run_cli([*RERUN, *first, "--out", str(tmp_path)])
    assert code == 0, err
    before = snapshot(tmp_path)
    code, out, err = run_cli([*RERUN, *second, "--out", str(tmp_path)])
    assert_rejected(code, out, err, r"The experiment '.*/e' already holds run '[a-z0-9]+-s0' "
                    r"with another configuration \(.+\); pass another --name to start a new "
                    r"experiment\.")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("row_id", [
    "npz-without-y",
    pytest.param("epochs-negative", marks=pytest.mark.slow),
    pytest.param("toml-unknown-key-compare", marks=pytest.mark.slow),
])
def test_the_entry_point_in_a_subprocess_matches_the_in_process_result(row_id, d, tmp_path):
    """The installed program (a fresh interpreter, sys.exit) gives the same exit code and the
    same single stderr line as main() for a data-file, a flag and a TOML error (one in the
    default run: a fresh interpreter costs seconds on a busy machine)."""
    row = next(r for r in ROWS if r.how == "cli" and r.id == row_id)
    argv = [a.replace("{d}", str(d)) for a in row.call] + ["--out", str(tmp_path)]
    proc = subprocess.run([sys.executable, "-m", "reglab.cli", *argv], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert_rejected(proc.returncode, proc.stdout, proc.stderr, row.message, d)
    assert not list(tmp_path.iterdir())


# -- path and tune: a rejected flag makes no folder (issue 16) ---------------------------------
@pytest.mark.parametrize("argv, message", [
    (["path", "--penalty", "foo"], flag("'--penalty' / '-p'",
                                        "one of {'l1', 'l2', 'group', 'dropout'}", "'foo'")),
    (["path", "--eps", "2"], tpl("eps", "regularization_path", "a float in the range (0, 1)",
                                 "2.0")),
    (["path", "--n-strengths", "0"], tpl("n_strengths", "regularization_path",
                                         "an int in the range [1, inf)", "0")),
    (["tune", "--data", "wine", "--trials", "1", "--storage", "bogus://x"],
     re.escape("Cannot open the Optuna storage 'bogus://x': Can't load plugin: "
               "sqlalchemy.dialects:bogus")),
    (["tune", "--data", "wine", "--confirm", "-1"],
     flag("'--confirm'", "an int in the range [0, 1000]", "-1")),
    (["tune", "--data", "wine", "--trials", "0"],
     flag("'--trials' / '-t'", "an int in the range [1, 1000000]", "0")),
    (["tune", "--data", "wine", "--seeds", "1001"],
     flag("'--seeds' / '-s'", "an int in the range [0, 1000]", "1001")),
    (["tune", "--data", "wine", "--timeout", "0"],
     flag("'--timeout'", "a float in the range (0, inf)", "0.0")),
    (["tune", "--data", "wine", "--parallel", "0"],
     flag("'--parallel'", "an int in the range [1, 10000]", "0")),
    (["tune", "--data", "wine", "--workers", "0"],
     flag("'--workers' / '-w'", "an int in the range [1, 10000]", "0")),
], ids=["path-penalty", "path-eps", "path-n-strengths", "tune-storage", "tune-confirm",
        "tune-trials", "tune-seeds", "tune-timeout", "tune-parallel", "tune-workers"])
def test_path_and_tune_refuse_bad_flags_before_making_their_folder(argv, message, tmp_path):
    if argv[0] == "tune":
        pytest.importorskip("optuna")
    out = tmp_path / "out" / "deeper"
    code, stdout, err = run_cli([*argv, "--out", str(out)])
    assert_rejected(code, stdout, err, message)
    assert list(tmp_path.iterdir()) == []


def test_the_issue_s_three_65536_layers_are_refused_on_a_machine_with_100_gib(monkeypatch):
    """`--hidden 65536,65536,65536` (8.6e9 parameters, 160 GiB to train) is refused before
    any allocation when 100 GiB are available, and a 256-wide model is not."""
    from reglab.train import models
    monkeypatch.setattr(models, "available_memory", lambda: 100 << 30)
    big = RunSpec(hidden=(65536, 65536, 65536))
    with pytest.raises(rl.InvalidParameterError) as info:
        models.build_model(big, "image", (1, 8, 8), 10)
    assert str(info.value) == (
        "The 'hidden' parameter of RunSpec must be widths whose model fits in memory (this one "
        "has 8.59e+09 parameters, about 160.1 GiB to train; 100.0 GiB available). Got (65536, "
        "65536, 65536) instead.")
    assert models.parameter_count(big, "image", (1, 8, 8), 10) == (
        64 * 65536 + 65536 + 2 * (65536 * 65536 + 65536) + 65536 * 10 + 10)
    models.build_model(RunSpec(hidden=(256,)), "image", (1, 8, 8), 10)


def _member_bytes(spec, kind="image", shape=(1, 8, 8), classes=10):
    from reglab.train import models
    return models.parameter_count(spec, kind, shape, classes) * models.TRAIN_BYTES_PER_PARAMETER


def test_the_memory_check_covers_a_whole_stack_not_one_model(monkeypatch):
    """Issue 16 leftover: a model that fits alone is refused when K of them train at once."""
    from reglab.train import models
    spec = RunSpec(hidden=(256, 256))
    one = _member_bytes(spec)
    monkeypatch.setattr(models, "available_memory", lambda: 3 * one)
    models.check_memory(spec, "image", (1, 8, 8), 10)                  # one fits
    models.check_memory(spec, "image", (1, 8, 8), 10, members=3)       # three fit exactly
    with pytest.raises(rl.InvalidParameterError) as info:
        models.check_memory(spec, "image", (1, 8, 8), 10, members=4)
    n = models.parameter_count(spec, "image", (1, 8, 8), 10)
    assert str(info.value) == (
        "The 'hidden' parameter of RunSpec must be widths whose stack of 4 models fits in "
        f"memory (the stacked engine trains 4 runs at once: 4 x {n:.3g} parameters, about "
        f"{4 * one / 2**30:.1f} GiB to train; {3 * one / 2**30:.1f} GiB available; --engine "
        "sequential trains one at a time). Got (256, 256) instead.")


def test_the_stacked_engine_refuses_a_stack_that_does_not_fit_before_building_it(monkeypatch):
    from reglab.train import models, stacked
    ds = rl.data.load("digits", seed=0)
    specs = [RunSpec(hidden=(8,), epochs=1, seed=s) for s in range(3)]
    monkeypatch.setattr(models, "available_memory", lambda: 2 * _member_bytes(specs[0]))
    built = []
    monkeypatch.setattr(stacked, "_build_member", lambda *a: built.append(a))
    with pytest.raises(rl.InvalidParameterError, match="whose stack of 3 models fits"):
        stacked.train_chunk(specs, [ds] * 3)
    assert built == []                                                  # nothing allocated


def test_compare_refuses_a_plan_whose_stack_does_not_fit_and_writes_nothing(monkeypatch,
                                                                           tmp_path, capsys):
    from reglab.cli import main
    from reglab.train import models
    one = _member_bytes(RunSpec(hidden=(8,)))
    monkeypatch.setattr(models, "available_memory", lambda: 3 * one)   # 3 fit, not 6
    argv = ["compare", "--arms", "none", "--seeds", "6", "--epochs", "1", "--hidden", "8",
            "--workers", "1", "--quiet", "--out", str(tmp_path)]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("reglab: error: Invalid value for '--hidden': must be widths whose "
                          "stack of 6 models fits in memory (the stacked engine trains 6 runs "
                          "at once: 6 x 610 parameters") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
    assert main([*argv, "--engine", "sequential"]) == 0                # one at a time: fits
