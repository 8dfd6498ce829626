"""`reglab explain`: each topic's numbers come from its run, and its paragraph says what they say.

Every topic runs once on reduced sizes (quick=True) and is shared by the tests below.
"""

import base64
import functools
import io
import math
from html.parser import HTMLParser

import pytest
import torch
from torch import nn

from reglab import InvalidParameterError
from reglab.report import explain as E

pytest.importorskip("matplotlib")
pytest.importorskip("jinja2")
PIL = pytest.importorskip("PIL.Image")

UNKNOWN = ("The 'topic' parameter of explain must be one of {'l1-vs-l2', 'dropout', "
           "'early-stopping', 'augmentation', 'weight-decay', 'shuffle'}. Got 'ridge' "
           "instead.")


@functools.lru_cache(maxsize=None)
def run(topic: str) -> E.Explanation:
    [result] = E.explain([topic], quick=True, seed=0)
    return result


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def test_topics_follow_the_seed_order_and_each_has_a_question():
    assert list(E.TOPICS) == ["l1-vs-l2", "dropout", "early-stopping", "augmentation",
                              "weight-decay", "shuffle"]  # then section 6's shuffle pitfall
    assert list(E.QUESTIONS) == list(E.TOPICS)


@pytest.mark.parametrize("topic", list(E.TOPICS))
def test_every_topic_returns_one_paragraph_numbers_and_a_png(topic):
    e = run(topic)
    assert e.topic == topic and e.question == E.QUESTIONS[topic]
    assert "\n" not in e.answer and len(e.answer) > 200
    assert e.numbers and all(isinstance(v, float) and math.isfinite(v)
                             for v in e.numbers.values())
    assert e.figures and all(png.startswith(b"\x89PNG") for _, png in e.figures)
    assert e.seconds > 0


# --------------------------------------------------------------------------- shuffle
def test_shuffle_shows_the_unshuffled_estimate_wrong_and_the_shuffled_one_right():
    e = run("shuffle")
    n = e.numbers
    assert n["label_runs"] == 3.0                      # wine is sorted by class: 3 runs
    # in file order the test split holds only class 2, which train never saw
    assert n["unshuffled_test_acc"] == 0.0
    assert n["unshuffled_gap"] > 0.3 and n["shuffled_gap"] < 0.1
    assert n["shuffled_test_acc"] > 0.9
    assert "train holds classes [59, 56, 0], validation [0, 15, 12] and test [0, 0, 36]" in e.answer
    assert f"test accuracy is {pct(n['unshuffled_test_acc'])}" in e.answer


# --------------------------------------------------------------------------- l1-vs-l2


def test_selection_counts_against_a_hand_made_model():
    model = nn.Linear(5, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 0, 0, 2, 0], [0, 0, 0, -1, 0]]))

    class Split:
        X, y = torch.eye(5), torch.tensor([0, 0, 0, 0, 0])

    class Data:
        informative = torch.tensor([0, 1])
        test = Split

    n = E._selection(model, Data, "x")
    assert n["x_sparsity"] == 7 / 10
    assert n["x_features_used"] == 2 and n["x_informative_found"] == 1   # features 0 and 3
    assert n["x_precision"] == 1 / 2 and n["x_recall"] == 1 / 2


def test_l1_is_sparser_and_selects_better_than_l2_on_sparse():
    n = run("l1-vs-l2").numbers
    assert n["l1_sparsity"] > 0.5 > n["l2_sparsity"]
    assert n["l2_features_used"] == n["n_features"]      # L2 shrinks, never exactly zero
    assert n["l1_features_used"] < n["n_features"]
    assert n["l1_precision"] > n["l2_precision"]
    for arm in ("l1", "l2"):
        assert n[f"{arm}_precision"] == n[f"{arm}_informative_found"] / n[f"{arm}_features_used"]
        assert n[f"{arm}_recall"] == n[f"{arm}_informative_found"] / n["n_informative"]


def test_l1_paragraph_quotes_its_numbers():
    e = run("l1-vs-l2")
    n = e.numbers
    for key in ("l1_sparsity", "l2_sparsity", "l1_precision", "l1_recall", "l1_test_acc",
                "l2_test_acc"):
        assert pct(n[key]) in e.answer, key
    assert f"L1 kept {n['l1_features_used']:.0f} features" in e.answer
    assert ("use L1 when" in e.answer) == (n["l1_sparsity"] > n["l2_sparsity"]
                                            and n["l1_precision"] > n["l2_precision"])


# --------------------------------------------------------------------------- dropout


def test_dropout_gradient_is_mask_over_keep_and_eval_is_identity():
    n = run("dropout").numbers
    assert n["max_grad_error"] == 0.0
    assert n["dropped_grad_max"] == 0.0
    assert n["eval_max_diff"] == 0.0
    assert n["max_output_error"] < 1e-6
    assert n["scale"] == pytest.approx(1 / n["keep"])
    # seeded statistics: binomial tolerance of 5 standard deviations
    sd = math.sqrt(n["keep"] * (1 - n["keep"]) / n["n_activations"])
    assert abs(n["fraction_kept"] - n["keep"]) < 5 * sd
    assert abs(n["mean_ratio"] - 1) < 0.02


def test_dropout_pass_matches_a_hand_computed_mask():
    x = torch.rand(50, 40) + 0.5
    _, y, grad, mask = E._dropout_pass(x, keep=0.5, seed=3)
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    torch.testing.assert_close(y, x * mask / 0.5)
    torch.testing.assert_close(grad, mask / 0.5, rtol=0, atol=0)


def test_dropout_paragraph_quotes_its_numbers():
    e = run("dropout")
    n = e.numbers
    assert pct(n["fraction_kept"]) in e.answer
    assert f"{n['mean_ratio']:.3f} times" in e.answer
    assert ("mask/keep exactly" in e.answer) == (n["max_grad_error"] == 0)
    assert "is the identity" in e.answer


def test_same_seed_same_numbers_other_seed_other_mask():
    again = E.explain("dropout", quick=True, seed=0)[0]
    other = E.explain("dropout", quick=True, seed=1)[0]
    assert again.numbers == run("dropout").numbers
    assert other.numbers["fraction_kept"] != again.numbers["fraction_kept"]


# --------------------------------------------------------------------------- early stopping


def brute_force_stop(losses, patience):
    """Reference: stop once `patience` epochs in a row failed to beat the best loss.

    Returns (epochs trained, best epoch counted from 1, as the answer prints it)."""
    best, best_epoch = math.inf, -1
    for epoch, v in enumerate(losses):
        if v < best:
            best, best_epoch = v, epoch
        elif epoch - best_epoch >= patience:
            return epoch + 1, best_epoch + 1
    return len(losses), best_epoch + 1


@pytest.mark.parametrize("patience", [1, 2, 3, 15])
def test_stop_points_match_a_brute_force_patience_rule(patience):
    losses = [3.0, 2.0, 2.5, 1.5, 1.6, 1.7, 1.2, 1.3, 1.4, 1.45, 1.1, 1.2]
    assert E._stop_points(losses, patience) == brute_force_stop(losses, patience)


def test_early_stopping_numbers_are_consistent_and_the_claim_follows_them():
    e = run("early-stopping")
    n = e.numbers
    assert n["p1_epochs"] <= n["p15_epochs"] <= n["none_epochs"] == n["max_epochs"]
    # best epochs count from 1: the best is one of the epochs trained
    assert 1 <= n["p1_best_epoch"] <= n["p1_epochs"] and 1 <= n["p15_best_epoch"] <= n["p15_epochs"]
    if n["p1_epochs"] < n["max_epochs"]:       # patience 1 stopped: one epoch after its best
        assert n["p1_epochs"] == n["p1_best_epoch"] + 1
    assert f"(best epoch {n['p1_best_epoch']:.0f})" in e.answer
    underfit = n["p1_train_acc"] < n["p15_train_acc"] - 0.02
    assert ("So yes" in e.answer) == underfit
    assert f"stopped after {n['p1_epochs']:.0f} epochs" in e.answer
    for key in ("p1_train_acc", "p1_test_acc", "p15_train_acc", "none_test_acc"):
        assert pct(n[key]) in e.answer, key


def test_early_stopping_arms_stop_where_the_replayed_rule_says():
    """Each arm is a real fit; its stop equals rl.EarlyStopping replayed on the full curve."""
    assert run("early-stopping").numbers["replay_agrees"] == 1.0


# --------------------------------------------------------------------------- augmentation


def test_augmentation_narrows_the_gap_at_the_smallest_size():
    e = run("augmentation")
    n = e.numbers
    for arm in ("plain", "aug"):
        for size in (300, 1000):
            gap = n[f"{arm}_{size}_train_acc"] - n[f"{arm}_{size}_test_acc"]
            assert n[f"{arm}_{size}_gap"] == pytest.approx(gap, abs=1e-12)
            assert pct(n[f"{arm}_{size}_gap"]) + f" at n={size}" in e.answer
    # seeded: the gap falls from about 31 to about 10 points at n=300
    assert n["aug_300_gap"] < n["plain_300_gap"] - 0.1
    narrowed = sum(n[f"aug_{s}_gap"] < n[f"plain_{s}_gap"] for s in (300, 1000))
    assert f"narrowed the gap at {narrowed} of 2" in e.answer


def test_augmentation_uses_the_named_signal_transforms_in_whole_epochs():
    e = run("augmentation")
    from reglab.report.explain import augmentation as aug

    assert aug._magnitudes() == (0.1, 0.8, 1.2, 0.1)     # NAMES["signal"] shift, scale, noise
    assert e.numbers["epochs_300"] == 15 and e.numbers["epochs_1000"] == 5   # 150 / 160 steps
    assert "about 150 steps (whole epochs: 15 at n=300, 5 at n=1000)" in e.answer
    assert "shifts up to 10.0% of the length, amplitude scaling 0.8-1.2" in e.answer


# --------------------------------------------------------------------------- weight decay


def test_sgd_weight_decay_is_l2_of_half_and_adam_l2_is_not_adamw():
    n = run("weight-decay").numbers
    assert n["l2_lambda"] == n["weight_decay"] / 2
    assert n["sgd_max_diff"] < 1e-10
    assert n["adam_wd_vs_l2_max_diff"] < 1e-10       # torch's Adam weight_decay is L2
    assert n["adam_l2_vs_adamw_max_diff"] > 1e-6
    assert n["adamw_vs_dwd_max_diff"] < 1e-10        # Adam + DecoupledWeightDecay is AdamW
    assert n["adamw_norm"] == pytest.approx(n["adam_dwd_norm"], rel=1e-9)


def test_wrong_rescaling_is_caught_by_the_trajectory_distance():
    """The reference the topic relies on can fail: L2(wd) instead of L2(wd/2) drifts."""
    import reglab as rl
    from reglab.data import load

    ds = load("digits", seed=0)
    wd = 0.05
    sgd = lambda m: torch.optim.SGD(m.parameters(), lr=0.1, weight_decay=wd)  # noqa: E731
    plain = lambda m: torch.optim.SGD(m.parameters(), lr=0.1)  # noqa: E731
    l2 = lambda lam: lambda m, o: (rl.L2(lam, params=lambda n, p: True), None)  # noqa: E731
    ref, _ = E._trajectory(ds, sgd, lambda m, o: (None, None), 30, 0)
    half, _ = E._trajectory(ds, plain, l2(wd / 2), 30, 0)
    full, _ = E._trajectory(ds, plain, l2(wd), 30, 0)
    assert (ref - half).abs().max() < 1e-12
    assert (ref - full).abs().max() > 1e-6


def test_trajectory_records_every_step_of_whole_epochs():
    from reglab.data import load

    ds = load("digits", seed=0)
    sgd = lambda m: torch.optim.SGD(m.parameters(), lr=0.1)  # noqa: E731
    path, acc = E._trajectory(ds, sgd, lambda m, o: (None, None), 2, 0)
    assert path.shape == (2 * math.ceil(len(ds.train) / 64), 64 * 10 + 10)
    assert path.dtype == torch.float64 and 0.5 < acc <= 1
    assert run("weight-decay").numbers["steps"] == 5 * math.ceil(len(ds.train) / 64)


def test_l1_fit_is_ista_with_the_stated_lambda():
    """Reference: full-batch ISTA written out, w <- soft(w - lr * grad, lr * lam); biases free."""
    from reglab.data import load
    from reglab.report.explain import l1_vs_l2

    ds = load("sparse", seed=0, n_samples=300, n_features=40, n_informative=4)
    lam, lr, steps = 0.03, 0.5, 40
    torch.manual_seed(0)
    ours = l1_vs_l2._fit_linear(ds, "l1", lam, steps, lr, 0)
    torch.manual_seed(0)
    ref = nn.Linear(ds.train.X.shape[1], ds.num_classes)
    for _ in range(steps):
        ref.zero_grad()
        torch.nn.functional.cross_entropy(ref(ds.train.X), ds.train.y).backward()
        with torch.no_grad():
            ref.bias -= lr * ref.bias.grad
            w = ref.weight - lr * ref.weight.grad
            ref.weight.copy_(w.sign() * (w.abs() - lr * lam).clamp_min(0))
    torch.testing.assert_close(ours.weight, ref.weight, rtol=0, atol=1e-5)
    torch.testing.assert_close(ours.bias, ref.bias, rtol=0, atol=1e-5)
    assert torch.equal(ours.weight == 0, ref.weight == 0)            # the same exact zeros


def test_weight_decay_paragraph_quotes_its_numbers():
    e = run("weight-decay")
    n = e.numbers
    assert f"within {n['sgd_max_diff']:.1e}" in e.answer
    assert f"up to {n['adam_l2_vs_adamw_max_diff']:.3g}" in e.answer
    assert f"weight norms {n['adam_l2_norm']:.3g}" in e.answer
    assert "the same trajectory up to rounding" in e.answer


# --------------------------------------------------------------------------- HTML and CLI


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sections, self.srcs, self.scripts = [], [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs.get("id"))
        if "src" in attrs or "href" in attrs and tag == "link":
            self.srcs.append(attrs.get("src") or attrs.get("href"))
        self.scripts += tag == "script"


def test_write_html_is_one_self_contained_page_with_a_section_per_topic(tmp_path):
    results = [run(t) for t in E.TOPICS]
    path = E.write_html(results, tmp_path / "sub" / "explain.html")
    html = path.read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    assert page.sections == list(E.TOPICS)
    assert len(page.srcs) == sum(len(e.figures) for e in results)
    assert not any("http" in src for src in page.srcs)
    assert page.scripts == 0
    for src in page.srcs:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        image = PIL.open(io.BytesIO(base64.b64decode(src[len(prefix):])))
        image.load()
        assert image.width > 100 and image.height > 100
    assert [p.name for p in path.parent.iterdir()] == ["explain.html"]   # no temp file left


def test_write_html_escapes_text():
    e = E.Explanation("dropout", "<b>q</b>", "<script>alert(1)</script> & co", {"<i>": 1.0})
    import tempfile
    import pathlib

    with tempfile.TemporaryDirectory() as d:
        html = E.write_html([e], pathlib.Path(d) / "x.html").read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert "<b>q</b>" not in html and "<i>" not in html


def test_unknown_topic_is_rejected_with_the_topic_list(tmp_path):
    with pytest.raises(InvalidParameterError) as info:
        E.explain(["dropout", "ridge"])
    assert str(info.value) == UNKNOWN
    out = tmp_path / "explain.html"
    with pytest.raises(InvalidParameterError) as info:
        E.main("ridge", out, quick=True, echo=print)
    assert str(info.value) == UNKNOWN
    assert not out.exists()


def test_main_echoes_progress_and_answer_and_writes_the_page(tmp_path):
    lines = []
    out = tmp_path / "explain.html"
    assert E.main("dropout", out, quick=True, echo=lines.append) == 0
    assert lines[0].startswith("[1/1] dropout: ")
    assert lines[1] == run("dropout").answer            # same seed, same paragraph
    assert lines[-1] == f"Wrote {out}"
    assert out.read_text().count('<section id="dropout"') == 1


def test_register_adds_the_explain_command_to_a_typer_app(tmp_path):
    typer = pytest.importorskip("typer")
    from typer.testing import CliRunner

    from reglab.cli import explain as explain_command

    app = typer.Typer()
    explain_command.register(app)

    @app.command("other")   # a second command, so typer keeps "explain" as a subcommand name
    def other() -> None:
        pass

    out = tmp_path / "e.html"
    result = CliRunner().invoke(app, ["explain", "dropout", "--out", str(out), "--quick"])
    assert result.exit_code == 0, result.output
    assert run("dropout").answer in result.output and out.exists()
    bad = CliRunner().invoke(app, ["explain", "ridge", "--out", str(out)])
    assert isinstance(bad.exception, InvalidParameterError) and str(bad.exception) == UNKNOWN
