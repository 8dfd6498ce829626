"""The arms of ``reglab compare``: each technique alone, and their combination.

Every arm is the same base run (model, optimizer, epochs, seed) plus the changes below.
The default strengths (in ``lab/defaults.toml``) were chosen on the *validation* split of
the built-in data sets (``scripts/select_defaults.py``, numbers in
``scripts/select_defaults.md``); the test split played no part. ``all`` is the note's
practice section (8): combine L2 + dropout + early stopping + augmentation ("CNN: dropout +
L2", "early stopping + augmentation", "combining methods works better"), with the
``label_smoothing`` arm's strength added where that scored best on validation (an addition
to the note: an arm named ``all`` should not leave out an arm the compare lists; L1 stays
out, the note keeps it for sparse linear models).

Example::

    arm_changes("image")["l2"]         # {'weight_decay': 0.2}
    arm_changes("image", "cnn")["all"]  # the CNN's own `all` (defaults.toml, models.cnn)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from reglab._validation import did_you_mean, fail
from reglab.lab.spec import read_package_toml

__all__ = ["ARMS", "EXAMPLES", "OVERRIDABLE", "TECHNIQUES", "GRID_KEYS", "check_arms",
           "check_arm_name", "NOTE_SAYS", "BASE", "MODEL_BASE", "arm_changes", "base_changes",
           "apply_overrides", "apply_tables", "grid_arms", "grid_name", "settings",
           "format_value", "technique_of"]

# Spec keys that are regularization strengths: a flag or TOML value for one of them replaces
# that technique's strength in the arms that use it (see apply_overrides); other keys change
# the base run.
OVERRIDABLE = ("l1", "l2", "weight_decay", "proximal_l1", "dropout", "patience", "augment",
               "augment_strength", "mixup", "cutmix", "label_smoothing", "elastic_net",
               "group_lasso", "proximal_group_lasso", "stop_criterion")

# One technique, its spec keys (alternative forms of the same strength), and the arm that owns
# it. A strength for any key of a technique replaces *all* that technique's keys in an arm:
# ``--l1 1e-4`` turns the l1 arm's proximal step into an L1 loss term of 1e-4 (not both).
TECHNIQUES: dict[str, tuple[tuple[str, ...], str]] = {
    "l1": (("l1", "proximal_l1"), "l1"),
    "l2": (("l2", "weight_decay"), "l2"),
    "dropout": (("dropout",), "dropout"),
    "early_stopping": (("patience", "stop_criterion"), "early_stopping"),
    "augment": (("augment",), "augment"),
    "augment_strength": (("augment_strength",), "augment"),
    "mixup": (("mixup",), "augment"),
    "cutmix": (("cutmix",), "augment"),
    "label_smoothing": (("label_smoothing",), "label_smoothing"),
    "elastic_net": (("elastic_net",), "elastic_net"),
    "group_lasso": (("group_lasso", "proximal_group_lasso"), "group_lasso"),
}
_TECHNIQUE_OF = {key: t for t, (keys, _) in TECHNIQUES.items() for key in keys}


def technique_of(key: str) -> str:
    """The technique a strength key belongs to: ``"weight_decay"`` -> ``"l2"``."""
    return _TECHNIQUE_OF[key]

# Strength keys whose flag takes a comma list for a grid: one arm per value (augment takes a
# comma list of names for one arm instead).
GRID_KEYS = tuple(k for k in OVERRIDABLE if k not in ("augment", "stop_criterion"))

# A key's "off" value when it is not 0 / empty (settings() leaves it out).
_OFF = {"stop_criterion": "patience"}

# Custom arm names ([arms.NAME]); grid arms are named KEY-VALUE by the lab itself.
ARM_NAME = re.compile(r"[a-z0-9_]+")

ARMS = ("none", "l1", "l2", "dropout", "early_stopping", "augment", "label_smoothing", "all")

# The note's section 7, per technique: what it outputs, its strength, its weakness.
NOTE_SAYS = {
    "none": ("-", "-", "-"),
    "l1": ("sparse weights", "feature selection", "gradient not smooth"),
    "l2": ("small weights", "stable gradient", "not sparse"),
    "dropout": ("random neuron mask", "less co-adaptation", "trains longer"),
    "early_stopping": ("stops training", "simple, effective", "does not use all the data"),
    "augment": ("augmented data", "robust model", "needs domain knowledge"),
    # not in the source note: an addition of reglab's (among the most used regularizers)
    "label_smoothing": ("softer targets (addition, not in the note)",
                        "less over-confident logits", "blurs the class scores"),
    "all": ("combination", "seed: better together", "more knobs"),
}

# The base run and each arm's spec keys per data kind (selected on validation data), kept in
# the package data file lab/defaults.toml ([image.base], [image.arms.l2], ...) so that
# re-selected strengths are an edit of that one file; TOML lists are tuples here.
def _tuples(table: Mapping[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}


_DEFAULTS = read_package_toml("reglab.lab", "defaults.toml")
BASE: dict[str, dict[str, Any]] = {kind: _tuples(t["base"]) for kind, t in _DEFAULTS.items()}
_ARMS: dict[str, dict[str, dict[str, Any]]] = {
    kind: {arm: _tuples(ch) for arm, ch in t["arms"].items()} for kind, t in _DEFAULTS.items()}
# Per-model defaults ([image.models.cnn.base], [image.models.cnn.arms.all], ...): a model
# selected on its own (scripts/select_defaults.py --model cnn) gets its own base keys and
# arms; a model or arm without a table of its own takes the kind's (the MLP's).
MODEL_BASE: dict[str, dict[str, dict[str, Any]]] = {
    kind: {model: _tuples(m.get("base", {})) for model, m in t.get("models", {}).items()}
    for kind, t in _DEFAULTS.items()}
_MODEL_ARMS: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
    kind: {model: {arm: _tuples(ch) for arm, ch in m.get("arms", {}).items()}
           for model, m in t.get("models", {}).items()} for kind, t in _DEFAULTS.items()}

# Example arms for the rest of the library, not run by default (``ARMS`` stays the note's
# seven): pick them with ``--arms none,elastic_net`` or override them in ``[arms.NAME]``.
# Their strengths are starting points, not selected on validation data like the defaults.
# A knob the stacked engine does not implement makes its runs train one by one
# (``reglab.lab.execute.sequential_only``); the Prechelt arms are stacked.
EXAMPLES: dict[str, dict[str, Any]] = {
    "elastic_net": {"elastic_net": 1e-4, "l1_ratio": 0.5},
    "group_lasso": {"proximal_group_lasso": 1e-2},
    "gaussian_dropout": {"dropout": 0.3, "dropout_kind": "gaussian"},
    "dropconnect": {"dropout": 0.3, "dropout_kind": "dropconnect"},
    "dropblock": {"dropout": 0.1, "dropout_kind": "dropblock"},   # model = "cnn", images only
    "early_stopping_gl": {"stop_criterion": "gl", "stop_alpha": 5.0},
    "early_stopping_pq": {"stop_criterion": "pq", "stop_alpha": 0.5, "stop_strip": 5},
    "early_stopping_up": {"stop_criterion": "up", "stop_strips": 3, "stop_strip": 5},
}


def base_changes(kind: str, model: str | None = None) -> dict[str, Any]:
    """The base run's keys for a data kind (model, optimizer, epochs...); with ``model``, that
    model's own defaults on top (``base_changes("image", "cnn")``), and ``model`` set."""
    if not isinstance(model, str):  # None, or a bad value RunSpec then names
        return dict(BASE[kind]) if model is None else {**BASE[kind], "model": model}
    return {**BASE[kind], **MODEL_BASE[kind].get(model, {}), "model": model}


def arm_changes(kind: str, model: str | None = None) -> dict[str, dict[str, Any]]:
    """Every arm's spec changes for a data kind (``none`` changes nothing), the built-ins
    (:data:`ARMS`) then the :data:`EXAMPLES`; with ``model``, an arm that model has a table of
    its own for takes that table instead of the kind's."""
    own = _MODEL_ARMS[kind].get(model, {}) if isinstance(model, str) else {}
    return {"none": {}, **{arm: dict(own.get(arm, ch)) for arm, ch in _ARMS[kind].items()},
            **{arm: dict(ch) for arm, ch in EXAMPLES.items()}}


def check_arm_name(name: Any) -> str:
    """A custom arm's name (``[arms.NAME]``): ``[a-z0-9_]+``."""
    if not isinstance(name, str) or not ARM_NAME.fullmatch(name):
        raise fail("compare", "arms", "arm names of lowercase letters, digits and '_'", name)
    return name


def check_arms(arms: list[str], known: Sequence[str] = ARMS) -> list[str]:
    """Return ``arms`` if each is ``known`` and none repeats, else raise naming the bad one.

    Args:
        arms: the arm names to run.
        known: every arm that can be run: the built-ins, plus custom and grid arms.
    """
    listed = f"{{{', '.join(known)}}}"
    if not arms:
        raise fail("compare", "arms", f"a non-empty list of {listed}", arms)
    for arm in arms:
        if arm not in known:
            raise fail("compare", "arms", f"a list of {listed}", arm,
                       hint=did_you_mean(arm, known))
    if len(set(arms)) != len(arms):
        raise fail("compare", "arms", "a list without repeats", ",".join(arms))
    return arms


def _replace_technique(changes: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` with every technique that ``new`` touches replaced by ``new``'s keys."""
    gone = {k for key in new if key in _TECHNIQUE_OF for k in TECHNIQUES[_TECHNIQUE_OF[key]][0]}
    return {**{k: v for k, v in changes.items() if k not in gone}, **new}


def apply_overrides(changes: dict[str, dict[str, Any]], overrides: Mapping[str, Any]
                    ) -> dict[str, dict[str, Any]]:
    """Give every arm that uses a technique the strength given for it, and only that one.

    A strength replaces all the keys of its technique (:data:`TECHNIQUES`) in each arm that
    uses the technique: ``--l1 1e-4`` gives the l1 arm ``{l1: 1e-4}`` (its default proximal
    step goes), ``--weight-decay 0.1`` gives the l2 and all arms decoupled decay instead of
    their L2 term. Keys given together for one technique (``--l2 X --weight-decay Y``) are set
    together. A technique no arm uses goes to the arm that owns it (``weight_decay`` -> l2,
    ``mixup`` -> augment...).
    """
    out = {arm: dict(ch) for arm, ch in changes.items()}
    by_technique: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        by_technique.setdefault(_TECHNIQUE_OF[key], {})[key] = value
    for technique, new in by_technique.items():
        keys, owner = TECHNIQUES[technique]
        users = [arm for arm, ch in out.items() if any(k in ch for k in keys)]
        if not users and owner in out:
            users = [owner]
        for arm in users:
            out[arm] = _replace_technique(out[arm], new)
    return out


def apply_tables(changes: dict[str, dict[str, Any]], tables: Mapping[str, Mapping[str, Any]]
                 ) -> dict[str, dict[str, Any]]:
    """Apply ``[arms.NAME]`` tables: a built-in arm's table replaces the techniques it names
    (``[arms.l1] l1 = 1e-3`` drops the default proximal step), a new name is a new arm with
    just its table's keys."""
    out = {arm: dict(ch) for arm, ch in changes.items()}
    for arm, table in tables.items():
        out[arm] = _replace_technique(out.get(arm, {}), table)
    return out


def grid_name(key: str, text: str, value: Any = None) -> str:
    """A grid arm's name: ``l2-1e-4``, the key and the value as the user wrote it (or as
    :func:`format_value` writes it when the text holds other characters than a run id may:
    the store names weight files by run id, letters, digits, '.', '_' and '-')."""
    if not re.fullmatch(r"[A-Za-z0-9._-]+", text):
        text = format_value(value)
    return f"{key}-{text}"


def grid_arms(changes: Mapping[str, Mapping[str, Any]], key: str,
              values: Sequence[tuple[str, Any]]) -> dict[str, dict[str, Any]]:
    """One arm per value of a grid (``--l2 1e-4,1e-3``): the technique's owner arm with that
    one strength for the technique. ``values``: (text as written, value) pairs."""
    owner = TECHNIQUES[_TECHNIQUE_OF[key]][1]
    return {grid_name(key, text, value): _replace_technique(changes.get(owner, {}), {key: value})
            for text, value in values}


def format_value(v: Any) -> str:
    """A strength as a person writes it: ``1e-4``, ``3.33e-4``, ``0.3``, ``10``, ``noise+shift``."""
    if isinstance(v, (list, tuple)):
        return "+".join(str(x) for x in v) or "none"
    if isinstance(v, Mapping):  # schedules: {"l2": {"schedule": "linear", ...}}
        return "; ".join(f"{key} {t['schedule']} {format_value(float(t['start']))}->"
                         f"{format_value(float(t['end']))}" for key, t in v.items())
    if isinstance(v, bool) or not isinstance(v, float):
        return str(v)
    if v != 0 and (abs(v) < 1e-2 or abs(v) >= 1e5):
        mantissa, exp = f"{v:.2e}".split("e")  # "3.00e-03" -> "3e-3"
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exp)}"
    return f"{v:.3g}"


def settings(spec: Mapping[str, Any], baseline: Mapping[str, Any] | None = None) -> str:
    """An arm's strengths from its spec, e.g. ``"l2=1e-4, dropout=0.3"`` ("-" for none).

    Every regularization key that is on (non-zero, non-empty) is listed in spec order;
    ``augment_strength`` only when it is not 1 and there is augmentation to scale. With the
    ``baseline`` arm's spec, the other keys an arm changes follow (``[arms.long] epochs =
    100`` shows ``epochs=100``); the seed is never one of them.
    """
    parts = []
    for key, v in spec.items() if baseline is not None else ():
        if key not in OVERRIDABLE and key != "seed" and baseline.get(key) != v:
            parts.append(f"{key}={format_value(v)}")
    for key in OVERRIDABLE:
        v = spec.get(key)
        if key == "augment_strength":
            if not spec.get("augment") or v in (None, 1, 1.0):
                continue
        elif not v or (key in _OFF and v == _OFF[key]):
            continue
        parts.append(f"{key}={format_value(v)}")
    return ", ".join(parts) or "-"
