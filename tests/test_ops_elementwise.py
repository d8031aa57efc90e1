"""Elementwise arithmetic, math, clamping, selection, comparison and logical ops."""

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

SHAPES = [(), (3,), (2, 5, 3)]


def _positive(*shapes, seed=0):
    return random_inputs(*shapes, seed=seed, positive=True)


def _plain(*shapes, seed=0):
    return random_inputs(*shapes, seed=seed)


def _unit(*shapes, seed=0):
    return [0.9 * np.tanh(a) for a in random_inputs(*shapes, seed=seed)]


def _same(name):
    """``bt.<name>`` and ``torch.<name>`` (looked up when called, as torch may be missing)."""
    return getattr(bt, name), lambda *args: getattr(torch, name)(*args)


# name: (biotorch fn, torch fn, input maker)
UNARY = {
    "neg": (*_same("neg"), _plain),
    "abs": (*_same("abs"), _plain),
    "exp": (*_same("exp"), _plain),
    "expm1": (*_same("expm1"), _plain),
    "log": (*_same("log"), _positive),
    "log1p": (*_same("log1p"), _positive),
    "log2": (*_same("log2"), _positive),
    "sqrt": (*_same("sqrt"), _positive),
    "rsqrt": (*_same("rsqrt"), _positive),
    "reciprocal": (*_same("reciprocal"), _positive),
    "square": (*_same("square"), _plain),
    "sin": (*_same("sin"), _plain),
    "cos": (*_same("cos"), _plain),
    "tanh": (*_same("tanh"), _plain),
    "sigmoid": (*_same("sigmoid"), _plain),
    "relu": (*_same("relu"), _plain),
    "pow_scalar": (lambda x: x**2.5, lambda x: x**2.5, _positive),
    "pow_int_scalar": (lambda x: x**3, lambda x: x**3, _plain),
    "rpow": (lambda x: 2.0**x, lambda x: 2.0**x, _plain),
    "rsub": (lambda x: 1.5 - x, lambda x: 1.5 - x, _plain),
    "rdiv": (lambda x: 2.0 / x, lambda x: 2.0 / x, _positive),
    "clamp_scalars": (
        lambda x: bt.clamp(x, -0.5, 0.5),
        lambda x: torch.clamp(x, -0.5, 0.5),
        _plain,
    ),
    "clamp_min": (lambda x: x.clamp(min=0.1), lambda x: x.clamp(min=0.1), _plain),
    "clip_max": (lambda x: bt.clip(x, max=0.1), lambda x: torch.clip(x, max=0.1), _plain),
}

# name: (biotorch fn, torch fn, input maker); inputs broadcast against each other
BINARY = {
    "add": (*_same("add"), _plain),
    "add_alpha": (
        lambda a, b: bt.add(a, b, alpha=2.5),
        lambda a, b: torch.add(a, b, alpha=2.5),
        _plain,
    ),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, _plain),
    "sub_alpha": (
        lambda a, b: bt.sub(a, b, alpha=0.5),
        lambda a, b: torch.sub(a, b, alpha=0.5),
        _plain,
    ),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, _plain),
    "div": (lambda a, b: a / b, lambda a, b: a / b, _positive),
    "true_divide": (*_same("true_divide"), _positive),
    "pow": (lambda a, b: a**b, lambda a, b: a**b, _positive),
    "remainder": (lambda a, b: a % (b + 2.1), lambda a, b: a % (b + 2.1), _plain),
    "maximum": (*_same("maximum"), _plain),
    "minimum": (*_same("minimum"), _plain),
    "lerp": (lambda a, b: bt.lerp(a, b, 0.3), lambda a, b: torch.lerp(a, b, 0.3), _plain),
    "where": (
        lambda a, b: bt.where(a > 0.1, a, b),
        lambda a, b: torch.where(a > 0.1, a, b),
        _plain,
    ),
    "clamp_min_tensor": (
        lambda a, b: bt.clamp(a, min=b),
        lambda a, b: torch.clamp(a, min=b),
        _plain,
    ),
    "clamp_max_tensor": (
        lambda a, b: bt.clamp(a, max=b),
        lambda a, b: torch.clamp(a, max=b),
        _plain,
    ),
}

TERNARY = {
    "lerp_tensor_weight": _same("lerp"),
    "clamp_tensors": _same("clamp"),
    "where_scalar_other": (
        lambda a, b, c: bt.where(a > b, c, 0.5),
        lambda a, b, c: torch.where(a > b, c, 0.5),
    ),
}

BROADCAST_PAIRS = [((), ()), ((3,), ()), ((2, 1, 3), (4, 1)), ((5,), (2, 1, 5)), ((1, 3), (3, 1))]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradcheck(name, shape):
    fn, _, make = UNARY[name]
    check_gradcheck(fn, *make(shape))


@needs_torch
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_torch_parity(name):
    fn, torch_fn, make = UNARY[name]
    check_torch_parity(fn, torch_fn, *make((4, 7), seed=3))


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradcheck(name, shapes):
    fn, _, make = BINARY[name]
    check_gradcheck(fn, *make(*shapes, seed=len(shapes[0])))


@needs_torch
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_torch_parity(name, shapes):
    fn, torch_fn, make = BINARY[name]
    if name.startswith("clamp") and np.broadcast_shapes(*shapes) != shapes[0]:
        pytest.skip("torch's clamp backward fails when a tensor bound broadcasts the input")
    check_torch_parity(fn, torch_fn, *make(*shapes, seed=5))


@pytest.mark.parametrize("name", sorted(TERNARY))
def test_ternary_gradcheck(name):
    check_gradcheck(TERNARY[name][0], *random_inputs((2, 4, 3), (4, 1), (3,), seed=7))


@needs_torch
@pytest.mark.parametrize("name", sorted(TERNARY))
def test_ternary_torch_parity(name):
    fn, torch_fn = TERNARY[name]
    check_torch_parity(fn, torch_fn, *random_inputs((2, 4, 3), (4, 1), (3,), seed=7))


# -- gradients at the edges, compared with torch in float64 ------------------------------------
def _grads(lib, fn, *values, need=None):
    need = need or [True] * len(values)
    make = torch.tensor if lib is torch else bt.tensor
    dtype = torch.float64 if lib is torch else bt.float64
    xs = [
        make(v, dtype=dtype).requires_grad_() if isinstance(v, list) and n else v
        for v, n in zip(values, need, strict=True)
    ]
    out = fn(*xs)
    out.sum().backward()
    grads = [x.grad.numpy() if hasattr(x, "grad") and x.grad is not None else None for x in xs]
    return out.detach().numpy(), grads


def _where(a, b):
    return a.where(a > 0, b)


EDGE_CASES = {
    "pow_tensor_tensor": (
        lambda a, b: a**b,
        [0.0, 0.0, 0.0, -2.0, -2.0, 2.0, 0.0],
        [0.0, 2.0, -1.0, 2.0, 0.5, 0.0, 0.5],
    ),
    "pow_scalar_exponent_zero": (lambda a: a**0, [0.0, 1.0, -3.0]),
    "pow_scalar_exponent_half": (lambda a: a**0.5, [0.0, 1.0, -1.0]),
    "pow_negative_exponent": (lambda a: a**-1.0, [0.0, 2.0]),
    "pow_zero_base": (lambda b: 0.0**b, [0.0, 1.0, -1.0]),
    "pow_negative_base": (lambda b: (-2.0) ** b, [2.0, 1.5]),
    "maximum_ties_nan": (
        lambda a, b: a.maximum(b),
        [1.0, 2.0, float("nan"), 0.0],
        [1.0, 1.0, 0.0, float("nan")],
    ),
    "minimum_ties": (lambda a, b: a.minimum(b), [1.0, 2.0, 3.0], [1.0, 3.0, 2.0]),
    "clamp_min_above_max": (
        lambda a, lo, hi: a.clamp(lo, hi),
        [0.0, 1.0, 2.0, 3.0, 2.0],
        [1.0, 1.0, 1.0, 3.0, 2.0],
        [2.0, 2.0, 2.0, 1.0, 2.0],
    ),
    "clamp_boundaries": (lambda a: a.clamp(1.0, 2.0), [0.0, 1.0, 2.0, 3.0]),
    "abs_at_zero": (lambda a: a.abs(), [0.0, -3.0, 2.0]),
    "relu_at_zero": (lambda a: a.relu(), [0.0, -3.0, 2.0]),
    "sqrt_at_zero": (lambda a: a.sqrt(), [0.0, 4.0]),
    "div_by_zero": (lambda a, b: a / b, [1.0, 0.0, -1.0], [0.0, 0.0, 2.0]),
    "remainder_grads": (lambda a, b: a % b, [3.0, -3.0, 5.5], [2.0, 2.0, -2.0]),
    "div_floor": (
        lambda a, b: a.div(b, rounding_mode="floor"),
        [3.0, -3.0, 1.0],
        [2.0, 2.0, 0.0],
    ),
    "div_trunc": (lambda a, b: a.div(b, rounding_mode="trunc"), [3.0, -3.0], [2.0, 2.0]),
    "floor": (lambda a: a.floor(), [1.5, -1.5]),
    "ceil": (lambda a: a.ceil(), [1.5, -1.5]),
    "trunc": (lambda a: a.trunc(), [1.5, -1.5]),
    "round_half_even": (lambda a: a.round(), [0.5, 1.5, 2.5, -0.5]),
    "round_decimals": (lambda a: a.round(decimals=2), [1.2345, 2.5, -0.125]),
    "sign": (lambda a: a.sign(), [1.5, -1.5, 0.0]),
    "sigmoid_tails": (lambda a: a.sigmoid(), [-800.0, -100.0, -20.0, 0.0, 20.0, 800.0]),
    "where_inf_unselected": (_where, [1.0, -1.0], [float("inf"), 2.0]),
}


@needs_torch
@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_values_match_torch(name):
    fn, *values = EDGE_CASES[name]
    out, grads = _grads(bt, fn, *values)
    t_out, t_grads = _grads(torch, fn, *values)
    np.testing.assert_allclose(out, t_out, rtol=1e-12)
    for g, tg in zip(grads, t_grads, strict=True):
        np.testing.assert_allclose(g, tg, rtol=1e-12)


# -- dtypes and type promotion -----------------------------------------------------------------
FLOAT_FUNCTIONS = [
    "exp",
    "log",
    "log1p",
    "expm1",
    "log2",
    "sqrt",
    "rsqrt",
    "reciprocal",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
]
KEEP_DTYPE_FUNCTIONS = ["neg", "abs", "sign", "square", "relu", "floor", "ceil", "trunc"]


@needs_torch
@pytest.mark.parametrize("name", FLOAT_FUNCTIONS + KEEP_DTYPE_FUNCTIONS)
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_integer_inputs_dtype_and_values(name, dtype):
    values = np.array([0, 1, 2, 3, 7], dtype=dtype)
    try:
        expected = getattr(torch, name)(torch.from_numpy(values))
    except (RuntimeError, NotImplementedError):
        expected = None
    if expected is None:
        with pytest.raises(TypeError, match=name):
            getattr(bt, name)(bt.tensor(values))
        return
    out = getattr(bt, name)(bt.tensor(values))
    assert out.dtype.name == str(expected.dtype).removeprefix("torch.")
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6)


PROMOTION_CASES = [
    (lambda x, y: x * 2.5, "int64", "int64"),
    (lambda x, y: x + 2, "int32", "int64"),
    (lambda x, y: x + y, "int32", "int64"),
    (lambda x, y: x + y, "float32", "float64"),
    (lambda x, y: x + y, "uint8", "int8"),
    (lambda x, y: x / y, "int64", "int64"),
    (lambda x, y: x // y, "int64", "int64"),
    (lambda x, y: x // y, "float32", "int64"),
    (lambda x, y: x % y, "int32", "int64"),
    (lambda x, y: x**2, "int64", "int64"),
    (lambda x, y: x**2.5, "int64", "int64"),
    (lambda x, y: 2 ** x.abs(), "int64", "int64"),
    (lambda x, y: 2.5**x, "int64", "int64"),
    (lambda x, y: x**y, "float32", "int64"),
    (lambda x, y: x.clamp(min=1.5), "int64", "int64"),
    (lambda x, y: x.clamp(min=y), "int64", "float32"),
    (lambda x, y: x.maximum(y), "int64", "float32"),
    (lambda x, y: x.maximum(y), "int32", "uint8"),
    (lambda x, y: x.where(x > 1, 2.5), "int64", "int64"),
    (lambda x, y: x.where(x > 1, y), "int64", "float64"),
    (lambda x, y: x == y, "int64", "float32"),
    (lambda x, y: x < 2.5, "int64", "int64"),
    (lambda x, y: x.div(y, rounding_mode="trunc"), "int64", "int64"),
    (lambda x, y: x.div(y, rounding_mode="floor"), "int32", "int64"),
]


@needs_torch
@pytest.mark.parametrize("case", range(len(PROMOTION_CASES)))
def test_type_promotion_matches_torch(case):
    fn, dt_x, dt_y = PROMOTION_CASES[case]
    x = np.array([-7, -2, 1, 3, 6]).astype(dt_x)
    y = np.array([3, 2, 1, 2, 4]).astype(dt_y)
    expected = fn(torch.from_numpy(x), torch.from_numpy(y))
    out = fn(bt.tensor(x), bt.tensor(y))
    assert out.dtype.name == str(expected.dtype).removeprefix("torch.")
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6)


def test_where_both_scalars_gives_default_float():
    cond = bt.tensor([True, False])
    out = bt.where(cond, 1, 2.5)
    assert out.dtype == bt.float32
    assert out.tolist() == [1.0, 2.5]
    assert bt.where(cond, 1, 2).dtype == bt.int64


@needs_torch
@pytest.mark.parametrize("mode", [None, "trunc", "floor"])
def test_integer_division_rounding_matches_torch(mode):
    a = np.arange(-9, 10, dtype=np.int64)
    b = np.array([-4, -3, 2, 5], dtype=np.int64)[:, None]
    expected = torch.div(torch.from_numpy(a), torch.from_numpy(b), rounding_mode=mode)
    out = bt.div(bt.tensor(a), bt.tensor(b), rounding_mode=mode)
    assert out.dtype.name == str(expected.dtype).removeprefix("torch.")
    np.testing.assert_allclose(out.numpy(), expected.numpy())
    remainder = torch.from_numpy(a) % torch.from_numpy(b)
    np.testing.assert_array_equal((bt.tensor(a) % bt.tensor(b)).numpy(), remainder.numpy())


@needs_torch
def test_float_floor_divide_and_remainder_match_torch():
    a = np.array([7.5, -7.5, 1.0, -1.0, 0.0, 3.0], dtype=np.float32)
    b = np.array([2.0, 2.0, -0.3, 0.0, 0.0, -3.0], dtype=np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(bt.tensor(a) // bt.tensor(b), ta // tb, rtol=1e-6)
        np.testing.assert_allclose(bt.tensor(a) % bt.tensor(b), ta % tb, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            bt.div(bt.tensor(a), bt.tensor(b), rounding_mode="trunc"),
            torch.div(ta, tb, rounding_mode="trunc"),
        )


# -- comparisons, logical, tests ----------------------------------------------------------------
PREDICATES = ["eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"]


PREDICATE_ARGS = np.array([[0.0, 1.0, 2.0, np.nan]]), np.array([[0.0], [2.0], [np.nan]])


@pytest.mark.parametrize("name", PREDICATES)
def test_predicates_give_bool_without_grad(name):
    a, b = PREDICATE_ARGS
    out = getattr(bt, name)(bt.tensor(a, requires_grad=True), bt.tensor(b))
    assert out.dtype == bt.bool and not out.requires_grad and out.grad_fn is None
    assert out.shape == (3, 4)


@needs_torch
@pytest.mark.parametrize("name", PREDICATES)
def test_predicates_match_torch(name):
    a, b = PREDICATE_ARGS
    x = bt.tensor(a, requires_grad=True)
    out = getattr(bt, name)(x, bt.tensor(b))
    expected = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    if name.startswith("logical"):
        return
    scalar = getattr(bt, name)(x, 1.0)
    np.testing.assert_array_equal(scalar.numpy(), getattr(torch, name)(torch.tensor(a), 1.0))


TESTS = ["isnan", "isfinite", "isinf", "logical_not"]
SPECIAL_VALUES = np.array([0.0, -1.5, np.nan, np.inf, -np.inf], dtype=np.float32)


@pytest.mark.parametrize("name", TESTS)
def test_tests_give_bool_without_grad(name):
    out = getattr(bt, name)(bt.tensor(SPECIAL_VALUES, requires_grad=True))
    assert out.dtype == bt.bool and not out.requires_grad and out.shape == (5,)


@needs_torch
@pytest.mark.parametrize("name", TESTS)
def test_tests_match_torch(name):
    out = getattr(bt, name)(bt.tensor(SPECIAL_VALUES, requires_grad=True))
    expected = getattr(torch, name)(torch.from_numpy(SPECIAL_VALUES)).numpy()
    np.testing.assert_array_equal(out.numpy(), expected)


def test_operators_dispatch_to_predicates():
    x = bt.tensor([1, 2, 3])
    assert (x == 2).tolist() == [False, True, False]
    assert (2 < x).tolist() == [False, False, True]
    assert (~(x > 1)).tolist() == [True, False, False]
    assert (~x).tolist() == [-2, -3, -4]
    assert bt.bitwise_not(bt.tensor([True, False])).tolist() == [False, True]


# -- errors ------------------------------------------------------------------------------------
ERRORS = [
    (lambda: bt.exp(1.0), TypeError, "exp: expected a Tensor for 'input', got float"),
    (lambda: bt.clamp(bt.ones(2)), ValueError, "clamp: at least one of 'min' or 'max'"),
    (lambda: bt.clamp(bt.ones(2), "a"), TypeError, "clamp: expected a number or Tensor for 'min'"),
    (lambda: bt.div(bt.ones(2), 2, rounding_mode="round"), ValueError, "rounding_mode"),
    (lambda: bt.maximum(bt.ones(2), 2.0), TypeError, "maximum: expected a Tensor for 'other'"),
    (lambda: bt.where(bt.ones(2), 1.0, 0.0), TypeError, "where: expected a bool tensor"),
    (lambda: bt.lerp(bt.ones(2), bt.ones(2).double(), 0.5), TypeError, "lerp: expected dtype"),
    (lambda: bt.bitwise_not(bt.ones(2)), TypeError, "bitwise_not: expected an integer"),
    (lambda: bt.tensor([2]) ** -1, ValueError, "pow: integers to negative integer powers"),
    (lambda: bt.tensor([2]) // 0, ZeroDivisionError, "floor_divide: integer division by zero"),
    (lambda: bt.tensor([2]) % bt.tensor([0]), ZeroDivisionError, "remainder"),
    (lambda: -bt.tensor([True]), TypeError, "neg: negation of a bool tensor"),
    (lambda: bt.add(bt.tensor([1]), 1, alpha=0.5), RuntimeError, "add: alpha=0.5"),
    (lambda: bt.add(bt.ones(2), "x"), TypeError, "add: expected a Tensor or a number"),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_bad_input_raises_clear_error(case):
    fn, error, message = ERRORS[case]
    with pytest.raises(error, match=message.replace("(", r"\(").replace("*", r"\*")):
        fn()


def test_zero_gradient_ops_give_zeros_not_none():
    x = bt.tensor([1.5, -2.5], requires_grad=True)
    (x.floor() + x.sign() + x.round() + bt.floor_divide(x, 2.0)).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


def test_inplace_relu_and_clamp():
    x = bt.tensor([-1.0, 2.0, 5.0], requires_grad=True)
    y = x * 1.0
    bt.relu(y, inplace=True)
    y.clamp_(max=3.0)
    assert y.tolist() == [0.0, 2.0, 3.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


# -- GPU vs CPU --------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gpu_matches_cpu(name):
    fn, _, make = UNARY[name]
    check_gpu_matches_cpu(fn, *make((4, 7), seed=3))


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gpu_matches_cpu(name):
    fn, _, make = BINARY[name]
    check_gpu_matches_cpu(fn, *make((2, 1, 3), (4, 1), seed=5))


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(TERNARY))
def test_ternary_gpu_matches_cpu(name):
    check_gpu_matches_cpu(TERNARY[name][0], *random_inputs((2, 4, 3), (4, 1), (3,), seed=7))


@pytest.mark.gpu
def test_predicates_and_rounding_gpu_match_cpu():
    a = np.array([[-2.5, -1.0, 0.0, 1.5, np.nan]], dtype=np.float32)
    b = np.array([[1.0], [-1.5]], dtype=np.float32)
    for fn in (bt.eq, bt.lt, bt.ge, bt.logical_xor, bt.floor_divide, bt.remainder):
        cpu = fn(bt.tensor(a), bt.tensor(b)).numpy()
        gpu = fn(bt.tensor(a, device="cuda"), bt.tensor(b, device="cuda")).cpu().numpy()
        np.testing.assert_allclose(gpu, cpu, rtol=1e-6)
