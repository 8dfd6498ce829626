"""The lab: run specs, models, the training loop, the experiment store, compare and statistics;
``load_model(path)`` rebuilds a stored run's model with a ``predict`` for raw rows.

Example::

    from reglab.lab import RunSpec, fit
    import reglab as rl
    result = fit(RunSpec(data="digits", epochs=5, l2=1e-4), rl.data.load("digits"))
"""

from reglab.train import RunResult, build_model, evaluate, fit, train_one_epoch
from reglab.lab.model_file import load_model
from reglab.lab.spec import RunSpec, load_toml
from reglab.lab.stats import paired_difference, summarize, verdict
from reglab.lab.store import Store

__all__ = ["RunSpec", "RunResult", "Store", "build_model", "evaluate", "fit", "load_model",
           "load_toml", "paired_difference", "summarize", "train_one_epoch", "verdict"]
