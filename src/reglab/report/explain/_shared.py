"""What every explain topic shares: the answer type, the questions, seeding, figures, format."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

__all__ = ["Explanation", "QUESTIONS", "figure", "pct", "pcts", "png", "seeded"]


@dataclass
class Explanation:
    """One answered question: the paragraph, the numbers it was written from, and figures.

    Attributes:
        topic: key in :data:`reglab.report.explain.TOPICS`, e.g. "l1-vs-l2".
        question: the note's interview question (section 9), in the page's language.
        answer: one paragraph built from ``numbers``.
        numbers: every measured value the paragraph quotes (floats).
        figures: (title, PNG bytes) pairs drawn with matplotlib's Agg backend.
        seconds: wall time of the experiment.
    """

    topic: str
    question: str
    answer: str
    numbers: dict[str, float]
    figures: list[tuple[str, bytes]] = field(default_factory=list)
    seconds: float = 0.0


# The note's section 9, in its order (rendered from Vietnamese).
QUESTIONS = {
    "l1-vs-l2": "L1 vs L2: when should you use which?",
    "dropout": "How does dropout act in the forward and the backward pass?",
    "early-stopping": "Can early stopping cause underfitting?",
    "augmentation": "How does data augmentation reduce overfitting?",
    "weight-decay": "What is weight decay, and how does it differ from L2?",
    # section 6's pitfall, answered the same way
    "shuffle": "What goes wrong with early stopping when the data is not shuffled?",
}


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run with torch's global RNG seeded and one thread, restoring both afterwards."""
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_num_threads(1)   # the numbers must not depend on the machine's core count
        try:
            yield
        finally:
            torch.set_num_threads(threads)


def figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (9.0, 3.2)):
    """A matplotlib Figure and its axes, without pyplot (no global state, Agg when saved)."""
    # matplotlib: heavy (~1 s to import); loaded only when a figure is drawn, not by the CLI
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False).ravel()


def png(fig) -> bytes:
    """Render a Figure to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def pcts(numbers: dict[str, float]) -> dict[str, str]:
    """Every number as :func:`pct` formats it, for the catalogue's ``{p[key]}`` fields."""
    return {k: pct(v) for k, v in numbers.items()}
