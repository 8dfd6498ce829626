"""The floor a benchmark compares against: max(arithmetic / GEMM rate, bytes / bandwidth).

Both rates are measured on this machine at the start of a run:

* GEMM rate: a float32 ``n^3`` matmul (2 n^3 FLOPs), best of a few, on 1 thread and on all;
* memory bandwidth: ``torch.add(a, b, out=c)`` (3 arrays read / written once) on arrays whose
  total size is the workload's working set, so a small model that lives in cache is held to
  the cache's bandwidth, not to DRAM's (that would make the floor too easy to meet).

The cost model of one training step of an MLP with layer sizes ``n_0 .. n_L``, batch ``B`` and
``P`` parameters (weights and biases), Adam:

* FLOPs: ``6 B P`` (forward 2, backward 4 per weight and row);
* bytes: ``40 P`` (weights read in the forward and backward pass, 8; gradient written, 4;
  fused Adam reads p, g, m, v and writes p, m, v, 28) plus ``32 B sum(hidden widths)``
  (each hidden activation written and read about 8 times in float32 over forward, dropout
  mask and backward) plus ``8 B (n_0 + n_L)`` (inputs gathered, logits written and read).

The lab's CNN (``reglab.train.models._cnn``: 3-wide convolutions to 32 and 64 channels, each
followed by the activation and a 2x max-pool, then the MLP head ``flat -> width -> C``):

* FLOPs: ``6 B (sum over convs of out * in * taps * pixels_out + P_head)`` (a convolution
  does ``2 * in * taps`` multiply-adds per output unit forward, twice that backward);
* bytes: ``40 P`` (all parameters, as above) plus ``32 B`` per conv output unit and per
  pooled unit and per hidden unit of the head, plus ``8 B (n_0 + C)``.

The floor says which one binds: "compute" or "memory".

Example::

    rates = Rates.measure(threads=2)
    flops, nbytes = mlp_step_cost([64, 512, 512, 10], batch=128)
    seconds, bound = rates.floor(flops * steps, nbytes * steps, working_set=4 * 5 * params)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

ADAM_BYTES_PER_PARAM = 40
ACTIVATION_BYTES = 32  # per hidden unit and row
IO_BYTES = 8  # per input feature / logit and row


def mlp_params(widths: list[int]) -> int:
    """Weights and biases of an MLP with layer sizes ``widths``."""
    return sum((a + 1) * b for a, b in zip(widths, widths[1:]))


def mlp_working_set(widths: list[int], batch: int, members: int = 1) -> float:
    """Bytes a stack of ``members`` such MLPs touches per step (weights, gradients, two Adam
    moments, and one float32 activation per unit and row): the size the bandwidth is
    measured at."""
    return float(members * (16 * mlp_params(widths) + 4 * batch * sum(widths)))


def mlp_step_cost(widths: list[int], batch: int) -> tuple[float, float]:
    """(FLOPs, bytes moved) of one training step (forward, backward, Adam) of the MLP."""
    p = mlp_params(widths)
    flops = 6.0 * batch * p
    nbytes = (ADAM_BYTES_PER_PARAM * p + ACTIVATION_BYTES * batch * sum(widths[1:-1])
              + IO_BYTES * batch * (widths[0] + widths[-1]))
    return flops, float(nbytes)


def cnn_layers(input_shape: tuple[int, ...], width: int, classes: int
               ) -> tuple[list[tuple[int, int, int, int, int]], list[int]]:
    """The lab CNN's conv layers as (in, out, taps, output pixels, pooled pixels) and its
    head's layer sizes."""
    c, dims = input_shape[0], list(input_shape[1:])
    convs = []
    for out in (32, 64):
        pooled = [d // 2 for d in dims]
        convs.append((c, out, 3 ** len(dims), math.prod(dims), math.prod(pooled)))
        c, dims = out, pooled
    return convs, [c * math.prod(dims), width, classes]


def cnn_params(input_shape: tuple[int, ...], width: int, classes: int) -> int:
    """Weights and biases of the lab CNN."""
    convs, head = cnn_layers(input_shape, width, classes)
    return sum((i * t + 1) * o for i, o, t, _, _ in convs) + mlp_params(head)


def cnn_step_cost(input_shape: tuple[int, ...], width: int, classes: int, batch: int
                  ) -> tuple[float, float]:
    """(FLOPs, bytes moved) of one training step (forward, backward, Adam) of the lab CNN."""
    convs, head = cnn_layers(input_shape, width, classes)
    p = cnn_params(input_shape, width, classes)
    conv_flops = sum(o * i * t * px for i, o, t, px, _ in convs)
    flops = 6.0 * batch * (conv_flops + mlp_params(head))
    units = sum(o * (px + pooled) for _, o, _, px, pooled in convs)
    nbytes = (ADAM_BYTES_PER_PARAM * p + ACTIVATION_BYTES * batch * (units + width)
              + IO_BYTES * batch * (math.prod(input_shape) + classes))
    return flops, float(nbytes)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _best(fn, reps: int, device: str = "cpu") -> float:
    fn()
    _sync(device)
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def gemm_rate(threads: int, n: int = 2048, reps: int = 5, device: str = "cpu") -> float:
    """FLOP/s of an ``n^3`` float32 matmul with ``threads`` threads (best of ``reps``)."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        n = 8192 if device.startswith("cuda") else n
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        return 2 * n ** 3 / _best(lambda: a @ b, reps, device)
    finally:
        torch.set_num_threads(old)


def bandwidth(working_set: float, threads: int, reps: int = 7, device: str = "cpu") -> float:
    """Bytes/s of ``c = a + b`` over float32 arrays of ``working_set`` bytes in all (>= 64 KiB),
    repeated so each timing moves at least ~256 MiB."""
    n = max(int(working_set) // 12, 1 << 14)  # three arrays of n float32
    a, b = torch.rand(n, device=device), torch.rand(n, device=device)
    c = torch.empty(n, device=device)
    loops = max(1, (256 << 20) // (12 * n))
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        def run():
            for _ in range(loops):
                torch.add(a, b, out=c)
        return 12.0 * n * loops / _best(run, reps, device)
    finally:
        torch.set_num_threads(old)


@dataclass
class Rates:
    """Measured GEMM rate and (per working-set size) bandwidth for ``threads`` threads."""

    threads: int
    flops: float
    device: str = "cpu"
    _bw: dict[int, float] = field(default_factory=dict)

    @classmethod
    def measure(cls, threads: int, device: str = "cpu") -> Rates:
        return cls(threads, gemm_rate(threads, device=device), device)

    def bandwidth(self, working_set: float) -> float:
        key = max(16, math.ceil(math.log2(max(working_set, 1.0))))  # power-of-two buckets
        if key not in self._bw:
            self._bw[key] = bandwidth(2.0 ** key, self.threads, device=self.device)
        return self._bw[key]

    def floor(self, flops: float, nbytes: float, working_set: float) -> tuple[float, str]:
        """(seconds, "compute" or "memory"): the larger of the two times and which it is."""
        t_flops = flops / self.flops
        t_bytes = nbytes / self.bandwidth(working_set)
        return (t_flops, "compute") if t_flops >= t_bytes else (t_bytes, "memory")
