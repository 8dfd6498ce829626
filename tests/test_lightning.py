"""reglab inside a real lightning.Trainer: early stopping restores the best epoch's weights
and decides as the plain state machine does; the penalty and update-rule callbacks give the
same weights as the loss term, AdamW and reglab's own loop."""

import copy
import logging
import warnings

import lightning as L  # the dev extra installs it; users get it with reglab[lightning]
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import reglab as rl
from reglab.integrations.lightning import EarlyStopping, Penalty, UpdateRules

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")
logging.getLogger("lightning").setLevel(logging.ERROR)
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)


def _data(seed=0):
    """A noisy-label training set (30% flipped) and a clean validation set: the model first
    learns the rule, then memorizes the noise, so validation loss falls and then rises."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(30, generator=g)
    X = torch.randn(60, 30, generator=g)
    y = (X @ w > 0).long()
    flip = torch.rand(60, generator=g) < 0.3
    y[flip] = 1 - y[flip]
    Xv = torch.randn(200, 30, generator=g)
    return X, y, Xv, (Xv @ w > 0).long()


class Net(L.LightningModule):
    def __init__(self, opt="adam", lr=0.02, bias=True, loss_penalty=None, setup=None):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(30, 64, bias=bias), nn.ReLU(),
                                 nn.Linear(64, 2, bias=bias))
        self.opt, self.lr, self.loss_penalty, self.setup_opt = opt, lr, loss_penalty, setup

    def training_step(self, batch, i):
        loss = nn.functional.cross_entropy(self.net(batch[0]), batch[1])
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss if self.loss_penalty is None else loss + self.loss_penalty(self.net)

    def validation_step(self, batch, i):
        self.log("val_loss", nn.functional.cross_entropy(self.net(batch[0]), batch[1]))

    def configure_optimizers(self):
        opts = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}
        kw = {"weight_decay": 0.1} if self.opt == "adamw" else {}
        opt = opts[self.opt](self.parameters(), lr=self.lr, **kw)
        if self.setup_opt is not None:
            self.setup_opt(opt, self)
        return opt


class Recorder(L.Callback):
    """Each epoch's weights and metrics, as they were when early stopping looked at them."""

    def __init__(self):
        self.weights, self.metrics = [], []

    def on_train_epoch_end(self, trainer, module):
        self.weights.append(copy.deepcopy(module.state_dict()))
        self.metrics.append({k: float(v) for k, v in trainer.callback_metrics.items()})


def _fit(module, callbacks, epochs=60, seed=0):
    X, y, Xv, yv = _data(seed)
    trainer = L.Trainer(max_epochs=epochs, callbacks=callbacks, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, accelerator="cpu",
                        devices=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, DataLoader(TensorDataset(X, y), batch_size=60),   # full batch
                    DataLoader(TensorDataset(Xv, yv), batch_size=200))
    return trainer


def _module(seed=0, **kw):
    torch.manual_seed(seed)
    return Net(**kw)


def test_early_stopping_restores_the_best_epochs_weights():
    module, rec, es = _module(), Recorder(), EarlyStopping(patience=3)
    trainer = _fit(module, [rec, es])
    val = [m["val_loss"] for m in rec.metrics]
    best = min(range(len(val)), key=val.__getitem__)
    assert es.best_epoch == best and es.restored_epoch == best
    assert len(val) == best + 4 < 60 and trainer.current_epoch == best + 4  # patience 3
    assert es.reason == rl.StopReason.PATIENCE
    last = rec.weights[-1]
    for k, v in module.state_dict().items():
        assert torch.equal(v, rec.weights[best][k]), k   # exactly the best epoch's weights
    assert any(not torch.equal(module.state_dict()[k], last[k]) for k in last)
    plain = rl.EarlyStopping(patience=3)                 # the plain state machine, same losses
    stops = [plain.step({"val_loss": v}) for v in val]
    assert stops == [False] * (len(val) - 1) + [True]
    assert es.message == plain.message + f" Restored the best weights, of epoch {best + 1}."


@pytest.mark.parametrize("criterion", [rl.GL(alpha=2.0), rl.PQ(alpha=0.5, strip=3)],
                         ids=["GL", "PQ"])
def test_prechelt_criteria_decide_as_the_plain_state_machine(criterion):
    rec = Recorder()
    es = EarlyStopping(patience=None, criterion=criterion)
    _fit(_module(), [rec, es])
    assert es.reason == rl.StopReason.CRITERION
    plain = rl.EarlyStopping(patience=None, criterion=copy.deepcopy(criterion))
    stops = [plain.step({"val_loss": m["val_loss"], "train_loss": m["train_loss"]})
             for m in rec.metrics]
    assert stops[-1] and not any(stops[:-1])
    assert es.stopper.stopped_epoch == plain.stopped_epoch == len(rec.metrics) - 1
    assert es.message.startswith(plain.message)


def test_early_stopping_state_round_trips_for_checkpoints():
    es = EarlyStopping(patience=3)
    _fit(_module(), [es])
    again = EarlyStopping(patience=3)
    again.load_state_dict(es.state_dict())
    assert (again.best_epoch, again.stopper.best_score, again.stopper.message) == (
        es.best_epoch, es.stopper.best_score, es.stopper.message)


def _weights(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_penalty_callback_gives_the_loss_terms_update():
    pen = lambda: rl.L1(1e-3) + rl.L2(1e-2)  # noqa: E731
    as_loss, as_hook, plain = (_module(opt="sgd", lr=0.1, loss_penalty=pen()),
                               _module(opt="sgd", lr=0.1), _module(opt="sgd", lr=0.1))
    _fit(as_loss, [], epochs=15)
    _fit(as_hook, [Penalty(pen())], epochs=15)
    _fit(plain, [], epochs=15)
    torch.testing.assert_close(_weights(as_hook), _weights(as_loss), rtol=0, atol=1e-6)
    assert (_weights(plain) - _weights(as_loss)).abs().max() > 1e-3  # the penalty mattered


def test_decoupled_weight_decay_callback_with_adam_is_adamw():
    """A step pre-hook would run before Lightning's closure (before the gradient exists);
    the callback runs it after the closure, so Adam + DecoupledWeightDecay is AdamW."""
    adamw = _module(opt="adamw", lr=0.05, bias=False)
    ours = _module(opt="adam", lr=0.05, bias=False)
    naive = _module(opt="adam", lr=0.05, bias=False,
                    setup=lambda opt, m: rl.DecoupledWeightDecay(0.1).attach(opt))
    _fit(adamw, [], epochs=15)
    _fit(ours, [UpdateRules(rl.DecoupledWeightDecay(0.1))], epochs=15)
    _fit(naive, [], epochs=15)
    torch.testing.assert_close(_weights(ours), _weights(adamw), rtol=0, atol=1e-6)
    assert (_weights(naive) - _weights(adamw)).abs().max() > 1e-4


def test_proximal_l1_callback_matches_reglabs_own_loop():
    module = _module(opt="sgd", lr=0.1)
    _fit(module, [UpdateRules(rl.ProximalL1(2e-2))], epochs=15)
    reference = _module(opt="sgd", lr=0.1)   # same initial weights, plain PyTorch loop
    X, y, _, _ = _data()
    opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    rl.ProximalL1(2e-2).attach(opt)
    for _ in range(15):
        opt.zero_grad()
        nn.functional.cross_entropy(reference.net(X), y).backward()
        opt.step()
    torch.testing.assert_close(_weights(module), _weights(reference), rtol=0, atol=1e-6)
    zeros = int((module.net[0].weight == 0).sum())
    assert zeros > 0 and zeros == int((reference.net[0].weight == 0).sum())


def test_callbacks_check_their_arguments():
    with pytest.raises(rl.InvalidParameterError, match="The 'penalty' parameter of "
                       "lightning.Penalty must be a reglab penalty"):
        Penalty(0.1)
    with pytest.raises(rl.InvalidParameterError, match="The 'rules' parameter of "
                       "lightning.UpdateRules must be reglab update rules"):
        UpdateRules(rl.L1(0.1))
    with pytest.raises(rl.InvalidParameterError, match="not both"):
        EarlyStopping(rl.EarlyStopping(), patience=3)
