"""Fixtures shared by the test modules."""

import pytest
import torch


@pytest.fixture
def float64():
    """Run the test with float64 as torch's default dtype (parity tests compare to 1e-9)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.fixture
def l1_chunks(monkeypatch):
    """Run the cache-sized chunked L1 pass of ``reglab.kernels`` on small tensors: chunks of
    7 elements (a short last one on most shapes). Returns the list of weights the chunked
    path saw, one entry per call, to check that it ran (and on which tensors)."""
    from reglab import kernels as K
    monkeypatch.setattr(K, "_CHUNK", 7)
    seen = []
    real = K._add_l1_l2_chunked_
    monkeypatch.setattr(K, "_add_l1_l2_chunked_",
                        lambda g, w, a, b: (seen.append(w), real(g, w, a, b)))
    return seen
