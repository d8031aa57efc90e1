"""Reductions: gradcheck, torch parity, semantics (indices, ties, dtypes, overloads), errors."""

import math

import numpy as np
import pytest
from harness import check_gpu_matches_cpu, check_gradcheck, check_torch_parity, random_inputs

import biotorch as bt

INF = math.inf

# name: (fn of (module, x) that runs the same on biotorch and torch, input shape).
# Shapes cover 0-d, odd sizes and 3-D inputs with several reduced dims.
CASES = {
    "sum_all": (lambda m, x: m.sum(x), (3, 5)),
    "sum_0d": (lambda m, x: m.sum(x), ()),
    "sum_dim": (lambda m, x: m.sum(x, 1), (3, 5)),
    "sum_dims_keep": (lambda m, x: m.sum(x, (0, 2), keepdim=True), (2, 3, 4)),
    "sum_dtype": (lambda m, x: m.sum(x, -1, dtype=m.float64), (3, 5)),
    "mean_all": (lambda m, x: m.mean(x), (2, 3, 4)),
    "mean_dims": (lambda m, x: m.mean(x, (-1, 0)), (2, 3, 4)),
    "mean_keep": (lambda m, x: m.mean(x, 1, keepdim=True), (3, 5)),
    "var_all": (lambda m, x: m.var(x), (3, 5)),
    "var_dim_biased_keep": (lambda m, x: m.var(x, 1, False, True), (3, 5)),
    "var_correction": (lambda m, x: m.var(x, (0, 2), correction=0.5), (2, 3, 4)),
    "std_all": (lambda m, x: m.std(x), (3, 5)),
    "std_dims": (lambda m, x: m.std(x, (0, 2), keepdim=True), (2, 3, 4)),
    "std_biased": (lambda m, x: m.std(x, 0, unbiased=False), (3, 5)),
    "var_mean": (lambda m, x: m.var_mean(x, 1), (3, 5)),
    "std_mean": (lambda m, x: m.std_mean(x, (0, 1), correction=0), (2, 3, 4)),
    "max_all": (lambda m, x: m.max(x), (3, 5)),
    "max_dim": (lambda m, x: m.max(x, 1).values, (3, 5)),
    "max_dim_keep": (lambda m, x: m.max(x, -1, keepdim=True)[0], (2, 3, 4)),
    "max_0d": (lambda m, x: m.max(x, 0).values, ()),
    "min_all": (lambda m, x: m.min(x), (2, 3, 4)),
    "min_dim": (lambda m, x: m.min(x, dim=0).values, (3, 5)),
    "amax": (lambda m, x: m.amax(x, (0, 2)), (2, 3, 4)),
    "amax_all": (lambda m, x: m.amax(x), (3, 5)),
    "amin_keep": (lambda m, x: m.amin(x, 1, keepdim=True), (3, 5)),
    "prod_all": (lambda m, x: m.prod(x), (2, 3)),
    "prod_dim": (lambda m, x: m.prod(x, 1), (3, 5)),
    "prod_keep": (lambda m, x: m.prod(x, 0, keepdim=True), (2, 3, 4)),
    "prod_0d": (lambda m, x: m.prod(x), ()),
    "logsumexp": (lambda m, x: m.logsumexp(x, 1), (3, 5)),
    "logsumexp_dims_keep": (lambda m, x: m.logsumexp(x, (0, 2), keepdim=True), (2, 3, 4)),
    "cumsum": (lambda m, x: m.cumsum(x, 1), (3, 5)),
    "cumsum_first": (lambda m, x: m.cumsum(x, 0), (2, 3, 4)),
    "cumsum_0d": (lambda m, x: m.cumsum(x, 0), ()),
    "norm_fro": (lambda m, x: m.norm(x), (3, 5)),
    "norm_2_dim": (lambda m, x: m.norm(x, 2, 1), (3, 5)),
    "norm_1": (lambda m, x: m.norm(x, 1, (0, 2), keepdim=True), (2, 3, 4)),
    "norm_3": (lambda m, x: m.norm(x, 3, -1), (3, 5)),
    "norm_frac": (lambda m, x: m.norm(x, 1.5), (3, 5)),
    "norm_inf": (lambda m, x: m.norm(x, INF, 1), (3, 5)),
    "norm_neg_inf": (lambda m, x: m.norm(x, -INF), (3, 5)),
    "method_chain": (lambda m, x: x.sum(0).mean() + x.max(1)[0].norm() + x.amax(-1).prod(), (3, 5)),
}


def _fns(name):
    fn, shape = CASES[name]
    return (lambda x: fn(bt, x)), shape


@pytest.mark.parametrize("name", CASES)
def test_gradcheck(name):
    fn, shape = _fns(name)
    check_gradcheck(fn, *random_inputs(shape))


@pytest.mark.parametrize("name", CASES)
def test_torch_parity(name):
    torch = pytest.importorskip("torch")
    fn, shape = CASES[name]
    check_torch_parity(lambda x: fn(bt, x), lambda x: fn(torch, x), *random_inputs(shape, seed=3))


@pytest.mark.gpu
@pytest.mark.parametrize("name", CASES)
def test_gpu_matches_cpu(name):
    fn, shape = _fns(name)
    check_gpu_matches_cpu(fn, *random_inputs(shape, seed=4))


# Inputs where the subgradient choice matters: ties, zeros, a zero norm, a constant row.
SPECIAL = {
    "max_all_ties": (lambda m, x: m.max(x), [[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]),
    "min_dim_ties": (lambda m, x: m.min(x, 1).values, [[1.0, 0.0, 0.0], [2.0, 2.0, 5.0]]),
    "max_dim_ties": (lambda m, x: m.max(x, 0).values, [[3.0, 2.0], [3.0, 2.0]]),
    "amax_ties": (lambda m, x: m.amax(x, 1), [[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]),
    "amin_ties_all": (lambda m, x: m.amin(x), [[0.0, 3.0], [0.0, 0.0]]),
    "prod_one_zero": (lambda m, x: m.prod(x, 1), [[1.0, 0.0, 3.0], [2.0, 4.0, 0.5]]),
    "prod_two_zeros": (lambda m, x: m.prod(x), [[1.0, 0.0, 3.0], [0.0, 4.0, 0.5]]),
    "norm_at_zero": (lambda m, x: m.norm(x), [0.0, 0.0, 0.0]),
    "norm_dim_at_zero": (lambda m, x: m.norm(x, dim=1), [[0.0, 0.0], [3.0, 4.0]]),
    "norm_1_at_zero": (lambda m, x: m.norm(x, 1), [0.0, 2.0, 0.0]),
    "norm_3_at_zero": (lambda m, x: m.norm(x, 3), [0.0, 0.0]),
    "norm_inf_ties": (lambda m, x: m.norm(x, INF), [1.0, -3.0, 3.0]),
    "norm_inf_at_zero": (lambda m, x: m.norm(x, INF), [0.0, 0.0]),
    "std_constant": (lambda m, x: m.std(x, 1), [[5.0, 5.0, 5.0], [1.0, 2.0, 4.0]]),
    "logsumexp_large": (lambda m, x: m.logsumexp(x, 0), [1000.0, 1001.0, -1000.0]),
    "logsumexp_neg_inf_row": (lambda m, x: m.logsumexp(x, 1), [[-INF, 0.0], [-INF, -INF]]),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # log(0) for a row of -inf, as torch
@pytest.mark.parametrize("name", SPECIAL)
def test_subgradients_match_torch(name):
    torch = pytest.importorskip("torch")
    fn, values = SPECIAL[name]
    x = np.array(values)
    check_torch_parity(lambda t: fn(bt, t), lambda t: fn(torch, t), x, grad=False)
    bx = bt.tensor(x, dtype=bt.float64, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    fn(bt, bx).sum().backward()
    fn(torch, tx).sum().backward()
    np.testing.assert_allclose(bx.grad.numpy(), tx.grad.numpy(), equal_nan=True)


def test_max_min_with_dim_return_named_values_and_first_indices():
    x = bt.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    values, indices = bt.max(x, 1)
    result = x.max(dim=1, keepdim=True)
    assert type(result).__name__ == "max" and result._fields == ("values", "indices")
    assert values.tolist() == [3.0, 2.0] and indices.tolist() == [1, 0]
    assert indices.dtype == bt.int64 and not indices.requires_grad
    assert result.indices.shape == (2, 1)
    low = bt.min(x, dim=0)
    assert type(low).__name__ == "min"
    assert low.values.tolist() == [1.0, 2.0, 0.0] and low.indices.tolist() == [0, 1, 1]


def test_max_min_of_integers_keep_dtype_and_need_no_grad():
    x = bt.tensor([[4, 9], [7, 1]], dtype=bt.int32)
    assert bt.max(x).dtype == bt.int32 and bt.max(x).item() == 9
    assert bt.min(x, 1).values.tolist() == [4, 1]
    assert bt.amax(x, 0).tolist() == [7, 9]


def test_max_and_min_with_a_tensor_are_elementwise():
    from biotorch.ops import elementwise

    if not hasattr(elementwise, "maximum"):
        pytest.skip("elementwise.maximum is not written yet")
    a = bt.tensor([1.0, 5.0, -2.0])
    b = bt.tensor([3.0, 4.0, -1.0])
    assert bt.max(a, b).tolist() == [3.0, 5.0, -1.0]
    assert a.min(b).tolist() == [1.0, 4.0, -2.0]


@pytest.mark.parametrize(
    ("dim", "keepdim", "expected_max", "expected_min"),
    [
        (None, False, 1, 5),
        (None, True, [[1]], [[5]]),
        (1, False, [1, 0], [0, 2]),
        (0, True, [[1, 0, 0]], [[0, 1, 1]]),
        (-1, True, [[1], [0]], [[0], [2]]),
    ],
)
def test_argmax_argmin_first_occurrence(dim, keepdim, expected_max, expected_min):
    x = bt.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], requires_grad=True)
    hi, lo = bt.argmax(x, dim, keepdim), x.argmin(dim=dim, keepdim=keepdim)
    assert hi.tolist() == expected_max and lo.tolist() == expected_min
    assert hi.dtype == lo.dtype == bt.int64 and not hi.requires_grad


def test_argmax_of_0d():
    x = bt.tensor(2.5)
    assert bt.argmax(x).tolist() == 0 and bt.argmin(x, 0).shape == ()


@pytest.mark.parametrize("op", ["all", "any"])
@pytest.mark.parametrize("dim", [None, 0, (0, 2), -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_all_any_match_numpy(op, dim, keepdim):
    data = np.random.default_rng(0).integers(0, 2, (2, 3, 4)).astype(np.float32)
    data[0] = 1.0
    out = getattr(bt, op)(bt.tensor(data), dim, keepdim)
    expected = getattr(np, op)(data, axis=dim, keepdims=keepdim)
    assert out.dtype == bt.bool
    np.testing.assert_array_equal(out.numpy(), expected)


def test_all_any_dtypes_follow_torch():
    assert bt.all(bt.tensor([1, 2], dtype=bt.uint8)).dtype == bt.uint8
    assert bt.any(bt.tensor([0.0, 0.0])).item() is False
    assert bt.tensor([True, True]).all().item() is True


@pytest.mark.parametrize("op", ["sum", "prod"])
@pytest.mark.parametrize("dtype", [bt.bool, bt.uint8, bt.int32])
def test_integer_sums_and_products_give_int64(op, dtype):
    x = bt.tensor([[1, 1, 0], [1, 1, 1]], dtype=dtype)
    assert getattr(bt, op)(x).dtype == bt.int64
    assert getattr(x, op)(1).dtype == bt.int64
    assert bt.cumsum(x, 1).dtype == bt.int64


def test_dtype_arguments():
    x = bt.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert bt.sum(x, dtype=bt.float64).dtype == bt.float64
    assert bt.prod(x, 1, dtype=bt.float64).tolist() == [2.0, 12.0]
    assert bt.cumsum(x, 0, dtype=bt.float64).dtype == bt.float64
    assert bt.mean(bt.tensor([1, 2]), dtype=bt.float32).item() == 1.5
    assert bt.norm(x, dtype=bt.float64).dtype == bt.float64
    assert bt.logsumexp(bt.tensor([0, 0]), 0).dtype == bt.float32


def test_var_overloads_match_torch():
    torch = pytest.importorskip("torch")
    (data,) = random_inputs((3, 4), dtype=np.float32)
    b, t = bt.tensor(data), torch.tensor(data)
    calls = [
        lambda m, x: m.var(x, True),
        lambda m, x: m.var(x, False),
        lambda m, x: m.var(x, 1, True, True),
        lambda m, x: m.std(x, dim=[0], keepdim=True, correction=2),
        lambda m, x: x.var(0, unbiased=False),
        lambda m, x: x.std(),
    ]
    for call in calls:
        np.testing.assert_allclose(call(bt, b).numpy(), call(torch, t).numpy(), rtol=1e-5)


@pytest.mark.parametrize("dim", [(), []])
def test_empty_dim_reduces_everything_like_torch(dim):
    x = bt.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert bt.sum(x, dim).item() == 10.0
    assert bt.amax(x, dim).item() == 4.0


def test_reductions_of_size_one_and_empty_dims():
    x = bt.zeros(0, 3)
    assert bt.sum(x, 0).tolist() == [0.0, 0.0, 0.0]
    assert bt.max(x, 1).values.shape == (0,)
    assert bt.amax(x, 1).shape == (0,)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda x: bt.sum(x, 2), IndexError, "sum: dimension 2 is out of range"),
        (lambda x: bt.mean(x, (0, -2)), ValueError, "mean: dimension"),
        (lambda x: bt.sum(x, 1.5), TypeError, "sum: dim must be an int"),
        (lambda x: bt.max(x, (0, 1)), TypeError, "max: dim must be a single int"),
        (lambda x: bt.argmax(x, (0,)), TypeError, "argmax: dim must be a single int"),
        (lambda x: bt.max(x, keepdim=True), TypeError, "max: keepdim=True needs a dim"),
        (lambda x: bt.cumsum(x, None), TypeError, "cumsum: dim must be a single int"),
        (lambda x: bt.var(x, 1, True, correction=0), TypeError, "var: pass either"),
        (lambda x: bt.std(x.long()), RuntimeError, "std: expected a floating-point input"),
        (lambda x: bt.mean(x.long()), RuntimeError, "mean: expected a floating-point input"),
        (lambda x: bt.norm(x, "nuc"), ValueError, "norm: p must be"),
        (lambda x: bt.norm(x.long()), RuntimeError, "norm: expected a floating-point"),
        (lambda x: bt.max(bt.zeros(0, 3)), RuntimeError, "max: cannot reduce an empty tensor"),
        (lambda x: bt.amax(bt.zeros(0, 3), 0), IndexError, "amax: expected reduction dim 0"),
        (lambda x: bt.argmin(bt.zeros(2, 0), 1), IndexError, "argmin: expected reduction dim 1"),
        (lambda x: bt.sum([1.0, 2.0]), TypeError, "sum: expected a Tensor for 'input'"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(bt.ones(2, 3))
