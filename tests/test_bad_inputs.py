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
            keys: str = "{" + "data, target, model, hidden, activation, optimizer, lr, epochs, "
            "batch_size, seed, l1, l2, weight_decay, proximal_l1, dropout, patience, elastic_net, "
            "l1_ratio, group_lasso, proximal_group_lasso, dropout_kind, stop_criterion, "
            "stop_alpha, stop_strip, stop_strips, augment, augment_strength, mixup, cutmix, "
            "device, schedules}") -> str:
    within = f" in [{table}]" if table else ""
    more = f" Did you mean '{hint}'?" if hint else ""
    return re.escape(f"D/{file}, line {line}: unknown key '{key}'{within}; the keys are "
                     f"{keys}.{more}")


SPEC_KEYS = ("data, target, model, hidden, activation, optimizer, lr, epochs, batch_size, seed, "
             "l1, l2, weight_decay, proximal_l1, dropout, patience, elastic_net, l1_ratio, "
             "group_lasso, proximal_group_lasso, dropout_kind, stop_criterion, stop_alpha, "
             "stop_strip, stop_strips, augment, augment_strength, mixup, cutmix, device, "
             "schedules")
# the built-in arms, then the example arms one can ask for (reglab.lab.arms.EXAMPLES)
ARMS = ("{none, l1, l2, dropout, early_stopping, augment, all, elastic_net, group_lasso, "
        "gaussian_dropout, dropconnect, dropblock, early_stopping_gl, early_stopping_pq, "
        "early_stopping_up}")
NAME_RULE = "1-128 letters, digits, '.', '_' or '-' (no path separators, no '..')"
IMAGE_AUGS = "{'rotate', 'flip', 'vflip', 'scale', 'translate', 'noise', 'erase'}"
UNKNOWN_KEY = spec("key", "one of {" + SPEC_KEYS + "}", "'{}'")
FLOAT = "a float in the range [0, inf)"
AUGS = f"one of {IMAGE_AUGS} for kind 'image'"
BUILTINS = "digits, mnist1d, breast_cancer, wine, sparse"


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
}


@pytest.fixture(scope="module")
def d(tmp_path_factory) -> Path:
    """The folder of users' bad files (and a few good ones) shared by every row."""
    root = tmp_path_factory.mktemp("userdata")
    for name, text in FILES.items():
        (root / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    np.savez(root / "no_y.npz", X=np.zeros((10, 3)))
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
    api("csv-text-in-numeric-column", lambda d: rl.data.load(d / "text.csv", target="label"),
        re.escape("Column 'b' of file 'D/text.csv' is not numeric: line 3 has 'abc'. Feature "
                  "columns must hold numbers; drop or encode this column."), DataError),
    api("csv-nan-cells", lambda d: rl.data.load(d / "nan.csv", target="label"),
        re.escape("Data file 'D/nan.csv' has 1 NaN or infinite values in columns 'b' (1) (empty "
                  "cells count as missing); fill or drop them first."), DataError),
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
    cli("csv-text-in-numeric-column", ["compare", "--data", "{d}/text.csv", "--target", "label"],
        re.escape("Column 'b' of file 'D/text.csv' is not numeric: line 3 has 'abc'. Feature "
                  "columns must hold numbers; drop or encode this column.")),
    cli("csv-nan-cells", ["compare", "--data", "{d}/nan_text.csv", "--target", "label"],
        re.escape("Data file 'D/nan_text.csv' has 1 NaN or infinite values in columns 'b' (1) "
                  "(empty cells count as missing); fill or drop them first.")),
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
        re.escape("Unsupported data file suffix '.txt' for 'D/notes.txt'; allowed: .csv, .npz, "
                  "or a folder of images with one sub-folder per class.")),
    cli("missing-file", ["compare", "--data", "{d}/missing.csv"],
        r"Data file 'D/missing\.csv' does not exist \(looked for .*D/missing\.csv\); give a "
        r"\.csv or \.npz file, a folder of images, or a built-in name\."),
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
    """``reglab ARGV`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


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
