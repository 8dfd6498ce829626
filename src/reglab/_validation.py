"""Hyperparameter checks: one exception type, one message template.

Every public constructor checks its arguments up front (never with ``assert``) and
raises :class:`InvalidParameterError` with a message of the form::

    The 'drop' parameter of Dropout must be a float in the range [0, 1). Got 1.5 instead.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable
from typing import Any

__all__ = [
    "InvalidParameterError",
    "check_bool",
    "check_choice",
    "check_float",
    "check_int",
    "did_you_mean",
    "fail",
]


class InvalidParameterError(ValueError):
    """A hyperparameter or input is outside what is allowed. A ``ValueError``.

    Raised by :func:`fail`, it also carries the template's parts (``owner``, ``name``,
    ``allowed``, ``value``, ``hint``) so that a front end can restate the message in its own
    terms (the CLI names the flag or the TOML file instead of ``RunSpec``); otherwise None.
    """

    owner = name = allowed = value = hint = None


def fail(owner: str, name: str, allowed: str, value: Any, hint: str = ""
         ) -> InvalidParameterError:
    """Build the one error message template: parameter, owner, allowed range, value received
    (and an optional ``hint`` after it, e.g. :func:`did_you_mean`)."""
    err = InvalidParameterError(
        f"The '{name}' parameter of {owner} must be {allowed}. Got {_shown(value)} instead."
        f"{hint}")
    err.owner, err.name, err.allowed, err.value, err.hint = owner, name, allowed, value, hint
    return err


def _shown(value: Any) -> str:
    """``repr(value)`` where it is one line; a model, a large tensor or array (whose repr spans
    many lines) as its type and shape: an error message stays one line."""
    text = repr(value)
    if "\n" not in text:
        return text
    shape = getattr(value, "shape", None)
    kind = type(value).__name__
    return f"a {kind} of shape {tuple(shape)}" if shape is not None else f"a {kind}"


def did_you_mean(value: Any, choices: Iterable[str]) -> str:
    """``" Did you mean 'dropout'?"`` for the closest of ``choices`` (difflib), else ``""``."""
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    lo = "-inf" if low is None else _fmt(low)
    hi = "inf" if high is None else _fmt(high)
    left = "(" if (low is None or low_open) else "["
    right = ")" if (high is None or high_open) else "]"
    return f"{left}{lo}, {hi}{right}"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _in_range(x: float, low, high, low_open, high_open) -> bool:
    if low is not None and (x < low or (low_open and x == low)):
        return False
    if high is not None and (x > high or (high_open and x == high)):
        return False
    return True


def check_float(
    owner: str,
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    extra: str = "",
) -> float:
    """Return ``value`` as a float if it is a finite real number in the interval, else raise.

    ``extra`` is appended to the allowed description (e.g. ``" or a schedule"``).
    """
    allowed = f"a float in the range {_interval(low, high, low_open, high_open)}{extra}"
    return _number(owner, name, value, numbers.Real, float, allowed, low, high, low_open,
                   high_open)


def check_int(
    owner: str,
    name: str,
    value: Any,
    low: int | None = None,
    high: int | None = None,
) -> int:
    """Return ``value`` if it is an int (not a bool) in ``[low, high]``, else raise."""
    allowed = f"an int in the range {_interval(low, high, False, False)}"
    return _number(owner, name, value, numbers.Integral, int, allowed, low, high, False, False)


def _number(owner: str, name: str, value: Any, kind: type, convert, allowed: str, low, high,
            low_open: bool, high_open: bool):
    """``convert(value)`` if it is a finite ``kind`` (never a bool) in the interval, else raise."""
    if isinstance(value, bool) or not isinstance(value, kind):
        raise fail(owner, name, allowed, value)
    x = convert(value)
    if not math.isfinite(x) or not _in_range(x, low, high, low_open, high_open):
        raise fail(owner, name, allowed, value)
    return x


def check_choice(owner: str, name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise."""
    choices = list(choices)
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise fail(owner, name, f"one of {{{listed}}}", value)
    return value


def check_bool(owner: str, name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool, else raise."""
    if not isinstance(value, bool):
        raise fail(owner, name, "a bool", value)
    return value
