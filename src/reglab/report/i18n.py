"""The message catalogue: every sentence reglab writes for a person, in English and Vietnamese.

The source note is Vietnamese; ``--lang vi`` gives its readers the explain page, the report's
prose, the diagnosis and the verdicts in Vietnamese, in the note's own terms ("giảm
overfitting", "trọng số", "hệ số điều chỉnh", "dừng training khi loss không giảm") and with the
technical English words the note itself keeps (overfitting, dropout, weight decay, validation
loss, early stopping, augmentation). English is the default and its texts are the ones the
rest of reglab always printed.

One key, one template per language, filled with :meth:`str.format`: numbers are formatted by
the template's own format spec (``{n[l1_lambda]:g}``) or passed already formatted (``pct``,
``format_num``), identically in both languages. A key must exist in every language of
:data:`LANGS`; a test checks it, and that a Vietnamese template is not the English one.

The texts are the package data file ``report/catalogue.toml``: one table per key with its
``en`` and ``vi`` template. Adding an explain topic (e.g. ``shuffle``): add its keys there as
``"explain.shuffle.question"`` (equal to ``QUESTIONS["shuffle"]`` in English), one key per
sentence of its answer (``"explain.shuffle.<part>"``) and per figure title / axis label
(``"explain.shuffle.fig.<part>"``); its ``measure(seed, quick, lang="en")`` renders them with
``t(key, lang, ...)``. The tests run every topic of ``TOPICS`` in both languages.

Example::

    >>> t("verdict.unclear", "vi", n=3)
    'chưa đo được tác dụng với n=3'
"""

from __future__ import annotations

import functools
import math
import re
import string
from collections.abc import Callable, Sequence
from typing import Any

from reglab._validation import check_choice
from reglab.data import available as available_datasets
from reglab.lab.arms import NOTE_SAYS
from reglab.lab.label_check import TEXTS as LABEL_CHECK_TEXTS
from reglab.lab.path import SUMMARY_TEXTS as PATH_TEXTS
from reglab.lab.spec import read_package_toml
from reglab.lab.stats import format_num

__all__ = ["LANGS", "CATALOGUE", "SAME_IN_BOTH", "REGRESSION", "REGRESSION_LABELS", "t", "check_lang",
           "labels", "verdicts", "intervals_note", "note_says", "status", "reason", "texts",
           "prefixed"]

LANGS = ("en", "vi")


def _read_catalogue() -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, ...]]]:
    """The key -> (en, vi) templates and the Vietnamese note rows of report/catalogue.toml."""
    doc = read_package_toml("reglab.report", "catalogue.toml")
    note_says_vi = {arm: tuple(says) for arm, says in doc.pop("note_says_vi").items()}
    # lab modules that write prose keep their English templates (one copy: label_check.TEXTS,
    # path.SUMMARY_TEXTS, the data sets' summaries of reglab.data.available()); the catalogue
    # holds their Vietnamese alone ([lab_vi])
    lab_vi = doc.pop("lab_vi", {})
    summaries = {name: summary for name, _, summary in available_datasets()}
    for prefix, english in (("label_check", LABEL_CHECK_TEXTS), ("path", PATH_TEXTS),
                            ("datasets", summaries)):
        for k, en in english.items():  # a missing Vietnamese fails the check below
            vi = lab_vi.get(prefix, {}).get(k)
            doc[f"{prefix}.{k}"] = {"en": en} if vi is None else {"en": en, "vi": vi}
    for key, texts in doc.items():
        if set(texts) != set(LANGS):
            raise ValueError(f"report/catalogue.toml: [{key!r}] has {sorted(texts)}; every key "
                             f"has one text per language of {LANGS}")
    return {key: tuple(texts[lang] for lang in LANGS) for key, texts in doc.items()}, note_says_vi


# The texts live in the package data file report/catalogue.toml (one table per key, its en and
# vi templates side by side), so a translator edits data and a new key is a few lines of TOML.
# NOTE_SAYS_VI: the note's own section 7 (Output, Ưu điểm, Nhược điểm) per arm; English is
# lab.arms.NOTE_SAYS.
CATALOGUE, NOTE_SAYS_VI = _read_catalogue()
# The template's fixed labels: ``labels(lang)`` gives them all.
TEMPLATE = {k.removeprefix("template."): v for k, v in CATALOGUE.items()
            if k.startswith("template.")}
# Labels of the report templates for a regression experiment, in place of the accuracy ones
# (the templates' columns: test acc -> RMSE, test loss -> MAE, gap -> R^2; diffs: RMSE, MAE).
REGRESSION_LABELS = {k.removeprefix("template_regression."): v for k, v in CATALOGUE.items()
                     if k.startswith("template_regression.")}

# The keys only a regression experiment uses (its measures: test RMSE, MAE, R^2).
REGRESSION = frozenset({
    "console.test_mae", "console.test_rmse", "diag.no_effect.measured_regression",
    "diag.no_effect.minimum_regression", "diag.ok.gap_regression",
    "diag.underfit.text_regression", "note.rule_regression", "plot.curves.r2",
    "plot.curves.rmse", "plot.curves.val_r2", "plot.curves.val_rmse", "plot.forest.d_mae",
    "plot.forest.d_rmse", "plot.gap.ylabel_regression", "report.caption.forest_regression",
    "report.caption.gap_regression", "report.caption.learning_curves_regression",
    "report.data.target", "report.data.task", "verdict.both_regression", "verdict.min_mae",
    "verdict.min_rmse"})

# Keys whose Vietnamese is the English on purpose: technical words the note itself keeps in
# English (overfitting, validation loss, test loss), formula labels, "Overfitting: {body}" and
# a sentence's closing ".".
SAME_IN_BOTH = frozenset({
    "explain.l1-vs-l2.fig.l1", "explain.dropout.fig.input", "explain.dropout.fig.grad",
    "explain.early-stopping.fig.val", "diag.overfit.warning", "diag.no_effect.negligible_advice",
    "console.test_loss", "plot.forest.d_loss",
    "template.test_loss", "template.d_loss", "template.rule.overfitting",
    "template.rule.underfitting", "reason.span.one", "path.log_loss"})


def check_lang(lang: str, owner: str = "reglab") -> str:
    """``lang`` if it is one of :data:`LANGS`, else InvalidParameterError (one line)."""
    return check_choice(owner, "lang", lang, LANGS)


def t(key: str, lang: str = "en", /, **fields: Any) -> str:
    """The template of ``key`` in ``lang``, filled with ``fields`` (``str.format``).

    Example::

        t("verdict.too-few", "en", n=1) == "not enough paired seeds (n=1)"
    """
    return CATALOGUE[key][LANGS.index(check_lang(lang))].format(**fields)


def labels(lang: str = "en", task: str = "classification") -> dict[str, str]:
    """Every fixed label of the report templates in ``lang`` (those with no fields); for a
    regression experiment the measure columns say RMSE, MAE and R^2."""
    i = LANGS.index(check_lang(lang))
    extra = REGRESSION_LABELS if task == "regression" else {}
    return {k: v[i] for k, v in {**TEMPLATE, **extra}.items()}


def note_says(row: Any, lang: str = "en") -> tuple[str, str, str]:
    """The note's section-7 row for ``row`` (a ``compare.ArmRow``) in ``lang``."""
    if lang == "en":
        return row.note_says
    # the row's English triple names its technique (a grid arm's is its owner's)
    owner = next((a for a, says in NOTE_SAYS.items() if says == row.note_says), None)
    return NOTE_SAYS_VI.get(owner, row.note_says)


def _verdict(kind: str | None, n: int, min_text: str, lang: str) -> str:
    if kind in ("helps", "hurts", "too-few", "unclear"):
        return t(f"verdict.{kind}", lang, n=n)
    return t("verdict.negligible", lang, text=min_text)


def verdicts(row: Any, baseline: str = "none", lang: str = "en") -> tuple[str, str, str]:
    """(accuracy verdict, loss verdict, the combined cell) of a ``compare.ArmRow`` in ``lang``.

    Rendered from the row's ``effects`` (``stats.effect``), so both languages say the same
    thing; in English they equal the row's own ``verdicts`` and ``verdict``.
    """
    if row.effects is None:
        key = "verdict.baseline" if row.arm == baseline else "verdict.no_baseline"
        return "", "", t(key, lang, baseline=baseline)
    if getattr(row, "task", "classification") == "regression":
        rmse = _verdict(row.effects[0], row.d_rmse.n, t(
            "verdict.min_rmse", lang, v=format_num(row.min_effect_rmse, 4), baseline=baseline),
            lang)
        mae = _verdict(row.effects[1], row.d_mae.n, t(
            "verdict.min_mae", lang, v=format_num(row.min_effect_mae, 4), baseline=baseline), lang)
        return rmse, mae, t("verdict.both_regression", lang, rmse=rmse, mae=mae)
    loss_text = t("verdict.min_loss", lang, loss=format_num(row.min_effect_loss, 4),
                  baseline=baseline)
    acc = _verdict(row.effects[0], row.d_acc.n, t("verdict.min_acc", lang), lang)
    loss = _verdict(row.effects[1], row.d_loss.n, loss_text, lang)
    return acc, loss, t("verdict.both", lang, acc=acc, loss=loss)


def intervals_note(rows: Sequence[Any], baseline: str = "none", lang: str = "en") -> str:
    """``compare.intervals_note`` in ``lang``: what the difference tables' intervals are."""
    m = max((r.comparisons for r in rows), default=0)
    loss = next((r.min_effect_loss for r in rows if math.isfinite(r.min_effect_loss)), math.nan)
    adj = (t("note.holm", lang, m=m) if m > 1 else
           t("note.single", lang) if m == 1 else t("note.none", lang))
    if any(getattr(r, "task", "classification") == "regression" for r in rows):
        first = lambda k: next((getattr(r, k) for r in rows  # noqa: E731
                                if math.isfinite(getattr(r, k))), math.nan)
        return t("note.rule_regression", lang, adj=adj, baseline=baseline,
                 rmse=format_num(first("min_effect_rmse"), 4),
                 mae=format_num(first("min_effect_mae"), 4))
    return t("note.rule", lang, adj=adj, baseline=baseline, loss=format_num(loss, 4))


def status(value: str, lang: str = "en") -> str:
    """A run's stored status (done, diverged, ...) in ``lang``; an unknown one as stored."""
    key = f"status.{value}"
    return t(key, lang) if key in CATALOGUE else value


def prefixed(prefix: str, lang: str = "en") -> Callable[..., str]:
    """:func:`t` for the keys under ``prefix.``, in ``lang``: a figure or section renders
    its texts by their last part. Example: ``k = prefixed("plot.gap", lang)``, then
    ``k("title")`` is ``t("plot.gap.title", lang)`` and ``k("point", arm=a, ...)`` fills it."""
    def text(part: str, **fields: Any) -> str:
        return t(f"{prefix}.{part}", lang, **fields)
    return text


def texts(prefix: str, lang: str = "en") -> dict[str, str]:
    """Every template under ``prefix.`` in ``lang``, keyed by the rest of its key: the
    templates a lab module renders with (``LabelCheckReport.render``, ``path``'s summary)."""
    i = LANGS.index(check_lang(lang))
    return {k[len(prefix) + 1:]: v[i] for k, v in CATALOGUE.items() if k.startswith(prefix + ".")}


# stored sentence -> template keys tried in order; a field listed under a key is itself one
# of the sentences of that group (an early stop's clause and best score)
_REASONS = ("reason.max_epochs_restored", "reason.max_epochs", "reason.diverged",
            "reason.early_stopping")
_PARTS = {"clause": ("reason.clause.patience", "reason.clause.baseline",
                     "reason.clause.non_finite", "reason.clause.threshold",
                     "reason.clause.divergence", "reason.clause.gl", "reason.clause.pq",
                     "reason.clause.up"),
          "best": ("reason.best.score", "reason.best.none"),
          "span": ("reason.span.many", "reason.span.one")}


@functools.lru_cache(maxsize=None)
def _pattern(key: str) -> re.Pattern[str]:
    """The English template of ``key`` as a regex: its fields become named groups (a field
    written twice, PQ's ``P_{k}``, matches the same text both times)."""
    out, seen = [], set()
    for literal, field, _, _ in string.Formatter().parse(CATALOGUE[key][0]):
        out.append(re.escape(literal))
        if field is not None:
            out.append(f"(?P={field})" if field in seen else f"(?P<{field}>.+?)")
            seen.add(field)
    return re.compile("".join(out), re.DOTALL)


def _translate(text: str, keys: Sequence[str], lang: str) -> str | None:
    for key in keys:
        m = _pattern(key).fullmatch(text)
        if m is None:
            continue
        fields = {}
        for name, value in m.groupdict().items():
            part = _translate(value, _PARTS[name], lang) if name in _PARTS else None
            fields[name] = value if part is None else part
        return t(key, lang, **fields)
    return None


def reason(text: str, lang: str = "en") -> str:
    """A stored reason sentence (English, as the run contract wrote it) shown in ``lang``.

    The store keeps English; this translates at display time by matching the sentence
    against the English templates of the ``reason.*`` keys (the Prechelt criteria's clauses
    included). A sentence no template matches (an exception's text) is shown as stored.

    Example::

        >>> reason("reached the maximum of 3 epochs", "vi")
        'đã chạy hết tối đa 3 epoch'
    """
    if check_lang(lang) == "en" or not text:
        return text
    translated = _translate(text, _REASONS, lang)
    return text if translated is None else translated
