"""``reglab report``: an experiment's HTML and Markdown report, rebuilt from its store alone.

Reads ``runs/NAME/reglab.sqlite`` (read-only) and ``runs/NAME/models/*.safetensors`` and
writes, each atomically (temp file in the folder, then ``os.replace``):

- ``report.html``: one self-contained page; its figures (the forest plot, the learning
  curves, the gap bars and the weight histograms) are inline SVG
  (:mod:`reglab.report.interactive`: hover a mark for its numbers, click an arm to toggle
  it), drawn from the same arguments as their PNGs (matplotlib Agg). The styles and the
  one script are inline and a Content-Security-Policy forbids every request (the script is
  allowed by its hash), so it opens offline.
- ``report.md`` plus ``figures/*.png`` next to it (Markdown viewers do not all show data URIs).

Sections: the result (a forest plot of every arm minus ``none`` with its paired interval,
the headline figure), what was run, the measured comparison table
(``reglab.lab.compare.summarize_arms``: paired differences with Holm-adjusted 95% intervals
and verdicts), learning curves (every arm overlaid), the generalization gap, weight
distributions per layer and sparsity, and the diagnosis (:mod:`reglab.report.diagnose`).
Every figure has a caption saying what to look at.
Everything a user's files named (data set, columns, classes) is escaped: Jinja2 with
``autoescape=True`` for HTML, :func:`reglab._escape.markdown_text` for every value of the
Markdown template (no link, image, HTML, code span or table cell can come from data).

Its words come from the message catalogue (:mod:`reglab.report.i18n`) in the experiment's
language: ``build_report(exp_dir, lang="vi")``, else the store's ``meta["lang"]``, else English.

The store's experiment ``meta`` (JSON) may hold ``argv`` (the command line, a list),
``command``, ``lang``, ``data`` (:func:`dataset_meta` of the loaded data set) and ``label_check``
(``reglab.lab.label_check.check_labels(...).to_dict()``); each is shown when present.

Example::

    html, md = build_report(Path("runs/compare-digits"))
"""

from __future__ import annotations

import base64
import json
import math
import shlex
import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
from markupsafe import Markup
from safetensors.numpy import load_file

from reglab._escape import markdown_text
from reglab._files import atomic_write
from reglab._validation import InvalidParameterError, fail
from reglab.lab.arms import settings as arm_settings
from reglab.lab.compare import experiment_task, summarize_arms
from reglab.lab.stats import MIN_EFFECT_ACC, format_ci, format_pm, paired_difference
from reglab.lab.store import connect_read_only, read_epochs, read_runs
from reglab.report import diagnose, i18n
from reglab.report.i18n import reason, status, t

__all__ = ["build_report", "dataset_meta", "load_experiment", "SECTIONS"]

# (anchor, title) of every section, in order; tests check each is present.
SECTIONS = (("result", "1. Result: each arm against none"), ("run", "2. What was run"),
            ("table", "3. Measured comparison"), ("curves", "4. Learning curves"),
            ("gap", "5. Generalization gap"), ("weights", "6. Weight distributions and sparsity"),
            ("diagnosis", "7. Diagnosis"))
_REG_KEYS = ("l1", "l2", "weight_decay", "proximal_l1", "dropout", "patience", "augment",
             "augment_strength", "mixup", "cutmix")
_MODEL_KEYS = ("model", "hidden", "activation", "optimizer", "lr", "epochs", "batch_size",
               "device")
_MAX_NAMES = 40  # column / class names listed in full up to this many


def dataset_meta(ds: Any) -> dict[str, Any]:
    """What the report shows about a data set, as JSON-ready data for the store's meta.

    Store it as ``meta["data"]`` when the experiment is created (the report never reloads
    the data: a user's file may have changed or be gone).

    Example::

        meta = {"command": "compare", "argv": sys.argv[1:], "data": dataset_meta(ds)}
    """
    names = lambda xs: None if xs is None else [str(x) for x in xs]  # noqa: E731
    task = getattr(ds, "task", "classification")
    regression = {} if task != "regression" else {
        "task": task, "target_name": getattr(ds, "target_name", None),
        "target_mean": float(ds.target_mean), "target_std": float(ds.target_std)}
    return {"name": str(ds.name), "kind": ds.kind, "num_classes": int(ds.num_classes),
            **regression, "input_shape": [int(s) for s in ds.input_shape],
            "sizes": {part: len(getattr(ds, part).y) for part in ("train", "val", "test")},
            "description": str(getattr(ds, "description", "") or ""),
            "class_names": names(getattr(ds, "class_names", None)),
            "feature_names": names(getattr(ds, "feature_names", None))}


def load_experiment(exp_dir: Path) -> dict[str, Any]:
    """Everything the report needs from the store: name, meta, runs, per-epoch histories."""
    exp_dir = Path(exp_dir)
    db = exp_dir / "reglab.sqlite"
    if not db.is_file():
        raise fail("report", "experiment", "a folder holding reglab.sqlite (made by reglab "
                   "compare or reglab run)", str(exp_dir))
    try:
        conn = connect_read_only(db)  # any folder name: "." and "données" included
        try:
            row = conn.execute("SELECT name, created, meta FROM experiment LIMIT 1").fetchone()
            runs = read_runs(conn)
            histories = {r["id"]: read_epochs(conn, r["id"]) for r in runs}
        finally:
            conn.close()
        meta = json.loads(row[2]) if row and row[2] else {}
    except (sqlite3.Error, ValueError) as err:  # not a database, damaged, hand-edited JSON
        if isinstance(err, InvalidParameterError):
            raise
        raise InvalidParameterError(
            f"The experiment store {str(db)!r} cannot be read ({err}); it is not a database "
            "reglab wrote or it was damaged.") from None
    if not isinstance(meta, dict):
        meta = {}
    name = row[0] if row else exp_dir.resolve().name
    return {"name": str(name), "created": row[1] if row else None,
            "meta": meta, "runs": runs, "histories": histories, "root": exp_dir}


def build_report(exp_dir: Path, lang: str | None = None) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` (+ ``figures/``) from the store; return both paths.

    Args:
        exp_dir: the experiment folder, e.g. ``runs/compare-digits``.
        lang: "en" or "vi"; None: the store's ``meta["lang"]`` (what ``compare --lang`` kept),
            else "en".

    Raises:
        InvalidParameterError: the folder holds no store, the store holds no runs, or
            ``lang`` is not one of ``i18n.LANGS``.
    """
    if lang is not None:
        i18n.check_lang(lang, "report")
    exp = load_experiment(Path(exp_dir))
    lang = lang or exp["meta"].get("lang") or "en"
    if not exp["runs"]:
        raise fail("report", "experiment", "an experiment with at least one run",
                   str(exp_dir))
    root = exp["root"]
    fig_dir = root / "figures"
    for entry in (fig_dir, root / "models", root / "report.html", root / "report.md"):
        if entry.is_symlink():  # it would write (or read weights) outside the experiment
            raise InvalidParameterError(
                f"The experiment entry {str(entry)!r} is a symbolic link; reglab writes only "
                "inside the experiment folder. Replace it with a real folder or file.")
    ctx, figures, inline = _context(exp, lang)
    try:
        fig_dir.mkdir(exist_ok=True)
    except OSError as e:
        raise fail("report", "experiment", "a writable folder", f"{root} ({e.strerror})") from None
    for key, png in figures.items():
        atomic_write(fig_dir / f"{key}.png", png)
    env_html, env_md, markup = _environments()
    uris = {k: "data:image/png;base64," + base64.b64encode(v).decode("ascii")
            for k, v in figures.items()}
    labels = i18n.labels(lang, ctx["task"])
    # the catalogue's labels are the template's own text: not escaped, their fields are;
    # the forest, the curves and the gap are inline SVG in the page (hover, toggles), their
    # PNGs are for report.md
    from reglab.report import interactive  # imports plots: matplotlib, the report's extra
    html = env_html.get_template("report.html.j2").render(
        **ctx, img=uris, L={k: markup(v) for k, v in labels.items()},
        interactive={k: markup(v) for k, v in inline.items()}, script=markup(interactive.SCRIPT),
        interactive_style=markup(interactive.STYLE), csp_script=markup(interactive.script_hash()))
    md = env_md.get_template("report.md.j2").render(
        **ctx, img={k: Markup(f"figures/{k}.png") for k in figures},  # ours: not escaped
        L={k: Markup(v) for k, v in labels.items()})
    html_path, md_path = root / "report.html", root / "report.md"
    atomic_write(html_path, html.encode("utf-8"))
    atomic_write(md_path, md.encode("utf-8"))
    return html_path, md_path


# -- the template context --------------------------------------------------------------------
def _context(exp: Mapping[str, Any], lang: str = "en"
             ) -> tuple[dict[str, Any], dict[str, bytes], dict[str, str]]:
    runs, hist = exp["runs"], exp["histories"]
    arms = list(dict.fromkeys(r["arm"] for r in runs))
    rows = summarize_arms(runs)
    task = experiment_task(runs)
    weights = {arm: _arm_weights(exp["root"], [r for r in runs if r["arm"] == arm])
               for arm in arms}
    layers = {arm: _arm_layers(exp["root"], [r for r in runs if r["arm"] == arm])
              for arm in arms}
    figures, captions, inline = _figures(rows, runs, hist, arms, layers, lang)
    findings = diagnose.diagnose(runs, hist, exp["meta"].get("label_check"), lang=lang)
    ctx = {"title": t("report.title", lang, name=exp["name"]), "lang": lang, "task": task,
           "arms": arms,
           "sections": tuple((a, t(f"report.section.{a}", lang)) for a, _ in SECTIONS),
           "run": _what_was_run(exp, arms, lang), "table": [_table_row(r, lang) for r in rows],
           "diffs": [_diff_row(r, lang) for r in rows if r.compared],
           "intervals_note": i18n.intervals_note(rows, lang=lang),
           "captions": captions,
           "sparsity": [_sparsity_row(r, weights[r.arm]) for r in rows],
           "findings": [(arm, findings.get(arm, [])) for arm in arms],
           "generated": time.strftime("%Y-%m-%d %H:%M:%S")}
    return ctx, figures, inline


def _figures(rows, runs, hist, arms, layers, lang: str = "en"):
    """Every figure (PNG bytes), its caption, and the inline SVG of the interactive ones,
    keyed by the figure's file name. The PNG and the SVG of a figure are drawn from the same
    arguments (:func:`_draw`)."""
    if any(r.task == "regression" for r in rows):
        return _regression_figures(rows, runs, hist, arms, layers, lang)
    figures, captions, inline = {}, {}, {}
    compared = [r for r in rows if r.d_acc is not None]
    if compared:
        _draw(figures, inline, "forest", [r.arm for r in compared], [r.d_acc for r in compared],
              [r.d_loss for r in compared], [r.d_acc_raw for r in compared],
              [r.d_loss_raw for r in compared], MIN_EFFECT_ACC, compared[0].min_effect_loss,
              t("plot.forest.holm", lang), lang=lang)
        captions["forest"] = t("report.caption.forest", lang,
                               note=i18n.intervals_note(rows, lang=lang))
    _draw(figures, inline, "learning_curves", *_curves(runs, hist, arms), lang=lang)
    captions["learning_curves"] = t("report.caption.learning_curves", lang)
    gap_diffs = _gap_diffs(runs, arms)
    _draw(figures, inline, "gap", [r.arm for r in rows], [r.gap.mean for r in rows],
          [gap_diffs.get(r.arm) for r in rows], [r.n_done for r in rows], lang=lang)
    captions["gap"] = t("report.caption.gap", lang)
    _weight_figure(figures, captions, inline, layers, lang)
    return figures, captions, inline


def _draw(figures: dict, inline: dict, key: str, *args, svg_only: Mapping | None = None,
          **kwargs) -> None:
    """Figure ``key`` as PNG (``plots``) and as inline SVG (``interactive``), from the same
    arguments: the numbers under a hover text are those of the PNG and the tables."""
    from reglab.report import interactive, plots  # matplotlib: only when figures are drawn

    png, svg = {"forest": (plots.forest, interactive.forest_svg),
                "learning_curves": (plots.learning_curves, interactive.learning_curves_svg),
                "gap": (plots.gap_bars, interactive.gap_svg),
                "weights": (plots.weight_histograms, interactive.weights_svg)}[key]
    figures[key] = png(*args, **kwargs)
    inline[key] = svg(*args, **kwargs, **(svg_only or {}))


def _regression_figures(rows, runs, hist, arms, layers, lang: str = "en"):
    """:func:`_figures` of a regression experiment: differences of test RMSE and MAE,
    curves of validation RMSE and R^2, the test - train RMSE gap."""
    from reglab.report import plots  # matplotlib: imported only when figures are drawn

    figures, captions, inline = {}, {}, {}
    compared = [r for r in rows if r.d_rmse is not None]
    note = i18n.intervals_note(rows, lang=lang)
    if compared:
        _draw(figures, inline, "forest", [r.arm for r in compared],
              [r.d_rmse for r in compared], [r.d_mae for r in compared],
              [r.d_rmse_raw for r in compared], [r.d_mae_raw for r in compared],
              compared[0].min_effect_rmse, compared[0].min_effect_mae,
              t("plot.forest.holm", lang), lang=lang, regression=True)
        captions["forest"] = t("report.caption.forest_regression", lang, note=note)
    keys = {"train_loss": "data_loss", "val_loss": "val_loss", "val_rmse": "val_rmse",
            "val_r2": "val_r2"}
    _draw(figures, inline, "learning_curves", *_curves(runs, hist, arms, keys), lang=lang,
          panels=plots.REGRESSION_CURVE_PANELS)
    captions["learning_curves"] = t("report.caption.learning_curves_regression", lang)
    gap_diffs = _gap_diffs(runs, arms)
    min_rmse = next((r.min_effect_rmse for r in rows if math.isfinite(r.min_effect_rmse)), 0.0)
    _draw(figures, inline, "gap", [r.arm for r in rows], [r.gap.mean for r in rows],
          [gap_diffs.get(r.arm) for r in rows], [r.n_done for r in rows], min_effect=min_rmse,
          lang=lang, scale=1.0, ylabel="ylabel_regression",
          svg_only={"alt": "template_regression.gap_alt"})
    captions["gap"] = t("report.caption.gap_regression", lang)
    _weight_figure(figures, captions, inline, layers, lang)
    return figures, captions, inline


def _weight_figure(figures, captions, inline, layers, lang: str = "en") -> None:
    """The weight histograms and their caption, when any weights are stored."""
    from reglab.report import plots  # matplotlib: imported only when figures are drawn

    if any(w.size for per in layers.values() for w in per.values()):
        ranges = plots.weight_ranges(layers)  # counted once for the caption, PNG and SVG
        _draw(figures, inline, "weights", layers, lang=lang,
              panels=plots.weight_panels(layers, ranges=ranges))
        outside = "; ".join(t("report.caption.weights.range", lang, layer=layer, n=n,
                              total=total, lim=lim)
                            for layer, (lim, n, total) in ranges.items())
        captions["weights"] = t("report.caption.weights", lang, outside=outside)


def _what_was_run(exp: Mapping[str, Any], arms: list[str], lang: str = "en"
                  ) -> dict[str, Any]:
    meta, runs = exp["meta"], exp["runs"]
    first = next((r for r in runs if r["arm"] == "none"), runs[0])
    spec = first["spec"]
    argv = meta.get("argv")
    command = ("reglab " + shlex.join(str(a) for a in argv)) if isinstance(argv, list) else None
    earlier = ["reglab " + shlex.join(str(a) for a in a_argv)
               for a_argv in meta.get("earlier_argv", []) if isinstance(a_argv, list)]
    data = meta.get("data")
    data_rows = _data_rows(data, lang) if isinstance(data, dict) else [
        (t("report.data.name", lang), str(spec.get("data", "?"))),
        (t("report.data.details", lang), t("report.details_missing", lang))]
    per_arm = []
    for arm in arms:
        rs = [r for r in runs if r["arm"] == arm]
        shown = arm_settings(rs[0]["spec"], spec if first["arm"] == "none" else None)
        per_arm.append({"arm": arm,
                        "settings": t("report.no_regularization", lang) if shown == "-" else shown,
                        "seeds": ", ".join(f"{r['seed']} ({status(r['status'], lang)})"
                                           for r in rs)})
    versions = sorted({json.dumps(r["versions"], sort_keys=True) for r in runs if r["versions"]})
    return {"name": exp["name"], "command": command, "earlier": earlier,
            "created": _when(exp.get("created")), "data": data_rows,
            "model": _settings({k: spec.get(k) for k in _MODEL_KEYS if k in spec}),
            "arms": per_arm,
            "versions": ([_settings(json.loads(v)) for v in versions]
                         or [t("report.not_recorded", lang)]),
            # stored in English; shown in the report's language
            "reasons": [(r["id"], status(r["status"], lang), reason(r["reason"] or "", lang))
                        for r in runs]}


def _data_rows(d: Mapping[str, Any], lang: str = "en") -> list[tuple[str, str]]:
    label = lambda name: t(f"report.data.{name}", lang)  # noqa: E731
    sizes = d.get("sizes") or {}
    rows = [(label("name"), str(d.get("name", "?"))), (label("kind"), str(d.get("kind", "?"))),
            (label("sizes"), ", ".join(f"{k} {sizes[k]}" for k in ("train", "val", "test")
                                       if k in sizes)),
            *([(label("task"), "regression"), (label("target"), (
                f"{d.get('target_name') or 'y'}: {d['target_mean']:.4g} ± "
                f"{d['target_std']:.4g}"))] if d.get("task") == "regression" else
              [(label("classes"), str(d.get("num_classes", "?")))]),
            (label("input shape"), " x ".join(str(s) for s in d.get("input_shape", [])))]
    for key, name in (("class_names", "class names"), ("feature_names", "columns")):
        names = d.get(key)
        if names:
            more = (t("report.more_names", lang, n=len(names) - _MAX_NAMES)
                    if len(names) > _MAX_NAMES else "")
            rows.append((label(name), ", ".join(names[:_MAX_NAMES]) + more))
    if d.get("description"):
        rows.append((label("source"), str(d["description"])))
    return rows


def _settings(d: Mapping[str, Any]) -> str:
    def fmt(v):
        if isinstance(v, (list, tuple)):
            return ",".join(str(x) for x in v)
        return f"{v:g}" if isinstance(v, float) else str(v)
    return ", ".join(f"{k}={fmt(v)}" for k, v in d.items())


def _when(t: Any) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else "?"


def _table_row(r, lang: str = "en") -> dict[str, str]:
    n = f"{r.n_done}" + (t("report.diverged", lang, n=r.n_diverged) if r.n_diverged else "")
    says = i18n.note_says(r, lang)
    if r.task == "regression":  # the columns say test RMSE, MAE, R^2 (i18n.REGRESSION_LABELS)
        return {**_table_row_common(r, says, n),
                "test_acc": format_pm(r.test_rmse.mean, r.test_rmse.std),
                "test_loss": format_pm(r.test_mae.mean, r.test_mae.std),
                "gap": format_pm(r.test_r2.mean, r.test_r2.std, digits=3)}
    return {"arm": r.arm, "settings": r.settings, "output": says[0], "pros": says[1],
            "cons": says[2], "n": n,
            "test_acc": format_pm(r.test_acc.mean, r.test_acc.std, scale=100),
            "test_loss": format_pm(r.test_loss.mean, r.test_loss.std, digits=3),
            "gap": format_pm(r.gap.mean, r.gap.std, scale=100),
            "sparsity": format_pm(r.sparsity.mean, r.sparsity.std, scale=100, digits=1),
            "norm": format_pm(r.weight_norm.mean, r.weight_norm.std, digits=1),
            "epochs": format_pm(r.epochs.mean, r.epochs.std, digits=0),
            "seconds": f"{r.seconds.mean:.1f}" if math.isfinite(r.seconds.mean) else "-"}


def _table_row_common(r, says, n: str) -> dict[str, str]:
    return {"arm": r.arm, "settings": r.settings, "output": says[0], "pros": says[1],
            "cons": says[2], "n": n,
            "sparsity": format_pm(r.sparsity.mean, r.sparsity.std, scale=100, digits=1),
            "norm": format_pm(r.weight_norm.mean, r.weight_norm.std, digits=1),
            "epochs": format_pm(r.epochs.mean, r.epochs.std, digits=0),
            "seconds": f"{r.seconds.mean:.1f}" if math.isfinite(r.seconds.mean) else "-"}


def _diff_row(r, lang: str = "en") -> dict[str, str]:
    if r.task == "regression":  # the columns say Δ test RMSE, Δ test MAE
        return {"arm": r.arm, "d_acc": format_ci(r.d_rmse), "d_loss": format_ci(r.d_mae),
                "d_acc_raw": format_ci(r.d_rmse_raw), "d_loss_raw": format_ci(r.d_mae_raw),
                "verdict": i18n.verdicts(r, lang=lang)[2]}
    return {"arm": r.arm, "d_acc": format_ci(r.d_acc, scale=100),
            "d_loss": format_ci(r.d_loss, digits=3),
            "d_acc_raw": format_ci(r.d_acc_raw, scale=100),
            "d_loss_raw": format_ci(r.d_loss_raw, digits=3),
            "verdict": i18n.verdicts(r, lang=lang)[2]}


def _sparsity_row(r, w) -> dict[str, str]:
    if not w.size:
        return {"arm": r.arm, "stored": "-", "zeros": "-", "std": "-", "count": "0"}
    return {"arm": r.arm,
            "stored": format_pm(r.sparsity.mean, r.sparsity.std, scale=100, digits=1),
            "zeros": f"{100 * float(np.mean(w == 0)):.1f}", "std": f"{float(w.std()):.4f}",
            "count": f"{w.size}"}


# -- figures' inputs -------------------------------------------------------------------------
def _curves(runs, hist, arms, keys=None):
    curves, stops = {}, {}
    keys = keys or {"train_loss": "data_loss", "val_loss": "val_loss", "train_acc": "train_acc",
                    "val_acc": "val_acc"}
    for arm in arms:
        rs = [r for r in runs if r["arm"] == arm and hist.get(r["id"])]
        curves[arm] = {k: [_col(hist[r["id"]], col) for r in rs] for k, col in keys.items()}
        stops[arm] = [_stop(r, len(hist[r["id"]])) for r in rs]
    return curves, stops


def _gap_diffs(runs, arms, baseline: str = "none"):
    """Per arm, the paired 95% difference of its train-test gap against ``baseline``'s."""
    base = {r["seed"]: r["final"].get("gap", math.nan) for r in runs
            if r["arm"] == baseline and r["status"] == "done"}
    out = {}
    for arm in arms:
        mine = {r["seed"]: r["final"].get("gap", math.nan) for r in runs
                if r["arm"] == arm and r["status"] == "done"}
        seeds = [s for s in mine if s in base]
        if arm != baseline and seeds:
            out[arm] = paired_difference([mine[s] for s in seeds], [base[s] for s in seeds])
    return out


def _stop(run: Mapping[str, Any], n_epochs: int) -> tuple[int, int | None]:
    """(best epoch to mark or -1, last epoch if early stopping ended the run else None)."""
    if not run["spec"].get("patience") or run["status"] != "done":
        return -1, None
    best = run["final"].get("best_epoch")
    best = int(best) if best is not None and math.isfinite(best) else -1
    stopped = n_epochs - 1 if n_epochs < int(run["spec"].get("epochs", n_epochs)) else None
    return best, stopped


def _col(history: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    return [math.nan if e.get(key) is None else float(e[key]) for e in history]


def _arm_weights(root: Path, runs: Sequence[Mapping[str, Any]]):
    """Every stored weight matrix (ndim >= 2, the penalties' default selection) of an arm."""
    parts = []
    for r in runs:
        path = root / "models" / f"{r['id']}.safetensors"
        if r["status"] == "done" and path.is_file():
            try:
                tensors = load_file(str(path))
            except Exception as err:  # noqa: BLE001 - safetensors' own error type, OSError
                raise InvalidParameterError(
                    f"The weight file {str(path)!r} cannot be read ({err}); rerun the "
                    "experiment's command to train that run again.") from None
            parts += [t.ravel() for t in tensors.values() if t.ndim >= 2]
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)


def _arm_layers(root: Path, runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """An arm's stored weight matrices (ndim >= 2, the penalties' selection) per layer.

    Layers are matched across arms by position in the model (dropout layers shift the
    module indices in the names) and labelled ``"layer 1 (16×3)"``; each holds every seed's
    weights, 1-D. Called after :func:`_arm_weights`, which reports a file it cannot read.
    """
    # "10.weight" after "4.weight": module indices compared as numbers
    natural = lambda k: [(0, int(t)) if t.isdigit() else (1, t) for t in k.split(".")]  # noqa: E731
    parts: dict[str, list] = {}
    for r in runs:
        path = root / "models" / f"{r['id']}.safetensors"
        if r["status"] == "done" and path.is_file():
            tensors = load_file(str(path))
            mats = [tensors[k] for k in sorted(tensors, key=natural) if tensors[k].ndim >= 2]
            for i, w in enumerate(mats):
                label = f"layer {i + 1} ({'×'.join(str(d) for d in w.shape)})"
                parts.setdefault(label, []).append(w.ravel().astype(np.float64))
    return {label: np.concatenate(ts) for label, ts in parts.items()}


# -- rendering -------------------------------------------------------------------------------
def _environments():
    """The HTML and Markdown Jinja2 environments, and ``Markup`` (jinja2's markupsafe)."""
    loader = jinja2.FileSystemLoader(str(Path(__file__).parent / "templates"))
    # autoescape=True (not select_autoescape): the template's .j2 suffix must not turn it off.
    html = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)
    md = jinja2.Environment(loader=loader, autoescape=False, finalize=_md_escape,
                            undefined=jinja2.StrictUndefined, trim_blocks=True,
                            lstrip_blocks=True, keep_trailing_newline=True)
    return html, md, Markup


def _md_escape(value: Any) -> Any:
    """Every value the Markdown template prints: :func:`markdown_text`, except the report's
    own ``Markup`` (figure paths) and numbers."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return markdown_text(value)
