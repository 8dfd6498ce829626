"""Epochs as people count them: the one conversion from a stored index to a shown number.

Everything that is stored or computed counts epochs from 0: ``EarlyStopping.best_epoch`` and
``stopped_epoch`` (the index of the ``step`` call), a run's ``best_epoch`` in the store and in
``results.csv``, the ``epoch`` column of the epochs table and ``epochs.csv``, TensorBoard's
step. Everything a person reads (messages, stored reason sentences, tables, plot axes,
explain texts) counts from 1: the first epoch is "epoch 1". :func:`shown_epoch` is the only
place that adds the 1.
"""

from __future__ import annotations

__all__ = ["shown_epoch"]


def shown_epoch(stored: int | float) -> int | float:
    """A stored, 0-based epoch index as people count: the first epoch is epoch 1.

    Whole numbers (also a float such as 4.0 read back from the store) come back as ``int``;
    a fractional value (a mean of best epochs over seeds) stays a float.

    >>> shown_epoch(0), shown_epoch(4.0), shown_epoch(2.5)
    (1, 5, 3.5)
    """
    value = float(stored)
    return int(value) + 1 if value.is_integer() else value + 1
