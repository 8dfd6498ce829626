"""The run-spec flags ``compare`` and ``run`` share, written once (:data:`SPEC_FLAGS`), and the
decorator :func:`spec_flags` that puts them in front of a command's own parameters.

A spec flag's default is None (= not given: the TOML file, then the data kind's base run,
then :class:`~reglab.lab.spec.RunSpec` decide); ``--help`` shows what that default is. In
``compare`` a numeric strength flag also takes a comma list, a grid: ``--l2 1e-4,1e-3`` is
``[("1e-4", 1e-4), ("1e-3", 1e-3)]`` in ``flags`` (one arm per value).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer

from reglab._validation import InvalidParameterError
from reglab.lab.arms import BASE, GRID_KEYS, MODEL_BASE, OVERRIDABLE
from reglab.lab.spec import RunSpec

__all__ = ["Flag", "SPEC_FLAGS", "FLAG_NAMES", "spec_flags", "option", "TargetOpt", "ConfigOpt",
           "OutOpt", "NameOpt", "QuietOpt", "OverwriteOpt"]


@dataclasses.dataclass(frozen=True)
class Flag:
    """One run-spec flag: its RunSpec key, option names, value type and help text."""

    key: str
    names: tuple[str, ...]
    type: type
    help: str


SPEC_FLAGS: tuple[Flag, ...] = (
    Flag("data", ("--data", "-d"), str, "Built-in data set (see `reglab datasets`) or a "
         ".csv/.npz file or image folder."),
    Flag("target", ("--target",), str, "Label column of a CSV file (required for a CSV)."),
    Flag("features", ("--features",), str, "Feature columns of a table, comma-separated "
         "(default: all but the target)."),
    Flag("drop", ("--drop",), str, "Table columns to leave out, comma-separated (e.g. an ID)."),
    Flag("split", ("--split",), str, "random (stratified, shuffled) or time (by "
         "--order-column: train earliest, test latest)."),
    Flag("order_column", ("--order-column",), str, "Table column ordering the rows, for "
         "--split time."),
    Flag("group_column", ("--group-column",), str, "Table column of groups: no group in two "
         "splits."),
    Flag("split_column", ("--split-column",), str, "Table column saying train, val or test "
         "per row."),
    Flag("test_data", ("--test-data",), str, "A separate table file for the test split."),
    Flag("task", ("--task",), str, "auto (a numeric target with non-integer values, or more "
         "than 20 distinct values that are also over 5% of the rows, is regression), "
         "classification or regression."),
    Flag("model", ("--model", "-m"), str, "linear, mlp or cnn."),
    Flag("cnn_arch", ("--cnn-arch",), str, "two_block (3-wide convs 32, 64, a dense layer of "
         "--hidden[0]) or global_pool (5-wide convs 64-128, global max pool; one run at a "
         "time)."),
    Flag("hidden", ("--hidden",), str, "Hidden widths, comma-separated, e.g. 256,256."),
    Flag("activation", ("--activation",), str, "relu, gelu, tanh or silu."),
    Flag("optimizer", ("--optimizer",), str, "sgd (momentum 0.9), adam or adamw (torch AdamW, "
         "its decay is --weight-decay)."),
    Flag("lr", ("--lr",), float, "Learning rate (the schedule's peak)."),
    Flag("lr_schedule", ("--lr-schedule",), str, "constant, cosine (to 0 at the last epoch) or "
         "step (x0.1 at 50% and 75% of the run); per optimizer step."),
    Flag("warmup", ("--warmup",), float, "Linear lr warmup over this fraction of the run, in "
         "[0, 1)."),
    Flag("epochs", ("--epochs", "-e"), int, "Maximum number of epochs."),
    Flag("batch_size", ("--batch-size",), int, "Mini-batch size."),
    Flag("seed", ("--seed",), int, "Seed of the split, initialization, batch order and "
         "augmentation."),
    Flag("split_seed", ("--split-seed",), int, "Seed of the data split alone (default: "
         "--seed)."),
    Flag("l1", ("--l1",), float, "L1 loss-term strength: loss + l1 * sum|w|."),
    Flag("l2", ("--l2",), float, "L2 loss-term strength: loss + l2 * sum w^2."),
    Flag("weight_decay", ("--weight-decay",), float, "Decoupled weight decay: w <- w - lr*wd*w "
         "on the weights, once per step, before the update (as AdamW)."),
    Flag("proximal_l1", ("--proximal-l1",), float, "Proximal L1: w <- sign(w) max(|w| - lr*lam, "
         "0)."),
    Flag("dropout", ("--dropout",), float, "Drop rate after each hidden activation, in [0, 1)."),
    Flag("patience", ("--patience", "--early-stopping"), int, "Early-stopping patience in epochs "
         "on validation loss (0: off)."),
    Flag("elastic_net", ("--elastic-net",), float, "Elastic-net loss term: loss + lam * "
         "(r sum|w| + (1 - r) sum w^2), r = --l1-ratio."),
    Flag("l1_ratio", ("--l1-ratio",), float, "Elastic net's share of L1, in [0, 1]."),
    Flag("group_lasso", ("--group-lasso",), float, "Group-lasso loss term: loss + lam * "
         "sum over neurons of ||(incoming weights, bias)||."),
    Flag("proximal_group_lasso", ("--proximal-group-lasso",), float, "Proximal group lasso "
         "after each step: whole neurons (bias included) exactly 0."),
    Flag("dropout_kind", ("--dropout-kind",), str, "standard, gaussian, dropconnect or "
         "dropblock (cnn on images)."),
    Flag("stop_criterion", ("--stop-criterion",), str, "Early stopping by patience, or "
         "Prechelt's gl, pq or up (with --patience 0: the criterion alone)."),
    Flag("stop_alpha", ("--stop-alpha",), float, "GL / PQ threshold alpha."),
    Flag("stop_strip", ("--stop-strip",), int, "PQ / UP strip length in epochs."),
    Flag("stop_strips", ("--stop-strips",), int, "UP: successive rising strips."),
    Flag("augment", ("--augment", "-a"), str, "Augmentations, comma-separated, e.g. rotate,scale "
         "(`reglab check-augment` checks them)."),
    Flag("augment_strength", ("--augment-strength",), float, "Multiplies every augmentation "
         "magnitude."),
    Flag("mixup", ("--mixup",), float, "Mixup alpha (0: off)."),
    Flag("cutmix", ("--cutmix",), float, "CutMix alpha, images only (0: off)."),
    Flag("label_smoothing", ("--label-smoothing",), float, "Label smoothing eps of the "
         "training targets, in [0, 1) (validation/test loss stay plain cross-entropy)."),
    Flag("device", ("--device",), str, "cpu, cuda, mps or auto."),
)

_SPEC_DEFAULTS = {f.name: f.default for f in dataclasses.fields(RunSpec)}

# How an error names a spec flag: as Typer names an option, "'--epochs' / '-e'".
FLAG_NAMES = {f.key: " / ".join(f"'{n}'" for n in f.names) for f in SPEC_FLAGS}


# What an unset (None) key means, where "none" would not say it.
_UNSET = {"target": "the last column"}


def _show(key: str, value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value)) if value else "none"
    return _UNSET.get(key, "none") if value is None else str(value)


def default_text(key: str, command: str) -> str:
    """What ``--KEY`` defaults to when not given, as ``--help`` shows it."""
    if command == "compare" and key in OVERRIDABLE:
        return "each arm's own"
    if key == "split_seed":
        return "--seed"
    per_kind = {kind: _show(key, BASE[kind].get(key, _SPEC_DEFAULTS[key])) for kind in BASE}
    # a model's own default (defaults.toml [KIND.models.MODEL.base]) where it differs
    own = {kind: "".join(f" ({model} {_show(key, b[key])})"
                         for model, b in MODEL_BASE[kind].items()
                         if key in b and _show(key, b[key]) != per_kind[kind])
           for kind in BASE}
    if len(set(per_kind.values())) == 1 and not any(own.values()):
        return next(iter(per_kind.values()))
    return ", ".join(f"{kind} {v}{own[kind]}" for kind, v in per_kind.items())


def option(default: Any, *names: str, help: str, show_default: bool | str = True,
           **kw: Any) -> Any:
    """``typer.Option`` with the default shown in ``--help`` (a string says what None means)."""
    return typer.Option(default, *names, help=help, show_default=show_default, **kw)


TargetOpt = option(None, "--target", help="Label column of a CSV file (required for a CSV).",
                   show_default="none")
ConfigOpt = option(None, "--config", "-c", help="TOML file of spec keys (flags win over it).",
                   show_default="none")
OutOpt = option(Path("runs"), "--out", "-o", help="Folder that holds experiments.")
QuietOpt = option(False, "--quiet", "-q", help="No progress bars; print the results only.")
OverwriteOpt = option(False, "--overwrite", help="Empty the experiment folder first (only a "
                      "folder that holds a reglab.sqlite) instead of resuming it.")


def LangOpt(default: str | None, shown: bool | str = True) -> Any:
    """``--lang en|vi``: the language of the texts written for a person (the note's is vi)."""
    return option(default, "--lang", help="Language of the answers, prose and verdicts: en "
                  "(English) or vi (Vietnamese, the source note's language).",
                  show_default=shown)


def NameOpt(shown: str) -> Any:
    return option(None, "--name", "-n", help="Experiment name (a folder under --out).",
                  show_default=shown)


def spec_flags(command: str, *, skip: tuple[str, ...] = ()) -> Callable[[Callable], Callable]:
    """Give a command the run-spec flags of :data:`SPEC_FLAGS` (less ``skip``).

    The decorated function takes ``flags`` first: a dict of the spec keys given on the command
    line (``hidden`` parsed to a tuple), then its own parameters, which follow the flags in
    the command's signature and ``--help``.
    """
    chosen = [f for f in SPEC_FLAGS if f.key not in skip]
    grids = {f.key: f.type for f in chosen if command == "compare" and f.key in GRID_KEYS}

    def decorate(fn: Callable) -> Callable:
        own = inspect.signature(fn, eval_str=True)
        params = [inspect.Parameter(
            f.key, inspect.Parameter.KEYWORD_ONLY,
            annotation=Optional[str if f.key in grids else f.type],
            default=option(None, *f.names, help=f.help,
                           show_default=default_text(f.key, command),
                           **({"metavar": f"<{f.type.__name__}>"} if f.key in grids else {})))
            for f in chosen]
        params += [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
                   for name, p in own.parameters.items() if name != "flags"]

        def command_fn(**kwargs: Any) -> Any:
            flags = _given({f.key: kwargs.pop(f.key) for f in chosen}, grids)
            return fn(flags, **kwargs)

        command_fn.__name__, command_fn.__doc__ = fn.__name__, fn.__doc__
        command_fn.__module__, command_fn.__qualname__ = fn.__module__, fn.__qualname__
        command_fn.__signature__ = own.replace(parameters=params)  # what Typer reads
        return command_fn

    return decorate


def _given(flags: dict[str, Any], grids: dict[str, type]) -> dict[str, Any]:
    """The spec keys the user gave on the command line (None = not given); a grid flag's
    value is a number, or a list of (text, number) pairs when it held several."""
    out = {k: v for k, v in flags.items() if v is not None}
    if "hidden" in out:
        out["hidden"] = _parse_hidden(out["hidden"])
    for key in grids.keys() & out.keys():
        out[key] = _parse_grid(key, out[key], grids[key])
    return out


def _parse_hidden(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(h) for h in text.split(",") if h.strip())
    except ValueError:
        raise InvalidParameterError(
            f"Invalid value for {FLAG_NAMES['hidden']}: must be comma-separated ints. Got "
            f"{text!r} instead.") from None


def _parse_grid(key: str, text: str, kind: type) -> Any:
    """``"1e-4"`` -> 1e-4; ``"1e-4,1e-3"`` -> [("1e-4", 1e-4), ("1e-3", 1e-3)]."""
    items = [t.strip() for t in text.split(",")]
    what = "a valid integer" if kind is int else "a valid number"
    values = []
    for item in items:
        try:
            values.append((item, kind(item)))
        except ValueError:
            raise InvalidParameterError(
                f"Invalid value for {FLAG_NAMES[key]}: {item!r} should be {what} (or a comma "
                f"list of them, one arm per value). Got {text!r} instead.") from None
    return values[0][1] if len(values) == 1 else values
