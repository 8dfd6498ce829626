"""The arms of ``reglab compare``: each technique alone, and the seed's combination.

Every arm is the same base run (model, optimizer, epochs, seed) plus the changes below.
The default strengths were chosen on the *validation* split of the built-in data sets
(``scripts/select_defaults.py``, numbers in ``scripts/select_defaults.md``); the test split
played no part. ``all`` is the seed's practice section (8): combine L2 + dropout + early
stopping + augmentation ("CNN: dropout + L2", "early stopping + augmentation",
"combining methods works better").

Example::

    arm_changes("image")["l2"]        # {'l2': 0.0003}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reglab._validation import fail

__all__ = ["ARMS", "OVERRIDABLE", "check_arms", "SEED_SAYS", "BASE", "arm_changes", "base_changes", "apply_overrides"]

# Spec keys that are regularization strengths: a flag or TOML value for one of them replaces
# the default in the arms that use it (see apply_overrides); other keys change the base run.
OVERRIDABLE = ("l1", "l2", "weight_decay", "proximal_l1", "dropout", "patience", "augment",
               "augment_strength", "mixup", "cutmix")

ARMS = ("none", "l1", "l2", "dropout", "early_stopping", "augment", "all")

# The seed's section 7, per technique: what it outputs, its strength, its weakness.
SEED_SAYS = {
    "none": ("-", "-", "-"),
    "l1": ("sparse weights", "feature selection", "gradient not smooth"),
    "l2": ("small weights", "stable gradient", "not sparse"),
    "dropout": ("random neuron mask", "less co-adaptation", "trains longer"),
    "early_stopping": ("stops training", "simple, effective", "does not use all the data"),
    "augment": ("augmented data", "robust model", "needs domain knowledge"),
    "all": ("combination", "seed: better together", "more knobs"),
}

# Base run per data kind: a model that can overfit, so regularization has work to do.
BASE: dict[str, dict[str, Any]] = {
    "image": {"model": "mlp", "hidden": (256, 256), "optimizer": "adam", "lr": 1e-3,
              "epochs": 40, "batch_size": 64},
    "signal": {"model": "mlp", "hidden": (256, 256), "optimizer": "adam", "lr": 1e-3,
               "epochs": 60, "batch_size": 128},
    "tabular": {"model": "mlp", "hidden": (128, 128), "optimizer": "adam", "lr": 1e-3,
                "epochs": 60, "batch_size": 32},
}

# Per arm and data kind: the spec keys the arm sets (selected on validation data).
_ARMS: dict[str, dict[str, dict[str, Any]]] = {
    "image": {  # digits, seeds 10-11, validation split (scripts/select_defaults.md)
        "l1": {"proximal_l1": 0.1},
        "l2": {"l2": 1e-4},
        "dropout": {"dropout": 0.3},
        "early_stopping": {"patience": 10},
        "augment": {"augment": ("noise",)},
        "all": {"l2": 1e-4, "dropout": 0.3, "patience": 10, "augment": ("noise",)},
    },
    "signal": {  # mnist1d, seeds 10-11, validation split (scripts/select_defaults.md)
        "l1": {"proximal_l1": 0.1},
        "l2": {"l2": 1e-3},
        "dropout": {"dropout": 0.2},
        "early_stopping": {"patience": 5},
        "augment": {"augment": ("shift",)},
        # the selection's "softer" candidate: a third of the l2 arm's, half its dropout
        "all": {"l2": 1e-3 / 3, "dropout": 0.1, "patience": 5, "augment": ("shift",)},
    },
    "tabular": {  # breast_cancer, seeds 10-11, validation split (scripts/select_defaults.md)
        "l1": {"proximal_l1": 1.0},
        "l2": {"l2": 3e-3},
        "dropout": {"dropout": 0.1},
        "early_stopping": {"patience": 5},
        "augment": {"augment": ("noise",)},
        "all": {"l2": 3e-3, "dropout": 0.1, "patience": 5, "augment": ("noise",)},
    },
}


def base_changes(kind: str) -> dict[str, Any]:
    """The base run's keys for a data kind (model, optimizer, epochs...)."""
    return dict(BASE[kind])


def arm_changes(kind: str) -> dict[str, dict[str, Any]]:
    """Every arm's spec changes for a data kind (``none`` changes nothing)."""
    return {"none": {}, **{arm: dict(ch) for arm, ch in _ARMS[kind].items()}}


def check_arms(arms: list[str]) -> list[str]:
    """Return ``arms`` if each is known and none repeats, else raise naming the bad one."""
    if not arms:
        raise fail("compare", "arms", f"a non-empty list of {{{', '.join(ARMS)}}}", arms)
    for arm in arms:
        if arm not in ARMS:
            raise fail("compare", "arms", f"a list of {{{', '.join(ARMS)}}}", arm)
    if len(set(arms)) != len(arms):
        raise fail("compare", "arms", "a list without repeats", ",".join(arms))
    return arms


def apply_overrides(changes: dict[str, dict[str, Any]], overrides: Mapping[str, Any]
                    ) -> dict[str, dict[str, Any]]:
    """Replace a strength in every arm that sets that key (e.g. ``--l2 1e-3``: l2 and all).

    A strength given for a key no arm sets (e.g. ``--weight-decay``) goes to the arm that
    owns the technique: ``l1``/``proximal_l1`` -> l1, ``l2``/``weight_decay`` -> l2,
    ``dropout`` -> dropout, ``patience`` -> early_stopping, ``augment*``/``mixup``/``cutmix``
    -> augment.
    """
    owner = {"l1": "l1", "proximal_l1": "l1", "l2": "l2", "weight_decay": "l2",
             "dropout": "dropout", "patience": "early_stopping", "augment": "augment",
             "augment_strength": "augment", "mixup": "augment", "cutmix": "augment"}
    out = {arm: dict(ch) for arm, ch in changes.items()}
    for key, value in overrides.items():
        users = [arm for arm, ch in out.items() if key in ch]
        if not users and owner.get(key) in out:
            users = [owner[key]]
        for arm in users:
            out[arm][key] = value
    return out
