"""Property tests: reductions over random shapes, dims and keepdim agree with NumPy, and the
gradients of sum, mean, amax and max-with-dim agree with their analytic forms."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import biotorch as bt

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def arrays_and_dims(draw, min_dims=0):
    """A float64 array of a random shape (sizes 1-4), a dim (None, an int or a tuple) and
    keepdim."""
    shape = draw(array_shapes(min_dims=min_dims, max_dims=4, min_side=1, max_side=4))
    seed = draw(st.integers(0, 2**16))
    data = np.random.default_rng(seed).standard_normal(shape)
    ndim = len(shape)
    if ndim == 0:
        dim = draw(st.sampled_from([None, 0, -1]))
    else:
        axes = st.integers(-ndim, ndim - 1)
        dim = draw(
            st.one_of(
                st.none(),
                axes,
                st.lists(axes, min_size=1, max_size=ndim, unique_by=lambda d: d % ndim).map(tuple),
            )
        )
    return data, dim, draw(st.booleans())


def _np_axis(dim, ndim):
    """NumPy's axis for a biotorch dim (a 0-d array has no axis 0)."""
    return None if dim is None or ndim == 0 else dim


# biotorch name: NumPy reference (data, axis, keepdims)
REFERENCES = {
    "sum": np.sum,
    "mean": np.mean,
    "amax": np.amax,
    "amin": np.amin,
    "var": lambda x, axis, keepdims: np.var(x, axis=axis, ddof=1, keepdims=keepdims),
    "std": lambda x, axis, keepdims: np.std(x, axis=axis, ddof=1, keepdims=keepdims),
    "logsumexp": lambda x, axis, keepdims: np.log(np.exp(x).sum(axis=axis, keepdims=keepdims)),
    "norm": lambda x, axis, keepdims: np.sqrt((x * x).sum(axis=axis, keepdims=keepdims)),
    "all": lambda x, axis, keepdims: np.all(x > 0, axis=axis, keepdims=keepdims),
    "any": lambda x, axis, keepdims: np.any(x > 0, axis=axis, keepdims=keepdims),
}


def _call(name, t, dim, keepdim):
    if name == "norm":
        return bt.norm(t, dim=dim, keepdim=keepdim)
    if name in ("all", "any"):
        return getattr(bt, name)(t > 0, dim, keepdim)
    return getattr(bt, name)(t, dim, keepdim=keepdim)


# var/std over one element divide by zero degrees of freedom: nan, with NumPy's warning.
@pytest.mark.filterwarnings("ignore:Degrees of freedom:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@SETTINGS
@given(arrays_and_dims())
def test_reductions_match_numpy(case):
    data, dim, keepdim = case
    axis = _np_axis(dim, data.ndim)
    for name, reference in REFERENCES.items():
        if name == "logsumexp" and dim is None:
            continue  # torch's logsumexp needs a dim
        out = _call(name, bt.tensor(data, dtype=bt.float64), dim, keepdim)
        expected = np.asarray(reference(data, axis=axis, keepdims=keepdim))
        assert out.shape == expected.shape, name
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12, err_msg=name)


@SETTINGS
@given(arrays_and_dims(), st.sampled_from(["prod", "cumsum", "argmax", "argmin"]))
def test_single_dim_ops_match_numpy(case, name):
    data, dim, keepdim = case
    if isinstance(dim, tuple):
        dim = dim[0]
    t = bt.tensor(data, dtype=bt.float64)
    if name == "cumsum":
        dim = 0 if dim is None else dim
        out, expected = bt.cumsum(t, dim), np.cumsum(data.reshape(data.shape or (1,)), dim)
        expected = expected.reshape(data.shape)
    elif name == "prod":
        out = bt.prod(t, dim, keepdim)
        expected = np.prod(data, axis=_np_axis(dim, data.ndim), keepdims=keepdim)
    else:
        out = getattr(bt, name)(t, dim, keepdim)
        expected = getattr(np, name)(data, axis=_np_axis(dim, data.ndim), keepdims=keepdim)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)


def _analytic_grad(name, data, dim, keepdim, upstream):
    """d(sum(upstream * op(x)))/dx for sum, mean, amax and max along a dim."""
    ndim = data.ndim
    axes = tuple(range(ndim)) if dim is None else tuple(np.atleast_1d(dim) % max(ndim, 1))
    axes = axes if ndim else ()
    g = upstream if keepdim or not axes else np.expand_dims(upstream, axes)
    if name == "sum":
        return np.broadcast_to(g, data.shape)
    if name == "mean":
        return np.broadcast_to(g / max(data.size // max(g.size, 1), 1), data.shape)
    if name == "amax":
        mask = data == data.max(axis=axes, keepdims=True)
        return mask * g / mask.sum(axis=axes, keepdims=True)
    (axis,) = axes or (0,)
    flat = data.reshape(data.shape or (1,))
    hit = np.arange(flat.shape[axis]).reshape([-1 if i == axis else 1 for i in range(flat.ndim)])
    winner = flat.argmax(axis=axis, keepdims=True)
    return np.where(hit == winner, g.reshape(winner.shape), 0.0).reshape(data.shape)


@SETTINGS
@given(arrays_and_dims(), st.sampled_from(["sum", "mean", "amax", "max"]))
def test_gradients_match_analytic(case, name):
    data, dim, keepdim = case
    data = np.round(data)  # ties, so amax must split and max must pick the first
    if name == "max":
        dim = 0 if dim is None else (dim[0] if isinstance(dim, tuple) else dim)
    t = bt.tensor(data, dtype=bt.float64, requires_grad=True)
    out = bt.max(t, dim, keepdim).values if name == "max" else getattr(bt, name)(t, dim, keepdim)
    upstream = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(bt.tensor(upstream, dtype=bt.float64))
    expected = _analytic_grad(name, data, dim, keepdim, upstream)
    np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-12, atol=1e-12)
