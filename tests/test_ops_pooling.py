"""1-D pooling: gradcheck, torch parity (values, indices, gradients), edge cases, errors, GPU."""

import re

import numpy as np
import pytest
from harness import check_gpu_matches_cpu, check_gradcheck, check_torch_parity, random_inputs

import biotorch
import biotorch.nn.functional as F

MAX_CONFIGS = [
    {"kernel_size": 4},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 3, "stride": 1, "dilation": 2},
    {"kernel_size": 4, "stride": 3, "padding": 2, "dilation": 2, "ceil_mode": True},
    {"kernel_size": 5, "stride": 2, "padding": 2},
    {"kernel_size": 1},
    {"kernel_size": (2,), "stride": (5,)},
]
AVG_CONFIGS = [
    {k: v for k, v in c.items() if k != "dilation"} | {"count_include_pad": cip}
    for c in MAX_CONFIGS
    for cip in (True, False)
]
ADAPTIVE_SIZES = [1, 3, 5, 7, 17, 20]
CASES = (
    [("max_pool1d", kw) for kw in MAX_CONFIGS]
    + [("avg_pool1d", kw) for kw in AVG_CONFIGS]
    + [("adaptive_max_pool1d", n) for n in ADAPTIVE_SIZES]
    + [("adaptive_avg_pool1d", n) for n in ADAPTIVE_SIZES]
)
CASE_IDS = [f"{name}-{arg}" for name, arg in CASES]


def _pool(lib, name, arg):
    """The pooling call of ``lib`` (biotorch or torch) for a case; max pools return indices."""
    fn = getattr(lib.nn.functional, name)
    if name == "max_pool1d":
        return lambda x: fn(x, return_indices=True, **arg)
    if name == "avg_pool1d":
        return lambda x: fn(x, **arg)
    if name == "adaptive_max_pool1d":
        return lambda x: fn(x, arg, True)
    return lambda x: fn(x, arg)


def _values(fn):
    def values(x):
        out = fn(x)
        return out[0] if isinstance(out, tuple) else out

    return values


@pytest.mark.parametrize("shape", [(2, 3, 17), (3, 16)])
@pytest.mark.parametrize("name, arg", CASES, ids=CASE_IDS)
def test_pool_torch_parity(name, arg, shape):
    torch = pytest.importorskip("torch")
    bt, th = _pool(biotorch, name, arg), _pool(torch, name, arg)
    (x,) = random_inputs(shape)
    check_torch_parity(bt, th, x)
    out_bt, out_th = bt(biotorch.tensor(x, dtype=biotorch.float32)), th(torch.tensor(x).float())
    if isinstance(out_th, tuple):  # indices into the unpadded input, exactly as torch's
        assert out_bt[1].dtype == biotorch.int64
        np.testing.assert_array_equal(out_bt[1].numpy(), out_th[1].numpy())


@pytest.mark.parametrize("name, arg", CASES, ids=CASE_IDS)
def test_pool_gradcheck(name, arg):
    check_gradcheck(_values(_pool(biotorch, name, arg)), *random_inputs((2, 2, 11), seed=4))


def test_max_pool_deepsea_fast_path_matches_torch():
    torch = pytest.importorskip("torch")
    (x,) = random_inputs((4, 8, 103), seed=6)  # 103 = 4 * 25 + 3: the tail is dropped
    check_torch_parity(
        lambda t: F.max_pool1d(t, 4, 4), lambda t: torch.nn.functional.max_pool1d(t, 4, 4), x
    )


def test_max_pool_ties_go_to_first_max_and_all_inf_window_to_first_element():
    x = biotorch.tensor([[[-np.inf, -np.inf, 5.0, 3.0, 3.0, 0.0]]], requires_grad=True)
    y, idx = F.max_pool1d(x, 3, 3, padding=1, return_indices=True)
    assert idx.tolist() == [[[0, 2]]]  # as torch: the -inf window keeps its first element
    y, idx = F.max_pool1d(x[..., 2:], 2, 1, return_indices=True)
    assert idx.tolist() == [[[0, 1, 2]]]  # the tie [3, 3] goes to the first
    y.sum().backward()
    assert x.grad.tolist() == [[[0.0, 0.0, 1.0, 1.0, 1.0, 0.0]]]


def test_max_pool_nan_propagates_with_gradient_to_it():
    x = biotorch.tensor([[0.0, np.nan, 2.0, 1.0]], requires_grad=True)
    y = F.max_pool1d(x, 2)
    assert np.isnan(y.tolist()[0][0]) and y.tolist()[0][1] == 2.0
    y.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 1.0, 0.0]]


def test_pool_keeps_dtype_and_needs_no_grad():
    x = biotorch.tensor(random_inputs((2, 3, 12))[0], dtype=biotorch.float64)
    for out in (F.max_pool1d(x, 3), F.avg_pool1d(x, 3), F.adaptive_avg_pool1d(x, 5)):
        assert out.dtype == biotorch.float64 and not out.requires_grad


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda x: F.max_pool1d(x, 0), ValueError, "max_pool1d: expected kernel_size to be"),
        (lambda x: F.max_pool1d(x, 3, 0), ValueError, "stride to be an int >= 1"),
        (lambda x: F.max_pool1d(x, 4, padding=3), ValueError, "at most half of kernel_size"),
        (lambda x: F.avg_pool1d(x, 20), RuntimeError, "avg_pool1d: input length 10"),
        (lambda x: F.max_pool1d(x[0, 0], 2), RuntimeError, "got shape (10,)"),
        (lambda x: F.max_pool1d(x.long(), 2), TypeError, "floating-point input"),
        (lambda x: F.adaptive_max_pool1d(x, 0), ValueError, "output_size to be an int >= 1"),
        (lambda x: F.adaptive_avg_pool1d(x, (2, 3)), ValueError, "output_size"),
    ],
)
def test_pool_errors(call, error, message):
    x = biotorch.tensor(random_inputs((2, 3, 10))[0])
    with pytest.raises(error, match=re.escape(message)):
        call(x)


@pytest.mark.gpu
@pytest.mark.parametrize("name, arg", CASES, ids=CASE_IDS)
def test_pool_gpu_matches_cpu(name, arg):
    fn = _values(_pool(biotorch, name, arg))
    check_gpu_matches_cpu(fn, *random_inputs((2, 3, 17), dtype=np.float32))


# Global pooling and other long windows that tile the input (reduced as rows).
LONG_WINDOWS = (
    [("max_pool1d", {"kernel_size": 18}), ("avg_pool1d", {"kernel_size": 18})]
    + [("adaptive_max_pool1d", n) for n in (1, 2)]
    + [("adaptive_avg_pool1d", n) for n in (1, 2)]
)


def _long_input_shape(name):
    return (2, 3, 36 if "adaptive" in name else 37)


@pytest.mark.parametrize("name, arg", LONG_WINDOWS)
def test_long_tiling_windows(name, arg):
    torch = pytest.importorskip("torch")
    (x,) = random_inputs(_long_input_shape(name), seed=7)
    check_torch_parity(_pool(biotorch, name, arg), _pool(torch, name, arg), x)
    out_bt, out_th = (
        _pool(biotorch, name, arg)(biotorch.tensor(x)),
        _pool(torch, name, arg)(torch.tensor(x)),
    )
    if isinstance(out_th, tuple):
        np.testing.assert_array_equal(out_bt[1].numpy(), out_th[1].numpy())


@pytest.mark.parametrize("name, arg", LONG_WINDOWS)
def test_long_tiling_windows_gradcheck(name, arg):
    inputs = random_inputs(_long_input_shape(name), seed=8)
    check_gradcheck(_values(_pool(biotorch, name, arg)), *inputs)


# Masked global max (models.varlen.masked_pool): one op for masked_fill(-inf) + amax.
def _masked_input(seed=0, ties=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 4, 9))
    if ties:  # ReLU-like rows: zeros tie, one row is all zeros at its kept positions
        x = np.maximum(x, 0.0)
        x[1, 2] = 0.0
        x[0, 1, [2, 5]] = 7.0  # two equal maxima
    mask = np.arange(9)[None, :] < np.array([9, 4, 6])[:, None]
    return x, mask


def _masked_amax_torch(torch, x, mask):
    return x.masked_fill(~mask[:, None, :], float("-inf")).amax(dim=-1)


@pytest.mark.parametrize("ties", [False, True])
def test_masked_amax_matches_torch_masked_fill_amax(ties):
    torch = pytest.importorskip("torch")
    from biotorch.ops.pooling import masked_amax

    x, mask = _masked_input(ties=ties)
    bt_mask, th_mask = biotorch.tensor(mask), torch.tensor(mask)
    check_torch_parity(
        lambda a: masked_amax(a, bt_mask[:, None, :]),
        lambda a: _masked_amax_torch(torch, a, th_mask),
        x,
    )


def test_masked_amax_gradcheck_and_split_among_ties():
    from biotorch.ops.pooling import masked_amax

    x, mask = _masked_input(ties=True)
    keep = biotorch.tensor(mask)[:, None, :]
    x[:, :, 0] += 0.5  # keep finite differences away from the zero ties (not differentiable)
    x[1, 2] = 0.0
    x[1, 2, 3] = 1.0
    check_gradcheck(lambda a: masked_amax(a, keep), x)
    t = biotorch.tensor(x, requires_grad=True)
    masked_amax(t, keep).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy()[0, 1, [2, 5]], [0.5, 0.5])
    assert t.grad.numpy()[~np.broadcast_to(mask[:, None, :], x.shape)].sum() == 0


@pytest.mark.gpu
def test_masked_amax_gpu_matches_cpu():
    from biotorch.ops.pooling import masked_amax

    x, mask = _masked_input(ties=True)
    keep = biotorch.tensor(mask)[:, None, :]
    check_gpu_matches_cpu(lambda a: masked_amax(a, keep.to(a.device)), x)
