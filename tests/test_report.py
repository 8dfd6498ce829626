"""The report: diagnosis rules on synthetic histories, and the HTML/Markdown built from a real store.

The store comes from the lab itself (``make_plan`` + ``Store`` + ``execute``) on a tiny CSV
whose column and class names hold ``<script>`` tags, so one experiment checks the sections,
the embedded PNGs, that nothing is fetched from the network, the escaping and the rebuild.
"""

from __future__ import annotations

import html as html_mod
import io
import math
import re
from pathlib import Path

import pytest

from reglab.report import diagnose as dg

EVIL = "<script>alert(1)</script>"


# -- diagnosis rules on synthetic histories ------------------------------------------------------
def _hist(train, val):
    return [{"data_loss": t, "val_loss": v} for t, v in zip(train, val)]


def test_overfitting_fires_when_val_rises_while_train_falls():
    train = [1.0 / (e + 1) for e in range(20)]
    val = [0.5 + abs(e - 6) * 0.05 for e in range(20)]  # minimum 0.5 at epoch 6, ends at 1.15
    got = dg.overfitting(_hist(train, val))
    assert got["best_epoch"] == 6
    assert got["min_val_loss"] == pytest.approx(0.5)
    assert got["end_val_loss"] == pytest.approx(1.15)
    assert got["val_rise"] == pytest.approx(1.15 / 0.5 - 1)
    assert got["end_train_loss"] == pytest.approx(1 / 20)


@pytest.mark.parametrize("train, val", [
    ([1 / (e + 1) for e in range(20)], [1 / (e + 1) + 0.1 for e in range(20)]),   # both fall
    ([1 / (e + 1) for e in range(20)], [0.5 + 0.004 * abs(e - 10) for e in range(20)]),  # rise < 10%
    ([0.5] * 20, [0.5 + abs(e - 6) * 0.05 for e in range(20)]),  # train flat: not overfitting
    ([1.0, 0.5], [0.5, 0.9]),  # too few epochs
])
def test_overfitting_does_not_fire(train, val):
    assert dg.overfitting(_hist(train, val)) is None


def test_overfitting_ignores_non_finite_epochs():
    train = [1.0 / (e + 1) for e in range(10)] + [math.nan]
    val = [1.0 - 0.05 * e for e in range(10)] + [math.inf]
    assert dg.overfitting(_hist(train, val)) is None


def test_underfitting_fires_and_reports_the_paired_difference():
    got = dg.underfitting([0.80, 0.82, 0.81], [0.99, 1.00, 0.99], [0.78, 0.80, 0.79],
                          [0.90, 0.91, 0.90])
    assert got["d_train"] == pytest.approx(-0.1833333, abs=1e-6)
    assert got["d_train_high"] < 0
    assert got["d_test"] == pytest.approx(-0.1133333, abs=1e-6)
    assert got["n"] == 3


@pytest.mark.parametrize("arm_train, arm_test", [
    ([0.98, 0.99, 0.985], [0.80, 0.81, 0.80]),   # train accuracy only 1 point lower
    ([0.80, 0.82, 0.81], [0.95, 0.96, 0.95]),    # lower train accuracy but better test: regularized
    ([0.99, 0.60, 1.00], [0.80, 0.70, 0.80]),    # mean -13 points but the interval includes 0
])
def test_underfitting_does_not_fire(arm_train, arm_test):
    assert dg.underfitting(arm_train, [0.99, 1.00, 0.99], arm_test, [0.90, 0.91, 0.90]) is None


def _pd(arm, base):
    from reglab.lab.stats import paired_difference
    return paired_difference(arm, base)


def test_no_effect_fires_for_a_lambda_too_small_to_matter():
    acc = _pd([0.901, 0.899, 0.905], [0.900, 0.900, 0.904])
    got = dg.no_effect(acc, _pd([0.3] * 3, [0.3] * 3), 0.003, [10.01, 10.02, 9.99], [10.0] * 3)
    assert got is not None
    assert got["d_acc_low"] <= 0 <= got["d_acc_high"]
    assert got["d_norm_rel"] == pytest.approx(0.02 / 3 / 10.0, rel=1e-6)


@pytest.mark.parametrize("acc", [
    [0.92, 0.93, 0.925],     # accuracy clearly up: an effect
    [0.96, 0.86, 0.95],      # interval contains 0, mean +2.2 points: too few seeds, not "none"
])
def test_no_effect_does_not_fire(acc):
    d = _pd(acc, [0.900, 0.900, 0.904])
    assert dg.no_effect(d, _pd([0.3] * 3, [0.3] * 3), 0.003, [10.0] * 3, [10.0] * 3) is None


def test_diverged_lists_the_stored_reason():
    runs = [{"id": "l2-s0", "seed": 0, "status": "diverged", "reason": "diverged: nan at epoch 3"},
            {"id": "l2-s1", "seed": 1, "status": "done", "reason": "ok"}]
    assert dg.diverged(runs) == [{"id": "l2-s0", "seed": 0, "reason": "diverged: nan at epoch 3"}]
    assert dg.diverged(runs[1:]) == []


def test_label_safety_reads_the_stored_check():
    check = {"clean_accuracy": 0.95, "rows": [
        {"name": "flip", "drop": 0.30, "limit": 0.05, "flagged": True},
        {"name": "rotate", "drop": 0.01, "limit": 0.05, "flagged": False},
        {"name": "noise", "drop": 0.00, "limit": 0.05, "flagged": False}]}
    got = dg.label_safety(check, ["flip", "rotate"])
    assert got["flagged"] == [("flip", 0.30, 0.05)]
    assert got["ok"] == [("rotate", 0.01, 0.05)]
    assert dg.label_safety(check, ["rotate"])["flagged"] == []
    assert dg.label_safety(None, ["flip"]) is None
    named = {"clean_accuracy": 0.95, "rows": [  # as check_labels names them: the transform repr
        {"name": "HorizontalFlip(p=0.5)", "drop": 0.54, "limit": 0.33, "flagged": True},
        {"name": "RandomRotation(degrees=15, p=1)", "drop": 0.045, "limit": 0.43, "flagged": False}]}
    got = dg.label_safety(named, ["flip", "rotate"])
    assert got["flagged"] == [("HorizontalFlip(p=0.5)", 0.54, 0.33)] and len(got["ok"]) == 1


def _run(arm, seed, spec=None, **final):
    base = {"train_acc": 1.0, "test_acc": 0.9, "weight_norm": 10.0, "gap": 0.1}
    return {"id": f"{arm}-s{seed}", "arm": arm, "seed": seed, "status": "done", "reason": "",
            "spec": {"epochs": 20, "lr": 1e-3, **(spec or {})}, "final": {**base, **final}}


def test_diagnose_joins_rules_per_arm_with_numbers_and_advice():
    runs, hist = [], {}
    over = _hist([1 / (e + 1) for e in range(20)], [0.5 + abs(e - 6) * 0.05 for e in range(20)])
    good = _hist([1 / (e + 1) for e in range(20)], [1 / (e + 1) + 0.1 for e in range(20)])
    for s in range(3):
        runs += [_run("none", s, test_acc=0.90 + 0.001 * s),
                 _run("dropout", s, {"dropout": 0.8}, train_acc=0.7, test_acc=0.8),
                 _run("l2", s, {"l2": 1e-9}, test_acc=0.90 + 0.001 * s + 0.0005 * (s - 1),
                      weight_norm=10.0 + 0.01 * s),
                 _run("augment", s, {"augment": ["flip"]}, test_acc=0.95 + 0.001 * s)]
        hist.update({f"none-s{s}": over, f"dropout-s{s}": good, f"l2-s{s}": over,
                     f"augment-s{s}": good})
    runs.append({**_run("l2", 3, {"l2": 1e-9}), "status": "diverged",
                 "reason": "diverged: the training loss became non-finite (nan) at epoch 2"})
    check = {"clean_accuracy": 0.95,
             "rows": [{"name": "flip", "drop": 0.3, "limit": 0.05, "flagged": True}]}
    found = dg.diagnose(runs, hist, label_check=check)
    rules = {arm: [f.rule for f in fs] for arm, fs in found.items()}
    assert rules == {"none": ["overfitting"], "dropout": ["underfitting"],
                     "l2": ["diverged", "overfitting", "no-effect"],
                     "augment": ["label-safety"]}
    under = found["dropout"][0]
    assert "70.0%" in under.text and "100.0%" in under.text and "0.4" in under.advice
    assert "epoch 7" in found["none"][0].text and "patience" in found["none"][0].advice
    assert "1e-08" in found["l2"][2].advice  # raise lambda 10x
    assert "flip" in found["augment"][0].text and found["augment"][0].level == "warning"


def test_overfitting_advice_follows_validation_accuracy():
    """Val loss rising but val accuracy still rising (mnist1d): stopping at the loss minimum
    would cost accuracy, and the advice says so instead of recommending it."""
    epochs = [{"data_loss": 1 / (e + 1), "val_loss": 0.5 + abs(e - 6) * 0.05,
               "val_acc": 0.5 + 0.01 * e} for e in range(20)]
    got = dg.overfitting(epochs)
    assert got["val_acc_at_best"] == pytest.approx(0.56) and got["end_val_acc"] == pytest.approx(0.69)
    [f] = dg.diagnose([_run("none", 0)], {"none-s0": epochs})["none"]
    assert "56.0%" in f.text and "69.0%" in f.text and "monitor='val_acc'" in f.advice
    falling = [{**e, "val_acc": 0.9 - 0.01 * abs(i - 6)} for i, e in enumerate(epochs)]
    [f] = dg.diagnose([_run("none", 0)], {"none-s0": falling})["none"]
    assert "Stop near epoch 7" in f.advice  # the minimum is epoch index 6: the 7th epoch


def test_diagnose_overfitting_with_early_stopping_is_information():
    over = _hist([1 / (e + 1) for e in range(20)], [0.5 + abs(e - 6) * 0.05 for e in range(20)])
    runs = [_run("early_stopping", 0, {"patience": 5})]
    [f, ok] = dg.diagnose(runs, {"early_stopping-s0": over})["early_stopping"]
    assert (f.rule, f.level) == ("overfitting", "info")
    assert ok.rule == "ok"


def test_diagnose_without_a_label_check_says_what_to_run():
    runs = [_run("augment", 0, {"augment": ["rotate"], "data": "digits"})]
    f = dg.diagnose(runs, {})["augment"][0]
    assert f.rule == "label-safety" and f.level == "info"
    assert "reglab check-augment --data digits --augment rotate" in f.advice


# -- a real experiment from the lab --------------------------------------------------------------
def write_evil_csv(path: Path, rows: int = 150) -> Path:
    """Three classes named with script tags, a column named with one, separable by class."""
    import random
    rng = random.Random(0)
    classes = [f"{EVIL}", "b&o", "c\"quoted\""]
    lines = [f"x1,{EVIL},x3,label"]
    for i in range(rows):
        c = i % 3
        lines.append(",".join(f"{rng.gauss(c, 1.0):.4f}" for _ in range(3)) + f",{classes[c]}")
    path.write_text("\n".join(lines) + "\n")
    return path


def make_experiment(tmp: Path, arms=("none", "l1", "l2", "early_stopping"), seeds: int = 2,
                    epochs: int = 6, name: str = "tiny", overrides=None) -> Path:
    """Run the lab's compare plan on the script-tag CSV into ``tmp/name``; return its folder.
    ``overrides``: strengths as `compare`'s flags give them (default: patience 2)."""
    import reglab as rl
    from reglab.lab.compare import make_plan
    from reglab.lab.execute import execute
    from reglab.lab.spec import RunSpec
    from reglab.lab.store import Store
    from reglab.report.report import dataset_meta

    csv = write_evil_csv(tmp / "evil.csv")
    ds = rl.data.load(str(csv), seed=0, target="label")
    base = RunSpec(data=str(csv), target="label", hidden=(16,), epochs=epochs, batch_size=32,
                   lr=1e-2)
    jobs = make_plan(base, ds.kind, list(arms), seeds, overrides=overrides or {"patience": 2})
    argv = ["compare", "--data", str(csv), "--target", "label", "--epochs", str(epochs)]
    with Store.open(tmp, name, meta={"command": "compare", "argv": argv,
                                     "data": dataset_meta(ds)}) as store:
        for i, job in enumerate(jobs):
            store.add_run(job.run_id, job.arm, job.spec.seed, job.spec.to_json(), position=i)
        execute(store, jobs, workers=1, engine="sequential")
    return tmp / name


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from reglab.report.report import build_report
    root = make_experiment(tmp_path_factory.mktemp("report"))
    html_path, md_path = build_report(root)
    return root, html_path, md_path


def test_build_report_writes_both_files_with_every_section(built):
    from reglab.report.report import SECTIONS
    root, html_path, md_path = built
    assert (html_path, md_path) == (root / "report.html", root / "report.md")
    html, md = html_path.read_text(), md_path.read_text()
    for anchor, title in SECTIONS:
        assert f'id="{anchor}"' in html and title in html
        assert f"## {title}" in md
    for arm in ("none", "l1", "l2", "early_stopping"):
        assert f"<td>{arm}</td>" in html and f"| {arm} |" in md
    assert "helps" in html or "hurts" in html or "no measurable effect" in html
    assert re.search(r"[+-]\d+\.\d\d \[[+-]\d+\.\d\d, [+-]\d+\.\d\d\]", html)  # paired CI
    assert "reglab compare --data" in html  # the command line stored in meta


def test_every_figure_of_the_html_is_inline_svg_and_the_markdown_keeps_pngs(built):
    root, html_path, _ = built
    html = html_path.read_text()
    assert "<img" not in html                   # forest, curves, gap, weights: inline SVG
    assert re.findall(r'<figure class="interactive" id="([a-z-]+)"><div class="legend">.*?'
                      r'<svg class="figure" ', html, re.S) == [
        "forest", "learning-curves", "gap", "weights"]
    from PIL import Image
    for key in FIGURES:                         # report.md's static fallback
        with Image.open(root / "figures" / f"{key}.png") as im:
            assert im.format == "PNG" and im.size[0] > 100 and im.size[1] > 100
            im.verify()


def test_no_network_references(built):
    html = built[1].read_text()
    from reglab.report.interactive import SCRIPT

    assert not re.search(r'(src|href)\s*=\s*["\']?\s*(https?:)?//', html, re.I)
    assert "<link" not in html.lower()
    # one script, the report's own toggle code, inline (no src): nothing else runs
    assert re.findall(r"<script[^>]*>", html, re.I) == ["<script>"]
    assert f"<script>{SCRIPT}</script>" in html
    assert "default-src 'none'" in html  # the CSP forbids any request the page might make


def test_markdown_figures_are_written_next_to_it(built):
    from PIL import Image
    root, _, md_path = built
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md_path.read_text())
    assert links == ["figures/forest.png", "figures/learning_curves.png", "figures/gap.png",
                     "figures/weights.png"]
    for link in links:
        with Image.open(root / link) as im:
            assert im.format == "PNG"


FIGURES = ("forest", "learning_curves", "gap", "weights")


@pytest.mark.parametrize("key", FIGURES)
def test_each_figure_is_drawn_and_not_blank(built, key):
    from PIL import Image
    with Image.open(built[0] / "figures" / f"{key}.png") as im:
        rgb = im.convert("RGB")
    assert rgb.size[0] > 400 and rgb.size[1] > 200
    colours = rgb.getcolors(maxcolors=1 << 20)
    assert len(colours) > 200  # lines, bars, text anti-aliasing: a blank canvas has 1
    white = max(c for c, rgb_ in colours if rgb_ == (255, 255, 255))
    assert white < 0.97 * rgb.size[0] * rgb.size[1]


def test_the_forest_plot_comes_first_and_every_figure_has_a_caption(built):
    _, html_path, md_path = built
    html, md = html_path.read_text(), md_path.read_text()
    imgs = re.findall(r'<figure(?: class="interactive" id="[a-z-]+")?>'
                      r'(?:<img src="data:image/png;base64,[^"]+" alt="([^"]+)">|<div class='
                      r'"legend">.*?<svg [^>]*aria-label="([^"]+)">.*?</svg>)'
                      r"<figcaption>([^<]+)</figcaption></figure>", html, re.S)
    imgs = [(png or svg, caption) for png, svg, caption in imgs]
    assert [alt for alt, _ in imgs] == [
        "each arm minus none with its paired interval", "learning curves, every arm overlaid",
        "train-test accuracy gap per arm", "weight histograms per layer and arm"]
    assert imgs[1][1].endswith(" Hover a point for its values; click an arm's button to hide "
                               "or show its curves.")
    for i in (0, 2):
        assert imgs[i][1].endswith(" Hover a mark for its numbers; click an arm's button to "
                                   "hide or show it.")
    assert html.index('id="forest"') < html.index('id="run"')  # the headline, before the rest
    assert all("Look for" in caption for _, caption in imgs)
    assert "Holm-adjusted over 6 comparisons" in imgs[0][1]  # 3 arms x (accuracy, loss)
    assert re.search(r"layer 1 \(16×3\): \d+ of \d+ beyond ±", imgs[3][1])
    for key in FIGURES:  # the same captions under the Markdown figures
        assert re.search(rf"\(figures/{key}\.png\)\n\n\*[^*\n]+Look for[^*\n]+\*\n", md), key
    negative_zero = re.compile(r"-0\.0+(?!\d)")  # "-0.00", not "-0.0004"
    assert not negative_zero.search(html) and not negative_zero.search(md)


def test_the_tables_state_the_holm_adjustment_and_keep_the_raw_interval(built):
    html = built[1].read_text()
    assert ("Intervals: 95% t intervals, Holm-adjusted over 6 comparisons (each at the level "
            "of its Holm step); a verdict needs the interval to exclude 0 and the mean to "
            "exceed the minimum effect: 0.5 accuracy points, 1% of none&#39;s test loss") in html
    assert "<th>unadjusted</th>" in html


def test_user_names_come_out_escaped(built):
    _, html_path, md_path = built
    html, md = html_path.read_text(), md_path.read_text()
    escaped = html_mod.escape(EVIL, quote=True)  # Jinja's escape: &lt;script&gt;...
    from reglab.report.interactive import SCRIPT

    assert EVIL not in html and EVIL not in md
    html = html.replace(f"<script>{SCRIPT}</script>", "")  # the report's own, checked elsewhere
    assert "<script" not in html.lower() and "<script" not in md.lower()
    assert html.count(escaped) >= 2  # once as a column name, once as a class name
    assert md.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2
    assert "b&amp;o" in html and "c&#34;quoted&#34;" in html


def test_weights_show_l1_zeros_against_l2(built):
    html = built[1].read_text()
    rows = dict(re.findall(r"<tr><td>(\w+)</td><td class=\"num\">[^<]*</td>"
                           r"<td class=\"num\">([\d.]+)</td>", html))
    assert float(rows["l1"]) > 0.0 and float(rows["l2"]) == 0.0


def test_report_is_rebuilt_from_the_store_alone(built, tmp_path):
    import shutil

    from reglab.report.report import build_report
    root, html_path, md_path = built
    copy = tmp_path / root.name
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("report.*", "figures", "*.csv"))
    (tmp_path / "evil.csv").unlink(missing_ok=True)  # the data file plays no part
    new_html, new_md = build_report(copy)
    strip = lambda s: re.sub(r"(on \d{4}-\d\d-\d\d [\d:]+)|(base64,[^\"]+)", "", s)  # noqa: E731
    assert strip(new_html.read_text()) == strip(html_path.read_text())
    assert strip(new_md.read_text()) == strip(md_path.read_text())
    assert not list(copy.glob(".*.tmp"))  # atomic writes leave no temp files


def test_build_report_rejects_a_folder_without_a_store(tmp_path):
    from reglab import InvalidParameterError
    from reglab.report.report import build_report
    with pytest.raises(InvalidParameterError, match="reglab.sqlite"):
        build_report(tmp_path)


def test_no_effect_does_not_fire_when_test_loss_moved():
    """Dropout on digits: accuracy within noise, but test loss clearly lower."""
    acc = _pd([0.975, 0.98, 0.97], [0.974, 0.976, 0.972])
    norms = ([18.2, 18.1, 18.3], [17.7, 17.8, 17.7])
    base_loss = [0.09, 0.08, 0.10]
    assert dg.no_effect(acc, _pd([0.07, 0.06, 0.08], base_loss), 0.0009, *norms) is None
    assert dg.no_effect(acc, _pd([0.09, 0.08, 0.1], base_loss), 0.0009, *norms) is not None


def test_diagnose_skips_no_effect_for_early_stopping_alone():
    runs = [_run("none", s) for s in range(3)] + [_run("early_stopping", s, {"patience": 10})
                                                  for s in range(3)]
    assert [f.rule for f in dg.diagnose(runs, {})["early_stopping"]] == ["ok"]


def test_terminal_difference_table_states_the_holm_adjustment():
    from rich.console import Console

    from reglab.report.console import comparison_tables
    runs = []
    for s in range(3):
        for arm, acc in (("none", 0.90), ("l2", 0.93), ("dropout", 0.90)):
            runs.append({"arm": arm, "seed": s, "status": "done", "final": {
                "test_acc": acc + 0.01 * s + (0.002 * s if arm == "l2" else 0),
                "test_loss": 0.3 - (0.02 if arm == "l2" else 0) + 0.001 * s, "gap": 0.01,
                "sparsity": 0.0, "weight_norm": 1.0, "epochs_trained": 5, "seconds": 1.0}})
    out = Console(width=200, record=True, file=io.StringIO())
    for table in comparison_tables(runs, "t"):
        out.print(table)
    text = out.export_text()
    assert ("each arm minus none on the same seeds: mean [interval]; 95% t intervals, "
            "Holm-adjusted over 4 comparisons") in text  # "[interval]" not eaten as markup
    assert "Δ mean [interval]" in text  # the column header is not eaten as markup either
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert "l2 test acc (points) +3.20 [+2.32, +4.08] helps" in lines  # one line per measure
    assert "test loss -0.020 [-0.020, -0.020] helps" in lines


# --------------------------------------------------------------------------- interactive curves


def _svg_points(html: str, panel: str, arm: str) -> list[str]:
    """The hover texts of one arm's points in one panel of the interactive curves."""
    import html as html_mod
    import re

    start = html.index(f'<g class="panel" data-panel="{panel}"')
    end = html.index('<g class="panel"', start + 1) if panel != "val_acc" else html.index("</svg>")
    part = html[start:end]
    series = part[part.index(f'<g class="series" data-arm="{arm}">'):]
    series = series[:series.index("</g>")]
    return [html_mod.unescape(s) for s in
            re.findall(r'<circle class="pt"[^>]*><title>(.*?)</title>', series)]


def test_the_html_is_one_file_with_no_external_url_and_a_csp_hash_for_its_one_script(built):
    import base64
    import hashlib
    import re

    _, html_path, md_path = built
    html = html_path.read_text(encoding="utf-8")
    assert not re.search(r"(?i)\b(?:https?|ftp|wss?):", html)  # (base64 has no colon)
    for url in re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html):
        assert url.startswith(("data:image/png;base64,", "#")), url
    assert "<link" not in html and "@import" not in html and "url(" not in html
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == 1 and "<script " not in html            # no src=, one inline script
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html).group(1)
    assert csp == ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                   f"script-src 'sha256-{digest}'")
    # report.md keeps the static figure of the curves
    assert "](figures/learning_curves.png)" in md_path.read_text(encoding="utf-8")


def test_the_interactive_curves_hover_texts_are_the_stored_values_by_epoch_from_1(built):
    import numpy as np

    from reglab.report.report import load_experiment

    root, html_path, _ = built
    html = html_path.read_text(encoding="utf-8")
    exp = load_experiment(root)
    arms = list(dict.fromkeys(r["arm"] for r in exp["runs"]))
    buttons = [f'<button type="button" class="arm-toggle" data-arm="{a}" aria-pressed="true">'
               for a in arms]
    assert all(b in html for b in buttons)
    for arm in arms:
        rows = [exp["histories"][r["id"]] for r in exp["runs"] if r["arm"] == arm]
        longest = max(len(h) for h in rows)
        for panel, col, what in (("val_loss", "val_loss", "validation loss"),
                                 ("train_acc", "train_acc", "training accuracy")):
            tips = _svg_points(html, panel, arm)
            assert len(tips) == longest
            for i, tip in enumerate(tips):
                vals = np.array([h[i][col] for h in rows if len(h) > i], dtype=float)
                want = f"{arm}, epoch {i + 1}: {what} {vals.mean():.4g}"
                if len(rows) > 1:
                    want += f" (min {vals.min():.4g}, max {vals.max():.4g} over {len(rows)} seeds)"
                assert tip == want


def test_the_interactive_curves_mark_the_restored_epoch_from_1(built):
    import re

    from reglab.report.report import load_experiment

    root, html_path, _ = built
    html = html_path.read_text(encoding="utf-8")
    exp = load_experiment(root)
    stopped = [r for r in exp["runs"] if r["arm"] == "early_stopping" and r["status"] == "done"]
    bests = sorted(int(r["final"]["best_epoch"]) + 1 for r in stopped)
    part = html[html.index('data-panel="val_loss"'):html.index('data-panel="train_acc"')]
    marks = re.findall(r'<circle class="best"[^>]*><title>early_stopping: best epoch (\d+) '
                       r'\(its weights restored\), validation loss', part)
    assert sorted(int(m) for m in marks) == bests and bests


def test_the_interactive_curves_mark_scripted_stops_at_epochs_counted_from_1():
    """Stored (0-based) best 2 and stop 5: the dot says epoch 3, the cross epoch 6, on the
    validation panels only; a NaN epoch leaves a gap in the line and has no point."""
    import re

    from reglab.report.interactive import learning_curves_svg

    val = [0.9, 0.7, 0.5, 0.6, float("nan"), 0.7]
    cur = {"train_loss": [[1.0] * 6], "val_loss": [val], "train_acc": [[0.5] * 6],
           "val_acc": [[0.5] * 6]}
    svg = learning_curves_svg({"early_stopping": cur}, {"early_stopping": [(2, 5)]})
    assert re.findall(r"<title>early_stopping: best epoch (\d+) \(its weights restored\), "
                      r"(validation [a-z]+) ([\d.]+)</title>", svg) == [
        ("3", "validation loss", "0.5"), ("3", "validation accuracy", "0.5")]
    assert re.findall(r"<title>early_stopping: early stopping ended the run at epoch (\d+)"
                      r"</title>", svg) == ["6", "6"]
    part = svg[svg.index('data-panel="val_loss"'):svg.index('data-panel="train_acc"')]
    tips = re.findall(r'<circle class="pt"[^>]*><title>([^<]*)</title>', part)
    assert tips == [f"early_stopping, epoch {e}: validation loss {v}"
                    for e, v in ((1, "0.9"), (2, "0.7"), (3, "0.5"), (4, "0.6"), (6, "0.7"))]
    # the line stops at the missing epoch 5: epochs 1-4 joined, epoch 6 a lone point
    [line] = re.findall(r'<polyline points="([^"]*)"', part)
    assert len(line.split()) == 4


# ------------------------------------------------------------------- interactive forest and gap


def _figure_part(html: str, figure: str) -> str:
    start = html.index(f'<figure class="interactive" id="{figure}">')
    return html[start:html.index("</figure>", start)]


def _tips(part: str, group: str) -> dict[str, str]:
    """arm -> hover text of each ``<g class=GROUP data-arm=...>``'s mark (unescaped)."""
    found = re.findall(rf'<g class="{group}" data-arm="([^"]*)">.*?<g class="mark"><title>'
                       r"([^<]*)</title>", part, re.S)
    return {html_mod.unescape(a): html_mod.unescape(tip) for a, tip in found}


def test_the_interactive_forest_hovers_are_the_difference_tables_numbers(built):
    """Each arm's hover text: the Holm-adjusted and the unadjusted difference exactly as the
    difference table prints them (stats.format_ci of compare.summarize_arms' rows), n, and
    what stats.effect says; its bar has the PNG's colour of that verdict."""
    from matplotlib.colors import to_hex

    from reglab.lab.compare import summarize_arms
    from reglab.lab.stats import MIN_EFFECT_ACC, effect, format_ci
    from reglab.report.plots import EFFECT_COLOURS
    from reglab.report.report import load_experiment

    root, html_path, _ = built
    html = html_path.read_text(encoding="utf-8")
    rows = [r for r in summarize_arms(load_experiment(root)["runs"]) if r.d_acc is not None]
    part = _figure_part(html, "forest")
    acc_part = part[:part.index("Δ test loss")]
    kinds = {"helps": "better than none", "hurts": "worse than none"}
    acc_tips, all_tips = _tips(acc_part, "row"), re.findall(r"<title>([^<]*)</title>", part)
    assert sorted(acc_tips) == sorted(r.arm for r in rows) and len(rows) == 3
    for r in rows:
        acc_kind = effect(r.d_acc, True, MIN_EFFECT_ACC)
        loss_kind = effect(r.d_loss, False, r.min_effect_loss)
        assert acc_tips[r.arm] == (
            f"{r.arm}: Δ test accuracy (points) {format_ci(r.d_acc, scale=100)} (Holm-adjusted "
            f"interval); unadjusted 95% interval {format_ci(r.d_acc_raw, scale=100)}; "
            f"n={r.d_acc.n}; {kinds.get(acc_kind, 'no measurable difference')}")
        loss_tip = (f"{r.arm}: Δ test loss {format_ci(r.d_loss, digits=3)} (Holm-adjusted "
                    f"interval); unadjusted 95% interval {format_ci(r.d_loss_raw, digits=3)}; "
                    f"n={r.d_loss.n}; {kinds.get(loss_kind, 'no measurable difference')}")
        assert html_mod.escape(loss_tip, quote=False) in all_tips
        # the same numbers as the difference table's cells of that arm
        assert (f'<tr><td>{r.arm}</td><td class="num">{format_ci(r.d_acc, scale=100)}</td>'
                f'<td class="num">{format_ci(r.d_acc_raw, scale=100)}</td>') in html
        row = acc_part[acc_part.index(f'data-arm="{r.arm}"'):]
        row = row[:row.index("</g></g>")]
        if math.isfinite(r.d_acc.low) and math.isfinite(r.d_acc.high):
            assert f'fill="{to_hex(EFFECT_COLOURS[acc_kind])}"' in row


def test_the_interactive_gap_hovers_are_the_stored_gaps_and_their_paired_difference(built):
    """The mean gap and the paired difference of the gap from none, computed here from the
    stored runs with stats.paired_difference, as format_num / format_ci print them."""
    import numpy as np

    from reglab.lab.compare import summarize_arms
    from reglab.lab.stats import (MIN_EFFECT_ACC, effect, format_ci, format_num,
                                  paired_difference)
    from reglab.report.report import load_experiment

    root, html_path, _ = built
    html = html_path.read_text(encoding="utf-8")
    runs = load_experiment(root)["runs"]
    tips = _tips(_figure_part(html, "gap"), "bar")
    rows = summarize_arms(runs)
    assert list(tips) == [r.arm for r in rows]
    gaps = lambda arm: {r["seed"]: r["final"]["gap"] for r in runs  # noqa: E731
                        if r["arm"] == arm and r["status"] == "done"}
    kinds = {"helps": "narrower than none", "hurts": "wider than none"}
    for r in rows:
        want = f"{r.arm} (n={r.n_done}): train acc - test acc (points) "
        want += format_num(100 * float(np.mean(list(gaps(r.arm).values()))), 2)
        if r.arm != "none":
            mine, base = gaps(r.arm), gaps("none")
            d = paired_difference([mine[s] for s in mine], [base[s] for s in mine])
            kind = kinds.get(effect(d, False, MIN_EFFECT_ACC), "not measurably different")
            want += (f"; {r.arm} − none on the same seeds: {format_ci(d, scale=100)} "
                     f"(95% paired interval), {kind}")
        assert tips[r.arm] == want


HOSTILE = '<b>&"x'


def test_a_hostile_arm_name_is_escaped_in_the_forest_and_the_gap_svg():
    import numpy as np

    from reglab.lab.stats import PairedDifference
    from reglab.report.interactive import forest_svg, gap_svg, weights_svg

    d = PairedDifference(0.02, 0.01, 0.03, 3)
    svgs = [forest_svg([HOSTILE], [d], [d], [d], [d], 0.005, 0.003, "Holm-adjusted interval"),
            gap_svg(["none", HOSTILE], [0.05, 0.02], [None, d], [3, 3]),
            weights_svg({"none": {"layer 1 (2×2)": np.array([0.1, -0.2, 0.0, 0.3])},
                         HOSTILE: {"layer 1 (2×2)": np.array([0.0, 0.0, 0.1, -0.1])}})]
    for svg in svgs:
        assert HOSTILE not in svg and "<b>" not in svg
        assert f'data-arm="{html_mod.escape(HOSTILE)}"' in svg     # the button and the group
        assert f">{html_mod.escape(HOSTILE)}</button>" in svg
        assert f">{html_mod.escape(HOSTILE)}" in svg                # the label / panel title
        assert f"<title>{html_mod.escape(HOSTILE)}" in svg          # the hover text


def test_the_forest_svg_colours_follow_each_panels_direction_and_tolerate_missing_pairs():
    """Accuracy +2 points (higher is better) and loss +0.05 (lower is better): green, red;
    a missing pair says so; the Vietnamese hover text comes from the catalogue."""
    from matplotlib.colors import to_hex

    from reglab.lab.stats import PairedDifference
    from reglab.report.interactive import forest_svg
    from reglab.report.plots import EFFECT_COLOURS

    up = PairedDifference(0.02, 0.01, 0.03, 3)
    loss_up = PairedDifference(0.05, 0.04, 0.06, 3)
    svg = forest_svg(["a", "b"], [up, None], [loss_up, None], [up, None], [loss_up, None],
                     0.005, 0.003, "Holm-adjusted interval")
    fills = re.findall(r'<rect class="interval"[^>]*fill="([^"]+)"', svg)
    assert fills == [to_hex(EFFECT_COLOURS["helps"]), to_hex(EFFECT_COLOURS["hurts"])]
    assert svg.count(">no pairs</text>") == 2
    assert re.findall(r"<title>([^<]*)</title>", svg)[0] == (
        "a: Δ test accuracy (points) +2.00 [+1.00, +3.00] (Holm-adjusted interval); "
        "unadjusted 95% interval +2.00 [+1.00, +3.00]; n=3; better than none")
    vi = forest_svg(["a"], [up], [loss_up], [up], [loss_up], 0.005, 0.003, "khoảng hiệu chỉnh Holm",
                    lang="vi")
    assert re.findall(r"<title>([^<]*)</title>", vi)[1] == (
        "nhánh a: Δ test loss +0.050 [+0.040, +0.060] (khoảng hiệu chỉnh Holm); khoảng 95% "
        "chưa hiệu chỉnh +0.050 [+0.040, +0.060]; n=3; kém hơn none")


def test_the_interactive_weight_histograms_hover_the_counts_of_every_stored_weight(built):
    """Each bar's hover text: arm, layer, its bin and its count; the counts are np.histogram
    of the stored weights (read here from models/*.safetensors) over the layer's range
    (plots.weight_ranges), and with the weights beyond the range they add up to all of them."""
    import numpy as np
    from safetensors.numpy import load_file

    from reglab.report.plots import weight_ranges
    from reglab.report.report import _arm_layers, load_experiment

    root, html_path, _ = built
    html = html_path.read_text(encoding="utf-8")
    runs = load_experiment(root)["runs"]
    arms = list(dict.fromkeys(r["arm"] for r in runs))
    layers = {a: _arm_layers(root, [r for r in runs if r["arm"] == a]) for a in arms}
    ranges = weight_ranges(layers)
    part = _figure_part(html, "weights")
    panels = re.findall(r'<g class="panel" data-arm="([^"]*)" transform[^>]*>(.*?)(?=<g class='
                        r'"panel"|</svg>)', part, re.S)
    assert [a for a, _ in panels] == arms * len(ranges)
    for (arm, body), layer in zip(panels, [la for la in ranges for _ in arms]):
        lim, _, _ = ranges[layer]
        mats = [load_file(str(root / "models" / f"{r['id']}.safetensors")) for r in runs
                if r["arm"] == arm and r["status"] == "done"]
        i = int(layer.split()[1]) - 1
        w = np.concatenate([[t for _, t in sorted(m.items(), key=lambda kv: kv[0])
                             if t.ndim >= 2][i].ravel() for m in mats]).astype(np.float64)
        edges = np.linspace(-lim, lim, 62)
        counts = np.histogram(w[np.abs(w) <= lim], edges)[0]
        want = [f"{arm}, {layer}: {c} weights in [{lo:.4g}, {hi:.4g})"
                for lo, hi, c in zip(edges[:-1], edges[1:], counts) if c > 0]
        assert [html_mod.unescape(tip) for tip in re.findall(r"<title>([^<]*)</title>", body)
                ] == want
        assert counts.sum() + int(np.sum(np.abs(w) > lim)) == w.size
