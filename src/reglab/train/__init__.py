"""Training: the contract of a run, the models, and the backends that honour it.

``sequential`` (one model, the plain loop), ``stacked`` (many runs of one shape as one
batched model) and ``ddp`` (one model over many processes) compute; what a run *is* (its
epoch row, divergence, the early stop and the weights it keeps, its final metrics) is
decided by the contract alone.

Example::

    from reglab.train import fit
    result = fit(RunSpec(data="digits", epochs=5), rl.data.load("digits"))
"""

from reglab.train.contract import RunResult, RunState, StopReason
from reglab.train.models import build_model
from reglab.train.sequential import evaluate, fit, train_one_epoch

__all__ = ["RunResult", "RunState", "StopReason", "build_model", "evaluate", "fit",
           "train_one_epoch"]
