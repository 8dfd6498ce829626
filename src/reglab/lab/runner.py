"""Moved to :mod:`reglab.lab.execute` (the one executor); these names stay importable here
until every caller imports them from there."""

from reglab.lab.execute import Job, Outcome, load_data

__all__ = ["Job", "Outcome", "load_data"]
