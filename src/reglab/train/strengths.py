"""A spec's strength as the core takes it: a number, or a ``reglab.schedules`` object.

A run spec may give a strength as a schedule table (``spec.schedules[key]``: ``schedule``
"linear" or "cosine", ``start``, ``end``, ``steps``, ``unit``); the builders of the run
(``reglab.train.sequential``, ``reglab.train.models``) read every strength through
:func:`strength`, so the same schedule object drives the sequential loop and DDP. Steps
default to the run's epochs (``unit="epoch"``: the strength moves once per epoch, from
``start`` at the first epoch to ``end`` at epoch ``steps``).

Example::

    strength(RunSpec(l2={"schedule": "linear", "start": 0, "end": 1e-3}, epochs=10), "l2")
    # linear(0.0, 0.001, steps=10, unit='epoch')
"""

from __future__ import annotations

from typing import Any

from reglab import schedules

__all__ = ["strength", "scheduled_keys"]

_FACTORIES = {"linear": schedules.linear, "cosine": schedules.cosine}


def scheduled_keys(spec: Any) -> list[str]:
    """The strength keys of ``spec`` given as schedules."""
    return list(getattr(spec, "schedules", None) or {})


def strength(spec: Any, key: str) -> Any:
    """``spec``'s ``key`` strength: its schedule object if it has one, else the number."""
    table = (getattr(spec, "schedules", None) or {}).get(key)
    if table is None:
        return getattr(spec, key)
    steps = table.get("steps") or spec.epochs
    return _FACTORIES[table["schedule"]](table["start"], table["end"], steps=steps,
                                         unit=table.get("unit", "epoch"))
