"""Pure, batched augmentation ops: explicit per-sample parameters in, new tensor out.

The random transforms in :mod:`reglab.augment` draw the parameters and call these. Each op
takes one parameter per sample (a tensor with leading dimension ``B``), runs as one batched
call (no loop over samples) and never writes into its input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["affine", "affine_matrix", "matrix_from_trig", "warp", "hflip", "vflip", "erase", "shift", "time_warp", "swap", "box_mask"]


def affine_matrix(x: torch.Tensor, angle: torch.Tensor | None = None,
                  scale: torch.Tensor | None = None,
                  translate: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample 3x3 matrices ``T(t) @ C @ R(angle) @ S(scale) @ C^-1`` in pixel coordinates.

    ``C`` moves the origin to the centre ``c = ((W-1)/2, (H-1)/2)``; ``R S = s [[cos a, -sin a],
    [sin a, cos a]]``. The matrices map source pixel coordinates to output coordinates, so
    ``warp(warp(x, A), B) ~ warp(x, B @ A)`` with one resampling instead of two.

    Args:
        x: images ``(B, C, H, W)`` (only their shape, dtype and device are used).
        angle: degrees, ``(B,)``; positive turns the content clockwise on screen (y points down).
        scale: zoom factors, ``(B,)``; > 1 enlarges the content.
        translate: pixels ``(B, 2)`` as ``(dx, dy)``; positive moves right / down.
    """
    rad = x.new_zeros(x.shape[0]) if angle is None else torch.deg2rad(angle.to(x))
    return matrix_from_trig(x, torch.cos(rad), torch.sin(rad), scale, translate)


def matrix_from_trig(x: torch.Tensor, cos_a: torch.Tensor, sin_a: torch.Tensor,
                     scale: torch.Tensor | None = None,
                     translate: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`affine_matrix` from the angle's cosine and sine ``(B,)``, the same arithmetic
    after them: a caller that stacks the parameters of several batches takes the cosines
    batch by batch (a vectorized ``cos`` rounds its tail elements through the scalar
    routine, so one call over the concatenation could differ in the last bit) and builds
    the matrices of all of them in one pass."""
    b, _, h, w = x.shape
    cx, cy = (w - 1) / 2, (h - 1) / 2
    s = x.new_ones(b) if scale is None else scale.to(x)
    cos, sin = cos_a * s, sin_a * s  # (B,)
    tx, ty = (x.new_zeros(b), x.new_zeros(b)) if translate is None else translate.to(x).unbind(1)
    zero, one = x.new_zeros(b), x.new_ones(b)
    rows = [cos, -sin, tx + cx - (cos * cx - sin * cy),
            sin, cos, ty + cy - (sin * cx + cos * cy),
            zero, zero, one]
    return torch.stack(rows, 1).view(b, 3, 3)


def warp(x: torch.Tensor, matrix: torch.Tensor, padding_mode: str = "zeros") -> torch.Tensor:
    """Resample images ``(B, C, H, W)`` through per-sample pixel-space matrices ``(B, 3, 3)``:
    ``out(p) = x(matrix^-1 p)``, bilinear, corners aligned; one ``grid_sample`` for the batch.

    ``padding_mode``: ``"zeros"``, ``"border"`` or ``"reflection"`` for pixels from outside.
    """
    h, w = x.shape[-2:]
    # pixel -> [-1, 1] coordinates (align_corners=True): u = 2 x / (W - 1) - 1
    norm = x.new_tensor([[2 / max(w - 1, 1), 0, -1], [0, 2 / max(h - 1, 1), -1], [0, 0, 1]])
    theta = norm @ torch.linalg.inv(matrix.to(x)) @ torch.linalg.inv(norm)  # output -> source
    grid = F.affine_grid(theta[:, :2], list(x.shape), align_corners=True)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True)


def affine(x: torch.Tensor, angle: torch.Tensor | None = None, scale: torch.Tensor | None = None,
           translate: torch.Tensor | None = None, padding_mode: str = "zeros") -> torch.Tensor:
    """Rotate, zoom and translate each image about its centre, one resampling for the batch.

    ``out = warp(x, T(t) @ R(angle) @ S(scale))`` about ``c = ((W-1)/2, (H-1)/2)``, bilinear
    (see :func:`affine_matrix` for the parameters).

    Args:
        x: images ``(B, C, H, W)``.
        angle, scale, translate: as in :func:`affine_matrix`.
        padding_mode: ``"zeros"``, ``"border"`` or ``"reflection"`` for pixels from outside.

    Example::

        affine(x, angle=torch.full((len(x),), 90.0))   # == torch.rot90(x, 1, (2, 3)) for square x
    """
    return warp(x, affine_matrix(x, angle, scale, translate), padding_mode)


def hflip(x: torch.Tensor) -> torch.Tensor:
    """Mirror left-right: ``out[..., j] = x[..., W - 1 - j]``."""
    return x.flip(-1)


def vflip(x: torch.Tensor) -> torch.Tensor:
    """Mirror top-bottom: ``out[..., i, :] = x[..., H - 1 - i, :]``."""
    return x.flip(-2)


def box_mask(size: tuple[int, int], top: torch.Tensor, left: torch.Tensor, height: torch.Tensor,
             width: torch.Tensor) -> torch.Tensor:
    """Boolean ``(B, H, W)``: True inside each sample's box ``[top, top+height) x [left, left+width)``."""
    rows = torch.arange(size[0], device=top.device)
    cols = torch.arange(size[1], device=top.device)
    in_rows = (rows >= top[:, None]) & (rows < (top + height)[:, None])  # (B, H)
    in_cols = (cols >= left[:, None]) & (cols < (left + width)[:, None])  # (B, W)
    return in_rows[:, :, None] & in_cols[:, None, :]


def erase(x: torch.Tensor, top: torch.Tensor, left: torch.Tensor, height: torch.Tensor,
          width: torch.Tensor, value: float = 0.0) -> torch.Tensor:
    """Cutout: set each sample's box (all channels) to ``value``. Int64 ``(B,)`` box tensors."""
    mask = box_mask(x.shape[-2:], top, left, height, width)[:, None]  # (B, 1, H, W)
    return x.masked_fill(mask, value)


def shift(x: torch.Tensor, shifts: torch.Tensor, mode: str = "zeros") -> torch.Tensor:
    """Shift each signal along its last axis by an integer: ``out[..., t] = x[..., t - k]``.

    Args:
        x: signals ``(B, L)`` or ``(B, C, L)``.
        shifts: int64 ``(B,)``; positive moves the content to later times.
        mode: ``"zeros"`` fills the vacated samples with 0, ``"circular"`` wraps around.
    """
    length = x.shape[-1]
    src = torch.arange(length, device=x.device) - shifts[:, None]  # (B, L)
    inside = (src >= 0) & (src < length)
    src = src % length
    view = (x.shape[0],) + (1,) * (x.ndim - 2) + (length,)
    out = x.gather(-1, src.view(view).expand(x.shape))
    if mode == "zeros":
        out = out.masked_fill(~inside.view(view), 0.0)
    return out


def time_warp(x: torch.Tensor, factors: torch.Tensor, padding_mode: str = "zeros") -> torch.Tensor:
    """Stretch each signal about its centre by ``factors`` (linear interpolation).

    ``out(t) = x(c + (t - c) / r)`` with ``c = (L - 1) / 2``: ``r > 1`` stretches (slower),
    ``r < 1`` compresses; samples from outside ``[0, L-1]`` follow ``padding_mode``.

    Args:
        x: signals ``(B, L)`` or ``(B, C, L)``.
        factors: stretch factors ``r``, ``(B,)``, positive.
    """
    signal = x if x.ndim == 3 else x[:, None]  # (B, C, L)
    b, _, length = signal.shape
    pos = torch.linspace(-1.0, 1.0, length, device=x.device, dtype=x.dtype)
    gx = pos[None, :] / factors.to(x)[:, None]  # (B, L), normalized source positions
    grid = torch.stack([gx, torch.zeros_like(gx)], dim=-1)[:, None]  # (B, 1, L, 2)
    out = F.grid_sample(signal[:, :, None], grid, mode="bilinear", padding_mode=padding_mode,
                        align_corners=True)[:, :, 0]
    return out if x.ndim == 3 else out[:, 0]


def swap(x: torch.Tensor, mask: torch.Tensor, donors: torch.Tensor) -> torch.Tensor:
    """Swap noise: ``out[i, f] = x[donors[i, f], f]`` where ``mask[i, f]``, else ``x[i, f]``."""
    return torch.where(mask, x.gather(0, donors), x)
