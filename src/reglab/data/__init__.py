"""Data sets for reglab: built-in (offline) and users' own files, split and standardized.

``load(name_or_path, seed=0, val_fraction=0.15, test_fraction=0.2, **options) -> Dataset``
reads a built-in (``BUILTINS``: digits, mnist1d, breast_cancer, wine, sparse; the
regression sets diabetes and sparse_regression), a ``.csv``
file (``target=`` names the label column), an ``.npz`` file with arrays ``X`` and ``y`` or a
folder of images with one sub-folder per class; it splits stratified, shuffled and seeded
(validation out of the training part, a published test split kept) and standardizes with
statistics of the training split only. ``Dataset.task`` says "classification" or
"regression" (inferred from the target, or ``task=`` forces it). Bad input raises :class:`DataError` (an
``rl.InvalidParameterError``) with one message naming the problem and where.

Example:
    >>> import reglab as rl
    >>> ds = rl.data.load("digits", seed=0)
    >>> ds.kind, ds.input_shape, ds.num_classes
    ('image', (1, 8, 8), 10)
"""

from __future__ import annotations

from reglab.data._builtins import BUILTINS
from reglab.data._files import IMAGE_SUFFIXES, SUFFIXES
from reglab.data._load import available, load
from reglab.data._types import KINDS, DataError, Dataset, DataWarning, Split

__all__ = ["BUILTINS", "IMAGE_SUFFIXES", "KINDS", "SUFFIXES", "DataError", "DataWarning",
           "Dataset", "Split", "available", "load"]
