"""Moved to :mod:`reglab.lab.execute` (the one executor); these names stay importable here
until every caller imports them from there."""

from reglab.lab.execute import ENGINES, train_many

__all__ = ["ENGINES", "train_many"]
