"""A tiny in-memory data set with the Dataset interface, for fast lab tests."""

from types import SimpleNamespace

import torch


def tiny(kind: str = "image", n: int = 48, classes: int = 3, seed: int = 0) -> SimpleNamespace:
    """Separable toy data: class c shifts the inputs by c (so a model can learn it)."""
    shape = {"image": (1, 8, 8), "signal": (1, 16), "tabular": (6,)}[kind]
    g = torch.Generator().manual_seed(seed)

    def split(m):
        y = torch.arange(m) % classes
        X = torch.randn(m, *shape, generator=g) + y.view(-1, *[1] * len(shape)).float()
        return SimpleNamespace(X=X, y=y, __len__=lambda: m)

    return SimpleNamespace(name="tiny", kind=kind, input_shape=shape, num_classes=classes,
                           train=split(n), val=split(n // 2), test=split(n // 2))


def float64_copy(data) -> SimpleNamespace:
    """A copy of a data set's splits (X, y only) with X in float64 (picklable for DDP)."""
    split = lambda s: SimpleNamespace(X=s.X.double(), y=s.y)  # noqa: E731
    return SimpleNamespace(kind=data.kind, input_shape=data.input_shape,
                           num_classes=data.num_classes, train=split(data.train),
                           val=split(data.val), test=split(data.test))
