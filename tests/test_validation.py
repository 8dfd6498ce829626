import math

import pytest

import reglab as rl
from reglab._validation import check_choice, check_float, check_int


def test_template_matches_style_guide():
    with pytest.raises(rl.InvalidParameterError) as e:
        check_float("Dropout", "drop", 1.5, 0, 1, high_open=True)
    assert str(e.value) == (
        "The 'drop' parameter of Dropout must be a float in the range [0, 1). Got 1.5 instead."
    )
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, "0.1", None, True])
def test_check_float_rejects(value):
    with pytest.raises(rl.InvalidParameterError, match=r"'lam' parameter of L1 must be a float "
                       r"in the range \[0, inf\)\. Got .* instead\."):
        check_float("L1", "lam", value, 0)


def test_check_float_accepts_bounds():
    assert check_float("X", "a", 0, 0, 1) == 0.0
    assert check_float("X", "a", 1, 0, 1) == 1.0
    with pytest.raises(rl.InvalidParameterError, match=r"range \(0, 1\]"):
        check_float("X", "a", 0, 0, 1, low_open=True)


def test_check_int_and_choice():
    assert check_int("EarlyStopping", "patience", 3, 0) == 3
    with pytest.raises(rl.InvalidParameterError, match=r"^The 'patience' parameter of "
                       r"EarlyStopping must be an int in the range \[0, inf\)\. Got -1 instead\.$"):
        check_int("EarlyStopping", "patience", -1, 0)
    with pytest.raises(rl.InvalidParameterError, match=r"an int .* Got 2\.0 instead"):
        check_int("EarlyStopping", "patience", 2.0, 0)
    with pytest.raises(rl.InvalidParameterError, match=r"^The 'mode' parameter of EarlyStopping "
                       r"must be one of \{'min', 'max'\}\. Got 'up' instead\.$"):
        check_choice("EarlyStopping", "mode", "up", ("min", "max"))
