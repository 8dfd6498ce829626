"""The label-safety check (reglab.lab.label_check): flags label-changing transforms; trains its
quick model through the library's loop, on one thread, and reports progress."""

import types

import pytest
import torch
import torch.nn.functional as F

import reglab as rl
from reglab import augment as A
from reglab.lab import label_check as LC
from reglab.lab.label_check import check_labels


@pytest.fixture(scope="module")
def digits():
    """reglab.data's digits: (N, 1, 8, 8), stratified seeded split, standardized on train."""
    return rl.data.load("digits", seed=0)


def test_label_check_flags_flip_and_passes_small_rotation(digits):
    report = check_labels(digits, ["flip", A.RandomRotation(10), "noise"], epochs=15)
    assert report.flagged == ["flip"]
    flip, rot, noise = report.rows
    assert report.clean_accuracy > 0.9
    assert flip.drop > 0.4 and rot.drop < 0.1 and abs(noise.drop) < 0.05
    assert flip.drop == pytest.approx(flip.clean_accuracy - flip.augmented_accuracy)
    # the per-class numbers say which digits a mirror breaks (3, 7) and which it keeps (0, 8)
    per = report.per_class["flip"]
    assert len(per) == 10 and min(per[3], per[7]) > 0.6 and max(per[0], per[8]) < 0.3
    text = str(report)
    assert "flip" in text and "FLAGGED" in text and "RandomRotation(degrees=10, p=1)" in text
    assert report.to_dict()["flagged"] == ["flip"]


def test_label_check_ceiling_flags_transforms_that_are_all_harmful(digits):
    report = check_labels(digits, A.Compose([A.HorizontalFlip(), A.VerticalFlip()]),
                          epochs=15, draws=2)
    assert report.flagged == ["HorizontalFlip(p=0.5)", "VerticalFlip(p=0.5)"]
    assert report.rows[0].limit == pytest.approx(0.5 * (report.clean_accuracy - 0.1))


def test_label_check_bad_input():
    with pytest.raises(rl.InvalidParameterError, match="'data' parameter of check_labels"):
        check_labels(object(), ["flip"])
    fake = types.SimpleNamespace(
        train=types.SimpleNamespace(X=torch.zeros(4, 1, 2, 2), y=torch.zeros(4, dtype=torch.long)),
        val=types.SimpleNamespace(X=torch.zeros(4, 1, 2, 2), y=torch.zeros(4, dtype=torch.long)),
        num_classes=2, kind="image")
    with pytest.raises(rl.InvalidParameterError) as err:
        check_labels(fake, ["swap"])
    assert "for kind 'image'. Got 'swap' instead." in str(err.value)
    with pytest.raises(rl.InvalidParameterError, match="'augmentation' parameter of check_labels"):
        check_labels(fake, [])


def test_the_core_no_longer_carries_the_check():
    """It trains a model, so it lives in the lab; the core's augment has no training in it."""
    assert not hasattr(A, "check_labels") and "check_labels" not in A.__all__


def test_quick_model_equals_a_hand_written_adam_loop(digits):
    """Reference: the plain loop the check used before it called train_one_epoch."""
    x, y = digits.train.X[:300], digits.train.y[:300]
    ours = LC.train_quick_model(x, y, 10, epochs=3, seed=4)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(4)
        ref = LC._QuickMLP(x, 10, per_feature=False)
    opt = torch.optim.Adam(ref.parameters(), lr=3e-3)
    order = torch.Generator().manual_seed(4)
    for _ in range(3):
        for idx in torch.randperm(len(x), generator=order).split(64):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(ref(x[idx]), y[idx]).backward()
            opt.step()
    for (name, a), b in zip(ours.state_dict().items(), ref.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_progress_counts_epochs_then_transforms_on_one_thread(digits):
    calls, threads = [], []

    def progress(done, total):
        calls.append((done, total))
        threads.append(torch.get_num_threads())

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        report = check_labels(digits, ["flip", "noise"], epochs=3, draws=1, progress=progress)
        assert torch.get_num_threads() == 2                     # the caller's count is back
    finally:
        torch.set_num_threads(before)
    assert calls == [(k, 5) for k in range(1, 6)]              # 3 epochs + 2 transforms
    assert threads == [1] * 5
    quiet = check_labels(digits, ["flip", "noise"], epochs=3, draws=1)
    assert quiet.to_dict() == report.to_dict()                  # watching changes nothing


def test_thread_count_is_restored_when_the_check_fails(digits):
    def boom(done, total):
        raise KeyboardInterrupt

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(KeyboardInterrupt):
            check_labels(digits, ["flip"], epochs=2, progress=boom)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
