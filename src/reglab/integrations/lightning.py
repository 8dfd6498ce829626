"""reglab's early stopping, penalties and update rules as ``lightning.pytorch`` callbacks.

Three callbacks, each a thin shell over the core object it is given, so a Lightning run
makes the same decisions as reglab's own loop:

* :class:`EarlyStopping` runs :class:`reglab.EarlyStopping` on ``trainer.callback_metrics``
  once per epoch; it says *why* it stopped, with the numbers (``message``, ``reason``),
  supports Prechelt's ``GL`` / ``PQ`` / ``UP`` criteria and, unlike Lightning's own callback,
  restores the best epoch's weights when training ends (``restore_best=True``).
* :class:`Penalty` adds a penalty's gradient (``pen.add_grad_``) after the backward pass and
  before every optimizer step: the same update as ``loss + pen(model)`` without the loss term.
* :class:`UpdateRules` attaches update rules (``ProximalL1``, ``ProximalGroupLasso``,
  ``DecoupledWeightDecay``) to the module's optimizers.

Why not ``rule.attach(optimizer)`` alone: Lightning calls ``optimizer.step(closure)`` and the
closure runs forward, ``zero_grad`` and backward *inside* the step, so an optimizer step
pre-hook would run before the gradient exists. Here the gradient-side work (the penalty, a
``"pre"`` rule such as ``DecoupledWeightDecay``) runs in ``on_before_optimizer_step``, right
after the closure; ``"post"`` rules stay optimizer step post-hooks. Callbacks run in list
order: put ``Penalty`` before ``UpdateRules`` so the penalty sees the un-decayed weights,
as a loss term would.

Example::

    import lightning as L
    import reglab as rl
    from reglab.integrations.lightning import EarlyStopping, Penalty, UpdateRules

    trainer = L.Trainer(max_epochs=100, callbacks=[
        EarlyStopping(monitor="val_loss", patience=5, criterion=rl.GL(alpha=5.0)),
        Penalty(rl.L2(1e-4)),
        UpdateRules(rl.ProximalL1(1e-4), rl.DecoupledWeightDecay(1e-2)),
    ])
    trainer.fit(module, train_loader, val_loader)   # module logs "val_loss" (and "train_loss")
    print(trainer.callbacks[0].message)             # why it stopped, best epoch restored

Metric names are those the module logs: ``self.log("val_loss", loss)`` in
``validation_step``; ``PQ`` and ``UP`` also read ``"train_loss"``, logged with
``on_epoch=True`` (``on_step=True`` as well would rename it ``train_loss_epoch``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

import reglab as rl
from reglab._epochs import shown_epoch
from reglab._validation import InvalidParameterError, fail

try:
    import lightning.pytorch as pl
    from lightning.pytorch.core.optimizer import LightningOptimizer
    from lightning.pytorch.utilities import rank_zero_info
except ImportError:  # the optional dependency of this module only
    raise ImportError("reglab.integrations.lightning needs lightning: "
                      "pip install 'reglab[lightning]'") from None

__all__ = ["EarlyStopping", "Penalty", "UpdateRules"]


class EarlyStopping(pl.Callback):
    """:class:`reglab.EarlyStopping` as a Lightning callback, restoring the best weights.

    Args:
        stopper: a ``reglab.EarlyStopping``; or None to build one from ``**kwargs``
            (``monitor="val_loss"``, ``mode``, ``patience=10``, ``min_delta``,
            ``criterion=rl.GL(alpha)``, ``restore_best=True``...).
        check_on_train_epoch_end: check at the end of each training epoch (after that
            epoch's validation, with the epoch's train metrics) instead of at the end of
            validation. None: as Lightning's own callback decides (True when validation runs
            once per epoch).

    Attributes:
        stopper: the underlying state machine (``best_score``, ``reason``...).
        best_epoch: the trainer epoch (0-based) of the best score, or None.
        restored_epoch: the trainer epoch whose weights were restored at the end, or None.

    Example::

        es = EarlyStopping(patience=3)
        L.Trainer(callbacks=[es]).fit(module, train, val)
        es.message  # 'Stopped at epoch 8: val_loss did not improve ...; best 0.41 at epoch 5.'
    """

    def __init__(self, stopper: rl.EarlyStopping | None = None, *,
                 check_on_train_epoch_end: bool | None = None, **kwargs: Any):
        if stopper is not None and not isinstance(stopper, rl.EarlyStopping):
            raise fail("lightning.EarlyStopping", "stopper", "None or a reglab.EarlyStopping",
                       stopper)
        if stopper is not None and kwargs:
            raise InvalidParameterError(
                "lightning.EarlyStopping takes a reglab.EarlyStopping or its keyword "
                f"arguments, not both. Got both (and {sorted(kwargs)}).")
        self.stopper = stopper if stopper is not None else rl.EarlyStopping(**kwargs)
        self.check_on_train_epoch_end = check_on_train_epoch_end
        self._epochs: list[int] = []   # the trainer epoch of each stopper.step call
        self.restored_epoch: int | None = None

    @property
    def best_epoch(self) -> int | None:
        """The trainer epoch of the best score (None before one counted)."""
        i = self.stopper.best_epoch
        return None if i is None else self._epochs[i]

    @property
    def reason(self) -> rl.StopReason | None:
        """Why training stopped (None while running or when it ran to max_epochs)."""
        return self.stopper.reason

    @property
    def message(self) -> str:
        """One sentence with the numbers: why it stopped and which epoch's weights it kept."""
        text = self.stopper.message
        if self.restored_epoch is not None:
            text += f" Restored the best weights, of epoch {shown_epoch(self.restored_epoch)}."
        return text

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.check_on_train_epoch_end is None:  # Lightning's own rule
            self.check_on_train_epoch_end = (trainer.val_check_interval == 1.0
                                             and trainer.check_val_every_n_epoch == 1)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.check_on_train_epoch_end and not _skip(trainer):
            self._check(trainer, pl_module)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.check_on_train_epoch_end and not _skip(trainer):
            self._check(trainer, pl_module)

    def _check(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.stopper.stopped:
            return
        self._epochs.append(trainer.current_epoch)
        # under DDP, stopper.step all-reduces its decision: every rank stops together
        if self.stopper.step(trainer.callback_metrics, pl_module):
            trainer.should_stop = True

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.stopper.restore_best and self.stopper.restore(pl_module):
            self.restored_epoch = self.best_epoch
        rank_zero_info(f"reglab EarlyStopping: {self.message}")

    def state_dict(self) -> dict[str, Any]:
        return {"stopper": self.stopper.state_dict(), "epochs": list(self._epochs)}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.stopper.load_state_dict(state_dict["stopper"])
        self._epochs = list(state_dict["epochs"])


class Penalty(pl.Callback):
    """Add ``penalty``'s gradient before every optimizer step: ``loss + pen(model)``'s update.

    Runs ``penalty.add_grad_(pl_module)`` in ``on_before_optimizer_step``: after the backward
    pass (unscaled under AMP), before gradient clipping and the update. The logged loss does
    not contain the penalty (``penalty.value(module)`` gives it). With gradient accumulation
    the gradient is added once per optimizer step.

    Args:
        penalty: a reglab penalty, e.g. ``rl.L1(1e-4) + rl.L2(1e-3)``.
    """

    def __init__(self, penalty: rl.Penalty):
        if not isinstance(penalty, rl.Penalty):
            raise fail("lightning.Penalty", "penalty", "a reglab penalty (rl.L1, rl.L2, "
                       "rl.ElasticNet, rl.GroupLasso or a sum of them)", penalty)
        self.penalty = penalty

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        self.penalty.add_grad_(pl_module)


class UpdateRules(pl.Callback):
    """Apply reglab update rules at every optimizer step of the module's optimizers.

    ``"post"`` rules (the proximal steps) are optimizer step post-hooks; ``"pre"`` rules
    (``DecoupledWeightDecay``) run in ``on_before_optimizer_step``, after the backward pass
    and before the update, so ``Adam`` + ``DecoupledWeightDecay(lam)`` is ``AdamW`` here too.
    Each uses its param group's current lr. Attached when training starts, removed when it
    ends.

    Args:
        *rules: ``rl.ProximalL1``, ``rl.ProximalGroupLasso``, ``rl.DecoupledWeightDecay``.
    """

    def __init__(self, *rules: Any):
        kinds = (rl.ProximalL1, rl.ProximalGroupLasso, rl.DecoupledWeightDecay)
        for rule in rules:
            if not isinstance(rule, kinds):
                raise fail("lightning.UpdateRules", "rules", "reglab update rules "
                           "(rl.ProximalL1, rl.ProximalGroupLasso, rl.DecoupledWeightDecay)",
                           rule)
        self.rules = rules
        self._handles: list[Any] = []
        self._pre: list[tuple[torch.optim.Optimizer, Any]] = []

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._detach()
        for opt in trainer.optimizers:
            for rule in self.rules:
                if rule.when == "post":
                    self._handles.append(rule.attach(opt, pl_module))
                else:
                    self._pre.append((opt, rule.hook(opt, pl_module)))

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        raw = optimizer.optimizer if isinstance(optimizer, LightningOptimizer) else optimizer
        for opt, hook in self._pre:
            if opt is raw:
                hook(opt, (), {})

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._detach()

    def _detach(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles, self._pre = [], []


def _skip(trainer: pl.Trainer) -> bool:
    """No decisions outside fit, nor on Lightning's sanity-check validation."""
    return trainer.state.fn != "fit" or trainer.sanity_checking
