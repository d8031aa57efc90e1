"""conv1d's stacked-taps path taken in column chunks (``COLUMNS_MAX_ELEMENTS`` smaller than the
whole im2col matrix, tap stack no deeper than ``STACK_MAX_DEPTH``): same values and gradients as
the per-tap GEMMs, a finite-difference check in float64, and parity with PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import biotorch
from biotorch.autograd.gradcheck import gradcheck
from biotorch.ops import conv as conv_module

# (input shape, weight shape, stride, padding, dilation, groups): ~800-900 columns, tap stacks of 30
# and 12 rows
CONFIGS = [
    ((4, 6, 200), (5, 6, 5), 1, "same", 1, 1),
    ((3, 4, 600), (6, 2, 3), 2, 2, 2, 2),
]


@pytest.fixture(autouse=True)
def _no_thin_forward(monkeypatch):
    """These layers' tap stacks are shallow enough for the per-item forward; keep them on the
    wide stacked GEMMs that this file tests."""
    monkeypatch.setattr(conv_module, "THIN_MAX_DEPTH", 0)


def _limit_for_chunks(cfg, chunks: int) -> int:
    """A COLUMNS_MAX_ELEMENTS giving ``chunks`` column chunks for ``cfg``."""
    (n, c, length), (_, cg, k), stride, padding, dilation, _ = cfg
    pad = dilation * (k - 1) if padding == "same" else 2 * padding
    q = -(-(length + pad) // stride)
    cols = n * q - (dilation * (k - 1)) // stride
    width = -(-cols // chunks)
    assert width >= 256
    return k * cg * width


def _run(cfg, dtype, limit, monkeypatch):
    monkeypatch.setattr(conv_module, "COLUMNS_MAX_ELEMENTS", limit)
    x_shape, w_shape, stride, padding, dilation, groups = cfg
    rng = np.random.default_rng(0)
    x, w, b = (
        biotorch.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
        for s in (x_shape, w_shape, (w_shape[0],))
    )
    out = biotorch.nn.functional.conv1d(x, w, b, stride, padding, dilation, groups)
    g = rng.standard_normal(out.shape).astype(dtype)
    out.backward(biotorch.tensor(g))
    return out.detach().numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()


@pytest.mark.parametrize("cfg", CONFIGS)
def test_chunks_match_per_tap_and_single_stack(cfg, monkeypatch):
    chunked = _run(cfg, np.float64, _limit_for_chunks(cfg, 3), monkeypatch)
    per_tap = _run(cfg, np.float64, 0, monkeypatch)
    whole = _run(cfg, np.float64, 1 << 40, monkeypatch)
    for a, b, c in zip(chunked, per_tap, whole, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


def test_chunked_path_is_taken(monkeypatch):
    cfg = CONFIGS[0]
    monkeypatch.setattr(conv_module, "COLUMNS_MAX_ELEMENTS", _limit_for_chunks(cfg, 3))
    x = biotorch.randn(*cfg[0], requires_grad=True)
    w = biotorch.randn(*cfg[1], requires_grad=True)
    out = biotorch.nn.functional.conv1d(x, w, padding="same")
    assert len(out.grad_fn.chunks) == 3
    monkeypatch.setattr(conv_module, "STACK_MAX_DEPTH", 10)  # 6 channels x 5 taps is deeper
    out = biotorch.nn.functional.conv1d(x, w, padding="same")
    assert out.grad_fn.chunks is None


@pytest.mark.parametrize("cfg", CONFIGS)
def test_chunked_gradcheck(cfg, monkeypatch):
    (n, c, length), w_shape, stride, padding, dilation, groups = cfg
    small = ((2, c, 30), w_shape, stride, padding, dilation, groups)
    (_, cg, k) = w_shape
    monkeypatch.setattr(conv_module, "_MIN_CHUNK", 8)  # small enough for a gradcheck
    monkeypatch.setattr(conv_module, "COLUMNS_MAX_ELEMENTS", k * cg * 10)
    rng = np.random.default_rng(1)
    x, w, b = (
        biotorch.tensor(rng.standard_normal(s), dtype=biotorch.float64, requires_grad=True)
        for s in (small[0], w_shape, (w_shape[0],))
    )

    def fn(x, w, b):
        return biotorch.nn.functional.conv1d(x, w, b, stride, padding, dilation, groups)

    assert len(fn(x, w, b).grad_fn.chunks) > 1
    assert gradcheck(fn, (x, w, b))


@pytest.mark.parametrize("cfg", CONFIGS)
def test_chunked_matches_torch(cfg, monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(conv_module, "COLUMNS_MAX_ELEMENTS", _limit_for_chunks(cfg, 3))
    x_shape, w_shape, stride, padding, dilation, groups = cfg
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in (x_shape, w_shape, (w_shape[0],))]
    results = []
    for lib in (biotorch, torch):
        x, w, b = (lib.tensor(a.copy(), requires_grad=True) for a in arrays)
        out = lib.nn.functional.conv1d(x, w, b, stride, padding, dilation, groups)
        (out * out).sum().backward()
        results.append([t.detach().numpy() for t in (out, x.grad, w.grad, b.grad)])
    for ours, theirs in zip(*results, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-3)
