"""Dropout in the forward and the backward pass: the mask, 1/keep, the gradient gate, eval.

No training here: one forward and one backward pass through ``rl.Dropout`` answer the question.
"""

from __future__ import annotations

import torch

import reglab as rl
from reglab.report.explain._shared import QUESTIONS, Explanation, figure, pct, png

__all__ = ["measure"]

TOPIC = "dropout"


def _dropout_pass(x: torch.Tensor, keep: float, seed: int):
    """One training-mode pass through rl.Dropout(keep=...): layer, output, input grad, mask."""
    layer = rl.Dropout(keep=keep, generator=torch.Generator().manual_seed(seed)).train()
    x = x.clone().requires_grad_(True)
    y = layer(x)
    y.sum().backward()                    # dL/dy = 1, so x.grad is the gate dy/dx
    mask = (y.detach() != 0).to(x.dtype)  # x has no zeros, so a zero output means dropped
    return layer, y.detach(), x.grad, mask


def measure(seed: int, quick: bool) -> Explanation:
    """Measure the mask, the 1/keep scaling, the gradient gate and eval-mode identity."""
    keep = 0.8
    g = torch.Generator().manual_seed(seed)
    rows = 200 if quick else 2000
    x = torch.rand(rows, 100, generator=g) + 0.5           # positive "activations", no zeros
    layer, y, grad, mask = _dropout_pass(x, keep, seed)
    with torch.no_grad():
        y_eval = layer.eval()(x)
    n = {
        "keep": keep,
        "n_activations": float(x.numel()),
        "fraction_kept": float(mask.mean()),
        "scale": 1 / keep,
        "max_output_error": float((y - x * mask / keep).abs().max()),
        "mean_ratio": float(y.mean() / x.mean()),
        "max_grad_error": float((grad - mask / keep).abs().max()),
        "dropped_grad_max": float(grad[mask == 0].abs().max()) if (mask == 0).any() else 0.0,
        "eval_max_diff": float((y_eval - x).abs().max()),
    }
    small = x[:6, :12]
    picture = _figure(small, y[:6, :12], grad[:6, :12], y_eval[:6, :12])
    return Explanation(TOPIC, QUESTIONS[TOPIC], _answer(n), n,
                       [("One 6 x 12 corner of the batch, train and eval", picture)])


def _answer(n: dict[str, float]) -> str:
    exact = n["max_grad_error"] == 0
    preserved = ("so the expected activation is preserved" if abs(n["mean_ratio"] - 1) < 0.02
                 else "further from 1 than sampling noise explains")
    grad = "exactly" if exact else f"to within {n['max_grad_error']:.1e}"
    blocked = " (no update through them this step)" if n["dropped_grad_max"] == 0 else ""
    identity = "is the identity" if n["eval_max_diff"] == 0 else "changed the input"
    return (
        f"Forward, in training mode: rl.Dropout(keep={n['keep']:g}) multiplied each of "
        f"{n['n_activations']:.0f} activations by a Bernoulli({n['keep']:g}) mask d_i and by "
        f"1/keep = {n['scale']:.3g}; it kept {pct(n['fraction_kept'])} of them, and the output "
        f"was x·d/keep to within {n['max_output_error']:.1e}. Because of the 1/keep scaling the "
        f"mean activation was {n['mean_ratio']:.3f} times the input's, {preserved}. "
        f"Backward: the same mask gates the gradient: x.grad equalled mask/keep {grad}; "
        f"dropped units got gradient {n['dropped_grad_max']:g}{blocked}"
        f"{' and kept units got exactly 1/keep' if exact else ''}. "
        f"In eval mode the layer {identity} (max |y − x| = {n['eval_max_diff']:g}), so nothing "
        f"has to be rescaled at test time."
    )


def _figure(x, y, grad, y_eval) -> bytes:
    fig, axes = figure(ncols=4, size=(11.0, 2.6))
    panels = [("input x", x), ("train output x·d/keep", y), ("x.grad (= d/keep)", grad),
              ("eval output (= x)", y_eval)]
    vmax = float(max(p.max() for _, p in panels))
    for ax, (title, img) in zip(axes, panels):
        ax.imshow(img.numpy(), cmap="viridis", vmin=0, vmax=vmax)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    return png(fig)
