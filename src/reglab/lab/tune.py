"""``reglab tune``: an Optuna study over the regularization space, on one machine or many.

Each trial is one :func:`reglab.train.sequential.fit` run on a configuration drawn by a seeded TPE
sampler; its per-epoch validation score feeds successive halving (multi-fidelity: the
resource is the epoch, at most the base run's ``epochs``; the rung comes at half of them,
:func:`first_rung`: of the trials that reach half the budget, the best third train on;
trials searched shorter than that are never pruned). ``parallel`` trials are in flight at
once (:func:`run_trials`, default :data:`PARALLEL`), scored in one-thread worker processes,
and told to the study in number order; each is drawn and judged against the trials finished
when it was drawn, so a command's study depends on ``parallel`` and its seed, not on the
cores or their load. The objective is the validation score only: the test split is hidden from
every trial. When the study has its trials, the best few are confirmed (:func:`confirm`):
the :data:`CONFIRM_TOP` best finished trials train again with :data:`CONFIRM_SEEDS` other
init seeds on the search's split, validation only, and the best mean of those fresh scores
wins: a single run's score on a few hundred validation rows is noisy, and the highest of
forty such scores is the luckiest as much as the best. The winner is then
retrained with init seeds 0..S-1 next to the ``none`` arm on the same seeds, all on the
search's own split (``split_seed`` = the search's), each evaluated once on that split's test
rows, which no trial saw, and compared pairwise as in ``reglab compare``.

Warm start (:func:`warm_start`, ``warm=False`` to skip): a fresh study's first trial is the
``all`` arm of ``reglab compare`` on the same base, as far as the space can say it.

The space (override any entry in a TOML ``[space.NAME]`` table; NAME is a RunSpec key; a
run-spec flag such as ``--lr 1e-3`` fixes that key instead, except ``--epochs``, the budget):

==================  ===========================  =========================================
parameter           default range                meaning
==================  ===========================  =========================================
augment             the kind's sets (see below)  which label-safe augmentations
augment_strength    0.25 .. 2                    their magnitudes, scaled
weight_decay        on/off, 1e-4 .. 0.5 (log)    decoupled decay ``w <- w - lr wd w``
label_smoothing     on/off, 0.01 .. 0.3          targets ``(1 - eps) t + eps / C``
dropout             0 .. 0.5                     drop rate after each hidden activation
mixup               on/off, 0.05 .. 0.5          Mixup's Beta(alpha, alpha)
patience            on/off, 3 .. 30 (int)        early stopping on validation loss
lr                  1e-4 .. 1e-2 (log)           learning rate (the schedule's peak)
lr_schedule         constant, cosine, step       per-step schedule
warmup              0 .. 0.2                     linear warmup, fraction of the run
epochs              epochs/3 .. epochs (int)     training length (and the schedule's)
==================  ===========================  =========================================

Augmentation sets (:data:`AUGMENT_SETS`): image: none, translate, rotate+translate,
rotate+translate+scale, the same + noise, translate+erase; signal: none, shift, shift+warp,
shift+warp+scale, shift+noise, shift+warp+noise; tabular: none, noise, swap, noise+swap.
``l1`` and ``l2`` (loss terms) are not searched by default; a ``[space.l2]`` table adds one.

Opt-in ranges (``OPT_IN_SPACE``), searched only when a ``[space.NAME]`` table names them
(an empty table takes them as they are): ``elastic_net`` 1e-6 .. 1e-2 (log, on/off),
``l1_ratio`` 0 .. 1, ``group_lasso`` 1e-6 .. 1e-2 and ``proximal_group_lasso`` 1e-4 .. 1e-1
(log, on/off), ``proximal_l1`` 1e-3 .. 1 (log, on/off),
``dropout_kind`` standard / gaussian / dropconnect, ``stop_criterion`` patience / gl / pq /
up with ``stop_alpha`` 0.5 .. 20 (log), ``stop_strip`` 2 .. 10, ``stop_strips`` 1 .. 5.

"on/off" is a categorical switch ``NAME_on`` in front of the range, so that zero (no L1,
no early stopping...) is a point of the space and not the edge of a log range. A
``[space.NAME]`` table takes ``low``, ``high``, ``log``, ``optional`` (the switch),
``choices`` (a categorical list) or ``value`` (fixed, not searched)::

    [space.l2]
    low = 1e-5
    high = 1e-1
    [space.mixup]
    value = 0.0            # no mixup in this study
    [space.dropout]
    choices = [0.0, 0.2, 0.5]

Storage: any Optuna storage URL. The default is ``sqlite:///runs/NAME/optuna.sqlite``; with
``postgresql://user:password@host/db`` several machines run the same command against one
study (``--study NAME`` joins it; rerunning continues it; their trials interleave as they
come). ``--trials N`` counts COMPLETE + PRUNED trials over *all* commands: the study ends
with exactly N of them (a command that was killed leaves FAIL trials, found stale by the
heartbeat, and the others make up for them).

Example::

    result = tune(RunSpec(data="digits", epochs=20), trials=30, out="runs", name="t")
    result.best_spec.to_toml()
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import math
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from reglab._epochs import shown_epoch
from reglab._validation import InvalidParameterError, check_bool, check_float, check_int, fail
from reglab.lab.execute import (Job, _portable, _restored, load_data, process_count,
                                result_or_crash, run_experiment, train_many,
                                worker_pool)
from reglab.lab.arms import OVERRIDABLE, arm_changes, format_value
from reglab.lab.spec import DROPOUT_KINDS, STOP_CRITERIA, RunSpec
from reglab.lab.store import check_name
from reglab.train.sequential import fit

__all__ = ["Param", "DEFAULT_SPACE", "REGULARIZERS", "load_space", "spec_from_params",
           "default_storage", "open_storage", "open_study", "run_trials", "score_trial",
           "TrialTask", "TrialPruned", "rung_epochs", "rung_value", "promoted", "PARALLEL",
           "default_space", "AUGMENT_SETS", "retrain_specs", "OutOfTime",
           "counted_trials", "export_best", "save_plots", "tune", "TuneResult", "confirm",
           "Confirmed", "CONFIRM_TOP", "CONFIRM_SEEDS", "CONFIRM_SEED", "warm_start",
           "warm_start_params"]

METRICS = {"val_acc": "maximize", "val_loss": "minimize"}
# Spec keys that are regularization: zeroed in the `none` arm, written in [arms.all].
REGULARIZERS = OVERRIDABLE
_NOT_SEARCHABLE = ("data", "target", "device", "seed", "split_seed", "hidden")


@dataclass(frozen=True)
class Param:
    """One searched spec key: a range (float/int, optionally log), or categorical choices.

    Args:
        low, high: the range (ignored with ``choices`` or ``value``).
        log: sample ``log(x)`` uniformly (needs ``low > 0``).
        integer: suggest ints (``patience``).
        optional: a switch ``NAME_on``; off means "technique not used" (0 / no augmentation).
        choices: a categorical list of scalars instead of a range.
        value: a fixed value (the key is not searched).
    """

    low: float = 0.0
    high: float = 1.0
    log: bool = False
    integer: bool = False
    optional: bool = False
    choices: tuple | None = None
    value: Any = None

    def suggest(self, trial, name: str) -> Any:
        """Draw this parameter in ``trial``; None means switched off."""
        if self.value is not None:
            return self.value
        if self.optional and not trial.suggest_categorical(f"{name}_on", [False, True]):
            return None
        if self.choices is not None:
            return trial.suggest_categorical(name, list(self.choices))
        if self.integer:
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(name, self.low, self.high, log=self.log)


# The space whatever the data kind; default_space adds the kind's augmentation sets and the
# training length.
DEFAULT_SPACE: dict[str, Param] = {
    "augment_strength": Param(0.25, 2.0),
    "weight_decay": Param(1e-4, 0.5, log=True, optional=True),
    "label_smoothing": Param(0.01, 0.3, optional=True),
    "dropout": Param(0.0, 0.5),
    "mixup": Param(0.05, 0.5, optional=True),
    "patience": Param(3, 30, integer=True, optional=True),
    "lr": Param(1e-4, 1e-2, log=True),
    "lr_schedule": Param(choices=("constant", "cosine", "step")),
    "warmup": Param(0.0, 0.2),
}

# Label-safe augmentation sets per data kind, as comma lists ("" = none).
AUGMENT_SETS: dict[str, tuple[str, ...]] = {
    "image": ("", "translate", "rotate,translate", "rotate,translate,scale",
              "rotate,translate,scale,noise", "translate,erase"),
    "signal": ("", "shift", "shift,warp", "shift,warp,scale", "shift,noise", "shift,warp,noise"),
    "tabular": ("", "noise", "swap", "noise,swap"),
}


# Ranges for the rest of the library, searched only when a [space.NAME] table names them
# (an empty table takes the range as it is); the default space stays the one above.
OPT_IN_SPACE: dict[str, Param] = {
    "elastic_net": Param(1e-6, 1e-2, log=True, optional=True),
    "l1_ratio": Param(0.0, 1.0),
    "group_lasso": Param(1e-6, 1e-2, log=True, optional=True),
    "proximal_group_lasso": Param(1e-4, 1e-1, log=True, optional=True),
    "proximal_l1": Param(1e-3, 1.0, log=True, optional=True),
    "dropout_kind": Param(choices=DROPOUT_KINDS[:3]),
    "stop_criterion": Param(choices=STOP_CRITERIA),
    "stop_alpha": Param(0.5, 20.0, log=True),
    "stop_strip": Param(2, 10, integer=True),
    "stop_strips": Param(1, 5, integer=True),
}


def default_space(kind: str | None = None, epochs: int | None = None) -> dict[str, Param]:
    """:data:`DEFAULT_SPACE`, plus the kind's augmentation sets and ``epochs`` searched over
    ``[max(1, epochs // 3), epochs]`` (each when given)."""
    space = dict(DEFAULT_SPACE)
    if kind is not None:
        space = {"augment": Param(choices=AUGMENT_SETS[kind]), **space}
    if epochs is not None:
        space["epochs"] = Param(max(1, epochs // 3), epochs, integer=True)
    return space


def load_space(table: Mapping[str, Any] | None, kind: str | None = None,
               epochs: int | None = None) -> dict[str, Param]:
    """The default space (:func:`default_space` of ``kind`` and ``epochs``) with a TOML
    ``[space]`` table's entries merged in, validated.

    Raises InvalidParameterError naming ``[space.NAME]`` and the key on a bad entry.
    """
    space = default_space(kind, epochs)
    for name, entry in (table or {}).items():
        if name not in RunSpec.keys() or name in _NOT_SEARCHABLE:
            allowed = [k for k in RunSpec.keys() if k not in _NOT_SEARCHABLE]
            raise fail("[space]", "key", f"one of {{{', '.join(allowed)}}}", name)
        if not isinstance(entry, Mapping):
            raise fail("[space]", name, "a table of low/high/log/optional/choices/value", entry)
        space[name] = _param(name, entry, space.get(name, OPT_IN_SPACE.get(name)))
    return space


def _param(name: str, entry: Mapping[str, Any], old: Param | None) -> Param:
    owner = f"[space.{name}]"
    known = ("low", "high", "log", "optional", "choices", "value")
    for key in entry:
        if key not in known:
            raise fail(owner, "key", f"one of {{{', '.join(known)}}}", key)
    if "value" in entry:
        RunSpec().replace(**{name: entry["value"]})  # the spec's own check, naming the key
        return Param(value=entry["value"])
    integer = isinstance(getattr(RunSpec(), name), int) and not isinstance(
        getattr(RunSpec(), name), bool)
    if "choices" in entry:
        choices = entry["choices"]
        if (not isinstance(choices, list) or not choices
                or any(not isinstance(c, (bool, int, float, str)) for c in choices)):
            raise fail(owner, "choices", "a non-empty list of numbers or strings", choices)
        for c in choices:
            RunSpec().replace(**{name: c})
        return Param(choices=tuple(choices),
                     optional=check_bool(owner, "optional", entry.get("optional", False)))
    if old is not None and old.choices is not None and not {"low", "high", "log"} & set(entry):
        return Param(choices=old.choices,  # an opt-in categorical, e.g. [space.stop_criterion]
                     optional=check_bool(owner, "optional", entry.get("optional", old.optional)))
    base = old if old is not None and old.choices is None and old.value is None else Param(
        integer=integer)
    low = entry.get("low", base.low)
    high = entry.get("high", base.high)
    log = check_bool(owner, "log", entry.get("log", base.log))
    low = check_float(owner, "low", low, 0.0, low_open=log)
    high = check_float(owner, "high", high, low, low_open=True)
    return Param(low, high, log, integer,
                 check_bool(owner, "optional", entry.get("optional", base.optional)))


def spec_from_params(base: RunSpec, kind: str, values: Mapping[str, Any]) -> RunSpec:
    """The trial's spec: ``base`` with each drawn value (None = switched off) applied.

    ``augment_strength`` switched on uses ``base.augment``, or the data kind's default
    augmentations (the ``augment`` arm of ``reglab compare``) when the base has none.
    """
    changes: dict[str, Any] = {}
    for name, v in values.items():
        if name == "augment_strength":
            if v is None or v == 0:
                changes.update(augment=(), augment_strength=1.0)
                continue
            if not base.augment and "augment" not in values:
                changes["augment"] = arm_changes(kind, base.model)["augment"]["augment"]
        changes[name] = _off(name) if v is None else v
    if "augment" in changes and not changes["augment"]:
        changes["augment_strength"] = 1.0  # no augmentation: the strength means nothing
    return base.replace(**changes)


def _off(name: str) -> Any:
    default = {f.name: f.default for f in fields(RunSpec)}[name]
    if isinstance(default, str):  # dropout_kind, stop_criterion: the default is "off"
        return default
    return () if isinstance(default, tuple) else type(default)(0)


def warm_start_params(base: RunSpec, kind: str, space: Mapping[str, Param]
                      ) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The ``all`` arm of ``reglab compare`` on ``base`` as Optuna params of ``space``.

    Returns ``(params, notes)``: ``params`` names each searched key the way
    :meth:`Param.suggest` draws it (``NAME_on`` switches, comma strings for augmentation
    sets), so that a trial given them trains the arm's spec as far as ``space`` can say it;
    ``notes`` say where it cannot: a key the space does not search keeps ``base``'s value
    (mnist1d's ``all`` has an L2 loss term of 1e-4; L2 is not searched), a number outside
    its range takes the nearer end (digits' patience 40 -> 30), a value that is not one of
    the choices is drawn.
    """
    changes = arm_changes(kind, base.model)["all"]
    arm = base.replace(**changes)
    params: dict[str, Any] = {}
    notes = [f"{k}={format_value(v)}: not searched, left at {format_value(getattr(base, k))}"
             for k, v in changes.items() if k not in space]
    for name, p in space.items():
        if p.value is not None:
            continue  # fixed: not a param of the trial
        v = getattr(arm, name)
        if name == "augment":
            v = ",".join(v)
        elif p.optional and v in ((), "", 0):
            params[f"{name}_on"] = False
            continue
        if p.choices is not None:
            if v not in p.choices:
                notes.append(f"{name}={format_value(v)}: not one of the choices, drawn")
                continue
        else:
            edge = min(max(v, p.low), p.high)
            edge = int(round(edge)) if p.integer else edge
            if edge != v:
                notes.append(f"{name}={format_value(v)}: outside {format_value(p.low)}.."
                             f"{format_value(p.high)}, {format_value(edge)}")
            v = edge
        if p.optional:
            params[f"{name}_on"] = True
        params[name] = v
    return params, tuple(notes)


def warm_start(study, base: RunSpec, kind: str, space: Mapping[str, Param]) -> bool:
    """Make a fresh study's first trial the ``all`` arm (:func:`warm_start_params`).

    Why: TPE's first trials are random draws, and the defaults are the best recipe reglab
    knows, selected on validation (``scripts/select_defaults.py``); a search that tries them
    first ranks its other trials against them and confirms them like any other (as Optuna's
    ``enqueue_trial`` is meant for: "known good hyperparameters"). Only a study with no trial
    and no warm start yet is warmed, so a rerun or a second machine that joins adds nothing;
    two commands that create one study at the same moment may both enqueue it (one spec, one
    candidate for :func:`confirm`). Kept in the study's user attribute ``warm_start``.
    Returns whether this call enqueued it.
    """
    if study.get_trials(deepcopy=False) or "warm_start" in study.user_attrs:
        return False
    params, notes = warm_start_params(base, kind, space)
    study.set_user_attr("warm_start", {"params": params, "notes": list(notes)})
    study.enqueue_trial(params)
    return True


# -- storage and study ----------------------------------------------------------------------
def default_storage(out: str | Path, name: str) -> str:
    """``sqlite:////abs/runs/NAME/optuna.sqlite`` (the folder is created)."""
    folder = Path(out) / check_name(name)
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / 'optuna.sqlite').resolve()}"


def open_storage(url: str, heartbeat_interval: int = 10, grace_period: int | None = None):
    """An Optuna RDBStorage with a heartbeat, so a killed worker's trial is failed, not lost.

    ``postgresql://`` is read as ``postgresql+psycopg2://`` when psycopg 3 is not installed
    (SQLAlchemy 2.1 defaults to psycopg 3; the ``tune`` extra installs psycopg2-binary).
    SQLite waits up to 60 s for a lock instead of 5 (several workers share the file).

    Args:
        url: an SQLAlchemy URL (sqlite:///..., postgresql://user:pw@host/db, mysql://...).
        heartbeat_interval: seconds between a running trial's heartbeats.
        grace_period: seconds without a heartbeat after which a RUNNING trial is stale and
            marked FAIL (default: 2 * heartbeat_interval + 10).
    """
    import optuna  # optional: the tune extra
    import sqlalchemy.exc  # optuna's own dependency, only where a storage is opened
    url = _driver_url(url)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 60}
    else:
        kwargs["pool_pre_ping"] = True  # a long trial outlives idle server connections
    grace = grace_period if grace_period is not None else 2 * heartbeat_interval + 10
    for attempt in range(4):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs=kwargs,
                                                  heartbeat_interval=heartbeat_interval,
                                                  grace_period=grace)
        except ImportError as err:
            raise InvalidParameterError(f"The storage {redact(url)!r} needs a database "
                                        f"driver: {err} (pip install 'reglab[tune]').") from None
        except Exception as err:  # noqa: BLE001 - sqlalchemy's OperationalError and kin
            # Workers that start together on a fresh database race to create its tables
            # (a UNIQUE error for all but one); the tables exist on the next try. A URL that
            # cannot name a database (unknown scheme, bad syntax) will not get better.
            if attempt == 3 or isinstance(err, (sqlalchemy.exc.ArgumentError,
                                                sqlalchemy.exc.NoSuchModuleError)):
                raise InvalidParameterError(f"Cannot open the Optuna storage {redact(url)!r}: "
                                            f"{' '.join(str(err).split())[:300]}") from None
            time.sleep(0.5 + attempt)
    raise AssertionError("unreachable")


def _driver_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            try:
                import psycopg  # noqa: F401 - SQLAlchemy's default driver when present
            except ImportError:
                return "postgresql+psycopg2://" + url[len(prefix):]
            return "postgresql://" + url[len(prefix):]
    return url


def redact(url: str) -> str:
    """The URL with its password replaced by ``***`` (for messages and the record)."""
    try:
        from sqlalchemy.engine import make_url  # comes with optuna (the tune extra)
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL sqlalchemy understands: show the scheme only
        return url.split("://", 1)[0] + "://..."


class _TrialSeededTPE:
    """TPE whose random draws are seeded by (seed, trial number), not by the worker.

    Workers that share a study and a seed would otherwise draw the same start-up points;
    seeding per trial number keeps one worker's study reproducible and many workers' apart.
    """

    def __new__(cls, seed: int):
        import optuna  # optional: the tune extra

        class Sampler(optuna.samplers.TPESampler):
            def before_trial(self, study, trial):
                s = (seed * 1_000_003 + trial.number) % 2**32
                try:  # private in Optuna 3-5; without it TPE is still seeded, per worker
                    self._rng.rng.seed(s)
                    self._random_sampler._rng.rng.seed(s)
                except AttributeError:
                    pass
                super().before_trial(study, trial)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return Sampler(seed=seed, constant_liar=True)


# Successive halving's first rung is 1/FIRST_RUNG of the base run's epochs (rung_epochs).
FIRST_RUNG = 2


def first_rung(max_epochs: int) -> int:
    """Successive halving's first rung for a budget of ``max_epochs``: the 0-based epoch
    ``max(1, max_epochs // FIRST_RUNG)`` (100 for 200 epochs; 1 below 4).

    Why half: epochs are the resource, reported once per epoch; a rung keeps the best third.
    Earlier rungs rank the phase before the learning rate decays, where strong
    regularization looks worst: in a 40-trial mnist1d study with its first rung at epoch 10
    (rungs 10, 30, 90), the 26 pruned trials trained to the end scored up to 89.33%
    validation accuracy (weight decay 0.48, pruned at epoch 31 with 68.3%), above the
    study's best, 88.50%; with the first rung at epoch 100 a study found weight decay 0.23
    at 90.00% (89.50% confirmed on fresh seeds, against 87.83 and 88.25% for two studies
    with the earlier rung) in 1.9-2.4x the search time. Before, rungs at epoch 1-4 had
    ranked warmup and noise (rank correlation 0.22 between epoch-1 and final validation
    accuracy)."""
    return max(1, int(max_epochs) // FIRST_RUNG)


def open_study(storage, study_name: str, metric: str = "val_acc", seed: int = 0):
    """Create or join (load_if_exists) the study, with the seeded TPE sampler.

    Its pruning is :func:`run_trials`' own successive halving, decided from the scores of
    the trials finished when a trial was drawn (so the study's Optuna pruner is none).

    Args:
        storage: a storage URL or an Optuna storage (see :func:`open_storage`).
        study_name: the study's name in the storage.
        metric: "val_acc" (maximized) or "val_loss" (minimized).
        seed: the sampler's seed.
    """
    import optuna  # optional: the tune extra
    if metric not in METRICS:
        raise fail("tune", "metric", f"one of {{{', '.join(METRICS)}}}", metric)
    if isinstance(storage, str):
        storage = open_storage(storage)
    return optuna.create_study(storage=storage, study_name=study_name, load_if_exists=True,
                               direction=METRICS[metric], sampler=_TrialSeededTPE(seed),
                               pruner=optuna.pruners.NopPruner())


# -- the trials: drawn in order, scored in parallel, told in order --------------------------
# Trials in flight by default: drawn before the earliest of them is scored. The results of a
# study depend on it (each trial's draw and pruning see the trials finished before it), never
# on how many processes score them.
PARALLEL = 4
REDUCTION = 3  # successive halving: a rung keeps the best third


def rung_epochs(max_epochs: int) -> tuple[int, ...]:
    """The 0-based epochs at which successive halving judges a trial of a study whose longest
    run is ``max_epochs``: :func:`first_rung`, then 3x each, those a run can reach (100 for
    200 epochs: one rung; none for 1 epoch)."""
    out, rung = [], first_rung(max_epochs)
    while rung < max_epochs:
        out.append(rung)
        rung *= REDUCTION
    return tuple(out)


def rung_value(values: Mapping[int, float], epoch: int) -> float | None:
    """A trial's score at the rung ``epoch``: the first it reported at or after it (its score
    there, unless that one was not finite); None where it stopped before."""
    later = [step for step in values if step >= epoch]
    return values[min(later)] if later else None


def promoted(value: float, competitors: Sequence[float], maximize: bool = True) -> bool:
    """Successive halving's rule at a rung (Optuna's, without bootstrap trials): ``value``
    trains on if at most ``max(n // 3 - 1, 0)`` of the ``competitors`` beat it, where n
    counts them and it (so the first two trials to reach a rung go on only as its best)."""
    keep = max((len(competitors) + 1) // REDUCTION - 1, 0)
    return sum(1 for c in competitors if (c > value if maximize else c < value)) <= keep


class TrialPruned(Exception):
    """Raised in a trial's run when a rung stops it (the trial is told PRUNED)."""


class OutOfTime(Exception):
    """The ``--timeout`` passed during a trial: stopped at its next epoch (FAIL, not counted
    toward ``--trials``; a later run or another command makes it up)."""


@dataclass(frozen=True)
class TrialTask:
    """What scoring one trial needs, fixed when it is drawn: its spec, the metric, and per
    rung the scores there of the trials that had finished then (its competitors)."""

    number: int
    spec: RunSpec
    metric: str
    maximize: bool
    rungs: tuple[int, ...]
    competitors: tuple[tuple[float, ...], ...]
    deadline: float | None = None

    def judge(self, passed: int, epoch: int, score: float) -> int:
        """The rungs passed after ``score`` at ``epoch`` (``passed`` before it); raises
        :class:`TrialPruned` at a rung the score does not pass."""
        while passed < len(self.rungs) and epoch >= self.rungs[passed]:
            if not promoted(score, self.competitors[passed], self.maximize):
                raise TrialPruned(f"pruned at epoch {shown_epoch(epoch)}: {self.metric} "
                                  f"{score:.4f}")
            passed += 1
        return passed


def counted_trials(study) -> list:
    """The trials that count toward ``--trials``: COMPLETE and PRUNED."""
    from optuna.trial import TrialState  # optional: the tune extra
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def _without_test(data) -> SimpleNamespace:
    """A view of the data set whose test split is empty: trials cannot read it."""
    empty = SimpleNamespace(X=data.val.X[:0], y=data.val.y[:0])
    return SimpleNamespace(name=getattr(data, "name", "data"), kind=data.kind,
                           input_shape=tuple(data.input_shape), num_classes=data.num_classes,
                           train=data.train, val=data.val, test=empty,
                           task=getattr(data, "task", "classification"),
                           target_std=getattr(data, "target_std", None))


def score_trial(task: TrialTask, data) -> dict[str, Any]:
    """Train the trial's spec on ``data`` (its test split empty) and say how it ended.

    Each epoch's finite ``metric`` is kept and judged at the rungs (:meth:`TrialTask.judge`);
    past the deadline (``time.monotonic()``, one clock for all processes here) the run stops
    at its next epoch. The score of a finished run is ``metric`` on the validation split of
    its final weights (the best ones when early stopping restored them); a diverged run
    scores the worst value (0 accuracy, inf loss): a finished, bad trial.

    Returns:
        ``{"state": "COMPLETE" | "PRUNED" | "FAIL", "values": {epoch: score}, ...}`` with
        ``value``, ``status`` and ``reason`` (COMPLETE), ``why`` (PRUNED, FAIL) and
        ``out_of_time`` (a FAIL by the deadline).
    """
    values: dict[int, float] = {}
    passed = [0]

    def report(epoch: int, row: Mapping[str, float]) -> None:
        if task.deadline is not None and time.monotonic() > task.deadline:
            raise OutOfTime(f"trial {task.number}: the timeout passed at epoch "
                            f"{shown_epoch(epoch)}")
        score = row.get(task.metric)
        if score is None or not math.isfinite(score):
            return
        values[epoch] = float(score)
        passed[0] = task.judge(passed[0], epoch, float(score))

    try:
        if task.deadline is not None and time.monotonic() > task.deadline:
            raise OutOfTime(f"trial {task.number}: the timeout passed before it started")
        result = fit(task.spec, data, on_epoch=report)
    except TrialPruned as why:
        return {"state": "PRUNED", "values": values, "why": str(why)}
    except OutOfTime as why:
        return {"state": "FAIL", "values": values, "why": str(why), "out_of_time": True}
    score = result.final.get(task.metric, math.nan)
    if result.status != "done" or not math.isfinite(score):
        score = 0.0 if task.maximize else math.inf
    return {"state": "COMPLETE", "values": values, "value": float(score),
            "status": result.status, "reason": result.reason}


def _score_in_worker(task: TrialTask, data) -> dict[str, Any]:
    return score_trial(task, _restored(data))


def run_trials(study, base: RunSpec, data, space: Mapping[str, Param], n_trials: int,
               metric: str = "val_acc", *, parallel: int = PARALLEL,
               workers: int | None = None, timeout: float | None = None, poll: float = 1.0,
               progress: Callable[[int, int], None] | None = None) -> int:
    """Run trials until the study has ``n_trials`` COMPLETE + PRUNED ones (over every
    command that shares it), ``parallel`` in flight, scored in worker processes.

    The order is fixed: the first ``parallel`` trials are drawn at the start, then each
    trial is told (its scores and state written to the study) in number order, and right
    after each, the next is drawn. A trial drawn in a study where trials 0..k-1 are finished
    and k..k+parallel-1 running sees exactly that, whichever process scores what and when:
    TPE draws it with the running ones as constant liars, and successive halving judges it at
    each rung (:func:`rung_epochs` of ``base.epochs``) against the trials finished when it was
    drawn, the same view. So one command's study is the same for any number of workers
    (``workers``; None: one per free core where they pay, at most ``parallel``); with
    ``parallel=1`` it is the study one trial at a time with Optuna's successive-halving
    pruner. Commands that share a study interleave their trials as they come.

    Before each draw, stale trials (heartbeat) are failed and the finished and running ones
    counted: a trial is drawn only if they leave room; with none in flight here and no room,
    this waits for the others' (``poll`` seconds) and takes over when one goes stale. A
    trial that a race drew after the study had its ``n_trials`` is marked surplus (FAIL). No
    trial is drawn after ``timeout`` seconds; a running one stops at its next epoch (FAIL).
    ``progress(done, n_trials)`` whenever the count of finished trials changes.

    Returns:
        How many trials this command ran.
    """
    import optuna  # optional: the tune extra
    from optuna.trial import TrialState
    check_int("tune", "parallel", parallel, 1, 10_000)
    deadline = None if timeout is None else time.monotonic() + timeout
    holdout = _without_test(data)
    maximize = METRICS[metric] == "maximize"
    rungs = rung_epochs(base.epochs)
    live = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    flight: dict[int, tuple[Any, TrialTask]] = {}  # drawn here, not told yet
    results: dict[int, dict[str, Any]] = {}
    waiting: list[int] = []  # drawn, not started
    ran, shown = 0, [None]

    def count() -> tuple[int, int]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        states = [t.state for t in study.get_trials(deepcopy=False)]
        done = sum(s in (TrialState.COMPLETE, TrialState.PRUNED) for s in states)
        if progress is not None and done != shown[0]:
            shown[0] = done
            progress(min(done, n_trials), n_trials)
        return done, states.count(TrialState.RUNNING)

    def draw() -> bool:
        if deadline is not None and time.monotonic() >= deadline:
            return False
        done, busy = count()
        if done + busy >= n_trials:
            return False
        with warnings.catch_warnings():  # "Heartbeat ... used with Study.optimize": run
            warnings.simplefilter("ignore", UserWarning)  # here, _heartbeats beats it
            trial = study.ask()
        _beat(study, trial)
        ahead = [t for t in study.get_trials(deepcopy=False, states=live)
                 if t.number < trial.number]
        if len(ahead) >= n_trials:  # two commands drew at once; this one is extra
            trial.set_user_attr("surplus", True)
            study.tell(trial, state=TrialState.FAIL)
            return False
        values = {name: p.suggest(trial, name) for name, p in space.items()}
        spec = spec_from_params(base, data.kind, values)
        trial.set_user_attr("spec", spec.to_dict())
        finished = [t for t in study.get_trials(deepcopy=False)
                    if t.state.is_finished() and t.number != trial.number]
        competitors = tuple(tuple(v for t in finished
                                  if (v := rung_value(t.intermediate_values, r)) is not None)
                            for r in rungs)
        flight[trial.number] = (trial, TrialTask(trial.number, spec, metric, maximize, rungs,
                                                 competitors, deadline))
        waiting.append(trial.number)
        return True

    def tell_ready() -> None:
        nonlocal ran
        while flight and min(flight) in results:
            number = min(flight)
            trial, _ = flight.pop(number)
            res = results.pop(number)
            for step, value in sorted(res["values"].items()):
                trial.report(value, step)
            for key in ("status", "reason", "out_of_time", "error"):
                if key in res:
                    trial.set_user_attr(key, res[key])
            if res["state"] == "COMPLETE":
                study.tell(trial, res["value"])
            else:
                study.tell(trial, state=getattr(TrialState, res["state"]))
            _log_trial(study, number, res, trial.params)
            ran += 1
            if "error" in res:
                raise RuntimeError(f"trial {number} ({trial.user_attrs['spec']}) failed: "
                                   f"{res['error']}")
            if len(flight) < parallel:
                draw()  # counts the finished trials first (the progress hook)

    procs = process_count(workers, [base], [data], parallel)
    threads = torch.get_num_threads()
    try:
        with _heartbeats(study, flight), (worker_pool(procs) if procs > 1
                                          else contextlib.nullcontext((None, None))) as (pool, _):
            if procs == 1:
                torch.set_num_threads(1)
            shipped = _portable(holdout) if procs > 1 else None
            running: dict[Any, int] = {}
            while True:
                while len(flight) < parallel and draw():
                    pass
                if not flight:
                    done, busy = count()
                    if done >= n_trials or (deadline is not None
                                            and time.monotonic() >= deadline):
                        break
                    time.sleep(poll)  # room only when another command's trials end
                    continue
                if procs == 1:
                    number = waiting.pop(0)
                    try:
                        results[number] = score_trial(flight[number][1], holdout)
                    except Exception as err:  # noqa: BLE001 - told FAIL, then raised
                        results[number] = {"state": "FAIL", "values": {},
                                           "error": f"{type(err).__name__}: {err}"}
                else:
                    while waiting and len(running) < procs:
                        number = waiting.pop(0)
                        running[pool.submit(_score_in_worker, flight[number][1],
                                            shipped)] = number
                    finished, _ = cf.wait(running, timeout=0.5,
                                          return_when=cf.FIRST_COMPLETED)
                    for fut in finished:
                        number = running.pop(fut)
                        results[number] = result_or_crash(fut, lambda err: {
                            "state": "FAIL", "values": {}, "error": err})
                if results:
                    tell_ready()
    except BaseException:
        for trial, _ in list(flight.values()):  # Ctrl-C, a failed trial: nothing left running
            try:
                study.tell(trial, state=TrialState.FAIL)
            except Exception:  # noqa: BLE001 - already told, or the storage is gone
                pass
        raise
    finally:
        torch.set_num_threads(threads)
    return ran


def _log_trial(study, number: int, res: Mapping[str, Any], params: Mapping[str, Any]) -> None:
    """The line Optuna's own loop logs for a finished trial (INFO, as ``optuna`` is set)."""
    import optuna  # optional: the tune extra
    log = optuna.logging.get_logger("optuna.reglab")
    if res["state"] == "PRUNED":
        log.info(f"Trial {number} {res['why']}.")
    elif res["state"] == "FAIL":
        log.info(f"Trial {number} failed: {res.get('why') or res.get('error')}.")
    else:
        best = study.best_trial
        log.info(f"Trial {number} finished with value: {res['value']} and parameters: "
                 f"{dict(params)}. Best is trial {best.number} with value: {best.value}.")


def _beating(storage) -> bool:
    """Whether ``storage`` keeps heartbeats (an RDBStorage opened with an interval)."""
    return (hasattr(storage, "record_heartbeat")
            and getattr(storage, "get_heartbeat_interval", lambda: None)() is not None)


def _beat(study, trial) -> None:
    """Record a heartbeat of ``trial`` now (nothing where the storage keeps none)."""
    if _beating(study._storage):
        study._storage.record_heartbeat(trial._trial_id)


@contextlib.contextmanager
def _heartbeats(study, flight: Mapping[int, tuple[Any, TrialTask]]):
    """A thread that records a heartbeat for each trial in ``flight`` every heartbeat
    interval, so that the study's other commands see them alive and a killed command's
    trials go stale (FAIL) after the grace period."""
    storage = study._storage
    if not _beating(storage):
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(storage.get_heartbeat_interval()):
            try:
                trials = [trial for trial, _ in tuple(flight.values())]
            except RuntimeError:  # changed while copied: the next beat
                continue
            for trial in trials:
                try:
                    storage.record_heartbeat(trial._trial_id)
                except Exception:  # noqa: BLE001 - a busy database: the next beat
                    pass

    thread = threading.Thread(target=beat, name="reglab-tune-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


# -- confirming the best ---------------------------------------------------------------------
# The best finished trials confirmed before the retrain, each with this many more init seeds,
# from CONFIRM_SEED (the retrain's are 0..S-1, so no confirmation run is a retrain run). Why:
# a 40-trial mnist1d study (2026-12-02) ended with two trials tied at 88.50% validation
# accuracy on its 600 rows; the first one by number (step schedule, shift only) retrained to
# 85.23 +- 0.71% test, where the searches before had retrained to 87.6-87.8%.
CONFIRM_TOP = 3
CONFIRM_SEEDS = 2
CONFIRM_SEED = 1000


@dataclass(frozen=True)
class Confirmed:
    """One trial rescored by :func:`confirm`: its search score (one run, the base's seed)
    and its scores on the confirmation seeds (the same split, validation only)."""

    trial: int
    searched: float
    scores: tuple[float, ...]
    spec: RunSpec

    @property
    def mean(self) -> float:
        """The mean of ``scores`` (nan when there are none)."""
        return math.fsum(self.scores) / len(self.scores) if self.scores else math.nan


def confirm(study, base: RunSpec, data, top: int = CONFIRM_TOP, seeds: int = CONFIRM_SEEDS,
            metric: str = "val_acc", workers: int | None = None,
            progress: Callable[[int, int], None] | None = None) -> list[Confirmed]:
    """Rescore the ``top`` best COMPLETE trials with ``seeds`` fresh init seeds, best first.

    Each trial's spec trains again with init seeds ``CONFIRM_SEED``, ``CONFIRM_SEED + 1``, ...
    on the search's split (the data without its test rows, as the trials saw it); the order
    is by the mean of those fresh scores (``metric``'s direction; ties: the search score,
    then the trial number). The search score is left out of the mean: it is the one that
    made the trial a winner, so it is biased up. A diverged run scores the worst value.
    ``progress(epochs done, epochs planned)`` over all its runs (a bar's hook).
    ``top`` < 2, ``seeds`` = 0 or fewer than two candidates: nothing to confirm, ``[]``.
    The scores are kept in the study (user attribute ``confirm_scores``), so a rerun of the
    retrain trains only trials it has not confirmed yet.
    """
    check_int("tune", "confirm", top, 0, 1000)
    check_int("tune", "confirm_seeds", seeds, 0, 1000)
    if top < 2 or seeds == 0:
        return []
    sign = 1.0 if METRICS[metric] == "maximize" else -1.0
    done = [t for t in study.get_trials(deepcopy=False)
            if t.state.name == "COMPLETE" and t.value is not None and math.isfinite(t.value)]
    done.sort(key=lambda t: (-sign * t.value, t.number))
    picked, seen = [], set()
    for trial in done:
        spec = trial_spec(trial, base)
        if spec.to_json() not in seen:  # two trials of one spec are one candidate
            seen.add(spec.to_json())
            picked.append((trial, spec))
        if len(picked) == top:
            break
    if len(picked) < 2:
        return []
    # scores already measured (a rerun of the retrain command): kept in the study, per trial
    known = {int(k): v for k, v in study.user_attrs.get("confirm_scores", {}).items()}
    todo = [(t, spec) for t, spec in picked if len(known.get(t.number, ())) < seeds]
    runs = [spec.replace(seed=CONFIRM_SEED + i, split_seed=base.data_seed)
            for _, spec in todo for i in range(seeds)]
    if runs:
        worst = 0.0 if metric == "val_acc" else math.inf
        total, epochs = sum(r.epochs for r in runs), [0] * len(runs)

        def hook(i: int, epoch: int, row: dict) -> None:
            epochs[i] = epoch + 1
            progress(sum(epochs), total)

        results = train_many(runs, data=_without_test(data), workers=workers,
                             progress=None if progress is None else hook)
        if progress is not None:
            progress(total, total)  # runs that stopped early are done too
        values = [float(r.final.get(metric, worst)) if r.status == "done" else worst
                  for r in results]
        values = [v if math.isfinite(v) else worst for v in values]
        for j, (t, _) in enumerate(todo):
            known[t.number] = values[j * seeds:(j + 1) * seeds]
        study.set_user_attr("confirm_scores", {str(k): list(v) for k, v in known.items()})
    out = [Confirmed(t.number, float(t.value), tuple(known[t.number][:seeds]), spec)
           for t, spec in picked]
    return sorted(out, key=lambda c: (-sign * c.mean, -sign * c.searched, c.trial))


# -- results --------------------------------------------------------------------------------
def trial_spec(trial, base: RunSpec) -> RunSpec:
    """A trial's spec, as recorded by the trial that ran it, over ``base``."""
    return RunSpec.from_dict({**base.to_dict(), **trial.user_attrs["spec"]})


def best_spec(study, base: RunSpec) -> RunSpec:
    """The best trial's spec (as recorded by the trial that ran it)."""
    return trial_spec(study.best_trial, base)


def plain(spec: RunSpec) -> RunSpec:
    """``spec`` with every regularizer off: the ``none`` arm."""
    return spec.replace(l1=0.0, l2=0.0, weight_decay=0.0, proximal_l1=0.0, dropout=0.0,
                        patience=0, augment=(), augment_strength=1.0, mixup=0.0, cutmix=0.0,
                        label_smoothing=0.0, elastic_net=0.0, group_lasso=0.0,
                        proximal_group_lasso=0.0, stop_criterion="patience", schedules={})


def export_best(spec: RunSpec, base: RunSpec, folder: str | Path, seeds: int = 3
                ) -> tuple[Path, Path]:
    """Write ``best.toml`` (for ``reglab run --config``) and ``best-compare.toml``.

    ``best.toml`` is the whole tuned spec at the top level; ``reglab compare --config`` also
    reads it (its strengths then replace the default strength in each arm that uses them).
    ``best-compare.toml`` puts the base run at the top level and the tuned run in an
    ``[arms.all]`` table, so that compare's ``all`` arm is exactly the tuned configuration.
    """
    folder = Path(folder)
    run_path = folder / "best.toml"
    run_path.write_text("# reglab tune: the best configuration (validation score)\n"
                        + spec.to_toml())
    tuned = {k for k, v in spec.to_dict().items()
             if k in REGULARIZERS or v != base.to_dict().get(k)}
    table = "".join(line + "\n" for line in spec.to_toml().splitlines()
                    if line.split(" = ", 1)[0] in tuned)
    head = "".join(line + "\n" for line in base.to_toml().splitlines()
                   if line.split(" = ", 1)[0] not in REGULARIZERS)  # arms keep their own
    cmp_path = folder / "best-compare.toml"
    cmp_path.write_text("# reglab tune: compare's `all` arm = the tuned configuration\n"
                        f"seeds = {int(seeds)}\n{head}\n[arms.all]\n{table}")
    return run_path, cmp_path


def save_plots(study, folder: str | Path) -> list[Path]:
    """Optuna's optimization history and parameter importances as PNGs in ``folder``."""
    import matplotlib  # heavy (~1 s), and optuna is optional: only when plots are saved
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as ov
    saved = []
    plots = {"tune-history.png": ov.plot_optimization_history,
             "tune-importances.png": ov.plot_param_importances}
    for fname, plot in plots.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ExperimentalWarning on every call
            try:
                ax = plot(study)
            except (ValueError, RuntimeError, ZeroDivisionError) as err:  # too few trials
                optuna.logging.get_logger("reglab").info("no %s: %s", fname, err)
                continue
        fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
        fig.set_size_inches(8, 5)
        fig.tight_layout()
        path = Path(folder) / fname
        fig.savefig(path, dpi=110)
        plt.close(fig)
        saved.append(path)
    return saved


@dataclass
class TuneResult:
    """What ``tune`` did: the study, the best spec and its search score, the files it
    wrote, the retrain's runs and the confirmation (:func:`confirm`; best first, empty
    when it did not run)."""

    study: Any
    best_spec: RunSpec | None
    best_value: float | None
    ran: int
    files: list[Path]
    runs: list[dict]
    confirmed: list[Confirmed] = ()
    best_trial: int | None = None


def _check_setup(study, base: RunSpec, space: Mapping[str, Param], metric: str) -> None:
    """Record the study's base/space/metric, or check a joining worker uses the same."""
    mine = {"base": base.to_dict(), "space": {k: repr(v) for k, v in space.items()},
            "metric": metric}
    stored = study.user_attrs.get("reglab")
    if stored is None:
        study.set_user_attr("reglab", mine)
        return
    for part in ("base", "space", "metric"):
        if stored[part] != mine[part]:
            diff = part if part == "metric" else ", ".join(
                sorted(k for k in set(stored[part]) | set(mine[part])
                       if stored[part].get(k) != mine[part].get(k)))
            raise InvalidParameterError(
                f"The study {study.study_name!r} was created with another {part} "
                f"(differs in: {diff}); run with the same --data/--config, or another --study.")


def check_counts(trials: int, seeds: int, confirm: int = CONFIRM_TOP,
                 timeout: float | None = None, parallel: int = PARALLEL,
                 workers: int | None = None) -> None:
    """Refuse a bad ``trials`` (>= 1), ``seeds`` (0..1000), ``confirm`` (0..1000),
    ``timeout`` (> 0 or None), ``parallel`` (1..10000) or ``workers`` (>= 1 or None):
    InvalidParameterError naming it, as ``tune`` and its CLI do before anything is written."""
    check_int("tune", "trials", trials, 1, 1_000_000)
    check_int("tune", "parallel", parallel, 1, 10_000)
    if workers is not None:
        check_int("tune", "workers", workers, 1, 10_000)
    check_int("tune", "seeds", seeds, 0, 1000)
    check_int("tune", "confirm", confirm, 0, 1000)
    if timeout is not None:
        check_float("tune", "timeout", timeout, 0.0, low_open=True)


def tune(base: RunSpec, *, trials: int, out: str | Path = "runs", name: str,
         space: Mapping[str, Param] | None = None, storage: str | None = None,
         study_name: str | None = None, timeout: float | None = None, seeds: int = 3,
         metric: str | None = None, workers: int | None = None, progress=None,
         data=None, on_trial: Callable[[int, int], None] | None = None,
         confirm_top: int = CONFIRM_TOP, confirm_seeds: int = CONFIRM_SEEDS,
         on_confirm: Callable[[int, int], None] | None = None,
         parallel: int = PARALLEL, warm: bool = True) -> TuneResult:
    """Run (or join, or continue) the study, confirm its best few (:func:`confirm`), then
    retrain the winner with seeds vs ``none``.

    Args:
        base: the base run (data, model, epochs...); searched keys are drawn over it.
        trials: COMPLETE + PRUNED trials the study should have in total, >= 1.
        out, name: the experiment folder ``out/name`` (plots, TOML, the retrain store).
        space: the search space (default :data:`DEFAULT_SPACE`).
        storage: an Optuna storage URL (default SQLite in ``out/name``).
        study_name: the study to create or join (default ``name``).
        timeout: seconds this command searches for at most (None: until the study is done): no
            trial starts after it, a running trial stops at its next epoch (FAIL, not
            counted). The retrain after the search is not bounded by it.
        seeds: seeds of the final retrain of best and ``none``; 0 skips it (a worker only).
        metric: "val_acc" (maximized) or "val_loss" (minimized); None: :func:`metric_for`
            the data (val_acc, or val_loss for a regression target, the only one allowed
            there: the validation MSE of the standardized target).
        workers: processes for the trials (at most ``parallel``), the confirmation and the
            retrain (None: one per free core where they pay); the results do not depend on it.
        parallel: trials in flight (:func:`run_trials`): the study depends on it, not on the
            workers.
        progress: a reglab display progress object for the retrain, or None.
        data: the Dataset (default: loaded from ``base``).
        on_trial: ``on_trial(done, trials)``: the study's finished trials (a bar's hook).
        confirm_top, confirm_seeds: the trials :func:`confirm` rescores and its seeds per
            trial, before the retrain (only when ``seeds`` > 0; 0 or 1: the study's best).
        on_confirm: ``on_confirm(epochs done, epochs planned)`` over the confirmation's
            runs (a bar's hook).
        warm: a fresh study's first trial is the ``all`` arm of ``reglab compare``
            (:func:`warm_start`); False: every trial is drawn.
    """
    check_counts(trials, seeds, confirm_top, timeout, parallel, workers)
    check_int("tune", "confirm_seeds", confirm_seeds, 0, 1000)
    check_name(name)
    data = load_data(base) if data is None else data
    metric = metric_for(data, metric)
    space = default_space(data.kind, base.epochs) if space is None else space
    if getattr(data, "task", "classification") == "regression":  # class-target knobs
        space = {k: v for k, v in space.items() if k not in CLASS_ONLY}
    folder = Path(out) / name
    if storage is not None:  # a bad URL is refused before any folder is made
        study = open_study(storage, study_name or name, metric=metric, seed=base.seed)
        url = storage
    else:
        url = default_storage(out, name)
        study = open_study(url, study_name or name, metric=metric, seed=base.seed)
    folder.mkdir(parents=True, exist_ok=True)
    _check_setup(study, base, space, metric)
    if warm:
        warm_start(study, base, data.kind, space)
    ran = run_trials(study, base, data, space, trials, metric, parallel=parallel,
                     workers=workers, timeout=timeout, progress=on_trial)
    if not any(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False)):
        return TuneResult(study, None, None, ran, [], [])
    confirmed = (confirm(study, base, data, confirm_top, confirm_seeds, metric, workers,
                         on_confirm) if seeds else [])
    winner = (confirmed[0] if confirmed else
              Confirmed(study.best_trial.number, study.best_value, (), best_spec(study, base)))
    best = winner.spec
    files = [*export_best(best, base, folder, max(seeds, 1)), *save_plots(study, folder)]
    runs = (_retrain(best, base, seeds, out, name, workers, progress, url, confirmed)
            if seeds else [])
    return TuneResult(study, best, winner.searched, ran, files, runs, confirmed,
                      winner.trial)


# Searched keys that apply to class targets only: left out of a regression study's space.
CLASS_ONLY = ("label_smoothing", "cutmix")


def metric_for(data, metric: str | None = None) -> str:
    """The study's metric: ``metric`` checked, or by default "val_acc" (classification) and
    "val_loss" (regression: lower validation MSE; accuracy does not exist there)."""
    regression = getattr(data, "task", "classification") == "regression"
    if metric is None:
        return "val_loss" if regression else "val_acc"
    if regression and metric != "val_loss":
        raise fail("tune", "metric", "'val_loss' for a regression target (it has no "
                   "accuracy)", metric)
    return metric  # open_study checks it is one of METRICS


def retrain_specs(best: RunSpec, base: RunSpec, seeds: int) -> list[tuple[str, str, RunSpec]]:
    """(run id, arm, spec) of the retrain: ``none`` and the best with init seeds 0..S-1, all
    on the search's split (``split_seed`` = ``base.data_seed``).

    The search validated on that split's validation rows and never read its test rows, so
    the retrain's test rows are rows no trial saw. (A retrain seed that re-split the data
    would put some of the search's validation rows into its test split: the leak this
    fixes.) The interval over seeds is then over initialization and batch order, not over
    splits; ``compare`` measures the split's share.
    """
    split = base.data_seed
    runs = [(f"none-s{s}", "none", plain(base).replace(seed=s, split_seed=split))
            for s in range(seeds)]
    return runs + [(f"tuned-s{s}", "tuned", best.replace(seed=s, split_seed=split))
                   for s in range(seeds)]


def _retrain(best: RunSpec, base: RunSpec, seeds: int, out, name: str, workers, progress,
             url: str, confirmed: list[Confirmed] = ()) -> list[dict]:
    """Best and ``none`` (:func:`retrain_specs`), stored in ``out/name`` like a compare (with
    the vectorized engine where the runs share a model shape, as compare does)."""
    jobs = [Job(run_id, arm, spec) for run_id, arm, spec in retrain_specs(best, base, seeds)]
    meta = {"command": "tune", "storage": redact(url), "best": best.to_dict(),
            "confirmed": [{"trial": c.trial, "searched": c.searched, "scores": list(c.scores)}
                          for c in confirmed]}
    return run_experiment(jobs, out, name, meta, workers=workers, engine="auto",
                          progress=None if progress is None else lambda *_: progress).runs

