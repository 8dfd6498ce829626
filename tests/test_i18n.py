"""``--lang vi``: the note's readers get the explain page, the report, the diagnosis and the
verdicts in Vietnamese, and English stays exactly what it was.

What a Vietnamese text must be: different from the English one (no catalogue sentence left
untranslated), carrying the same numbers formatted the same way, and escaped like English.
"""

from __future__ import annotations

import functools
import io
import json
import re
import string
from collections import Counter

import pytest

from reglab import InvalidParameterError
from reglab.cli import main
from reglab.lab.compare import intervals_note, summarize_arms
from reglab.lab.stats import PairedDifference, effect, verdict
from reglab.lab.store import Store
from reglab.report import diagnose as dg
from reglab.report import i18n
from reglab.report.i18n import CATALOGUE, LANGS, SAME_IN_BOTH, t
from test_diagnose import GOOD, OVER, _run, scripted_experiment

# The note's section 9, word for word: the explain page's questions in Vietnamese.
NOTE_QUESTIONS = {
    "l1-vs-l2": "L1 vs L2, khi nào dùng cái nào?",
    "dropout": "Dropout ảnh hưởng đến forward/backward như thế nào?",
    "early-stopping": "Early stopping có thể gây underfitting không?",
    "augmentation": "Data augmentation giúp giảm overfitting ra sao?",
    "weight-decay": "Weight decay là gì và khác gì với L2?",
}
CLAUSE = re.compile(r"[.;:]\s+|[()]")
WORD = re.compile(r"(?<![.\w'=])[a-z]{2,}\b(?![-'=(])")   # a word, not code: mode='max'

NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]\d+)?%?")


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}


def english_chunks(*prefixes: str, min_len: int = 20) -> list[tuple[str, str]]:
    """(key, piece of English prose) per key: each clause (split at . ; : and parentheses) of
    the literal text of its English template with >= min_len characters and at least 3
    English words (not code such as "rl.L2(")."""
    out = []
    for key, (en, _) in CATALOGUE.items():
        if key.startswith(prefixes) and key not in SAME_IN_BOTH:
            pieces = [piece.strip() for lit, *_ in string.Formatter().parse(en)
                      for piece in CLAUSE.split(lit)]
            out += [(key, piece) for piece in pieces
                    if len(piece) >= min_len and len(WORD.findall(piece)) >= 3]
    return out


def assert_translated(vi_text: str, *prefixes: str) -> None:
    left = [(k, c) for k, c in english_chunks(*prefixes) if c in vi_text]
    assert not left, f"untranslated English in the vi text: {left}"


def assert_same_numbers(en: str, vi: str) -> None:
    """Every number of the English text is in the Vietnamese one, formatted the same."""
    missing = Counter(NUMBER.findall(en)) - Counter(NUMBER.findall(vi))
    assert not missing, f"numbers of the English text missing in vi: {missing}\n{vi}"


# --------------------------------------------------------------------------- the catalogue


def test_every_key_has_both_languages_with_the_same_fields():
    assert LANGS == ("en", "vi")
    for key, texts in CATALOGUE.items():
        assert len(texts) == len(LANGS), key
        en, vi = texts
        assert en and vi, key
        assert _fields(en) == _fields(vi), key


def test_vietnamese_differs_from_english_except_the_listed_technical_words():
    same = {k for k, (en, vi) in CATALOGUE.items() if en == vi}
    assert same == SAME_IN_BOTH          # the list says exactly which, and stays true


def test_exact_texts_of_a_few_keys():
    assert t("verdict.helps", "vi") == "giúp ích"
    assert t("verdict.hurts", "vi") == "gây hại"
    assert t("verdict.unclear", "vi", n=3) == "chưa đo được tác dụng với n=3"
    assert t("verdict.too-few", "en", n=1) == "not enough paired seeds (n=1)"
    assert t("diag.cannot_fire.advice", "vi", p=50, suggest=5) == (
        "Dùng patience nhỏ hơn số epoch (ví dụ --patience 5) hoặc train lâu hơn "
        "(--epochs lớn hơn 50).")
    assert t("report.section.diagnosis", "vi") == "7. Chẩn đoán"
    assert t("explain.early-stopping.fig.stop", "vi", patience="1", best=4.0) == (
        "patience 1 dừng (epoch tốt nhất 4)")
    for topic, question in NOTE_QUESTIONS.items():
        assert t(f"explain.{topic}.question", "vi") == question


def test_the_note_terms_are_used():
    vi = " ".join(v for _, v in CATALOGUE.values())
    for term in ("giảm overfitting", "trọng số", "hệ số điều chỉnh",
                 "dừng training khi loss không giảm", "validation loss", "early stopping",
                 "weight decay", "augmentation", "dropout"):
        assert term in vi, term


def test_an_unknown_language_is_one_line_naming_the_parameter():
    with pytest.raises(InvalidParameterError) as info:
        t("verdict.helps", "fr")
    assert str(info.value) == ("The 'lang' parameter of reglab must be one of {'en', 'vi'}. "
                               "Got 'fr' instead.")


# --------------------------------------------------------------------------- verdicts


def _pd(mean, low, high, n=3):
    return PairedDifference(mean, low, high, n, p=0.01, se=0.001)


@pytest.mark.parametrize("d, kind", [
    (_pd(0.02, 0.01, 0.03), "helps"), (_pd(-0.02, -0.03, -0.01), "hurts"),
    (_pd(0.001, 0.0005, 0.002), "negligible"), (_pd(0.01, -0.02, 0.04), "unclear"),
    (PairedDifference(0.01, float("-inf"), float("inf"), 1), "too-few")])
def test_verdict_texts_are_the_stats_sentences_in_english(d, kind):
    assert effect(d, True, 0.005) == kind
    en = i18n._verdict(kind, d.n, t("verdict.min_acc", "en"), "en")
    assert en == verdict(d, True, 0.005, "0.5 points")
    vi = i18n._verdict(kind, d.n, t("verdict.min_acc", "vi"), "vi")
    assert vi != en and vi == {
        "helps": "giúp ích", "hurts": "gây hại",
        "negligible": "không có tác dụng đo được (dưới hiệu ứng tối thiểu 0.5 điểm)",
        "unclear": "chưa đo được tác dụng với n=3",
        "too-few": "không đủ seed ghép cặp (n=1)"}[kind]


def _verdict_runs(seeds=3):
    runs = []
    for s in range(seeds):
        acc, loss = 0.90 + 0.01 * s, 0.30 + 0.01 * s
        runs += [_run("none", s),
                 _run("up", s, {"l2": 1e-3}, test_acc=acc + 0.03 + 0.001 * s,
                      test_loss=loss - 0.05 - 0.001 * s),
                 _run("down", s, {"l2": 1.0}, test_acc=acc - 0.05 - 0.002 * s,
                      test_loss=loss + 0.05 + 0.003 * s),
                 _run("same", s, {"l2": 1e-9}),
                 _run("wide", s, {"l1": 1e-5}, test_acc=acc + [0.03, -0.04, 0.02][s],
                      test_loss=loss + [0.02, -0.03, 0.0][s])]
    return runs


@pytest.mark.parametrize("seeds", [1, 2, 3])
def test_verdicts_of_every_row_match_the_table_in_english_and_differ_in_vietnamese(seeds):
    runs = _verdict_runs(seeds) + [_run("orphan", 9)]   # seed 9: nothing to pair with
    rows = summarize_arms(runs)
    kinds = set()
    for r in rows:
        acc, loss, both = i18n.verdicts(r, lang="en")
        assert both == r.verdict and (r.effects is None or (acc, loss) == r.verdicts)
        vi = i18n.verdicts(r, lang="vi")
        assert vi[2] != both
        assert_same_numbers(both, vi[2])
        assert_translated(vi[2], "verdict.")
        kinds |= set(r.effects or ())
    assert i18n.intervals_note(rows) == intervals_note(rows)
    assert_translated(i18n.intervals_note(rows, lang="vi"), "note.")
    if seeds == 3:      # the orphan's n=0 is "too-few"
        assert kinds == {"helps", "hurts", "negligible", "unclear", "too-few"}
    if seeds == 1:
        assert kinds == {"too-few"}


def test_terminal_verdicts_in_vietnamese():
    from rich.console import Console

    from reglab.report.console import comparison_tables

    runs = _verdict_runs()
    out = Console(width=100, record=True, file=io.StringIO())
    en_out = Console(width=100, record=True, file=io.StringIO())
    for table in comparison_tables(runs, "t", "vi"):
        out.print(table)
    for table in comparison_tables(runs, "t"):
        en_out.print(table)
    vi_text, en_text = out.export_text(), en_out.export_text()
    assert "giúp ích" in vi_text and "gây hại" in vi_text and "hiệu chỉnh Holm" in vi_text
    assert "độ chính xác test (điểm)" in vi_text
    assert "helps" in en_text and "helps" not in vi_text
    assert "nhánh" in vi_text and "kết luận" in vi_text and "trọng số và chi phí" in vi_text
    assert max(len(line) for line in vi_text.splitlines()) <= 100
    # every number of the English tables is in the Vietnamese ones, none cut off
    assert_same_numbers(en_text, vi_text)


# --------------------------------------------------------------------------- diagnosis

OVER_ACC = [{**row, "val_acc": 0.5 + 0.02 * e} for e, row in enumerate(OVER)]
SAFE = {"clean_accuracy": 0.95, "rows": [{"name": "flip", "drop": 0.01, "limit": 0.05,
                                          "flagged": False}]}


def _scenarios():
    """Scripted experiments that between them fire every rule and every text variant."""
    # test_diagnose's: cannot fire, diverged, flagged, ...
    a_runs, a_hist, a_check = scripted_experiment()
    b_runs, b_hist = [], {}          # caught overfitting, accuracy rising, weaker/stronger
    for s in range(3):
        b_runs += [
            _run("none", s),
            _run("es_over", s, {"patience": 3}),
            _run("acc", s),
            _run("under_all", s, {"dropout": 0.5, "l2": 1e-3, "patience": 5,
                                  "augment": ["flip"]}, train_acc=0.70 + 0.01 * s,
                 test_acc=0.8, test_loss=0.5),
            _run("under_plain", s, train_acc=0.70 + 0.01 * s, test_acc=0.8, test_loss=0.5),
            _run("strong_all", s, {"l2": 1e-9, "dropout": 0.1, "augment": ["noise"]}),
            _run("mixup_only", s, {"mixup": 0.2})]
        b_hist.update({f"{a}-s{s}": GOOD for a in ("none", "under_all", "under_plain",
                                                   "strong_all", "mixup_only")})
        b_hist.update({f"es_over-s{s}": OVER, f"acc-s{s}": OVER_ACC})
    no_gap = {"gap": float("nan")}
    c_runs = [_run("none", 0, **no_gap), _run("l2", 0, {"l2": 1e-9}, **no_gap),
              _run("augment", 0, {"augment": ["flip"]}, **no_gap)]
    c_hist = {r["id"]: GOOD for r in c_runs}
    return [(a_runs, a_hist, a_check), (b_runs, b_hist, SAFE), (c_runs, c_hist, None)]


@pytest.fixture(scope="module")
def diagnosed():
    """{lang: [(arm, rule, level, text, advice)]} over every scenario, and the keys used."""
    used = set()

    def recorder(key, lang="en", /, **fields):
        used.add(key)
        return t(key, lang, **fields)

    def prefixed_recorder(key, lang="en", /, **fields):
        # i18n's own t: diagnose's prefixed("diag....") texts (all diag.*) come through it,
        # and so do i18n's own reason() / status() lookups, which are not diagnose's texts
        if key.startswith("diag."):
            used.add(key)
        return t(key, lang, **fields)

    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dg, "t", recorder)
        mp.setattr(i18n, "t", prefixed_recorder)
        for lang in LANGS:
            out[lang] = [(arm, f.rule, f.level, f.text, f.advice)
                         for runs, hist, check in _scenarios()
                         for arm, found in dg.diagnose(runs, hist, check, lang=lang).items()
                         for f in found]
    return out, used


def test_every_finding_kind_and_every_diagnosis_text_has_a_vietnamese_text(diagnosed):
    found, used = diagnosed
    assert {rule for _, rule, *_ in found["vi"]} == {
        "overfitting", "underfitting", "no-effect", "cannot-fire", "diverged",
        "label-safety", "ok"}
    assert used == {k for k in CATALOGUE if k.startswith("diag.")   # every variant rendered
                    and k not in i18n.REGRESSION}  # (a classification experiment's)


def test_vietnamese_findings_are_the_english_ones_translated(diagnosed):
    found, _ = diagnosed
    assert len(found["en"]) == len(found["vi"])
    for en, vi in zip(found["en"], found["vi"]):
        assert en[:3] == vi[:3]                     # same arm, rule and level: only words change
        for e, v in ((en[3], vi[3]), (en[4], vi[4])):
            if e in ("", "."):
                assert v == e
                continue
            assert v != e
            assert_same_numbers(e, v)
            assert_translated(v, "diag.")


def test_english_findings_are_unchanged(diagnosed):
    found, _ = diagnosed
    texts = {(arm, rule): text for arm, rule, _, text, _ in found["en"]}
    assert texts[("early_stopping", "cannot-fire")].startswith(
        "Early stopping cannot fire: patience 20 >= epochs 20, so no run can go 20 epochs")
    assert texts[("none", "ok")] == "No pitfall detected."
    vi = {(arm, rule): text for arm, rule, _, text, _ in found["vi"]}
    assert vi[("none", "ok")] == "Không phát hiện lỗi thường gặp nào."


# --------------------------------------------------------------------------- explain


@functools.lru_cache(maxsize=None)
def explained_vi(topic: str):
    from reglab.report import explain as E

    [e] = E.explain([topic], quick=True, seed=0, lang="vi")
    return e


def _english_answer(e):
    """The English paragraph written from the same numbers (the answers are pure functions)."""
    from reglab.report.explain import augmentation, dropout, early_stopping, l1_vs_l2
    from reglab.report.explain import shuffle, weight_decay

    modules = {"l1-vs-l2": l1_vs_l2, "dropout": dropout, "early-stopping": early_stopping,
               "augmentation": augmentation, "weight-decay": weight_decay, "shuffle": shuffle}
    if e.topic == "augmentation":
        sizes = sorted(int(k.split("_")[1]) for k in e.numbers if k.startswith("epochs_"))
        return modules[e.topic]._answer(sizes, e.numbers)
    return modules[e.topic]._answer(e.numbers)


def _topics():
    from reglab.report import explain as E
    return list(E.TOPICS)


@pytest.mark.parametrize("topic", _topics())
def test_every_topic_answers_in_vietnamese_with_the_same_numbers(topic):
    pytest.importorskip("matplotlib")
    e = explained_vi(topic)
    assert e.question == t(f"explain.{topic}.question", "vi")
    assert [title for title, _ in e.figures] == [t(f"explain.{topic}.fig.title", "vi")]
    en = _english_answer(e)
    assert e.answer != en and "\n" not in e.answer
    assert_same_numbers(en, e.answer)
    assert_translated(e.answer, f"explain.{topic}.")


def test_every_topic_has_its_keys_in_the_catalogue():
    """A new topic (e.g. shuffle) needs its question and figure title in both languages."""
    from reglab.report.explain import QUESTIONS

    for topic in _topics():
        assert t(f"explain.{topic}.question", "en") == QUESTIONS[topic]
        assert f"explain.{topic}.fig.title" in CATALOGUE


def test_the_vietnamese_page_holds_every_answer_escaped(tmp_path):
    pytest.importorskip("jinja2")
    from html import escape

    from reglab.report import explain as E

    results = [explained_vi(topic) for topic in _topics()]
    html = E.write_html(results, tmp_path / "vi.html", lang="vi").read_text(encoding="utf-8")
    assert '<html lang="vi">' in html
    for e in results:
        assert escape(e.question) in html and escape(e.answer) in html
    assert_translated(html, "explain.page.")
    evil = E.Explanation("dropout", "<b>câu hỏi</b>", "<script>alert(1)</script> & có", {})
    html = E.write_html([evil], tmp_path / "evil.html", lang="vi").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; có" in html
    assert "Các số đo được (0)" in html


def test_explain_main_says_where_it_wrote_in_the_chosen_language(tmp_path, monkeypatch):
    from reglab.report import explain as E

    monkeypatch.setitem(E.TOPICS, "dropout", lambda seed, quick, lang="en": explained_vi(
        "dropout") if lang == "vi" else pytest.fail("English asked for"))
    lines = []
    out = tmp_path / "e.html"
    assert E.main("dropout", out, quick=True, echo=lines.append, lang="vi") == 0
    assert lines[0] == f"[1/1] dropout: {NOTE_QUESTIONS['dropout']}"
    assert lines[-1] == f"Đã ghi {out}"


# --------------------------------------------------------------------------- report


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    pytest.importorskip("matplotlib")
    pytest.importorskip("jinja2")
    from test_report import make_experiment  # the report tests' experiment: script-tag names

    return make_experiment(tmp_path_factory.mktemp("i18n"), seeds=2, epochs=4)


@pytest.fixture(scope="module")
def built_vi(experiment, tmp_path_factory):
    import shutil

    from reglab.report.report import build_report

    copy = tmp_path_factory.mktemp("vi") / experiment.name
    shutil.copytree(experiment, copy)
    html, md = build_report(copy, lang="vi")
    return html.read_text(encoding="utf-8"), md.read_text(encoding="utf-8")


def test_every_report_section_is_in_vietnamese(built_vi):
    from reglab.report.report import SECTIONS

    html, md = built_vi
    assert '<html lang="vi">' in html
    for anchor, title in SECTIONS:
        vi = t(f"report.section.{anchor}", "vi")
        assert t(f"report.section.{anchor}", "en") == title
        assert f'<h2 id="{anchor}">{vi}</h2>' in html and f"## {vi}" in md
        assert title not in html and title not in md
    for key in ("report.caption.learning_curves", "report.caption.gap"):
        assert t(key, "vi") in html and t(key, "vi") in md
    for text in (html, md):
        assert_translated(text, "report.", "template.", "verdict.", "note.", "diag.")


def test_a_vietnamese_report_asks_every_text_in_vietnamese(experiment, tmp_path, monkeypatch):
    """Every catalogue lookup of a vi build (prose, figures, findings, verdicts) is in vi, and
    the figures use every label they have (but the no-data ones)."""
    import shutil

    from reglab.report import interactive, plots
    from reglab.report import report as R

    asked = []

    def recorder(key, lang="en", /, **fields):
        asked.append((key, lang))
        return t(key, lang, **fields)

    for module in (R, plots, dg, i18n, interactive):
        monkeypatch.setattr(module, "t", recorder)
    copy = tmp_path / experiment.name
    shutil.copytree(experiment, copy)
    R.build_report(copy, lang="vi")
    assert {lang for _, lang in asked} == {"vi"}
    # (and the hover text of an early stop: no run of this 4-epoch experiment stopped early)
    edge = {"plot.forest.no_pairs", "plot.forest.no_interval", "plot.weights.none_stored",
            "plot.curves.stop_point"}
    assert {k for k, _ in asked if k.startswith("plot.")} == {
        k for k in CATALOGUE if k.startswith("plot.") and k not in i18n.REGRESSION} - edge
    for key in ("report.caption.forest", "report.section.diagnosis", "verdict.both"):
        assert (key, "vi") in asked


def test_the_vietnamese_report_still_escapes_user_names(built_vi):
    html, md = built_vi
    assert "<script>alert(1)</script>" not in html and "<script>" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;script&gt;" in md


def test_the_english_report_keeps_its_template_text_unescaped(experiment):
    from reglab.report.report import build_report

    html_path, md_path = build_report(experiment)
    html = html_path.read_text(encoding="utf-8")
    assert '<html lang="en">' in html
    assert "Rebuilt from the experiment's store (" in html       # not &#39;: template text
    assert "<p>The note's comparison table (section 7) with measured numbers" in html
    assert "<p>Each arm minus <code>none</code> on the same seeds: mean [interval]." in html
    assert "## 7. Diagnosis" in md_path.read_text(encoding="utf-8")


def test_the_report_language_comes_from_the_store_unless_told(experiment, tmp_path):
    import shutil

    from reglab.report.report import build_report

    copy = tmp_path / experiment.name
    shutil.copytree(experiment, copy)
    with Store.open(tmp_path, experiment.name) as store:
        store.update_meta(lang="vi")
    html, _ = build_report(copy)
    assert '<html lang="vi">' in html.read_text(encoding="utf-8")
    html, md = build_report(copy, lang="en")
    assert '<html lang="en">' in html.read_text(encoding="utf-8")
    with pytest.raises(InvalidParameterError):
        build_report(copy, lang="fr")


# --------------------------------------------------------------------------- CLI


def _cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv", [["explain", "dropout", "--out", "{tmp}/e.html"],
                                  ["report", "{tmp}/x"],
                                  ["compare", "--epochs", "1", "--out", "{tmp}"]])
def test_a_bad_lang_exits_2_with_one_line(capsys, tmp_path, argv):
    argv = [a.format(tmp=tmp_path) for a in argv]
    code, out, err = _cli(capsys, *argv, "--lang", "fr")
    assert code == 2 and out == ""
    assert err == ("reglab: error: Invalid value for '--lang': must be one of {'en', 'vi'}. "
                   "Got 'fr' instead.\n")
    assert list(tmp_path.iterdir()) == []


def test_compare_lang_vi_keeps_the_language_for_the_report(capsys, tmp_path, monkeypatch):
    argv = ["compare", "--epochs", "1", "--hidden", "8", "--workers", "1", "--seeds", "2",
            "--arms", "none,l2", "--out", str(tmp_path), "--name", "c"]
    monkeypatch.setattr("sys.argv", ["reglab", *argv, "--lang", "vi"])
    code, out, err = _cli(capsys, *argv, "--lang", "vi", "--quiet")
    assert code == 0, err
    assert "chưa đo được tác dụng với n=2" in out or "không có tác dụng đo được" in out
    meta = json.loads(Store.read_only(tmp_path, "c").execute(
        "SELECT meta FROM experiment").fetchone()[0])
    assert meta["lang"] == "vi"
    assert "## 7. Chẩn đoán" in (tmp_path / "c" / "report.md").read_text(encoding="utf-8")
    assert _cli(capsys, "report", str(tmp_path / "c"))[0] == 0        # rebuilt in vi
    assert "## 7. Chẩn đoán" in (tmp_path / "c" / "report.md").read_text(encoding="utf-8")
    assert _cli(capsys, "report", str(tmp_path / "c"), "--lang", "en")[0] == 0
    assert "## 7. Diagnosis" in (tmp_path / "c" / "report.md").read_text(encoding="utf-8")


def test_the_regression_only_keys_are_catalogue_keys():
    assert i18n.REGRESSION <= set(CATALOGUE), sorted(i18n.REGRESSION - set(CATALOGUE))


# --------------------------------------------------------------------------- the commands


def _contract_reasons():
    """The sentences the run contract stores (English), made by the contract itself."""
    import math as _m

    import reglab as rl
    from reglab.train.contract import RunState

    def row(train, val):
        return {"data_loss": train, "val_loss": val, "val_acc": 0.5}

    limit = RunState(3, rl.EarlyStopping(patience=10))
    for v in (0.9, 0.5, 0.7):
        limit.after_epoch(row(1.0, v))
    plain = RunState(2)
    for v in (0.9, 0.8):
        plain.after_epoch(row(1.0, v))
    stopped = RunState(10, rl.EarlyStopping(patience=2))
    for v in (1.0, 0.8, 0.9, 0.85):
        stopped.after_epoch(row(1.0, v))
    one = RunState(10, rl.EarlyStopping(patience=1))
    for v in (1.0, 0.8, 0.9):
        one.after_epoch(row(1.0, v))
    gone = RunState(10)
    for train in (1.0, 1.0, _m.nan):
        gone.after_epoch(row(train, 0.5))
    return limit.reason, plain.reason, stopped.reason, one.reason, gone.reason


def test_stored_reasons_are_translated_at_display_and_english_stays_as_stored():
    reasons = _contract_reasons()
    assert reasons == (
        "reached the maximum of 3 epochs; restored the best weights of epoch 2",
        "reached the maximum of 2 epochs",
        "early stopping: Stopped at epoch 4: val_loss did not improve by more than 0 for 2 "
        "epochs; best 0.8 at epoch 2.",
        "early stopping: Stopped at epoch 3: val_loss did not improve by more than 0 for 1 "
        "epoch; best 0.8 at epoch 2.",
        "diverged: the training loss became non-finite (nan) at epoch 3")
    assert [i18n.reason(r, "en") for r in reasons] == list(reasons)
    assert [i18n.reason(r, "vi") for r in reasons] == [
        "đã chạy hết tối đa 3 epoch; đã khôi phục trọng số tốt nhất, của epoch 2",
        "đã chạy hết tối đa 2 epoch",
        "early stopping: dừng tại epoch 4: val_loss không cải thiện quá 0 trong 2 epoch; tốt "
        "nhất 0.8 tại epoch 2.",
        "early stopping: dừng tại epoch 3: val_loss không cải thiện quá 0 trong 1 epoch; tốt "
        "nhất 0.8 tại epoch 2.",
        "phân kỳ: training loss không còn hữu hạn (nan) tại epoch 3"]
    # a sentence no template knows (an exception's text) is shown as stored
    assert i18n.reason("RuntimeError: out of memory", "vi") == "RuntimeError: out of memory"
    assert [i18n.status(s, "vi") for s in ("done", "diverged", "interrupted", "odd")] == [
        "xong", "phân kỳ", "bị ngắt", "odd"]


def test_prechelt_stop_reasons_are_translated_whole():
    """The clauses GL, PQ and UP write (made by the criteria themselves, through the run
    contract) match their catalogue templates, so no English is left inside the Vietnamese
    sentence; PQ writes its P_k twice."""
    import reglab as rl
    from reglab.train.contract import RunState

    def stop(criterion, vals, trains):
        state = RunState(20, rl.EarlyStopping(patience=None, criterion=criterion))
        for v, tr in zip(vals, trains):
            state.after_epoch({"data_loss": tr, "train_loss": tr, "val_loss": v, "val_acc": 0.5})
        return state.reason

    gl = stop(rl.GL(alpha=5.0), (1.0, 0.8, 0.9), (1.0,) * 3)
    pq = stop(rl.PQ(alpha=0.5, strip=2), (1.0, 0.8, 0.9, 0.95), (1.0, 0.9, 0.9, 0.9))
    up = stop(rl.UP(s=2, strip=1), (1.0, 0.8, 0.9, 0.95), (1.0,) * 4)
    assert (gl, pq, up) == (
        "early stopping: Stopped at epoch 3: generalization loss GL = 12.5 exceeded alpha = 5 "
        "(validation error 0.9, lowest 0.8); best 0.8 at epoch 2.",
        "early stopping: Stopped at epoch 4: GL/P_2 = inf exceeded alpha = 0.5 (GL = 18.75, "
        "P_2 = 0); best 0.8 at epoch 2.",
        "early stopping: Stopped at epoch 4: validation error rose in 2 successive strips of 1 "
        "epochs (0.8 -> 0.9 -> 0.95); best 0.8 at epoch 2.")
    assert [i18n.reason(r, "vi") for r in (gl, pq, up)] == [
        "early stopping: dừng tại epoch 3: mức mất khả năng tổng quát hóa GL = 12.5 vượt alpha "
        "= 5 (lỗi validation 0.9, thấp nhất 0.8); tốt nhất 0.8 tại epoch 2.",
        "early stopping: dừng tại epoch 4: GL/P_2 = inf vượt alpha = 0.5 (GL = 18.75, P_2 = 0); "
        "tốt nhất 0.8 tại epoch 2.",
        "early stopping: dừng tại epoch 4: lỗi validation tăng trong 2 đoạn liên tiếp, mỗi đoạn "
        "1 epoch (0.8 -> 0.9 -> 0.95); tốt nhất 0.8 tại epoch 2."]
    # a P_k whose two numbers differ is not PQ's clause: the clause is kept as stored
    odd = pq.replace("P_2 = 0", "P_3 = 0")
    assert i18n.reason(odd, "vi") == (
        "early stopping: dừng tại epoch 4: GL/P_2 = inf exceeded alpha = 0.5 (GL = 18.75, "
        "P_3 = 0); tốt nhất 0.8 tại epoch 2.")


def test_run_lang_vi_prints_epochs_status_and_reason_in_vietnamese(capsys, tmp_path):
    argv = ["run", "--epochs", "2", "--hidden", "8", "--patience", "5", "--out", str(tmp_path),
            "--name", "r"]
    code, out, err = _cli(capsys, *argv, "--lang", "vi")
    assert code == 0, err
    conn = Store.read_only(tmp_path, "r")
    stored = conn.execute("SELECT reason FROM runs").fetchone()[0]
    best = int(conn.execute("SELECT value FROM final WHERE key='best_epoch'").fetchone()[0])
    assert stored == f"reached the maximum of 2 epochs; restored the best weights of epoch {best + 1}"
    lines = out.splitlines()
    assert lines[0] == "run-s0: training tối đa 2 epoch"
    assert lines[1].startswith("  epoch    1/2  validation loss ")
    assert "  độ chính xác validation " in lines[1]
    assert (f"run-s0 xong: đã chạy hết tối đa 2 epoch; đã khôi phục trọng số tốt nhất, của "
            f"epoch {best + 1}") in lines
    assert any(ln.startswith("  độ chính xác test ") and "khoảng cách" in ln for ln in lines)
    assert any(f"(tốt nhất: epoch {best + 1})" in ln for ln in lines)
    assert lines[-1] == f"đã lưu trong {tmp_path / 'r'}/"
    # the experiment keeps its language; --lang en shows the stored result in English
    code, out, _ = _cli(capsys, *argv)
    assert code == 0 and out.splitlines()[-1] == f"đã lưu trong {tmp_path / 'r'}/"
    code, out, _ = _cli(capsys, *argv, "--lang", "en")
    assert code == 0 and f"run-s0 done: {stored}" in out.splitlines()
    assert out.splitlines()[-1] == f"stored in {tmp_path / 'r'}/"


def test_check_augment_lang_vi_writes_the_report_prose_in_vietnamese(capsys):
    code, out, _ = _cli(capsys, "check-augment", "--data", "digits", "--augment", "flip,noise",
                        "--lang", "vi")
    assert code == 1 and "BỊ ĐÁNH DẤU" in out             # exit code unchanged, the flag in vi
    lines = out.splitlines()
    assert lines[0].startswith("Kiểm tra an toàn nhãn của 'digits': mô hình nhanh, độ chính "
                               "xác validation trên dữ liệu gốc ")
    assert lines[0].endswith(" lần augment ngẫu nhiên cho mỗi phép biến đổi")
    assert "độ chính xác giảm theo từng lớp:" in lines
    assert any(ln.startswith("quy tắc: bị đánh dấu khi mức giảm > giới hạn, với giới hạn = "
                             "min(max(") for ln in lines)
    assert_translated(out, "label_check.")


def test_path_lang_vi_prints_and_writes_the_selection_in_vietnamese(capsys, tmp_path):
    code, out, err = _cli(capsys, "path", "--data", "sparse", "--n-strengths", "3",
                          "--out", str(tmp_path), "--lang", "vi")
    assert code == 0, err
    best = next(ln for ln in out.splitlines() if ln.startswith("tốt nhất trên validation: "))
    assert ", độ chính xác validation " in best and ", số feature được dùng " in best
    assert any(ln.startswith("một sai số chuẩn (1-SE): ") for ln in out.splitlines())
    assert any(ln.startswith("(quy tắc 1-SE: SE = ") and "log loss trung bình" in ln
               for ln in out.splitlines())
    assert "tốt nhất trên validation: " in (tmp_path / "path.md").read_text(encoding="utf-8")
    assert_translated(out, "path.")


def test_tune_lang_vi_prints_the_study_and_the_best_in_vietnamese(capsys, tmp_path):
    pytest.importorskip("optuna")
    code, out, err = _cli(capsys, "tune", "--data", "breast_cancer", "--model", "linear",
                          "--epochs", "2", "--trials", "2", "--seeds", "0", "--out",
                          str(tmp_path), "-q", "--lang", "vi")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == ("study 'tune-breast_cancer': 2 hoàn tất (worker này đã chạy 2)")
    # a fresh study's trial 0 is compare's `all` arm (the warm start), and says so; the
    # console wraps that long line, so the best line is the next one that starts "tốt nhất"
    assert lines[1].startswith("khởi động ấm: trial 0 là nhánh `all` của reglab compare "
                               "(val_acc ")
    assert "; chỗ không gian tìm kiếm khác: " in " ".join(out.split())
    best = next(ln for ln in lines if ln.startswith("tốt nhất: trial "))
    assert ", val_acc " in best and " khi tìm kiếm: " in best
    code, out, err = _cli(capsys, "tune", "--data", "breast_cancer", "--model", "linear",
                          "--epochs", "2", "--trials", "2", "--seeds", "1", "--confirm", "2",
                          "--out", str(tmp_path), "-q", "--lang", "vi")
    assert code == 0, err
    confirmed = [ln for ln in out.splitlines() if ln.startswith("xác nhận: trial ")]
    assert len(confirmed) == 2 and all(" với seed 1000, 1001 (trung bình " in ln
                                       for ln in confirmed)


def test_the_resume_line_and_the_label_verdict_follow_the_language(capsys, tmp_path):
    argv = ["compare", "--epochs", "1", "--hidden", "8", "--workers", "1", "--seeds", "1",
            "--arms", "none,augment", "--out", str(tmp_path), "--name", "c", "--lang", "vi"]
    code, _, err = _cli(capsys, *argv)
    assert code == 0, err
    assert "kiểm tra nhãn: " in err and "(giảm " in err and ", giới hạn " in err
    code, _, err = _cli(capsys, *argv)
    assert code == 0
    flat = " ".join(err.split())  # the stderr console wraps long lines
    assert f"tiếp tục {tmp_path / 'c'}: giữ 2 lần chạy đã xong, còn 0 lần chạy" in flat


def test_the_vietnamese_report_shows_statuses_and_reasons_translated(experiment, built_vi):
    html, _ = built_vi
    runs = Store.read_only(experiment.parent, experiment.name).execute(
        "SELECT id, status, reason FROM runs").fetchall()
    assert runs
    for rid, status, reason in runs:
        vi = i18n.reason(reason, "vi")
        assert vi != reason                      # every stored sentence here has a template
        row = f"<tr><td>{rid}</td><td>{i18n.status(status, 'vi')}</td><td>"
        assert row in html, rid
        assert reason not in html


# --------------------------------------------------------------------------- tables' headers


def test_compare_measured_columns_in_vietnamese_and_english_unchanged():
    from reglab.report.console import comparison_tables

    headers = lambda lang: [str(c.header) for c in  # noqa: E731
                            comparison_tables(_verdict_runs(), "t", lang)[0].columns]
    assert headers("en") == ["arm", "settings", "n", "test acc %", "test loss",
                             "train-test gap %"]
    assert headers("vi") == ["nhánh", "thiết lập", "n", "độ chính xác\ntest %", "test loss",
                             "khoảng cách\ntraining-test %"]
    # a regression experiment's columns (RMSE, MAE, R^2, the RMSE gap)
    keys = ("console.test_rmse", "console.test_mae", "console.col.test_r2",
            "console.col.rmse_gap")
    assert [t(k, "en") for k in keys] == ["test RMSE", "test MAE", "test R²", "RMSE gap"]
    assert [t(k, "vi") for k in keys] == ["RMSE test", "MAE test", "R² test",
                                          "khoảng cách\nRMSE"]


def test_runs_lang_vi_prints_the_headers_and_statuses_in_vietnamese(capsys, tmp_path):
    code, out, err = _cli(capsys, "runs", "--out", str(tmp_path), "--lang", "vi")
    assert (code, out) == (0, f"không có thí nghiệm nào trong {tmp_path}/\n"), err
    assert _cli(capsys, "ls", "--out", str(tmp_path))[1] == f"no experiments under {tmp_path}/\n"
    Store.open(tmp_path, "c", meta={}).close()
    code, out, err = _cli(capsys, "runs", "--out", str(tmp_path), "--lang", "vi")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].rstrip() == f"các thí nghiệm trong {tmp_path}/"
    assert lines[2] == ("┃ tên ┃ lần chạy ┃ xong ┃ phân kỳ ┃ bị ngắt ┃ đang chạy ┃ đang chờ ┃ "
                        "tạo lúc          ┃")
    lines = _cli(capsys, "runs", "--out", str(tmp_path))[1].splitlines()
    assert lines[0].rstrip() == f"experiments in {tmp_path}/"
    assert lines[2] == ("┃ name ┃ runs ┃ done ┃ diverged ┃ interrupted ┃ running ┃ pending ┃ "
                        "created          ┃")
    assert _cli(capsys, "runs", "--out", str(tmp_path), "--lang", "fr")[0] == 2


def test_path_md_heading_follows_the_language(capsys, tmp_path):
    from reglab.lab.path import SUMMARY_TEXTS

    assert SUMMARY_TEXTS["heading"] == "# {penalty} path on {data}, {model} model"
    code, _, err = _cli(capsys, "path", "--data", "sparse", "--n-strengths", "2",
                        "--out", str(tmp_path), "--lang", "vi")
    assert code == 0, err
    md = (tmp_path / "path.md").read_text(encoding="utf-8")
    assert md.splitlines()[0] == "# đường điều chỉnh l1 trên sparse, mô hình linear"
    assert _cli(capsys, "path", "--data", "sparse", "--n-strengths", "2",
                "--out", str(tmp_path / "en"))[0] == 0
    md = (tmp_path / "en" / "path.md").read_text(encoding="utf-8")
    assert md.splitlines()[0] == "# l1 path on sparse, linear model"


def test_label_check_table_columns_and_flags_in_vietnamese_and_english_unchanged():
    from reglab.lab.label_check import LabelCheckReport, LabelCheckRow

    report = LabelCheckReport(
        rows=[LabelCheckRow("flip", 0.95, 0.6, 0.35, 0.01, 0.05, True),
              LabelCheckRow("noise", 0.95, 0.94, 0.01, 0.01, 0.05, False)],
        per_class={"flip": [0.5, -0.25], "noise": [0.0, 0.02]}, class_names=["0", "1"],
        clean_accuracy=0.95, threshold=0.02, k=3.0, ceiling=0.5, draws=4)
    assert report.render().splitlines()[2:5] == [
        "transform  clean  augmented    drop   limit  flag",
        "flip       0.950      0.600  +0.350  0.050  FLAGGED",
        "noise      0.950      0.940  +0.010  0.050  ok"]
    assert report.render().splitlines()[-3] == "transform       0      1"
    vi = report.render(i18n.texts("label_check", "vi")).splitlines()
    assert vi[2:5] == [
        "phép biến đổi    gốc  sau augment    giảm  giới hạn  đánh dấu",
        "flip           0.950        0.600  +0.350     0.050  BỊ ĐÁNH DẤU",
        "noise          0.950        0.940  +0.010     0.050  ổn"]
    assert vi[-3] == "phép biến đổi       0      1"


# ------------------------------------------- the label rule, datasets, progress bars, Markdown


def test_the_label_check_rule_sentence_in_vietnamese_and_english_unchanged():
    from reglab.lab.label_check import LabelCheckReport, LabelCheckRow

    report = LabelCheckReport(
        rows=[LabelCheckRow("flip", 0.95, 0.6, 0.35, 0.01, 0.05, True)],
        per_class={"flip": [0.5, -0.25]}, class_names=["0", "1"], clean_accuracy=0.95,
        threshold=0.02, k=3.0, ceiling=0.5, draws=4)
    assert report.render().splitlines()[5] == (
        "rule: flagged when drop > limit = min(max(0.02, 3 x median drop of the others), "
        "0.5 x (clean accuracy - chance))")
    assert report.render(i18n.texts("label_check", "vi")).splitlines()[5] == (
        "quy tắc: bị đánh dấu khi mức giảm > giới hạn, với giới hạn = min(max(0.02, 3 x trung "
        "vị mức giảm của các phép khác), 0.5 x (độ chính xác gốc - mức ngẫu nhiên))")


def test_the_compare_label_verdict_flags_in_the_chosen_language():
    from types import SimpleNamespace

    from reglab.cli._shared import label_verdict

    rows = [SimpleNamespace(flagged=True, drop=0.35, limit=0.05),
            SimpleNamespace(flagged=False, drop=0.01, limit=0.05)]
    report = SimpleNamespace(rows=rows)
    assert label_verdict(report, ["flip", "noise"]) == (
        "label check: changes labels: flip; flip [bold red]FLAGGED[/bold red] (drop +0.350, "
        "limit 0.050), noise ok (drop +0.010, limit 0.050)")
    assert label_verdict(report, ["flip", "noise"], "vi") == (
        "kiểm tra nhãn: làm đổi nhãn: flip; flip [bold red]BỊ ĐÁNH DẤU[/bold red] (giảm "
        "+0.350, giới hạn 0.050), noise ổn (giảm +0.010, giới hạn 0.050)")
    assert t("cli.label.bar", "vi") == "đang kiểm tra augmentation có giữ nguyên nhãn không"


def test_every_builtin_data_set_has_a_vietnamese_summary_with_its_numbers():
    import reglab.data

    english = {name: summary for name, _, summary in reglab.data.available()}
    vi = i18n.texts("datasets", "vi")
    assert set(vi) == set(english) and i18n.texts("datasets", "en") == english
    for name, summary in english.items():
        assert vi[name] != summary, name
        assert_same_numbers(summary, vi[name])


def test_datasets_lang_vi_prints_headers_and_summaries_in_vietnamese(capsys):
    code, out, _ = _cli(capsys, "datasets", "--lang", "vi")
    lines = out.splitlines()
    assert code == 0 and lines[0].strip() == "các tập dữ liệu có sẵn"
    assert lines[2].split("┃")[1:4] == [" tên               ", " loại    ",
                                         " tóm tắt" + " " * 60]
    assert "│ digits            │ image   │ 1797 chữ số viết tay, ảnh xám 8x8, 10 lớp " in out
    code, out, _ = _cli(capsys, "datasets")
    assert code == 0 and out.splitlines()[0].strip() == "built-in data sets"
    assert ("│ digits            │ image   │ 1797 handwritten digits, 8x8 grayscale, 10 classes "
            in out)
    assert _cli(capsys, "datasets", "--lang", "fr")[0] == 2


def test_the_run_progress_bar_notes_follow_the_language():
    from reglab.report.console import RunProgress

    for lang, want in (("en", ("epochs", "1/4 runs", "starting", "best val acc 50.0%",
                               "best val loss 0.2500", "eta")),
                       ("vi", ("epoch", "1/4 lần chạy", "đang khởi động",
                               "độ chính xác validation tốt nhất 50.0%",
                               "validation loss tốt nhất 0.2500", "còn lại"))):
        p = RunProgress(total=4, already_done=1, epochs=10, lang=lang)
        p.start("a")
        p.start("b")
        main_bar, a, b = p._progress.tasks
        assert (main_bar.description, main_bar.fields["note"], a.fields["note"]) == want[:3]
        p.epoch("a", 0, 0.5, 1.0)
        p.epoch("b", 0, None, 0.25)        # a regression run: its best validation loss
        assert (a.fields["note"], b.fields["note"]) == want[3:5]
        assert [c.text_format for c in p._progress.columns if hasattr(c, "text_format")][-1] \
            == want[5]


def test_comparison_markdown_in_vietnamese_and_english_unchanged():
    from reglab.report.console import comparison_markdown

    runs = [_run(arm, s, test_acc=acc + 0.01 * s, test_loss=0.3 - 0.01 * s)
            for s in range(3) for arm, acc in (("none", 0.90), ("l2", 0.93))]
    en, vi = comparison_markdown(runs).splitlines(), comparison_markdown(runs, "vi").splitlines()
    assert en[0] == ("| arm | settings | seed: output | n | test acc % | test loss | "
                     "train-test gap % | sparsity % | weight norm | epochs | s/run |")
    assert en[7] == ("| arm − none (same seeds) | Δ test acc, points [95% CI] | "
                     "Δ test loss [95% CI] | verdict |")
    assert vi[0] == ("| nhánh | thiết lập | ghi chú: output | n | độ chính xác test % | test loss "
                     "| khoảng cách training-test % | độ sparse % | chuẩn trọng số | epoch | "
                     "s/lần chạy |")
    assert vi[7] == ("| nhánh − none (cùng các seed) | Δ độ chính xác test, điểm [khoảng tin cậy "
                     "95%] | Δ test loss [khoảng tin cậy 95%] | kết luận |")
    rows = summarize_arms(runs)
    assert en[5] == f"Differences: {intervals_note(rows)}."
    assert vi[5] == f"Các hiệu: {i18n.intervals_note(rows, lang='vi')}."
    l2 = next(r for r in rows if r.arm == "l2")
    assert vi[-1].endswith(f"| {i18n.verdicts(l2, lang='vi')[2]} |")
    assert en[-1].endswith(f"| {l2.verdict} |")
    assert_translated("\n".join(vi), "md.", "template.")
