"""reglab.data: built-ins offline, users' files, leak-free seeded splits, clear errors."""

import math
import random
import re
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import reglab as rl
from reglab.data import BUILTINS, DataError, DataWarning, load
from reglab.data._builtins import mnist1d_arrays


@pytest.fixture(scope="session")
def mnist1d():
    # Generation takes ~3 s; the arrays are cached per process, so do it once per session.
    return load("mnist1d", seed=0)


@pytest.fixture(scope="module")
def digits():
    return load("digits", seed=0)


def _indices(ds):
    return [s.indices.numpy() for s in (ds.train, ds.val, ds.test)]


# ---------------------------------------------------------------- built-ins

@pytest.mark.parametrize("name, kind, shape, classes, n", [
    ("digits", "image", (1, 8, 8), 10, 1797),
    ("breast_cancer", "tabular", (30,), 2, 569),
    ("wine", "tabular", (13,), 3, 178),
    ("sparse", "tabular", (1000,), 2, 1500),
])
def test_builtin_loads_offline_with_expected_shapes(name, kind, shape, classes, n):
    ds = load(name)
    assert (ds.name, ds.kind, ds.input_shape, ds.num_classes) == (name, kind, shape, classes)
    assert len(ds.train) + len(ds.val) + len(ds.test) == n
    for split in (ds.train, ds.val, ds.test):
        assert split.X.dtype == torch.float32 and split.y.dtype == torch.int64
        assert tuple(split.X.shape) == (len(split), *shape)
        assert set(split.y.unique().tolist()) == set(range(classes))
    assert len(ds.class_names) == classes and all(type(c) is str for c in ds.class_names)
    assert "Source" in ds.description or "scikit-learn" in ds.description
    assert "\n" not in ds.description


def test_builtin_names_and_listing():
    assert BUILTINS == ("digits", "mnist1d", "breast_cancer", "wine", "sparse", "diabetes",
                        "sparse_regression")
    listing = rl.data.available()
    assert [n for n, _, _ in listing] == list(BUILTINS)
    assert {k for _, k, _ in listing} == {"image", "signal", "tabular"}
    assert issubclass(DataError, rl.InvalidParameterError) and issubclass(DataError, ValueError)


def test_tabular_names_come_from_the_source():
    ds = load("breast_cancer")
    assert ds.class_names == ["malignant", "benign"]
    assert ds.feature_names[0] == "mean radius" and len(ds.feature_names) == 30
    assert ds.informative is None


def test_mnist1d_has_the_published_shape_and_split(mnist1d):
    x, y, x_test, y_test = mnist1d_arrays()
    assert x.shape == (4000, 40) and x_test.shape == (1000, 40)
    assert (mnist1d.kind, mnist1d.input_shape, mnist1d.num_classes) == ("signal", (1, 40), 10)
    train, val, test = _indices(mnist1d)
    assert len(train) + len(val) == 4000 and len(val) == 600       # 0.15 of the published train
    np.testing.assert_array_equal(test, np.arange(4000, 5000))     # published test, in order
    np.testing.assert_array_equal(mnist1d.test.y.numpy(), y_test)
    assert np.all(np.concatenate([train, val]) < 4000)
    # test rows are the published ones, standardized with the training mean / std
    ref = (x_test.astype(np.float64) - x[train].mean()) / x[train].std()
    np.testing.assert_allclose(mnist1d.test.X[:, 0].numpy(), ref, atol=1e-5)


def test_mnist1d_matches_its_fingerprint(mnist1d):
    # Numbers recorded from make_dataset(get_dataset_args()) (seed 42): the generation is
    # deterministic across processes and machines, not just within one.
    x, y, x_test, y_test = mnist1d_arrays()
    np.testing.assert_array_equal(np.bincount(y), [398, 396, 411, 394, 394, 402, 401, 404, 402, 398])
    np.testing.assert_array_equal(np.bincount(y_test), [102, 104, 89, 106, 106, 98, 99, 96, 98, 102])
    np.testing.assert_array_equal(y[:12], [2, 6, 4, 5, 6, 6, 6, 0, 3, 1, 6, 9])
    np.testing.assert_array_equal(y_test[:12], [2, 6, 3, 9, 4, 3, 1, 9, 5, 2, 0, 7])
    np.testing.assert_allclose(x[0, :4], [-0.33200566736939, -0.47191036565572, -0.77869707629350,
                                          -1.00974082653670], rtol=1e-6)
    np.testing.assert_allclose(x_test[-1, -3:], [0.65987564708908, 0.87773434975280,
                                                 1.19315183683528], rtol=1e-6)
    np.testing.assert_allclose([x.sum(), x_test.sum()], [-51.787467875, 51.787467875], rtol=1e-6)


@pytest.mark.slow
def test_mnist1d_two_generations_are_equal(mnist1d):
    for a, b in zip(mnist1d_arrays(), mnist1d_arrays.__wrapped__()):   # a second, uncached run
        np.testing.assert_array_equal(a, b)


def test_mnist1d_generation_leaves_the_global_rngs_alone(monkeypatch):
    import mnist1d.data

    def fake_make_dataset(args):              # reseeds the globals, as the real one does
        np.random.seed(args.seed)
        random.seed(args.seed)
        return {"x": np.zeros((4, 40)), "y": np.arange(4), "x_test": np.zeros((1, 40)), "y_test": [0]}

    monkeypatch.setattr(mnist1d.data, "make_dataset", fake_make_dataset)
    np.random.seed(123)
    random.seed(123)
    expected = (np.random.random(), random.random())
    np.random.seed(123)
    random.seed(123)
    arrays = mnist1d_arrays.__wrapped__()
    assert (np.random.random(), random.random()) == expected
    assert arrays[0].shape == (4, 40) and not arrays[0].flags.writeable


@pytest.fixture(scope="module")
def sparse():
    return load("sparse", standardize=False)


def test_sparse_exposes_the_informative_features(sparse):
    inf = sparse.informative
    assert inf.dtype == torch.int64 and len(inf) == 20
    assert torch.equal(inf, inf.unique()) and int(inf.max()) < 1000
    assert "1500 samples" in sparse.description and "softmax(x W)" in sparse.description


def test_sparse_informative_columns_carry_linear_signal(sparse):
    """Univariate ANOVA F of each column vs the label: noise columns have F ~ F(1, n - 2)
    (median ~0.45); informative ones have a median far above that, and most of them
    stand above the noise's 99th percentile (a few are masked by the other 19)."""
    from sklearn.feature_selection import f_classif

    F, _ = f_classif(sparse.train.X.double().numpy(), sparse.train.y.numpy())
    mask = np.zeros(1000, dtype=bool)
    mask[sparse.informative.numpy()] = True
    assert np.median(F[mask]) > 20 * np.median(F[~mask])
    assert (F[mask] > np.quantile(F[~mask], 0.99)).sum() >= 15
    assert np.median(F[~mask]) == pytest.approx(0.45, abs=0.15)


def test_sparse_labels_follow_a_linear_model_of_the_informative_columns(sparse):
    """Bayes rule linear in the informative columns: a logistic regression on them alone
    predicts the test split well, and far better than one on as many noise columns."""
    from sklearn.linear_model import LogisticRegression

    inf = sparse.informative.numpy()
    noise = np.setdiff1d(np.arange(1000), inf)[:20]
    tr, te = sparse.train, sparse.test

    def acc(cols):
        clf = LogisticRegression(max_iter=2000).fit(tr.X.numpy()[:, cols], tr.y.numpy())
        return clf.score(te.X.numpy()[:, cols], te.y.numpy())

    assert acc(inf) >= 0.85 and acc(noise) <= 0.65
    # the labels are drawn, not thresholded: both classes are about equally frequent
    assert abs(float(tr.y.double().mean()) - 0.5) < 0.05


def test_sparse_options():
    ds = load("sparse", n_samples=200, n_features=50, n_informative=5, n_classes=3)
    assert ds.input_shape == (50,) and ds.num_classes == 3 and len(ds.informative) == 5
    assert len(ds.train) + len(ds.val) + len(ds.test) == 200
    assert sorted(ds.train.y.unique().tolist()) == [0, 1, 2]
    again = load("sparse", n_samples=200, n_features=50, n_informative=5, n_classes=3)
    assert torch.equal(again.train.X, ds.train.X) and torch.equal(again.informative, ds.informative)
    other = load("sparse", n_samples=200, n_features=50, n_informative=5, data_seed=1)
    assert not torch.equal(other.informative, ds.informative)
    with pytest.raises(DataError, match=r"^The 'n_informative' parameter of the 'sparse' data set "
                       r"must be an int in the range \[1, 50\]\. Got 60 instead\.$"):
        load("sparse", n_features=50, n_informative=60)
    with pytest.raises(DataError, match=r"^The 'n_classes' parameter of the 'sparse' data set "
                       r"must be an int in the range \[2, 1000\]\. Got 1 instead\.$"):
        load("sparse", n_classes=1)
    with pytest.raises(DataError, match=r"^Unknown option 'size' for the built-in data set "
                       r"'digits'; allowed options: none\.$"):
        load("digits", size=(8, 8))


def test_sparse_multiclass_every_informative_feature_matters():
    """With 4 classes each informative row of W has mixed signs, so each column's class means
    differ: every informative F beats every noise F."""
    from sklearn.feature_selection import f_classif

    ds = load("sparse", n_samples=1500, n_features=200, n_informative=10, n_classes=4,
              standardize=False)
    F, _ = f_classif(ds.train.X.double().numpy(), ds.train.y.numpy())
    mask = np.zeros(200, dtype=bool)
    mask[ds.informative.numpy()] = True
    assert F[mask].min() > F[~mask].max()


# ---------------------------------------------------------------- splits

@pytest.mark.parametrize("name, seed, val_fraction, test_fraction",
                         [("digits", 0, 0.15, 0.2), ("wine", 3, 0.25, 0.25), ("breast_cancer", 7, 0.1, 0.3)])
def test_splits_are_stratified_within_one_sample(name, seed, val_fraction, test_fraction):
    ds = load(name, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)
    y_all = torch.cat([ds.train.y, ds.val.y, ds.test.y])
    n_c = torch.bincount(y_all).double()
    for split, f in [(ds.val, val_fraction), (ds.test, test_fraction),
                     (ds.train, 1 - val_fraction - test_fraction)]:
        counts = torch.bincount(split.y, minlength=ds.num_classes).double()
        assert torch.all((counts - f * n_c).abs() <= 1), (split, counts, f * n_c)


def test_splits_cover_every_row_once(digits):
    train, val, test = _indices(digits)
    allidx = np.concatenate([train, val, test])
    np.testing.assert_array_equal(np.sort(allidx), np.arange(1797))
    assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))


def test_splits_are_shuffled_not_class_blocks(digits):
    # sorted by class, or in source order, would be the no-shuffle pitfall
    train = digits.train.indices.numpy()
    assert not np.all(np.diff(train) > 0)
    assert len(set(digits.train.y[:50].tolist())) >= 8


def test_same_seed_same_splits_different_seed_different(digits):
    again = load("digits", seed=0)
    other = load("digits", seed=1)
    for a, b, c in zip(_indices(digits), _indices(again), _indices(other)):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(np.sort(a), np.sort(c))
    assert torch.equal(digits.train.X, again.train.X)


def test_shuffle_false_takes_contiguous_blocks():
    ds = load("wine", shuffle=False)
    train, val, test = _indices(ds)
    np.testing.assert_array_equal(np.concatenate([train, val, test]), np.arange(178))
    assert len(val) == round(0.15 * 178) and len(test) == round(0.2 * 178)


@pytest.mark.parametrize("name", ["wine", "digits"])
def test_standardization_uses_the_training_split_only(name):
    raw = load(name, seed=2, standardize=False)
    ds = load(name, seed=2)
    axes = (0,) if ds.kind == "tabular" else (0, 2, 3)
    Xtr = raw.train.X.double()
    mean, std = Xtr.mean(axes, keepdim=True), Xtr.std(axes, keepdim=True, unbiased=False)
    for s_raw, s in [(raw.train, ds.train), (raw.val, ds.val), (raw.test, ds.test)]:
        torch.testing.assert_close(s.X.double(), (s_raw.X.double() - mean) / std, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ds.mean.double(), mean[0], atol=1e-5, rtol=1e-6)
    tr = ds.train.X.double()
    assert tr.mean(axes).abs().max() < 1e-5 and (tr.std(axes, unbiased=False) - 1).abs().max() < 1e-5
    assert ds.test.X.double().mean(axes).abs().max() > 1e-3      # fitted on train, not on test


# ---------------------------------------------------------------- users' files

def _write(path, text):
    path.write_text(text)
    return path


def test_csv_with_string_labels(tmp_path):
    rows = ["a,b,species"] + [f"{i},{i % 7 * 0.5},{['setosa', 'virginica', 'versicolor'][i % 3]}"
                              for i in range(60)]
    path = _write(tmp_path / "iris.csv", "\n".join(rows) + "\n")
    ds = load(path, target="species", standardize=False)
    assert ds.kind == "tabular" and ds.input_shape == (2,) and ds.feature_names == ["a", "b"]
    assert ds.class_names == ["setosa", "versicolor", "virginica"] and ds.num_classes == 3
    idx = ds.train.indices.numpy()
    np.testing.assert_array_equal(ds.train.X[:, 0].numpy(), idx.astype(np.float32))
    np.testing.assert_array_equal(ds.train.y.numpy(), [(0, 2, 1)[i % 3] for i in idx])
    assert "iris.csv" in ds.description and ds.name == str(path)


def test_csv_numeric_labels_sort_numerically(tmp_path):
    rows = ["x;label"] + [f"{i};{(2, 10, 33)[i % 3]}" for i in range(30)]
    ds = load(_write(tmp_path / "n.csv", "\n".join(rows)), target="label", delimiter=";")
    assert ds.class_names == ["2", "10", "33"]


@pytest.mark.parametrize("shape, kind", [((40, 5), "tabular"), ((40, 2, 16), "signal"),
                                         ((40, 3, 4, 4), "image")])
def test_npz_kinds(tmp_path, shape, kind):
    rng = np.random.default_rng(0)
    X = rng.normal(size=shape)
    y = np.arange(40) % 2 + 5                                  # labels 5 and 6 become 0 and 1
    np.savez(tmp_path / "d.npz", X=X, y=y)
    ds = load(tmp_path / "d.npz", standardize=False)
    assert ds.kind == kind and ds.input_shape == shape[1:] and ds.class_names == ["5", "6"]
    np.testing.assert_allclose(ds.val.X.numpy(), X[ds.val.indices.numpy()], rtol=1e-6)
    np.testing.assert_array_equal(ds.val.y.numpy(), y[ds.val.indices.numpy()] - 5)


def test_npz_optional_names(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.random.default_rng(0).normal(size=(30, 2)),
             y=np.arange(30) % 2, feature_names=np.array(["u", "v"]), class_names=np.array(["no", "yes"]))
    ds = load(tmp_path / "d.npz")
    assert ds.feature_names == ["u", "v"] and ds.class_names == ["no", "yes"]


def _image_folder(root, classes=("cat", "dog"), per_class=6, size=(10, 12)):
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            color = (10 * (6 * k + i), 100, 200)   # distinct in gray too
            Image.new("RGB", (size[1], size[0]), color).save(root / name / f"{i}.png")
    return root


def test_image_folder(tmp_path):
    root = _image_folder(tmp_path / "pets")
    (root / "cat" / "notes.txt").write_text("not an image, ignored")
    ds = load(root, size=(8, 8), standardize=False)
    assert ds.kind == "image" and ds.input_shape == (3, 8, 8) and ds.class_names == ["cat", "dog"]
    # solid colours survive resizing exactly: pixel = colour / 255
    row = ds.train.indices[0].item()
    np.testing.assert_allclose(ds.train.X[0, :, 0, 0].numpy(), np.array([10 * row, 100, 200]) / 255,
                               atol=1e-6)
    gray = load(root, size=5, grayscale=True)
    assert gray.input_shape == (1, 5, 5)
    assert gray.mean.shape == (1, 1, 1)


def test_duplicate_rows_between_train_and_test_are_reported(tmp_path):
    X = np.random.default_rng(0).normal(size=(100, 4))
    X[80:] = X[:20]                                            # 20 rows appear twice
    np.savez(tmp_path / "dup.npz", X=X, y=np.arange(100) % 2)
    with pytest.warns(DataWarning) as record:
        ds = load(tmp_path / "dup.npz", seed=0)
    train, val, test = (set(i) for i in _indices(ds))
    twin = {i: (i + 80) % 160 if i < 20 or i >= 80 else None for i in range(100)}
    n_test = sum(twin[i] is not None and twin[i] in train for i in test)
    n_val = sum(twin[i] is not None and twin[i] in train for i in val)
    assert n_test > 0
    assert re.search(rf"{n_test} of {len(test)} test rows and {n_val} of {len(val)} validation rows "
                     r"are exact duplicates of training rows", str(record[0].message))


def test_clean_data_gives_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load("wine")


# ---------------------------------------------------------------- bad input

def _csv(tmp_path, text, name="bad.csv"):
    return str(_write(tmp_path / name, text))


GOOD_ROWS = "\n".join(f"{i},{i % 2}" for i in range(20))


def _bad_cases(tmp_path):
    """(what, call, regex on the message); every bad input the issue lists."""
    p = tmp_path
    np.savez(p / "noy.npz", X=np.zeros((5, 2)), labels=np.zeros(5))
    np.savez(p / "len.npz", X=np.zeros((10, 2)), y=np.zeros(9))
    np.savez(p / "one.npz", X=np.zeros((10, 2)), y=np.ones(10))
    (p / "empty.npz").write_bytes(b"")
    (p / "garbage.npz").write_bytes(b"this is not a zip archive")
    (p / "latin1.csv").write_bytes("a,b\n1,caf\xe9\n".encode("latin-1"))
    (p / "data.xlsx").write_text("x")
    (p / "flat").mkdir()
    (p / "flat" / "img.png").write_bytes(b"")
    (p / "noimg" / "cat").mkdir(parents=True)
    (p / "noimg" / "cat" / "readme.txt").write_text("x")
    _image_folder(p / "corrupt")
    (p / "corrupt" / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    small = "x,y\n" + "\n".join(f"{i},{'a' if i < 20 else 'b'}" for i in range(22))
    return [
        ("unknown built-in", lambda: load("mnist"),
         r"^Unknown data set 'mnist': not a built-in \(digits, mnist1d, breast_cancer, wine, "
         r"sparse, diabetes, sparse_regression\) and no file or folder of that name exists\. "
         r"Did you mean 'mnist1d'\?$"),
        ("missing file", lambda: load(str(p / "nope.csv"), target="y"),
         r"^Data file '.*nope\.csv' does not exist \(looked for .*nope\.csv\)"),
        ("unreadable csv", lambda: load(p / "latin1.csv", target="b"),
         r"^Data file '.*latin1\.csv' cannot be read as UTF-8 text \(byte 0xe9 at offset 9\)"),
        ("unreadable npz", lambda: load(p / "garbage.npz"),
         r"^Data file '.*garbage\.npz' cannot be read as an \.npz archive: "),
        ("unsupported suffix", lambda: load(p / "data.xlsx"),
         r"^Unsupported data file suffix '\.xlsx' for '.*data\.xlsx'; allowed: \.csv, \.tsv, "
         r"\.npz, or a folder of images with one sub-folder per class\.$"),
        ("empty csv", lambda: load(_csv(p, ""), target="y"), r"^Data file '.*bad\.csv' is empty\.$"),
        ("header only csv", lambda: load(_csv(p, "x,y\n", "h.csv"), target="y"),
         r"^Data file '.*h\.csv' is empty: it has a header but no data rows\.$"),
        ("empty npz", lambda: load(p / "empty.npz"), r"^Data file '.*empty\.npz' is empty\.$"),
        ("unknown target", lambda: load(_csv(p, "x,y\n" + GOOD_ROWS, "t.csv"), target="label"),
         r"^Unknown target column 'label' in file '.*t\.csv'; available columns: x, y\.$"),
        ("missing target=", lambda: load(_csv(p, "x,y\n" + GOOD_ROWS, "m.csv")),
         r"^Missing target= for CSV file '.*m\.csv': name its label column, one of: x, y\.$"),
        ("NaN and inf", lambda: load(_csv(p, "x,z,y\n" + "\n".join(
            f"{'nan' if i in (2, 5) else i},{'' if i == 7 else 'inf' if i == 8 else i},{i % 2}"
            for i in range(20)), "nan.csv"), target="y"),
         # the missing cells (nan, empty) are imputed now; the infinite one is refused
         r"^Data file '.*nan\.csv' has 1 NaN or infinite values in columns 'z' \(1\) "
         r"\(empty cells count as missing\); fill or drop them first\.$"),
        ("single class", lambda: load(p / "one.npz"),
         r"^Only one class \('1', 10 samples\) in the labels of file '.*one\.npz'; classification "
         r"needs at least 2\.$"),
        ("class too small", lambda: load(_csv(p, small, "s.csv"), target="y"),
         r"^Class 'b' of file '.*s\.csv' has only 2 sample\(s\); the requested split needs at least "
         r"3 per class so that train, val and test each get one\."),
        ("X and y lengths", lambda: load(p / "len.npz"),
         r"^X and y of file '.*len\.npz' have different lengths: X has 10 rows, y has 9 labels\.$"),
        ("npz without y", lambda: load(p / "noy.npz"),
         r"^Data file '.*noy\.npz' has no array named 'y'; it needs arrays 'X' and 'y', and holds: "
         r"X, labels\.$"),
        ("no class sub-folders", lambda: load(p / "flat"),
         r"^Data folder '.*flat' has no class sub-folders; put each class's images in a sub-folder "
         r"named after the class \(e\.g\. flat/cat/1\.png\)\.$"),
        ("no images", lambda: load(p / "noimg"),
         r"^Data folder '.*noimg' has no images in its class sub-folders \(cat\); image suffixes "
         r"read: \.png, "),
        ("corrupt image", lambda: load(p / "corrupt"),
         r"^Corrupt or unreadable image '.*corrupt/dog/broken\.png' in folder '.*corrupt': "),
        ("val_fraction 0", lambda: load("wine", val_fraction=0),
         r"^The 'val_fraction' parameter of reglab\.data\.load must be a float in the range "
         r"\(0, 1\)\. Got 0 instead\.$"),
        ("test_fraction nan", lambda: load("wine", test_fraction=math.nan),
         r"^The 'test_fraction' parameter of reglab\.data\.load must be a float in the range "
         r"\(0, 1\)\. Got nan instead\.$"),
        ("fractions sum", lambda: load("wine", val_fraction=0.5, test_fraction=0.5),
         r"^The 'val_fraction' and 'test_fraction' parameters of reglab\.data\.load must add up "
         r"to less than 1, leaving rows to train on\. Got 0\.5 \+ 0\.5 instead\.$"),
        ("negative seed", lambda: load("wine", seed=-1),
         r"^The 'seed' parameter of reglab\.data\.load must be an int in the range \[0, inf\)\. "
         r"Got -1 instead\.$"),
        ("not a path", lambda: load(3),
         r"^The 'name_or_path' parameter of reglab\.data\.load must be a built-in name"),
    ]


def test_every_bad_input_has_one_clear_error(tmp_path):
    cases = _bad_cases(tmp_path)
    assert len(cases) >= 20
    for what, call, pattern in cases:
        with pytest.raises(DataError) as e:
            call()
        assert re.search(pattern, str(e.value)), (what, str(e.value))
        assert "\n" not in str(e.value), what


def test_npz_string_labels_and_unknown_file_option(tmp_path):
    y = np.array(["no", "yes", "maybe"] * 10)
    np.savez(tmp_path / "s.npz", X=np.random.default_rng(1).normal(size=(30, 3)), y=y)
    ds = load(tmp_path / "s.npz", seed=4)
    assert ds.class_names == ["maybe", "no", "yes"]
    np.testing.assert_array_equal(np.array(ds.class_names)[ds.test.y.numpy()], y[ds.test.indices.numpy()])
    with pytest.raises(DataError, match=r"^Unknown option 'target' for file '.*s\.npz'; allowed "
                       r"options: none\.$"):
        load(tmp_path / "s.npz", target="y")


def test_digits_read_from_scikit_learns_file_equal_load_digits_without_importing_it(
        monkeypatch, tmp_path):
    """The built-in digits come from scikit-learn's shipped CSV without importing scikit-learn
    (~1.5 s of every digits command): the arrays of ``load_digits()`` bit for bit; where that
    file cannot be found or is not the 1797 x 65 table, ``load_digits()`` itself."""
    import gzip
    import importlib.machinery
    import importlib.util
    import subprocess
    import sys

    from sklearn.datasets import load_digits

    from reglab.data import _builtins

    ref = load_digits()
    (tmp_path / "datasets" / "data").mkdir(parents=True)
    with gzip.open(tmp_path / "datasets" / "data" / "digits.csv.gz", "wt") as f:
        f.write("1,2,3\n4,5,6\n")  # parses, but is not the table
    elsewhere = importlib.machinery.ModuleSpec("sklearn", None, is_package=True)
    elsewhere.submodule_search_locations = [str(tmp_path)]
    for spec_of in (None, lambda name: None, lambda name: elsewhere):
        if spec_of is not None:
            monkeypatch.setattr(importlib.util, "find_spec", spec_of)
        data, target = _builtins._digits_arrays()
        assert data.dtype == ref.data.dtype and target.dtype == ref.target.dtype
        np.testing.assert_array_equal(data, ref.data)
        np.testing.assert_array_equal(target, ref.target)
    code = ("import sys; from reglab.data._builtins import _digits_arrays; _digits_arrays(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
