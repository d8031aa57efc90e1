"""Shared checks for op tests: float64 gradcheck, and forward/backward parity with PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import biotorch
from biotorch.autograd import gradcheck

try:
    import torch  # the parity oracle: optional
except ImportError:
    torch = None

# Marks a torch-parity test, which skips (saying why) where torch is not installed; the other
# tests of its module (gradchecks, semantics, errors) still run. Without torch, ``torch`` is None:
# test tables name torch functions inside lambdas, called by the marked tests only.
needs_torch = pytest.mark.skipif(
    torch is None, reason="torch parity: torch (the test oracle) is not installed"
)


def random_inputs(*shapes, seed: int = 0, dtype=np.float64, positive: bool = False) -> list:
    """NumPy arrays of the given shapes (``positive`` draws from (0.5, 2))."""
    rng = np.random.default_rng(seed)
    out = []
    for shape in shapes:
        x = rng.uniform(0.5, 2.0, shape) if positive else rng.standard_normal(shape)
        out.append(np.asarray(x, dtype=dtype))
    return out


def check_gradcheck(fn, *arrays, atol=1e-5, rtol=1e-3, device="cpu") -> None:
    """Finite-difference check of ``fn`` in float64 with respect to every array argument."""
    tensors = [
        biotorch.tensor(a, dtype=biotorch.float64, device=device).requires_grad_() for a in arrays
    ]
    assert gradcheck(fn, tensors, atol=atol, rtol=rtol)


def check_torch_parity(bt_fn, torch_fn, *arrays, rtol=1e-4, atol=1e-5, seed=1, grad=True):
    """Run ``bt_fn`` and ``torch_fn`` on float32 copies of ``arrays``; compare outputs and the
    gradients of every input for a random upstream gradient. Skips when torch is missing."""
    torch = pytest.importorskip("torch")
    arrays = [np.asarray(a, dtype=np.float32) for a in arrays]
    bt_in = [biotorch.tensor(a).requires_grad_(grad) for a in arrays]
    th_in = [torch.tensor(a, requires_grad=grad) for a in arrays]
    bt_out = bt_fn(*bt_in)
    th_out = torch_fn(*th_in)
    bt_outs = bt_out if isinstance(bt_out, tuple | list) else (bt_out,)
    th_outs = th_out if isinstance(th_out, tuple | list) else (th_out,)
    for b, t in zip(bt_outs, th_outs, strict=True):
        assert tuple(b.shape) == tuple(t.shape), (b.shape, t.shape)
        np.testing.assert_allclose(b.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)
    if not grad:
        return
    rng = np.random.default_rng(seed)
    diff = [(b, t) for b, t in zip(bt_outs, th_outs, strict=True) if t.requires_grad]
    upstream = [rng.standard_normal(t.shape).astype(np.float32) for _, t in diff]
    biotorch.autograd.backward([b for b, _ in diff], [biotorch.tensor(u) for u in upstream])
    torch.autograd.backward([t for _, t in diff], [torch.tensor(u) for u in upstream])
    for i, (b, t) in enumerate(zip(bt_in, th_in, strict=True)):
        if t.grad is None:
            assert b.grad is None or not np.any(b.grad.numpy()), f"input {i}: torch has no grad"
            continue
        assert b.grad is not None, f"input {i}: biotorch produced no gradient"
        np.testing.assert_allclose(
            b.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"grad of input {i}"
        )


def check_gpu_matches_cpu(fn, *arrays, rtol=1e-4, atol=1e-5, seed=2) -> None:
    """Run ``fn`` on CPU and CUDA copies of float32 ``arrays``; compare outputs and gradients."""
    results = []
    for device in ("cpu", "cuda"):
        inputs = [biotorch.tensor(np.asarray(a, np.float32), device=device) for a in arrays]
        inputs = [t.requires_grad_() for t in inputs]
        out = fn(*inputs)
        outs = out if isinstance(out, tuple | list) else (out,)
        rng = np.random.default_rng(seed)
        diff = [o for o in outs if o.requires_grad]
        upstream = [biotorch.tensor(rng.standard_normal(o.shape).astype(np.float32)) for o in diff]
        biotorch.autograd.backward(diff, [u.to(device) for u in upstream])
        results.append(([o.cpu().detach().numpy() for o in outs], [t.grad for t in inputs]))
    (cpu_out, cpu_grads), (gpu_out, gpu_grads) = results
    for c, g in zip(cpu_out, gpu_out, strict=True):
        np.testing.assert_allclose(g, c, rtol=rtol, atol=atol)
    for c, g in zip(cpu_grads, gpu_grads, strict=True):
        assert (c is None) == (g is None)
        if c is not None:
            np.testing.assert_allclose(g.cpu().numpy(), c.numpy(), rtol=rtol, atol=atol)
