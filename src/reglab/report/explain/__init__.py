"""``reglab explain``: the note's five interview questions, each answered by a measurement.

One module per question (``l1_vs_l2``, ``dropout``, ``early_stopping``, ``augmentation``,
``weight_decay``), each with ``measure(seed, quick, lang="en") -> Explanation``: it runs one
short, seeded experiment and writes a one-paragraph answer *from the numbers it measured* (the
claims are phrased conditionally on those numbers, never hard-coded), in English or Vietnamese
from the message catalogue (``reglab.report.i18n``, keys ``explain.<topic>.*``; the numbers do
not depend on the language). Training goes through the
library's loop (``reglab.train``: ``fit`` with a RunSpec where the experiment is a lab run,
``train_one_epoch`` where it needs its own model or optimizer). :func:`write_html` puts every
answer, its numbers and its figures on one self-contained page.

Example::

    from reglab.report.explain import explain, write_html
    results = explain(["dropout", "weight-decay"], quick=True)
    write_html(results, "explain.html")
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from reglab._validation import check_choice
from reglab.report.explain import (augmentation, dropout, early_stopping, l1_vs_l2, shuffle,
                                   weight_decay)
from reglab.report.explain._shared import QUESTIONS, Explanation, seeded
from reglab.report.explain.page import write_html
from reglab.report.i18n import check_lang, t

# The topics' building blocks, reachable as before the split (the tests use them here).
from reglab.report.explain.dropout import _dropout_pass  # noqa: E402,F401
from reglab.report.explain.early_stopping import _stop_points  # noqa: E402,F401
from reglab.report.explain.l1_vs_l2 import _selection  # noqa: E402,F401
from reglab.report.explain.weight_decay import _trajectory  # noqa: E402,F401

__all__ = ["Explanation", "QUESTIONS", "TOPICS", "explain", "main", "write_html"]

# The note's section 9 order; each topic's module answers its question. A topic's
# ``measure(seed, quick, lang="en")`` writes its texts from the catalogue
# (``reglab.report.i18n``: keys ``explain.<topic>.*``), in English unless told otherwise.
TOPICS: dict[str, Callable[..., Explanation]] = {
    "l1-vs-l2": l1_vs_l2.measure,
    "dropout": dropout.measure,
    "early-stopping": early_stopping.measure,
    "augmentation": augmentation.measure,
    "weight-decay": weight_decay.measure,
    "shuffle": shuffle.measure,  # the note's section-6 pitfall: no shuffle before early stopping
}


def _check_topics(topics: str | Iterable[str] | None) -> list[str]:
    if topics is None:
        return list(TOPICS)
    topics = [topics] if isinstance(topics, str) else list(topics)
    return [check_choice("explain", "topic", t, TOPICS) for t in topics]


def explain(topics: str | Iterable[str] | None = None, out: str | Path | None = None,
            quick: bool = False, seed: int = 0,
            progress: Callable[[str], None] | None = None, lang: str = "en"
            ) -> list[Explanation]:
    """Run the experiments of ``topics`` (all five by default); optionally write the HTML page.

    Args:
        topics: keys of :data:`TOPICS` (one string or several); None runs all, in order.
        out: where to write the HTML page, or None for no file.
        quick: reduced sizes (seconds per topic) for tests and smoke runs.
        seed: seeds data splits, initial weights, batches and masks.
        progress: called with one line before each topic starts, and with the topic's
            answer paragraph when it ends.
        lang: "en" (default) or "vi": the language of questions, answers, figures and page.

    Example::

        [e] = explain("weight-decay", quick=True)
        e.numbers["sgd_max_diff"]        # about 1e-16: SGD weight decay is L2 with lam = wd/2
    """
    names = _check_topics(topics)
    check_lang(lang, "explain")
    # English calls a topic as (seed, quick), the form every topic module accepts
    extra = {} if lang == "en" else {"lang": lang}
    results = []
    for i, name in enumerate(names, 1):
        if progress is not None:
            # English from QUESTIONS, so a topic without catalogue keys yet still runs in en
            question = QUESTIONS[name] if lang == "en" else t(f"explain.{name}.question", lang)
            progress(f"[{i}/{len(names)}] {name}: {question}")
        start = time.perf_counter()
        with seeded(seed):
            result = TOPICS[name](seed, quick, **extra)
        results.append(replace(result, seconds=time.perf_counter() - start))
        if progress is not None:
            progress(result.answer)
    if out is not None:
        write_html(results, out, seed=seed, quick=quick, lang=lang)
    return results


def main(topic: str | None, out: Path, quick: bool, echo: Callable[[str], None],
         lang: str = "en") -> int:
    """CLI entry point of ``reglab explain [TOPIC] [--out PATH] [--quick] [--lang]``; returns 0.

    Raises:
        InvalidParameterError: ``topic`` is not a key of :data:`TOPICS`, or ``lang`` not one
            of ``i18n.LANGS`` (the CLI prints the one-line message and exits 2).
    """
    check_lang(lang, "explain")
    explain(topic, out=out, quick=quick, progress=echo, lang=lang)
    echo(t("explain.wrote", lang, path=out))
    return 0

