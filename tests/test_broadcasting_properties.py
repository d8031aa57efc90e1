"""Property tests: binary ops broadcast like NumPy, and their gradients are the broadcast
gradients summed back to each input's shape."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import biotorch as bt


@st.composite
def broadcast_pair(draw):
    """Two shapes that broadcast together: a common shape with leading dims dropped and some
    dims set to 1 independently for each side."""
    full = draw(st.lists(st.integers(1, 4), min_size=0, max_size=4))
    shapes = []
    for _ in range(2):
        drop = draw(st.integers(0, len(full)))
        shape = [1 if draw(st.booleans()) else n for n in full[drop:]]
        shapes.append(tuple(shape))
    return shapes


def reduce_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``g`` over the axes that broadcasting added or stretched (reference, in NumPy)."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


# name: (biotorch op, NumPy forward, NumPy partial derivatives d out / d a, d out / d b)
OPS = {
    "add": (bt.add, np.add, lambda a, b: np.ones_like(a * b), lambda a, b: np.ones_like(a * b)),
    "sub": (
        bt.sub,
        np.subtract,
        lambda a, b: np.ones_like(a * b),
        lambda a, b: -np.ones_like(a * b),
    ),
    "mul": (bt.mul, np.multiply, lambda a, b: b + 0 * a, lambda a, b: a + 0 * b),
    "div": (bt.div, np.divide, lambda a, b: 1 / b + 0 * a, lambda a, b: -a / b**2),
    "pow": (bt.pow, np.power, lambda a, b: b * a ** (b - 1), lambda a, b: a**b * np.log(a)),
    "maximum": (
        bt.maximum,
        np.maximum,
        lambda a, b: (a > b) + 0.0 * b,
        lambda a, b: (b > a) + 0.0 * a,
    ),
    "minimum": (
        bt.minimum,
        np.minimum,
        lambda a, b: (a < b) + 0.0 * b,
        lambda a, b: (b < a) + 0.0 * a,
    ),
    "where": (
        lambda a, b: bt.where(a > b, a, b),
        lambda a, b: np.where(a > b, a, b),
        lambda a, b: (a > b) + 0.0 * b,
        lambda a, b: (a <= b) + 0.0 * a,
    ),
}


@settings(max_examples=25, deadline=None)
@given(shapes=broadcast_pair(), name=st.sampled_from(sorted(OPS)), seed=st.integers(0, 2**16))
def test_binary_op_broadcasts_like_numpy_with_reduced_gradients(shapes, name, seed):
    op, forward, da, db = OPS[name]
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, shapes[0])
    b = rng.uniform(0.5, 2.0, shapes[1])  # positive (pow) and ties have probability zero
    ta = bt.tensor(a, dtype=bt.float64, requires_grad=True)
    tb = bt.tensor(b, dtype=bt.float64, requires_grad=True)
    out = op(ta, tb)
    expected = forward(a, b)
    assert tuple(out.shape) == expected.shape
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12)
    upstream = rng.standard_normal(expected.shape)
    out.backward(bt.tensor(upstream, dtype=bt.float64))
    assert tuple(ta.grad.shape) == a.shape and tuple(tb.grad.shape) == b.shape
    np.testing.assert_allclose(ta.grad.numpy(), reduce_to(upstream * da(a, b), a.shape), rtol=1e-10)
    np.testing.assert_allclose(tb.grad.numpy(), reduce_to(upstream * db(a, b), b.shape), rtol=1e-10)


@settings(max_examples=25, deadline=None)
@given(shapes=broadcast_pair(), scalar=st.floats(-3, 3, allow_nan=False), seed=st.integers(0, 99))
def test_tensor_scalar_ops_keep_shape_and_dtype(shapes, scalar, seed):
    a = np.random.default_rng(seed).standard_normal(shapes[0]).astype(np.float32)
    x = bt.tensor(a)
    for out, expected in (
        (x + scalar, a + np.float32(scalar)),
        (x * scalar, a * np.float32(scalar)),
        (scalar - x, np.float32(scalar) - a),
        (x.clamp(min=scalar), np.maximum(a, np.float32(scalar))),
    ):
        assert out.dtype == bt.float32 and tuple(out.shape) == a.shape
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(shapes=broadcast_pair(), seed=st.integers(0, 99))
def test_comparisons_broadcast_like_numpy(shapes, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, shapes[0])
    b = rng.integers(0, 3, shapes[1])
    for op, ref in ((bt.eq, np.equal), (bt.lt, np.less), (bt.logical_xor, np.logical_xor)):
        out = op(bt.tensor(a), bt.tensor(b))
        np.testing.assert_array_equal(out.numpy(), ref(a, b))
