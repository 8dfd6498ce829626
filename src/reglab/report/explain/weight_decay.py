"""Weight decay vs L2: SGD wd == SGD + L2(wd/2) to rounding; Adam + L2 != AdamW; in float64.

The arms differ in the optimizer itself (torch's SGD / Adam ``weight_decay``, AdamW), which a
RunSpec does not offer, so each trains with ``train_one_epoch`` and the optimizer it is given;
a step hook records the weights after every step.
"""

from __future__ import annotations

import torch
from torch import nn

import reglab as rl
from reglab.report.explain._shared import Explanation, figure, pcts, png
from reglab.report.i18n import prefixed, t
from reglab.train import evaluate, train_one_epoch

__all__ = ["measure"]

TOPIC = "weight-decay"


def _flat(X: torch.Tensor) -> torch.Tensor:
    """(N, ...) -> (N, D): the linear model sees every input as a flat vector."""
    return X.reshape(X.shape[0], -1)


def _trajectory(ds, make_opt, extra, epochs: int, seed: int):
    """Train a float64 linear model for ``epochs`` epochs (batch 64) with ``make_opt(model)``.

    ``extra(model, opt) -> (penalty or None, update handle or None)`` adds a loss term or an
    update rule. Returns the flat weights after every step, stacked ``(steps, P)``, and the
    test accuracy at the end.
    """
    torch.manual_seed(seed)
    model = nn.Linear(ds.train.X[0].numel(), ds.num_classes).double()
    opt = make_opt(model)
    penalty, handle = extra(model, opt)
    path: list[torch.Tensor] = []
    # registered last, so it runs after every other hook of the step (e.g. a decay)
    record = opt.register_step_post_hook(lambda o, args, kwargs: path.append(
        torch.cat([p.detach().ravel() for p in model.parameters()])))
    X, y = _flat(ds.train.X).double(), ds.train.y
    order = torch.Generator().manual_seed(seed)
    try:
        for _ in range(epochs):
            train_one_epoch(model, X, y, opt, batch_size=64, generator=order,
                            num_classes=ds.num_classes, penalty=penalty)
    finally:
        record.remove()
        if handle is not None:
            handle.remove()
    test_acc = evaluate(model, _flat(ds.test.X).double(), ds.test.y)[1]
    return torch.stack(path), test_acc


def _arms(wd: float, lr_sgd: float, lr_adam: float):
    """The six optimizers compared, each as (optimizer factory, extra-term factory)."""
    everything = lambda name, p: True   # noqa: E731  torch's weight_decay touches all params
    none = lambda model, opt: (None, None)  # noqa: E731
    l2 = lambda model, opt: (rl.L2(wd / 2, params=everything), None)  # noqa: E731
    dwd = lambda model, opt: (  # noqa: E731
        None, rl.DecoupledWeightDecay(wd, params=everything).attach(opt, model))
    sgd = lambda **kw: lambda m: torch.optim.SGD(m.parameters(), lr=lr_sgd, **kw)  # noqa: E731
    adam = lambda **kw: lambda m: torch.optim.Adam(m.parameters(), lr=lr_adam, **kw)  # noqa: E731
    return {
        "sgd_wd": (sgd(weight_decay=wd), none),
        "sgd_l2": (sgd(), l2),
        "adam_wd": (adam(weight_decay=wd), none),
        "adam_l2": (adam(), l2),
        "adamw": (lambda m: torch.optim.AdamW(m.parameters(), lr=lr_adam, weight_decay=wd),
                  none),
        "adam_dwd": (adam(), dwd),
    }


def measure(seed: int, quick: bool, lang: str = "en") -> Explanation:
    """Train the six arms on digits; compare their weight trajectories step by step."""
    ds = rl.data.load("digits", seed=seed)
    wd, epochs = 0.05, (5 if quick else 32)      # about 100 / 600 steps at batch 64
    paths, accs = {}, {}
    for arm, (make_opt, extra) in _arms(wd, lr_sgd=0.1, lr_adam=0.01).items():
        paths[arm], accs[arm] = _trajectory(ds, make_opt, extra, epochs, seed)

    def diff(a: str, b: str) -> torch.Tensor:
        return (paths[a] - paths[b]).abs().amax(1)             # (steps,)

    n = {"weight_decay": wd, "l2_lambda": wd / 2, "steps": float(len(paths["sgd_wd"])),
         "sgd_max_diff": float(diff("sgd_wd", "sgd_l2").max()),
         "adam_wd_vs_l2_max_diff": float(diff("adam_wd", "adam_l2").max()),
         "adam_l2_vs_adamw_max_diff": float(diff("adam_l2", "adamw").max()),
         "adamw_vs_dwd_max_diff": float(diff("adamw", "adam_dwd").max())}
    for arm in ("sgd_wd", "adam_l2", "adamw", "adam_dwd"):
        n[f"{arm}_norm"] = float(paths[arm][-1].norm())
        n[f"{arm}_test_acc"] = accs[arm]
    return Explanation(TOPIC, t(f"explain.{TOPIC}.question", lang), _answer(n, lang), n,
                       [(t(f"explain.{TOPIC}.fig.title", lang), _figure(diff, paths, lang))])


def _answer(n: dict[str, float], lang: str = "en") -> str:
    k = prefixed(f"explain.{TOPIC}", lang)
    same_sgd = n["sgd_max_diff"] < 1e-10
    same_adam = n["adam_wd_vs_l2_max_diff"] < 1e-10
    differ = n["adam_l2_vs_adamw_max_diff"] > 1e-6
    return k("result", n=n, p=pcts(n),
             same_sgd=k("same_sgd" if same_sgd else "not_same_sgd"),
             same_adam=k("same_adam") if same_adam else "",
             differ=k("is" if differ else "no_difference"),
             smaller=k("smaller" if n["adamw_norm"] < n["adam_l2_norm"] else "larger"),
             same_method=k("same_method") if n["adamw_vs_dwd_max_diff"] < 1e-10 else "")


def _figure(diff, paths, lang: str = "en") -> bytes:
    fig, axes = figure(ncols=2, size=(10.0, 3.4))
    floor = 1e-18   # exact agreement would vanish from a log axis
    for a, b, label in (("sgd_wd", "sgd_l2", "SGD(wd) vs SGD + L2(wd/2)"),
                        ("adam_wd", "adam_l2", "Adam(wd) vs Adam + L2(wd/2)"),
                        ("adam_l2", "adamw", "Adam + L2(wd/2) vs AdamW(wd)")):
        axes[0].plot(diff(a, b).clamp_min(floor).numpy(), label=label)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("max |Δw|")
    for arm, label in (("sgd_wd", "SGD(wd)"), ("adam_l2", "Adam + L2"), ("adamw", "AdamW")):
        axes[1].plot(paths[arm].norm(dim=1).numpy(), label=label)
    axes[1].set_ylabel(t(f"explain.{TOPIC}.fig.norm", lang))
    for ax in axes:
        ax.set_xlabel(t(f"explain.{TOPIC}.fig.step", lang))
        ax.legend(fontsize=8)
    return png(fig)
