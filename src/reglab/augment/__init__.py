"""Batched, on-device, seeded data augmentation and batch mixing.

Every transform takes a whole batch, draws one set of random parameters per sample from the
generator it is given, and returns a new tensor on the input's device (never in place).
``Compose`` chains them with one seeded generator and one ``strength`` knob (a number or a
schedule; 0 is the identity).

    from reglab import augment as A
    aug = A.Compose([A.RandomRotation(15), A.RandomScale(0.9, 1.1), A.GaussianNoise(0.05)], seed=0)
    xb = aug(xb)                                             # (B, C, H, W)
    xb, yb_soft = A.Mixup(alpha=0.2)(xb, yb, num_classes=10)
    loss = A.soft_cross_entropy(model(xb), yb_soft)

The label-safety check (does a transform change what a sample is?) trains a quick model, so
it lives in the lab: ``reglab.lab.label_check.check_labels``.

Images ``(B, C, H, W)``: RandomRotation, HorizontalFlip, VerticalFlip, RandomScale,
RandomTranslate, GaussianNoise, RandomErasing. Signals ``(B, L)`` / ``(B, C, L)``: Shift,
AmplitudeScale, TimeWarp, GaussianNoise. Tabular ``(B, F)``: GaussianNoise, SwapNoise.
Image geometry is plain torch (``affine_grid`` + ``grid_sample``): no extra dependency.
"""

from __future__ import annotations

from reglab.augment import functional
from reglab.augment._base import Compose, Transform
from reglab.augment.image import (HorizontalFlip, RandomErasing, RandomRotation, RandomScale,
                                  RandomTranslate, VerticalFlip)
from reglab.augment.mixing import CutMix, Mixup, soft_cross_entropy
from reglab.augment.names import NAMES, from_names
from reglab.augment.noise import GaussianNoise, SwapNoise
from reglab.augment.signal import AmplitudeScale, Shift, TimeWarp

__all__ = [
    "Transform", "Compose", "functional",
    "RandomRotation", "HorizontalFlip", "VerticalFlip", "RandomScale", "RandomTranslate",
    "RandomErasing", "GaussianNoise", "SwapNoise", "Shift", "AmplitudeScale", "TimeWarp",
    "Mixup", "CutMix", "soft_cross_entropy",
    "NAMES", "from_names",
]
