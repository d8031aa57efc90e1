"""scaled_dot_product_attention: masks, causality, broadcasting, fully masked rows, dropout."""

import math

import numpy as np
import pytest
from harness import check_gpu_matches_cpu, check_gradcheck, check_torch_parity, random_inputs

import biotorch as bt
import biotorch.nn.functional as F

# (query, key, value) shapes; batch and head dimensions broadcast.
SHAPES = [
    ((3, 4), (5, 4), (5, 2)),
    ((2, 1, 3, 4), (1, 2, 5, 4), (2, 2, 5, 6)),
    ((2, 6, 3), (2, 4, 3), (2, 4, 3)),
]


def _mask(kind, shapes, seed=0):
    """None, a boolean keep-mask or an additive float mask of shape (L, S), with query row 1
    fully masked out."""
    if kind == "none":
        return None
    (L, _), (S, _) = shapes[0][-2:], shapes[1][-2:]
    keep = np.random.default_rng(seed).random((L, S)) > 0.4
    keep[1] = False
    keep[0, 0] = True
    return keep if kind == "bool" else np.where(keep, 0.0, -np.inf)


def _sdpa(lib, mask, **kwargs):
    def fn(q, k, v):
        m = None if mask is None else lib.tensor(mask)
        if m is not None and m.is_floating_point():
            m = m.to(q.dtype)
        functional = lib.nn.functional
        return functional.scaled_dot_product_attention(q, k, v, attn_mask=m, **kwargs)

    return fn


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("kind", ["none", "bool", "float"])
def test_torch_parity_masks(shapes, kind):
    torch = pytest.importorskip("torch")
    mask = _mask(kind, shapes)
    check_torch_parity(_sdpa(bt, mask), _sdpa(torch, mask), *random_inputs(*shapes, seed=1))


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("options", [{"is_causal": True}, {"scale": 0.3}], ids=str)
def test_torch_parity_causal_and_scale(shapes, options):
    torch = pytest.importorskip("torch")
    check_torch_parity(
        _sdpa(bt, None, **options), _sdpa(torch, None, **options), *random_inputs(*shapes, seed=2)
    )


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("kind", ["none", "bool", "float"])
def test_gradcheck(shapes, kind):
    check_gradcheck(_sdpa(bt, _mask(kind, shapes)), *random_inputs(*shapes, seed=3))


def test_gradcheck_causal_and_float_mask_gradient():
    check_gradcheck(_sdpa(bt, None, is_causal=True), *random_inputs(*SHAPES[1]))

    def with_mask(q, k, v, m):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m)

    check_gradcheck(with_mask, *random_inputs((2, 3, 4), (2, 5, 4), (2, 5, 2), (1, 5)))


def test_float_mask_gradient_matches_torch():
    torch = pytest.importorskip("torch")

    def fn(lib):
        return lambda q, k, v, m: lib.nn.functional.scaled_dot_product_attention(q, k, v, m)

    check_torch_parity(fn(bt), fn(torch), *random_inputs((2, 3, 4), (2, 5, 4), (2, 5, 2), (3, 1)))


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_fully_masked_row_gives_zeros_and_finite_gradients(kind):
    shapes = SHAPES[1]
    q, k, v = (bt.tensor(a, requires_grad=True) for a in random_inputs(*shapes))
    out = _sdpa(bt, _mask(kind, shapes))(q, k, v)
    assert not out.detach().numpy()[..., 1, :].any()
    out.sum().backward()
    for t in (q, k, v):
        assert np.isfinite(t.grad.numpy()).all()
    assert not q.grad.numpy()[..., 1, :].any()


def _reference_with_dropout(q, k, v, p, seed):
    """NumPy attention whose dropout mask replays the generator stream biotorch draws from."""
    bt.manual_seed(seed)
    s = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    keep = bt.backend.default_generator.random(w.shape, np.float32) >= p
    return (w * keep / (1 - p)) @ v


def test_dropout_uses_the_seeded_generator():
    q, k, v = random_inputs(*SHAPES[1], dtype=np.float32)
    expected = _reference_with_dropout(q, k, v, 0.4, seed=11)
    bt.manual_seed(11)
    out = F.scaled_dot_product_attention(bt.tensor(q), bt.tensor(k), bt.tensor(v), dropout_p=0.4)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    zero = F.scaled_dot_product_attention(bt.tensor(q), bt.tensor(k), bt.tensor(v), dropout_p=1.0)
    assert not zero.numpy().any()


def test_dropout_gradcheck_with_a_fixed_mask():
    def seeded(q, k, v):
        bt.manual_seed(5)
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)

    check_gradcheck(seeded, *random_inputs(*SHAPES[1]))


def test_errors():
    q, k, v = bt.ones(2, 3, 4), bt.ones(2, 5, 4), bt.ones(2, 5, 6)
    name = "scaled_dot_product_attention"
    with pytest.raises(RuntimeError, match=f"{name}: pass either attn_mask or is_causal"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=bt.ones(3, 5).bool(), is_causal=True)
    with pytest.raises(RuntimeError, match="query has embedding size 4, key has 3"):
        F.scaled_dot_product_attention(q, bt.ones(2, 5, 3), v)
    with pytest.raises(RuntimeError, match="key has sequence length 5, value has 4"):
        F.scaled_dot_product_attention(q, k, bt.ones(2, 4, 6))
    with pytest.raises(RuntimeError, match="same floating dtype"):
        F.scaled_dot_product_attention(q, k.double(), v)
    with pytest.raises(RuntimeError, match="attn_mask must be bool or of the query's dtype"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=bt.zeros(3, 5).long())
    with pytest.raises(RuntimeError, match=r"do not broadcast.*attn_mask \(4, 5\)"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=bt.zeros(4, 5))
    with pytest.raises(RuntimeError, match="do not broadcast"):
        F.scaled_dot_product_attention(q, bt.ones(3, 5, 4), bt.ones(3, 5, 6))
    with pytest.raises(ValueError, match="dropout_p has to be between 0 and 1, but got 1.5"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=1.5)
    with pytest.raises(NotImplementedError, match="enable_gqa"):
        F.scaled_dot_product_attention(q, k, v, enable_gqa=True)


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["none", "bool", "float"])
def test_gpu_matches_cpu(kind):
    shapes = ((2, 4, 17, 8), (2, 4, 13, 8), (2, 4, 13, 8))
    mask = _mask(kind, shapes)

    def fn(q, k, v):
        m = None if mask is None else bt.tensor(mask, device=q.device)
        m = m.to(q.dtype) if m is not None and m.is_floating_point() else m
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m)

    check_gpu_matches_cpu(fn, *random_inputs(*shapes))
    check_gpu_matches_cpu(_sdpa(bt, None, is_causal=True), *random_inputs(*shapes))
