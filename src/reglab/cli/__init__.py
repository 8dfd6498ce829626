"""The ``reglab`` command line: compare, run, runs (ls), datasets, check-augment.

Exit codes: 0 success; 2 bad usage or bad input (one line on stderr, no traceback); 1 a
failure inside a run; 130 interrupted (Ctrl-C; rerun the same command to resume).

Other commands (explain, report, path, tune) register themselves on ``app`` from their
own modules; see ``_register_optional_commands``.
"""

from __future__ import annotations

import hashlib
import importlib
import signal
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from reglab._escape import terminal_text
from reglab._validation import InvalidParameterError, check_choice, check_int, fail

app = typer.Typer(
    name="reglab",
    help="Regularization for PyTorch, measured: compare L1, L2, dropout, early stopping and "
         "augmentation on real data, over seeds, with honest statistics.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXIT_RUN_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class RunFailed(Exception):
    """A run inside the command failed (exit code 1)."""


# -- options shared by run and compare -----------------------------------------------------------
def _opt(default: Any = None, *names: str, help: str, **kw: Any) -> Any:
    return typer.Option(default, *names, help=help, show_default=False, **kw)


DataOpt = _opt(None, "--data", "-d", help="Built-in data set (see `reglab datasets`) or a "
               ".csv/.npz file or image folder. [default: digits]")
TargetOpt = _opt(None, "--target", help="Label column of a CSV file (required for a CSV).")
ModelOpt = _opt(None, "--model", "-m", help="linear, mlp or cnn. [default: mlp]")
HiddenOpt = _opt(None, "--hidden", help="Hidden widths, comma-separated, e.g. 256,256.")
ActOpt = _opt(None, "--activation", help="relu, gelu, tanh or silu.")
OptimOpt = _opt(None, "--optimizer", help="sgd (momentum 0.9), adam or adamw.")
LrOpt = _opt(None, "--lr", help="Learning rate.")
EpochsOpt = _opt(None, "--epochs", "-e", help="Maximum number of epochs.")
BatchOpt = _opt(None, "--batch-size", help="Mini-batch size.")
L1Opt = _opt(None, "--l1", help="L1 loss-term strength: loss + l1 * sum|w|.")
L2Opt = _opt(None, "--l2", help="L2 loss-term strength: loss + l2 * sum w^2.")
WdOpt = _opt(None, "--weight-decay", help="Decoupled weight decay: w <- w - lr*wd*w.")
ProxOpt = _opt(None, "--proximal-l1", help="Proximal L1: w <- sign(w) max(|w| - lr*lam, 0).")
DropOpt = _opt(None, "--dropout", help="Drop rate after each hidden activation, in [0, 1).")
PatOpt = _opt(None, "--patience", "--early-stopping",
              help="Early-stopping patience in epochs on validation loss (0: off).")
AugOpt = _opt(None, "--augment", "-a", help="Augmentations, comma-separated, e.g. rotate,scale "
              "(`reglab check-augment` checks them).")
AugStrOpt = _opt(None, "--augment-strength", help="Multiplies every augmentation magnitude.")
MixupOpt = _opt(None, "--mixup", help="Mixup alpha (0: off).")
CutmixOpt = _opt(None, "--cutmix", help="CutMix alpha, images only (0: off).")
DeviceOpt = _opt(None, "--device", help="cpu, cuda, mps or auto.")
ConfigOpt = _opt(None, "--config", "-c", help="TOML file of spec keys (flags win over it).")
OutOpt = typer.Option(Path("runs"), "--out", "-o", help="Folder that holds experiments.")
NameOpt = _opt(None, "--name", "-n", help="Experiment name (a folder under --out).")
QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress bars; print the results only.")


def _flag_values(**flags: Any) -> dict[str, Any]:
    """The spec keys the user gave on the command line (None = not given)."""
    out = {k: v for k, v in flags.items() if v is not None}
    if "hidden" in out:
        out["hidden"] = _parse_hidden(out["hidden"])
    return out


def _parse_hidden(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(h) for h in text.split(",") if h.strip())
    except ValueError:
        raise InvalidParameterError(
            f"The 'hidden' parameter of RunSpec must be comma-separated ints. Got {text!r} "
            "instead.") from None


def _load_config(config: Optional[Path]) -> dict[str, Any]:
    from reglab.lab.spec import load_toml
    return {} if config is None else load_toml(config)


def _data_kind(data: str, target: Optional[str]):
    """Load the data once in the main process: checks it and gives its kind for the defaults."""
    import reglab.data
    options = {} if target is None else {"target": target}
    return reglab.data.load(data, seed=0, **options)


# -- commands ------------------------------------------------------------------------------------
@app.command()
def compare(
    data: Optional[str] = DataOpt, target: Optional[str] = TargetOpt,
    model: Optional[str] = ModelOpt, hidden: Optional[str] = HiddenOpt,
    activation: Optional[str] = ActOpt, optimizer: Optional[str] = OptimOpt,
    lr: Optional[float] = LrOpt, epochs: Optional[int] = EpochsOpt,
    batch_size: Optional[int] = BatchOpt,
    l1: Optional[float] = L1Opt, l2: Optional[float] = L2Opt,
    weight_decay: Optional[float] = WdOpt, proximal_l1: Optional[float] = ProxOpt,
    dropout: Optional[float] = DropOpt, patience: Optional[int] = PatOpt,
    augment: Optional[str] = AugOpt, augment_strength: Optional[float] = AugStrOpt,
    mixup: Optional[float] = MixupOpt, cutmix: Optional[float] = CutmixOpt,
    device: Optional[str] = DeviceOpt,
    arms: Optional[str] = _opt(None, "--arms", help="Arms, comma-separated, from none, l1, l2, "
                               "dropout, early_stopping, augment, all. [default: all seven]"),
    seeds: Optional[int] = _opt(None, "--seeds", "-s", help="Seeds per arm, paired across "
                                "arms. [default: 3]"),
    workers: Optional[int] = _opt(None, "--workers", "-w", help="Worker processes, one thread "
                                  "each. [default: one per free core]"),
    engine: str = _opt("auto", "--engine", help="auto: runs that share a model shape train "
                       "together as one batched model (vectorized); sequential: one by one."),
    config: Optional[Path] = ConfigOpt, out: Path = OutOpt, name: Optional[str] = NameOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Train every regularization arm over seeds and print the measured comparison table.

    Each arm (none, l1, l2, dropout, early_stopping, augment and all = L2 + dropout + early
    stopping + augmentation) runs with seeds 0..S-1; each arm is compared with `none` on the
    same seeds. Rerunning the same command resumes: finished runs are not run again.
    """
    from reglab.lab import arms as arms_mod
    from reglab.lab.compare import make_plan
    from reglab.train.sequential import make_augmentation
    from reglab.lab.spec import RunSpec

    from reglab.lab.engine import ENGINES

    if workers is not None:
        check_int("compare", "workers", workers, 1)
    check_choice("compare", "engine", engine, ENGINES)
    cfg = _load_config(config)
    section = cfg.pop("compare", {})  # [compare] arms = [...], seeds = N
    section = section if isinstance(section, dict) else {"compare": section}
    _check_section(section)
    arm_tables = cfg.pop("arms", None)  # [arms.NAME] tables of spec keys
    arm_list = section.get("arms")
    if isinstance(arm_tables, list):  # a top-level list when there are no arm tables
        arm_list, arm_tables = arm_tables, None
    elif isinstance(arm_tables, str):  # arms = "none,l2", as the flag takes it
        arm_list, arm_tables = arm_tables, None
    elif arm_tables is not None and not isinstance(arm_tables, dict):
        raise fail("compare", "arms", "a list of arm names or [arms.NAME] tables", arm_tables)
    cfg_seeds = section.get("seeds", cfg.pop("seeds", None))
    seeds = seeds if seeds is not None else (cfg_seeds if cfg_seeds is not None else 3)
    flags = _flag_values(data=data, target=target, model=model, hidden=hidden,
                         activation=activation, optimizer=optimizer, lr=lr, epochs=epochs,
                         batch_size=batch_size, device=device)
    strengths = _flag_values(l1=l1, l2=l2, weight_decay=weight_decay, proximal_l1=proximal_l1,
                             dropout=dropout, patience=patience, augment=augment,
                             augment_strength=augment_strength, mixup=mixup, cutmix=cutmix)
    base_cfg = {k: v for k, v in cfg.items() if k not in arms_mod.OVERRIDABLE}
    strength_cfg = {k: v for k, v in cfg.items() if k in arms_mod.OVERRIDABLE}
    RunSpec.from_dict(cfg)  # unknown keys and bad values in the file: one error naming the key
    chosen = {**base_cfg, **flags}
    ds = _data_kind(chosen.get("data", "digits"), chosen.get("target"))
    base = RunSpec.from_dict({**arms_mod.base_changes(ds.kind), **chosen})
    strength_spec = RunSpec.from_dict({**base.to_dict(), **strength_cfg, **strengths})
    # the augmentation names and cutmix must fit the data even when no chosen arm uses them
    make_augmentation(strength_spec, ds.kind)
    arm_names = arms if arms is not None else (arm_list or list(arms_mod.ARMS))
    if isinstance(arm_names, str):
        arm_names = [a.strip() for a in arm_names.split(",") if a.strip()]
    jobs = make_plan(base, ds.kind, arm_names, seeds, {**strength_cfg, **strengths},
                     arm_tables)
    _preflight(jobs, ds)
    name = name if name is not None else f"compare-{_stem(base.data)}"
    _run_experiment(jobs, out, name, workers, quiet, ds, title=f"compare on {base.data}",
                    meta={"command": "compare", "argv": sys.argv[1:]}, engine=engine,
                    report=True)


@app.command()
def run(
    data: Optional[str] = DataOpt, target: Optional[str] = TargetOpt,
    model: Optional[str] = ModelOpt, hidden: Optional[str] = HiddenOpt,
    activation: Optional[str] = ActOpt, optimizer: Optional[str] = OptimOpt,
    lr: Optional[float] = LrOpt, epochs: Optional[int] = EpochsOpt,
    batch_size: Optional[int] = BatchOpt,
    seed: Optional[int] = _opt(None, "--seed", help="Seed of the split, initialization, "
                               "batch order and augmentation. [default: 0]"),
    l1: Optional[float] = L1Opt, l2: Optional[float] = L2Opt,
    weight_decay: Optional[float] = WdOpt, proximal_l1: Optional[float] = ProxOpt,
    dropout: Optional[float] = DropOpt, patience: Optional[int] = PatOpt,
    augment: Optional[str] = AugOpt, augment_strength: Optional[float] = AugStrOpt,
    mixup: Optional[float] = MixupOpt, cutmix: Optional[float] = CutmixOpt,
    device: Optional[str] = DeviceOpt,
    nproc: int = _opt(1, "--nproc", help="Processes for one DistributedDataParallel run (gloo on "
                      "the CPU, NCCL on CUDA), each on its shard of every batch."),
    config: Optional[Path] = ConfigOpt, out: Path = OutOpt, name: Optional[str] = NameOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Train one run from flags or --config; print each epoch, the final metrics and why it stopped.

    The run is stored like a compare run (runs/NAME/); the same command again shows the
    stored result instead of training again.
    """
    from reglab.lab import arms as arms_mod
    from reglab.lab.runner import Job
    from reglab.lab.spec import RunSpec

    check_int("run", "nproc", nproc, 1)
    cfg = _load_config(config)
    flags = _flag_values(data=data, target=target, model=model, hidden=hidden,
                         activation=activation, optimizer=optimizer, lr=lr, epochs=epochs,
                         batch_size=batch_size, seed=seed, l1=l1, l2=l2,
                         weight_decay=weight_decay, proximal_l1=proximal_l1, dropout=dropout,
                         patience=patience, augment=augment, augment_strength=augment_strength,
                         mixup=mixup, cutmix=cutmix, device=device)
    RunSpec.from_dict(cfg)  # unknown keys and bad values in the file: one error naming the key
    chosen = {**cfg, **flags}
    ds = _data_kind(chosen.get("data", "digits"), chosen.get("target"))
    spec = RunSpec.from_dict({**arms_mod.base_changes(ds.kind), **chosen})
    jobs = [Job(f"run-s{spec.seed}", "run", spec)]
    _preflight(jobs, ds)
    digest = hashlib.sha1(spec.to_json().encode()).hexdigest()[:8]
    name = name if name is not None else f"run-{_stem(spec.data)}-{digest}"
    _run_experiment(jobs, out, name, 1, quiet, ds, title=f"run on {spec.data}",
                    meta={"command": "run", "argv": sys.argv[1:]}, single=True, nproc=nproc)


@app.command("runs")
def runs_cmd(out: Path = OutOpt) -> None:
    """List the experiments under --out with their runs per status (alias: ls)."""
    from reglab.report import console as display
    from reglab.lab.store import list_experiments
    display.print_experiments(list_experiments(out), out)


@app.command("ls", hidden=True)
def ls_cmd(out: Path = OutOpt) -> None:
    """Alias of `reglab runs`."""
    runs_cmd(out)


@app.command()
def datasets() -> None:
    """List the built-in data sets: name, kind and a one-line summary."""
    import reglab.data
    from reglab.report import console as display
    display.print_datasets(reglab.data.available())


@app.command("check-augment")
def check_augment(
    data: str = typer.Option("digits", "--data", "-d", help="Data set to check on."),
    augment: str = typer.Option(..., "--augment", "-a", help="Augmentations, comma-separated."),
    target: Optional[str] = TargetOpt,
    strength: float = typer.Option(1.0, "--strength", help="Augmentation strength."),
    seed: int = typer.Option(0, "--seed", help="Seed of the split and the draws."),
) -> None:
    """Check that augmentations keep labels (flags transforms that change them).

    A quick model fitted on clean data is scored on augmented copies of the validation
    split; a transform whose accuracy drop stands out is flagged. Exit code 0 either way.
    """
    import reglab.data
    from reglab import augment as A
    options = {} if target is None else {"target": target}
    ds = reglab.data.load(data, seed=seed, **options)
    pipeline = A.from_names(augment, ds.kind, seed=seed, strength=strength)
    report = A.check_labels(ds, pipeline)
    typer.echo(str(report))


# -- shared machinery ----------------------------------------------------------------------------
def _check_labels_once(store, jobs, ds, quiet: bool) -> None:
    """Store the label-safety check of the experiment's augmentation (for the report's
    diagnosis), once per experiment: the seed's pitfall 'unsuitable augmentation'."""
    spec = next((j.spec for j in jobs if j.spec.augment), None)
    if spec is None or "label_check" in store.meta():
        return
    from reglab import augment as A
    if not quiet:
        from reglab.report import console as display
        display.err_console().print("[dim]checking that the augmentation keeps labels...[/dim]")
    pipeline = A.from_names(list(spec.augment), ds.kind, seed=spec.seed,
                            strength=spec.augment_strength)
    store.update_meta(label_check=A.check_labels(ds, pipeline, seed=spec.seed).to_dict())



def _check_section(section: dict) -> None:
    for key in section:
        if key not in ("arms", "seeds"):
            raise InvalidParameterError(
                f"The key {key!r} of the [compare] table must be one of {{arms, seeds}}.")


def _stem(data: str) -> str:
    """A folder-safe short name for a data set name or path (ASCII: see folder_stem)."""
    from reglab.lab.store import folder_stem
    return folder_stem(data)


def _preflight(jobs, ds) -> None:
    """Build every job's model, optimizer, regularizers and augmentation once: bad input
    fails here, before anything is written under runs/."""
    from reglab.train.sequential import (attach_updates, make_augmentation, make_early_stopping,
                                 make_optimizer, make_penalty, resolve_device)
    from reglab.train.models import build_model
    seen = set()
    for job in jobs:
        key = job.spec.replace(seed=0)
        if key in seen:
            continue
        seen.add(key)
        spec = job.spec
        resolve_device(spec.device)
        model = build_model(spec, ds.kind, tuple(ds.input_shape), ds.num_classes)
        opt = make_optimizer(spec, model)
        for h in attach_updates(spec, model, opt):
            h.remove()
        make_penalty(spec)
        make_augmentation(spec, ds.kind)
        make_early_stopping(spec)


def _run_experiment(jobs, out: Path, name: str, workers, quiet: bool, ds, title: str,
                    meta: dict, single: bool = False, engine: str = "sequential",
                    nproc: int = 1, report: bool = False) -> None:
    from reglab.report import console as display
    from reglab.lab.engine import execute
    from reglab.lab.store import FINISHED, Store
    from reglab.report.report import dataset_meta

    with Store.open(out, name, meta={**meta, "data": dataset_meta(ds)}) as store:
        store.add_runs((job.run_id, job.arm, job.spec.seed, job.spec.to_json()) for job in jobs)
        todo = [j for j in jobs if store.status(j.run_id) not in FINISHED]
        skipped = len(jobs) - len(todo)
        console = display.console(quiet)
        if skipped and not quiet:
            display.err_console().print(
                f"[dim]resuming {display.safe(store.root)}: {skipped} finished run(s) kept, "
                f"{len(todo)} to run[/dim]")
        if store.rechecked and not quiet:
            display.err_console().print(
                f"[dim]{len(store.rechecked)} finished run(s) had a missing or unreadable weight "
                f"file and are trained again: {display.safe(', '.join(store.rechecked))}[/dim]")
        progress = None
        if not quiet:
            progress = (display.EpochPrinter(console, jobs[0].spec.epochs) if single
                        else display.RunProgress(len(jobs), skipped, jobs[0].spec.epochs))
        try:
            with progress if progress is not None else display.nullcontext():
                if nproc > 1 and todo:
                    from reglab.train import ddp as distributed
                    outcome = distributed.execute(store, todo[0], nproc, progress)
                else:
                    outcome = execute(store, todo, workers=workers, progress=progress,
                                      engine=engine)
        except KeyboardInterrupt:
            sys.stderr.write(f"reglab: interrupted: running runs marked 'interrupted' in "
                             f"{store.root}; rerun the same command to resume.\n")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        runs = store.runs()
        if single:
            display.print_single(console, runs[0], store.epochs(runs[0]["id"]) if quiet else None,
                                 store.root)
        else:
            display.print_comparison(console, runs, title=title, data=ds, root=store.root)
        if report:
            _check_labels_once(store, jobs, ds, quiet)
    if report:
        from reglab.report.report import build_report
        html, _ = build_report(store.root)
        if not quiet:
            console.print(f"report: {display.safe(html)}")
    if outcome.failed:
        first = next(iter(outcome.failed.items()))
        raise RunFailed(f"{len(outcome.failed)} run(s) failed; first: {first[0]}: {first[1]}")


# Commands written elsewhere: command name -> module with ``register(app)``. Only the module of
# the command being run is imported (all of them for the top-level --help), so `reglab
# compare` does not pay for optuna or matplotlib.
OPTIONAL_COMMANDS = {
    "explain": ("reglab.report.explain_cli",),
    "report": ("reglab.report.report_cli", "reglab.report.report"),
    "path": ("reglab.lab.path_cli", "reglab.lab.path"),
    "tune": ("reglab.lab.tune_cli", "reglab.lab.tune"),
}


def _register_optional_commands(argv: list[str]) -> None:
    """Add the optional command named in ``argv`` (or every one, for the top-level help)."""
    first = next((a for a in argv if not a.startswith("-")), None)
    wanted = [first] if first in OPTIONAL_COMMANDS else (
        list(OPTIONAL_COMMANDS) if first is None else [])
    for command in wanted:
        for mod in OPTIONAL_COMMANDS[command]:
            try:
                module = importlib.import_module(mod)
            except ImportError:
                continue
            register = getattr(module, "register", None)
            if register is not None:
                register(app)
                break


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, map errors to exit codes with one line on stderr."""
    _register_optional_commands(sys.argv[1:] if argv is None else list(argv))
    previous = signal.signal(signal.SIGTERM, _terminate)  # `kill` stops as cleanly as Ctrl-C
    try:
        code = app(args=argv, standalone_mode=False)
    except InvalidParameterError as e:  # includes DataError and ExperimentLocked
        _error(str(e))
        code = EXIT_USAGE
    except RunFailed as e:
        _error(str(e))
        code = EXIT_RUN_FAILED
    except KeyboardInterrupt:
        _error("interrupted")
        code = EXIT_INTERRUPTED
    except Exception as e:  # Typer's (vendored click's) usage errors carry exit_code
        if not hasattr(e, "format_message") or not hasattr(e, "exit_code"):
            if type(e).__name__ == "Abort":
                _error("aborted")
                code = EXIT_INTERRUPTED
            else:
                raise
        else:
            _error(e.format_message())
            code = e.exit_code
    finally:
        signal.signal(signal.SIGTERM, previous)
    code = code if isinstance(code, int) else 0
    if argv is None:
        sys.exit(code)
    return code


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt


def _error(message: str) -> None:
    line = " ".join(str(message).split())  # one line, whatever the message held
    sys.stderr.write(f"reglab: error: {terminal_text(line)}\n")  # no ESC/OSC from a header


if __name__ == "__main__":  # pragma: no cover
    main()
