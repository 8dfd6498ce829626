"""RunSpec: every key validated with the one message template; TOML and JSON round trips."""

import math

import pytest

from reglab import InvalidParameterError
from reglab.lab.spec import RunSpec, load_toml

# (key, bad value, the exact message's allowed part)
BAD = [
    ("data", "", "a non-empty string"),
    ("data", 3, "a non-empty string"),
    ("target", 5, "a non-empty string"),
    ("features", [3], "a list of column names"),
    ("drop", 7, "a list of column names"),
    ("split", "kfold", "one of {'random', 'time'}"),
    ("task", "ordinal", "one of {'auto', 'classification', 'regression'}"),
    ("order_column", "", "a non-empty string"),
    ("group_column", 1, "a non-empty string"),
    ("split_column", "", "a non-empty string"),
    ("test_data", 2, "a non-empty string"),
    ("model", "resnet", "one of {'linear', 'mlp', 'cnn'}"),
    ("cnn_arch", "resnet", "one of {'two_block', 'global_pool'}"),
    ("hidden", [], "a non-empty list of ints in the range [1, 65536]"),
    ("hidden", [0], "a non-empty list of ints in the range [1, 65536]"),
    ("hidden", 64, "a non-empty list of ints in the range [1, 65536]"),
    ("hidden", [True], "a non-empty list of ints in the range [1, 65536]"),
    ("activation", "sigmoid", "one of {'relu', 'gelu', 'tanh', 'silu'}"),
    ("optimizer", "rmsprop", "one of {'sgd', 'adam', 'adamw'}"),
    ("lr", 0.0, "a float in the range (0, inf)"),
    ("lr", math.nan, "a float in the range (0, inf)"),
    ("lr", "0.1", "a float in the range (0, inf)"),
    ("epochs", 0, "an int in the range [1, 100000]"),
    ("epochs", 2.5, "an int in the range [1, 100000]"),
    ("batch_size", 0, "an int in the range [1, 1000000]"),
    ("seed", -1, "an int in the range [0, 4294967295]"),
    ("l1", -1e-4, "a float in the range [0, inf)"),
    ("l2", math.inf, "a float in the range [0, inf)"),
    ("weight_decay", -0.1, "a float in the range [0, inf)"),
    ("proximal_l1", math.nan, "a float in the range [0, inf)"),
    ("dropout", 1.0, "a float in the range [0, 1)"),
    ("dropout", -0.1, "a float in the range [0, 1)"),
    ("patience", -1, "an int in the range [0, 100000]"),
    ("patience", True, "an int in the range [0, 100000]"),
    ("elastic_net", -1e-4, "a float in the range [0, inf)"),
    ("l1_ratio", 1.5, "a float in the range [0, 1]"),
    ("group_lasso", math.inf, "a float in the range [0, inf)"),
    ("proximal_group_lasso", -0.1, "a float in the range [0, inf)"),
    ("dropout_kind", "droppath",
     "one of {'standard', 'gaussian', 'dropconnect', 'dropblock'}"),
    ("stop_criterion", "gl5", "one of {'patience', 'gl', 'pq', 'up'}"),
    ("stop_alpha", 0.0, "a float in the range (0, inf)"),
    ("stop_strip", 0, "an int in the range [1, 10000]"),
    ("stop_strips", 1.5, "an int in the range [1, 10000]"),
    ("augment", [3], "a list of augmentation names"),
    ("augment_strength", -1.0, "a float in the range [0, inf)"),
    ("mixup", -0.2, "a float in the range [0, inf)"),
    ("cutmix", math.nan, "a float in the range [0, inf)"),
    ("device", "tpu", "one of {'cpu', 'cuda', 'mps', 'auto'}"),
    ("lr_schedule", "linear", "one of {'constant', 'cosine', 'step'}"),
    ("warmup", 1.0, "a float in the range [0, 1)"),
    ("warmup", -0.1, "a float in the range [0, 1)"),
    ("split_seed", -1, "an int in the range [0, 4294967295]"),
    ("split_seed", 1.5, "an int in the range [0, 4294967295]"),
    ("label_smoothing", 1.0, "a float in the range [0, 1)"),
    ("label_smoothing", math.nan, "a float in the range [0, 1)"),
    ("schedules", 3, "a table of {l1, l2, weight_decay, proximal_l1, elastic_net, "
     "group_lasso, proximal_group_lasso, dropout} -> schedule"),
]


def test_every_key_has_a_bad_value_in_the_table():
    assert {k for k, _, _ in BAD} == set(RunSpec.keys())


@pytest.mark.parametrize("key,value,allowed", BAD, ids=[f"{k}={v!r}" for k, v, _ in BAD])
def test_bad_value_names_the_key_and_what_is_allowed(key, value, allowed):
    with pytest.raises(InvalidParameterError) as info:
        RunSpec(**{key: value})
    assert str(info.value) == (f"The '{key}' parameter of RunSpec must be {allowed}. "
                               f"Got {value!r} instead.")


def test_unknown_key_is_an_error_naming_it():
    with pytest.raises(InvalidParameterError, match=r"The 'key' parameter of RunSpec must be "
                       r"one of \{data, .*device, schedules\}\. Got 'dropuot' instead\."):
        RunSpec.from_dict({"dropuot": 0.5})


def test_spec_is_frozen_and_replace_validates():
    spec = RunSpec()
    with pytest.raises(AttributeError):
        spec.lr = 0.1  # type: ignore[misc]
    assert spec.replace(dropout=0.2).dropout == 0.2
    with pytest.raises(InvalidParameterError, match="'dropout'"):
        spec.replace(dropout=1.5)
    with pytest.raises(InvalidParameterError, match="'key'"):
        spec.replace(nope=1)


def test_augment_accepts_a_comma_string_and_none_patience_means_off():
    spec = RunSpec(augment="rotate, noise", patience=None)
    assert spec.augment == ("rotate", "noise") and spec.patience == 0


def test_dict_json_and_toml_round_trip(tmp_path):
    spec = RunSpec(data="mnist1d", target="label", model="cnn", hidden=(32, 16), lr=3e-4,
                   l1=1e-5, l2=2e-4, weight_decay=0.01, proximal_l1=0.1, dropout=0.25,
                   patience=7, augment=("shift", "noise"), augment_strength=0.5, mixup=0.2,
                   seed=5)
    assert RunSpec.from_dict(spec.to_dict()) == spec
    path = tmp_path / "run.toml"
    path.write_text(spec.to_toml())
    assert RunSpec.from_dict(load_toml(path)) == spec
    path.write_text("[run]\n" + spec.to_toml())  # a [run] table works too
    assert RunSpec.from_dict(load_toml(path)) == spec


def test_bad_toml_files_are_one_clear_error(tmp_path):
    with pytest.raises(InvalidParameterError, match="must be an existing TOML file"):
        load_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("lr = [0.1\n")
    with pytest.raises(InvalidParameterError, match="is not valid TOML"):
        load_toml(bad)
