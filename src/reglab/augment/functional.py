"""Pure, batched augmentation ops: explicit per-sample parameters in, new tensor out.

The random transforms in :mod:`reglab.augment` draw the parameters and call these. Each op
takes one parameter per sample (a tensor with leading dimension ``B``), runs as one batched
call (no loop over samples) and never writes into its input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["affine", "hflip", "vflip", "erase", "shift", "time_warp", "swap", "box_mask"]


def affine(x: torch.Tensor, angle: torch.Tensor | None = None, scale: torch.Tensor | None = None,
           translate: torch.Tensor | None = None, padding_mode: str = "zeros") -> torch.Tensor:
    """Rotate, zoom and translate each image about its centre with kornia's ``warp_affine``.

    ``out = warp(x, T(t) @ R(angle) @ S(scale))`` about ``c = ((W-1)/2, (H-1)/2)``, bilinear.

    Args:
        x: images ``(B, C, H, W)``.
        angle: degrees, ``(B,)``; positive turns the content clockwise on screen (y points down).
        scale: zoom factors, ``(B,)``; > 1 enlarges the content.
        translate: pixels ``(B, 2)`` as ``(dx, dy)``; positive moves right / down.
        padding_mode: ``"zeros"``, ``"border"`` or ``"reflection"`` for pixels from outside.

    Example::

        affine(x, angle=torch.full((len(x),), 90.0))   # == torch.rot90(x, 1, (2, 3)) for square x
    """
    # kornia is imported here, not at module level: `import reglab.augment` stays fast.
    from kornia.geometry.transform import get_affine_matrix2d, warp_affine

    b, _, h, w = x.shape
    zeros = x.new_zeros(b)
    angle = zeros if angle is None else angle.to(x)
    scale = torch.ones_like(zeros) if scale is None else scale.to(x)
    translate = x.new_zeros(b, 2) if translate is None else translate.to(x)
    center = x.new_tensor([(w - 1) / 2, (h - 1) / 2]).expand(b, 2)
    matrix = get_affine_matrix2d(translate, center, scale[:, None].expand(b, 2), angle)
    return warp_affine(x, matrix[:, :2], (h, w), mode="bilinear", padding_mode=padding_mode,
                       align_corners=True)


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
