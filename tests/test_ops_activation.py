"""Activation functions in ``biotorch.nn.functional``."""

import numpy as np
import pytest
from harness import (
    check_gpu_matches_cpu,
    check_gradcheck,
    check_torch_parity,
    needs_torch,
    random_inputs,
    torch,
)

import biotorch as bt
import biotorch.nn.functional as F
from biotorch.ops import elementwise

# name: keyword arguments (the same for biotorch and torch)
ACTIVATIONS = {
    "relu": {},
    "sigmoid": {},
    "tanh": {},
    "leaky_relu": {},
    "leaky_relu_slope": {"negative_slope": 0.2},
    "elu": {},
    "elu_alpha": {"alpha": 0.7},
    "gelu": {},
    "gelu_tanh": {"approximate": "tanh"},
    "softplus": {},
    "softplus_beta": {"beta": 2.0, "threshold": 3.0},
    "silu": {},
    "hardtanh": {},
    "hardtanh_bounds": {"min_val": -0.5, "max_val": 2.0},
    "relu6": {},
}


def _fns(name):
    """The activation in biotorch and in torch (looked up when called: torch may be missing)."""
    base = "leaky_relu" if name.startswith("leaky_relu") else name.split("_")[0]
    kwargs = ACTIVATIONS[name]
    return (
        lambda x: getattr(F, base)(x, **kwargs),
        lambda x: getattr(torch.nn.functional, base)(x, **kwargs),
    )


def _inputs(shape, seed=0):
    # scaled so the inputs reach the tails, thresholds and clamps of every function
    return [3.0 * a for a in random_inputs(shape, seed=seed)]


@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 7)])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_gradcheck(name, shape):
    check_gradcheck(_fns(name)[0], *_inputs(shape))


@needs_torch
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_torch_parity(name):
    bt_fn, th_fn = _fns(name)
    check_torch_parity(bt_fn, th_fn, *_inputs((8, 33), seed=4))


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_accurate_over_the_whole_range(dtype, approximate):
    x = np.linspace(-40.0, 40.0, 40001).astype(dtype)
    t = torch.from_numpy(x).requires_grad_()
    expected = torch.nn.functional.gelu(t, approximate=approximate)
    expected.sum().backward()
    b = bt.tensor(x, requires_grad=True)
    out = F.gelu(b, approximate=approximate)
    out.sum().backward()
    tol = {np.float32: 1e-5, np.float64: 1e-13}[dtype]
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), atol=tol, rtol=tol)
    np.testing.assert_allclose(b.grad.numpy(), t.grad.numpy(), atol=tol, rtol=tol)


def test_normal_cdf_matches_math_erfc_in_both_tails():
    import math

    x = np.concatenate([np.linspace(-37.0, 8.0, 3001), [0.0, -1e-300, 1e-8]])
    expected = np.array([0.5 * math.erfc(-v / math.sqrt(2.0)) for v in x])
    from biotorch.ops.activation import normal_cdf

    np.testing.assert_allclose(normal_cdf(x), expected, rtol=1e-12, atol=0)
    got32 = normal_cdf(x.astype(np.float32))
    assert got32.dtype == np.float32
    keep = expected > 1e-30
    np.testing.assert_allclose(got32[keep], expected[keep], rtol=2e-5)


EXTREME = np.array([-1e4, -800.0, -90.0, -20.0, 0.0, 20.0, 90.0, 800.0, 1e4], dtype=np.float32)


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "silu", "elu"])
def test_extreme_inputs_stay_finite(name):
    b = bt.tensor(EXTREME, requires_grad=True)
    out = _fns(name)[0](b)
    out.sum().backward()
    assert np.all(np.isfinite(out.detach().numpy())) and np.all(np.isfinite(b.grad.numpy()))


@needs_torch
@pytest.mark.parametrize("name", ["sigmoid", "softplus", "silu", "elu"])
def test_extreme_inputs_match_torch(name):
    x = EXTREME
    bt_fn, th_fn = _fns(name)
    b = bt.tensor(x, requires_grad=True)
    out = bt_fn(b)
    out.sum().backward()
    t = torch.from_numpy(x).requires_grad_()
    th_fn(t).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), th_fn(torch.from_numpy(x)), rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=1e-30)


@needs_torch
def test_kinks_use_torch_conventions():
    x = [-1.0, 0.0, 1.0, 6.0]
    for fn in ("hardtanh", "relu6", "relu", "leaky_relu", "elu"):
        b = bt.tensor(x, dtype=bt.float64, requires_grad=True)
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        getattr(F, fn)(b).sum().backward()
        getattr(torch.nn.functional, fn)(t).sum().backward()
        np.testing.assert_array_equal(b.grad.numpy(), t.grad.numpy(), err_msg=fn)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "silu", "hardtanh", "relu6"])
def test_inplace_matches_out_of_place(name):
    x = _inputs((4, 5), seed=9)[0].astype(np.float32)
    ref = bt.tensor(x, requires_grad=True)
    expected = getattr(F, name)(ref * 1.0)
    expected.sum().backward()
    leaf = bt.tensor(x, requires_grad=True)
    y = leaf * 1.0
    out = getattr(F, name)(y, inplace=True)
    assert out is y
    out.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy())
    np.testing.assert_allclose(leaf.grad.numpy(), ref.grad.numpy())


def test_reexports_are_the_elementwise_ops():
    assert F.relu is elementwise.relu and F.sigmoid is elementwise.sigmoid
    assert F.tanh is elementwise.tanh and bt.relu is F.relu


ERRORS = [
    (lambda: F.gelu(bt.tensor([1, 2])), TypeError, "gelu: expected a floating-point tensor"),
    (lambda: F.gelu(bt.ones(2), approximate="erf"), ValueError, "gelu: approximate must be"),
    (lambda: F.silu([1.0]), TypeError, "silu: expected a Tensor for 'input', got list"),
    (lambda: F.hardtanh(bt.ones(2), 1.0, -1.0), ValueError, "hardtanh: min_val"),
    (lambda: F.leaky_relu(bt.tensor([1])), TypeError, "leaky_relu: expected a floating-point"),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_bad_input_raises_clear_error(case):
    fn, error, message = ERRORS[case]
    with pytest.raises(error, match=message):
        fn()


def test_float32_stays_float32():
    x = bt.randn(3, 4, requires_grad=True)
    for name in ACTIVATIONS:
        out = _fns(name)[0](x)
        assert out.dtype == bt.float32, name
        out.sum().backward()
        assert x.grad.dtype == bt.float32, name


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_gpu_matches_cpu(name):
    check_gpu_matches_cpu(_fns(name)[0], *_inputs((8, 33), seed=4))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_relu_and_clamp_backward_keep_inf_and_nan_where_they_pass(dtype):
    """The gradient mask is a select, not a product: inf/nan pass where the input passes (as in
    torch) and give exact zeros elsewhere, for every float width, with a broadcast mask too."""
    x = bt.tensor(np.array([[-1.0, 2.0, 3.0, -4.0, 5.0, -0.5]], dtype=dtype))
    upstream = np.array([[np.inf, np.inf, np.nan, np.nan, -0.0, 7.0]], dtype=dtype)
    for fn in (bt.relu, lambda t: bt.clamp(t, min=0.0)):
        t = x.detach().requires_grad_()
        fn(t).backward(bt.tensor(upstream))
        assert t.grad.dtype == x.dtype
        np.testing.assert_array_equal(t.grad.numpy(), [[0, np.inf, np.nan, 0, -0.0, 0]])
        assert not np.signbit(t.grad.numpy()[0, [0, 3, 5]]).any()
    from biotorch.ops.elementwise import _masked

    keep = np.array([True, False, True])
    grad = np.full((2, 3), -np.inf, dtype=dtype)
    np.testing.assert_array_equal(_masked(grad, keep), [[-np.inf, 0, -np.inf]] * 2)
