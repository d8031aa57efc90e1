"""Loss functions: float64 gradcheck, torch parity (forward and backward), errors, GPU vs CPU."""

import warnings

import numpy as np
import pytest
from harness import check_gpu_matches_cpu, check_gradcheck, check_torch_parity

import biotorch
import biotorch.nn.functional as BF

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*different to the input size", "ignore:.*'mean' divides"
)

RNG = np.random.default_rng(7)


def normal(*shape):
    return RNG.standard_normal(shape)


def uniform(lo, hi, shape=None):
    return RNG.uniform(lo, hi, shape)


# Constants shared by both libraries (targets, weights), and the differentiable inputs.
IDX = RNG.integers(0, 5, 6)
IDX_IGNORED = np.array([0, 4, -100, 2, 1, -100])
IDX_NCL = np.array([[0, 3, -100], [2, 1, 3]])  # (N, L) targets for (N, C, L) = (2, 4, 3) logits
IDX_SCALAR = np.array(3)
CLASS_W = uniform(0.2, 2.0, 5)
CLASS_W4 = uniform(0.2, 2.0, 4)
ELEM_W = uniform(0.2, 2.0, (3, 5))
POS_W = uniform(0.5, 3.0, 5)
POS_W_NCL = uniform(0.5, 3.0, (4, 1))
COUNTS = np.where(RNG.random((3, 5)) < 0.5, uniform(0.0, 0.8, (3, 5)), uniform(1.5, 4.0, (3, 5)))


def const(lib, array, like):
    """``array`` as a tensor of ``lib`` next to ``like`` (float arrays take its dtype)."""
    if lib is biotorch:
        dtype = like.dtype if array.dtype.kind == "f" else None
        return biotorch.tensor(array, dtype=dtype, device=like.device)
    return lib.tensor(array, dtype=like.dtype if array.dtype.kind == "f" else None)


# name: (fn(F, lib, reduction, *inputs), inputs, extra reductions)
CASES = {
    "mse": (lambda F, L, r, x, t: F.mse_loss(x, t, reduction=r), [normal(3, 5), normal(3, 5)]),
    "mse_broadcast": (
        lambda F, L, r, x, t: F.mse_loss(x, t, reduction=r),
        [normal(3, 5), normal(5)],
    ),
    "mse_weight": (
        lambda F, L, r, x, t, w: F.mse_loss(x, t, reduction=r, weight=w),
        [normal(3, 5), normal(3, 5), uniform(0.2, 2.0, (3, 5))],
    ),
    "mse_0d": (lambda F, L, r, x, t: F.mse_loss(x, t, reduction=r), [normal(), normal()]),
    "l1": (lambda F, L, r, x, t: F.l1_loss(x, t, reduction=r), [normal(2, 3, 5), normal(3, 1)]),
    "l1_weight": (
        lambda F, L, r, x, t, w: F.l1_loss(x, t, reduction=r, weight=w),
        [normal(3, 5), normal(3, 5), uniform(0.2, 2.0, (3, 5))],
    ),
    "huber": (
        lambda F, L, r, x, t: F.huber_loss(x, t, reduction=r, delta=0.7),
        [normal(3, 5), normal(3, 5)],
    ),
    "huber_weight": (
        lambda F, L, r, x, t: F.huber_loss(x, t, reduction=r, weight=const(L, ELEM_W, x)),
        [normal(3, 5), normal(3, 5)],
    ),
    "smooth_l1": (
        lambda F, L, r, x, t: F.smooth_l1_loss(x, t, reduction=r, beta=0.5),
        [normal(3, 5), normal(1, 5)],
    ),
    "smooth_l1_beta0": (
        lambda F, L, r, x, t: F.smooth_l1_loss(x, t, reduction=r, beta=0.0),
        [normal(7), normal(7)],
    ),
    "poisson": (
        lambda F, L, r, x, t: F.poisson_nll_loss(x, t, reduction=r),
        [normal(3, 5), uniform(0.0, 4.0, (3, 5))],
    ),
    "poisson_full_rate": (
        lambda F, L, r, x, t: F.poisson_nll_loss(x, t, log_input=False, full=True, reduction=r),
        [uniform(0.3, 3.0, (3, 5)), COUNTS],
    ),
    "poisson_full_log": (
        lambda F, L, r, x, t: F.poisson_nll_loss(x, t, full=True, reduction=r),
        [normal(3, 5), COUNTS],
    ),
    "kl": (
        lambda F, L, r, x, t: F.kl_div(x, t, reduction=r),
        [normal(3, 5), uniform(0.1, 1.0, (3, 5))],
        ("batchmean",),
    ),
    "kl_log_target": (
        lambda F, L, r, x, t: F.kl_div(x, t, reduction=r, log_target=True),
        [normal(3, 5), normal(3, 5)],
        ("batchmean",),
    ),
    "bce": (
        lambda F, L, r, x, t: F.binary_cross_entropy(x, t, reduction=r),
        [uniform(0.05, 0.95, (3, 5)), uniform(0.0, 1.0, (3, 5))],
    ),
    "bce_weight": (
        lambda F, L, r, x, t: F.binary_cross_entropy(
            x, t, reduction=r, weight=const(L, CLASS_W, x)
        ),
        [uniform(0.05, 0.95, (3, 5)), uniform(0.0, 1.0, (3, 5))],
    ),
    "bce_logits": (
        lambda F, L, r, x, t: F.binary_cross_entropy_with_logits(x, t, reduction=r),
        [3 * normal(3, 5), uniform(0.0, 1.0, (3, 5))],
    ),
    "bce_logits_weights": (
        lambda F, L, r, x, t: F.binary_cross_entropy_with_logits(
            x, t, reduction=r, weight=const(L, ELEM_W, x), pos_weight=const(L, POS_W, x)
        ),
        [3 * normal(3, 5), uniform(0.0, 1.0, (3, 5))],
    ),
    "bce_logits_ncl": (
        lambda F, L, r, x, t: F.binary_cross_entropy_with_logits(
            x, t, reduction=r, pos_weight=const(L, POS_W_NCL, x)
        ),
        [3 * normal(2, 4, 3), uniform(0.0, 1.0, (2, 4, 3))],
    ),
    "cross_entropy": (
        lambda F, L, r, x: F.cross_entropy(x, const(L, IDX, x), reduction=r),
        [2 * normal(6, 5)],
    ),
    "cross_entropy_weight_ignore": (
        lambda F, L, r, x: F.cross_entropy(
            x, const(L, IDX_IGNORED, x), weight=const(L, CLASS_W, x), reduction=r
        ),
        [2 * normal(6, 5)],
    ),
    "cross_entropy_smoothing": (
        lambda F, L, r, x: F.cross_entropy(x, const(L, IDX, x), reduction=r, label_smoothing=0.2),
        [2 * normal(6, 5)],
    ),
    "cross_entropy_smoothing_weight_ignore": (
        lambda F, L, r, x: F.cross_entropy(
            x,
            const(L, IDX_IGNORED, x),
            weight=const(L, CLASS_W, x),
            reduction=r,
            label_smoothing=0.3,
        ),
        [2 * normal(6, 5)],
    ),
    "cross_entropy_ncl": (
        lambda F, L, r, x: F.cross_entropy(
            x, const(L, IDX_NCL, x), weight=const(L, CLASS_W4, x), reduction=r, label_smoothing=0.1
        ),
        [2 * normal(2, 4, 3)],
    ),
    "cross_entropy_permuted": (
        lambda F, L, r, x: F.cross_entropy(
            x.permute(0, 2, 1), const(L, IDX_NCL, x), reduction=r, label_smoothing=0.1
        ),
        [2 * normal(2, 3, 4)],
    ),
    "cross_entropy_probs_permuted": (
        lambda F, L, r, x, t: F.cross_entropy(x.permute(0, 2, 1), t, reduction=r),
        [2 * normal(2, 3, 4), uniform(0.0, 1.0, (2, 4, 3))],
    ),
    "nll_permuted": (
        lambda F, L, r, x: F.nll_loss(x.permute(0, 2, 1), const(L, IDX_NCL, x), reduction=r),
        [normal(2, 3, 4)],
    ),
    "cross_entropy_1d": (
        lambda F, L, r, x: F.cross_entropy(x, const(L, IDX_SCALAR, x), reduction=r),
        [2 * normal(5)],
    ),
    "cross_entropy_probs": (
        lambda F, L, r, x, t: F.cross_entropy(x, t, reduction=r),
        [2 * normal(6, 5), uniform(0.0, 1.0, (6, 5))],
    ),
    "cross_entropy_probs_weight_smoothing": (
        lambda F, L, r, x, t: F.cross_entropy(
            x, t, weight=const(L, CLASS_W4, x), reduction=r, label_smoothing=0.25
        ),
        [2 * normal(2, 4, 3), uniform(0.0, 1.0, (2, 4, 3))],
    ),
    "cross_entropy_probs_1d": (
        lambda F, L, r, x, t: F.cross_entropy(x, t, reduction=r),
        [2 * normal(5), uniform(0.0, 1.0, 5)],
    ),
    "nll": (lambda F, L, r, x: F.nll_loss(x, const(L, IDX, x), reduction=r), [normal(6, 5)]),
    "nll_weight_ignore_ncl": (
        lambda F, L, r, x: F.nll_loss(
            x, const(L, IDX_NCL, x), weight=const(L, CLASS_W4, x), reduction=r
        ),
        [normal(2, 4, 3)],
    ),
    "nll_1d": (
        lambda F, L, r, x: F.nll_loss(x, const(L, IDX_SCALAR, x), reduction=r),
        [normal(5)],
    ),
    "margin_ranking": (
        lambda F, L, r, a, b, y: F.margin_ranking_loss(a, b, y, margin=0.3, reduction=r),
        [normal(4, 3), normal(4, 1), np.sign(normal(4, 3))],
    ),
}

PARAMS = [
    pytest.param(name, r, id=f"{name}-{r}")
    for name, (_, _, *extra) in CASES.items()
    for r in ("none", "mean", "sum", *(extra[0] if extra else ()))
]


def bind(name, F, lib, reduction):
    fn = CASES[name][0]
    return lambda *xs: fn(F, lib, reduction, *xs)


@pytest.mark.parametrize("name, reduction", PARAMS)
def test_gradcheck(name, reduction):
    check_gradcheck(bind(name, BF, biotorch, reduction), *CASES[name][1])


@pytest.mark.parametrize("name, reduction", PARAMS)
def test_torch_parity(name, reduction):
    torch = pytest.importorskip("torch")
    bt_fn = bind(name, BF, biotorch, reduction)
    check_torch_parity(bt_fn, bind(name, torch.nn.functional, torch, reduction), *CASES[name][1])


@pytest.mark.gpu
@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_gpu_matches_cpu(name, reduction):
    check_gpu_matches_cpu(bind(name, BF, biotorch, reduction), *CASES[name][1])


# -- semantics beyond random inputs ---------------------------------------------------------------
def test_bce_with_logits_stays_finite_for_large_logits():
    x = biotorch.tensor([-200.0, -40.0, 0.0, 40.0, 200.0], requires_grad=True)
    t = biotorch.tensor([1.0, 0.0, 0.5, 1.0, 0.0])
    loss = BF.binary_cross_entropy_with_logits(x, t, reduction="none")
    # softplus(-x) for the positives and softplus(x) for the negatives: 200, ~0, log 2, ~0, 200.
    np.testing.assert_allclose(
        loss.detach().numpy(), [200.0, 0.0, np.log(2.0), 0.0, 200.0], atol=1e-6
    )
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-1.0, 0.0, 0.0, 0.0, 1.0], atol=1e-6)


def test_bce_with_logits_is_stable_for_large_logits():
    torch = pytest.importorskip("torch")
    x = np.array([-200.0, -40.0, 0.0, 40.0, 200.0], np.float32)
    t = np.array([1.0, 0.0, 0.5, 1.0, 0.0], np.float32)
    pw = np.float32([2.0])
    bx = biotorch.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    b = BF.binary_cross_entropy_with_logits(bx, biotorch.tensor(t), pos_weight=biotorch.tensor(pw))
    th = torch.nn.functional.binary_cross_entropy_with_logits(
        tx, torch.tensor(t), pos_weight=torch.tensor(pw)
    )
    b.backward()
    th.backward()
    assert np.isfinite(b.item())
    np.testing.assert_allclose(b.item(), th.item(), rtol=1e-6)
    np.testing.assert_allclose(bx.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-8)


def test_bce_clamps_log_at_minus_100():
    x = biotorch.tensor([0.0, 1.0, 0.5], requires_grad=True)
    loss = BF.binary_cross_entropy(x, biotorch.tensor([1.0, 0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [100.0, 100.0, np.log(2.0)], rtol=1e-6)
    loss.sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))


def test_bce_clamps_log_at_minus_100_like_torch():
    torch = pytest.importorskip("torch")
    x = np.array([0.0, 1.0, 1e-30, 0.5], np.float32)
    t = np.array([1.0, 0.0, 0.5, 0.3], np.float32)
    bx = biotorch.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    b = BF.binary_cross_entropy(bx, biotorch.tensor(t), reduction="none")
    th = torch.nn.functional.binary_cross_entropy(tx, torch.tensor(t), reduction="none")
    np.testing.assert_allclose(b.detach().numpy(), th.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(b.detach().numpy()[:2], [100.0, 100.0])
    b.sum().backward()
    th.sum().backward()
    np.testing.assert_allclose(bx.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_cross_entropy_is_stable_for_large_logits():
    x = biotorch.tensor([[1e4, -1e4, 0.0], [-3e4, 3e4, 2e4]], requires_grad=True)
    loss = BF.cross_entropy(x, biotorch.tensor([1, 1]), reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [2e4, 0.0])
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]])


# -- every target ignored: a nan mean (0/0) but zero gradients, as PyTorch ------------------------
# Inputs (C,), (N, C) and (N, C, d1, d2) with every target equal to ignore_index.
ALL_IGNORED = {
    "1d": ((4,), np.array(-100)),
    "2d": ((3, 4), np.full(3, -100)),
    "4d": ((2, 4, 3, 2), np.full((2, 3, 2), -100)),
}
# Class-index losses as fn(F, lib, reduction, x, target).
CLASS_INDEX_LOSSES = {
    "ce": lambda F, L, r, x, t: F.cross_entropy(x, t, reduction=r),
    "ce_weight": lambda F, L, r, x, t: F.cross_entropy(
        x, t, weight=const(L, CLASS_W4, x), reduction=r
    ),
    "ce_smoothing": lambda F, L, r, x, t: F.cross_entropy(x, t, reduction=r, label_smoothing=0.2),
    "ce_weight_smoothing": lambda F, L, r, x, t: F.cross_entropy(
        x, t, weight=const(L, CLASS_W4, x), reduction=r, label_smoothing=0.2
    ),
    "nll": lambda F, L, r, x, t: F.nll_loss(x, t, reduction=r),
    "nll_weight": lambda F, L, r, x, t: F.nll_loss(x, t, weight=const(L, CLASS_W4, x), reduction=r),
}
IGNORED_PARAMS = [
    pytest.param(loss, shape, r, id=f"{loss}-{shape}-{r}")
    for loss in CLASS_INDEX_LOSSES
    for shape in ALL_IGNORED
    for r in ("none", "mean", "sum")
]


def class_index_loss(loss, F, lib, reduction, target):
    fn = CLASS_INDEX_LOSSES[loss]
    return lambda x: fn(F, lib, reduction, x, const(lib, target, x))


@pytest.mark.parametrize("loss, shape, reduction", IGNORED_PARAMS)
def test_all_targets_ignored_give_zero_gradients(loss, shape, reduction):
    input_shape, target = ALL_IGNORED[shape]
    expected = {"mean": np.nan, "sum": 0.0, "none": np.zeros(target.shape)}[reduction]
    for upstream in (1.0, np.nan):  # ignored targets get nothing, whatever flows back
        x = biotorch.randn(*input_shape, requires_grad=True)
        out = class_index_loss(loss, BF, biotorch, reduction, target)(x)
        np.testing.assert_array_equal(out.detach().numpy(), expected)
        out.backward(biotorch.full(out.shape, upstream))
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros(input_shape))


@pytest.mark.parametrize("loss, shape, reduction", IGNORED_PARAMS)
def test_all_targets_ignored_torch_parity(loss, shape, reduction):
    torch = pytest.importorskip("torch")
    input_shape, target = ALL_IGNORED[shape]
    check_torch_parity(
        class_index_loss(loss, BF, biotorch, reduction, target),
        class_index_loss(loss, torch.nn.functional, torch, reduction, target),
        2 * normal(*input_shape),
    )


@pytest.mark.gpu
@pytest.mark.parametrize("loss", list(CLASS_INDEX_LOSSES))
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_all_targets_ignored_gpu_matches_cpu(loss, reduction):
    input_shape, target = ALL_IGNORED["4d"]
    fn = class_index_loss(loss, BF, biotorch, reduction, target)
    check_gpu_matches_cpu(fn, normal(*input_shape))


# Targets whose classes all weigh 0, and one ignored: PyTorch's mean is nan (also with label
# smoothing), the kept rows' gradients are nan and the ignored row's stay 0.
ZERO_WEIGHT = np.array([0.0, 0.0, 1.0, 2.0])
ZERO_WEIGHT_TARGET = np.array([0, 1, -100])
ZERO_WEIGHT_LOSSES = {
    "ce": lambda F, L, x, t: F.cross_entropy(x, t, weight=const(L, ZERO_WEIGHT, x)),
    "ce_smoothing": lambda F, L, x, t: F.cross_entropy(
        x, t, weight=const(L, ZERO_WEIGHT, x), label_smoothing=0.3
    ),
    "nll": lambda F, L, x, t: F.nll_loss(x, t, weight=const(L, ZERO_WEIGHT, x)),
}


@pytest.mark.parametrize("loss", list(ZERO_WEIGHT_LOSSES))
def test_zero_summed_weight_mean_is_nan_and_ignored_rows_get_zero(loss):
    x = biotorch.randn(3, 4, requires_grad=True)
    out = ZERO_WEIGHT_LOSSES[loss](BF, biotorch, x, biotorch.tensor(ZERO_WEIGHT_TARGET))
    assert np.isnan(out.item())
    out.backward()
    np.testing.assert_array_equal(x.grad.numpy()[2], np.zeros(4))


@pytest.mark.gpu
@pytest.mark.parametrize("loss", list(ZERO_WEIGHT_LOSSES))
def test_zero_summed_weight_gpu_matches_cpu(loss):
    fn = ZERO_WEIGHT_LOSSES[loss]
    check_gpu_matches_cpu(
        lambda x: fn(BF, biotorch, x, const(biotorch, ZERO_WEIGHT_TARGET, x)), normal(3, 4)
    )


@pytest.mark.parametrize("loss", list(ZERO_WEIGHT_LOSSES))
def test_zero_summed_weight_torch_parity(loss):
    torch = pytest.importorskip("torch")
    fn = ZERO_WEIGHT_LOSSES[loss]
    check_torch_parity(
        lambda x: fn(BF, biotorch, x, const(biotorch, ZERO_WEIGHT_TARGET, x)),
        lambda x: fn(torch.nn.functional, torch, x, const(torch, ZERO_WEIGHT_TARGET, x)),
        normal(3, 4),
    )


# Other means over nothing, which already matched PyTorch (kept so they stay so). All-zero
# weights: mse/l1 divide by the summed weights, 0/0 (a nan loss and, through the weights, nan
# gradients, as PyTorch's own composite); huber and the BCE losses divide by the element count
# (0, with zero gradients). Empty batches give a nan mean and empty gradients.
ZEROS = np.zeros((3, 5))
EMPTY = np.zeros((0, 4))
NOTHING_CASES = {
    "mse_zero_weight": (
        lambda F, L, r, x, t, w: F.mse_loss(x, t, reduction=r, weight=w),
        [normal(3, 5), normal(3, 5), ZEROS],
    ),
    "l1_zero_weight": (
        lambda F, L, r, x, t, w: F.l1_loss(x, t, reduction=r, weight=w),
        [normal(3, 5), normal(3, 5), ZEROS],
    ),
    "huber_zero_weight": (
        lambda F, L, r, x, t: F.huber_loss(x, t, reduction=r, weight=const(L, ZEROS, x)),
        [normal(3, 5), normal(3, 5)],
    ),
    "bce_zero_weight": (
        lambda F, L, r, x, t: F.binary_cross_entropy(
            x, t, reduction=r, weight=const(L, ZEROS[0], x)
        ),
        [uniform(0.05, 0.95, (3, 5)), uniform(0.0, 1.0, (3, 5))],
    ),
    "bce_logits_zero_weight": (
        lambda F, L, r, x, t: F.binary_cross_entropy_with_logits(
            x, t, reduction=r, weight=const(L, ZEROS, x), pos_weight=const(L, ZEROS[0], x)
        ),
        [normal(3, 5), uniform(0.0, 1.0, (3, 5))],
    ),
    "mse_empty": (lambda F, L, r, x, t: F.mse_loss(x, t, reduction=r), [EMPTY, EMPTY]),
    "bce_logits_empty": (
        lambda F, L, r, x, t: F.binary_cross_entropy_with_logits(x, t, reduction=r),
        [EMPTY, EMPTY],
    ),
    "kl_empty": (lambda F, L, r, x, t: F.kl_div(x, t, reduction=r), [EMPTY, EMPTY]),
    "cross_entropy_probs_empty": (
        lambda F, L, r, x, t: F.cross_entropy(x, t, reduction=r, label_smoothing=0.1),
        [EMPTY, EMPTY],
    ),
    "cross_entropy_empty": (
        lambda F, L, r, x: F.cross_entropy(
            x, const(L, np.zeros(0, np.int64), x), reduction=r, label_smoothing=0.1
        ),
        [EMPTY],
    ),
    "nll_empty_ncl": (
        lambda F, L, r, x: F.nll_loss(x, const(L, np.zeros((2, 0), np.int64), x), reduction=r),
        [np.zeros((2, 4, 0))],
    ),
}


@pytest.mark.parametrize("name", list(NOTHING_CASES))
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_means_over_nothing_torch_parity(name, reduction):
    torch = pytest.importorskip("torch")
    fn, arrays = NOTHING_CASES[name]
    check_torch_parity(
        lambda *xs: fn(BF, biotorch, reduction, *xs),
        lambda *xs: fn(torch.nn.functional, torch, reduction, *xs),
        *arrays,
    )


def test_empty_batch_mean_is_nan_like_torch():
    x = biotorch.zeros(0, 4)
    assert np.isnan(BF.cross_entropy(x, biotorch.tensor(np.zeros(0, np.int64))).item())
    assert np.isnan(BF.mse_loss(biotorch.zeros(0), biotorch.zeros(0)).item())


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int32])
def test_any_integer_target_dtype_gives_the_int64_result(dtype):
    x = biotorch.tensor(normal(6, 5).astype(np.float32))
    expected = BF.cross_entropy(x, biotorch.tensor(IDX), label_smoothing=0.1).item()
    got = BF.cross_entropy(x, biotorch.tensor(IDX.astype(dtype)), label_smoothing=0.1).item()
    assert got == pytest.approx(expected, rel=1e-6)


def test_float32_stays_float32():
    x = biotorch.randn(4, 3, requires_grad=True)
    for loss in (
        BF.cross_entropy(x, biotorch.tensor([0, 1, 2, 0]), label_smoothing=0.1),
        BF.binary_cross_entropy_with_logits(x, biotorch.rand(4, 3)),
        BF.huber_loss(x, biotorch.zeros(4, 3)),
        BF.poisson_nll_loss(x, biotorch.rand(4, 3), full=True),
    ):
        assert loss.dtype == biotorch.float32
        loss.backward()
        assert x.grad.dtype == biotorch.float32


def test_mismatched_regression_shapes_warn_and_broadcast():
    x, t = biotorch.randn(3, 4), biotorch.randn(4)
    with pytest.warns(UserWarning, match=r"mse_loss: using a target size \(4,\).*\(3, 4\)"):
        loss = BF.mse_loss(x, t, reduction="none")
    assert tuple(loss.shape) == (3, 4)


def test_kl_div_mean_warns_and_batchmean_divides_by_batch():
    x, t = biotorch.randn(4, 5), biotorch.rand(4, 5)
    with pytest.warns(UserWarning, match="batchmean"):
        mean = BF.kl_div(x, t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        total = BF.kl_div(x, t, reduction="sum").item()
        assert BF.kl_div(x, t, reduction="batchmean").item() == pytest.approx(total / 4)
    assert mean.item() == pytest.approx(total / 20)


@pytest.mark.parametrize(
    "size_average, reduce, reduction",
    [(None, False, "none"), (False, None, "sum"), (True, True, "mean")],
)
def test_legacy_size_average_and_reduce(size_average, reduce, reduction):
    x, t = biotorch.randn(3, 4), biotorch.randn(3, 4)
    with pytest.warns(UserWarning, match="deprecated"):
        legacy = BF.mse_loss(x, t, size_average=size_average, reduce=reduce)
    np.testing.assert_allclose(legacy.numpy(), BF.mse_loss(x, t, reduction=reduction).numpy())


# -- errors -------------------------------------------------------------------------------------
def t(*shape, dtype=None):
    return biotorch.rand(*shape) if dtype is None else biotorch.zeros(*shape, dtype=dtype)


def idx(*values):
    return biotorch.tensor(list(values))


ERRORS = [
    (lambda: BF.mse_loss(t(3), t(3), reduction="avg"), ValueError, r"mse_loss: 'avg' is not"),
    (lambda: BF.kl_div(t(3), t(3), reduction="avg"), ValueError, "'batchmean'"),
    (lambda: BF.cross_entropy(t(3, 4), idx(0, 1, 2), reduction="batchmean"), ValueError, "not a"),
    (lambda: BF.mse_loss(t(3, 4), t(3)), ValueError, r"target of shape \(3,\).*\(3, 4\)"),
    (lambda: BF.mse_loss(t(3), 1.0), TypeError, "'target'"),
    (lambda: BF.mse_loss(t(3), t(3), weight=t(1, 3)), ValueError, r"weight has shape \(1, 3\)"),
    (lambda: BF.huber_loss(t(3), t(3), delta=0.0), ValueError, "delta must be positive"),
    (lambda: BF.smooth_l1_loss(t(3), t(3), beta=-1.0), ValueError, "beta must be non-negative"),
    (
        lambda: BF.binary_cross_entropy(t(3, 4), t(4)),
        ValueError,
        r"target has shape \(4,\), expected the input's shape \(3, 4\)",
    ),
    (
        lambda: BF.binary_cross_entropy_with_logits(t(3, 4), t(1, 4)),
        ValueError,
        r"target has shape \(1, 4\).*\(3, 4\)",
    ),
    (
        lambda: BF.binary_cross_entropy_with_logits(t(3, 4), t(3, 4), pos_weight=t(3)),
        ValueError,
        r"pos_weight of shape \(3,\) does not broadcast.*\(3, 4\)",
    ),
    (
        lambda: BF.binary_cross_entropy(t(3, 4), t(3, 4), weight=t(2, 3, 4)),
        ValueError,
        r"weight of shape \(2, 3, 4\)",
    ),
    (
        lambda: BF.binary_cross_entropy_with_logits(
            t(3), t(3), weight=biotorch.ones(3, requires_grad=True)
        ),
        RuntimeError,
        r"not differentiable with respect to 'weight'",
    ),
    (
        lambda: BF.binary_cross_entropy(biotorch.tensor([0.5, 1.5]), t(2)),
        ValueError,
        r"input should be between 0 and 1.*1\.5",
    ),
    (
        lambda: BF.binary_cross_entropy(t(2), biotorch.tensor([-0.5, 0.5])),
        ValueError,
        "target should be between 0 and 1",
    ),
    (
        lambda: BF.cross_entropy(t(3, 4), idx(0, 1, 7)),
        IndexError,
        "target value 7 is out of range for 4 classes",
    ),
    (lambda: BF.nll_loss(t(3, 4), idx(0, -3, 1)), IndexError, "target value -3 is out of range"),
    (
        lambda: BF.nll_loss(t(3, 4), idx(0, 1, -100), ignore_index=1),
        IndexError,
        "target value -100",
    ),
    (
        lambda: BF.cross_entropy(t(3, 4), idx(0, 1)),
        ValueError,
        r"target has shape \(2,\), expected \(3,\) for input of shape \(3, 4\)",
    ),
    (
        lambda: BF.cross_entropy(t(3, 4, 5), t(3, 6, dtype=biotorch.int64)),
        ValueError,
        r"expected \(3, 5\)",
    ),
    (lambda: BF.nll_loss(t(3, 4), t(3)), TypeError, "integer class indices, got"),
    (lambda: BF.nll_loss(t(), idx(0)), ValueError, r"shape \(C,\), \(N, C\)"),
    (
        lambda: BF.cross_entropy(t(3, 4), idx(0, 1, 2), weight=t(3)),
        ValueError,
        r"weight of shape \(3,\) should hold one value per class, shape \(4,\)",
    ),
    (
        lambda: BF.cross_entropy(t(3, 4), t(3, 5)),
        ValueError,
        r"target has shape \(3, 5\), expected the input's shape \(3, 4\)",
    ),
    (lambda: BF.cross_entropy(t(3, 4), t(3, 4), ignore_index=1), ValueError, "ignore_index=1"),
    (
        lambda: BF.cross_entropy(t(3, 4), idx(0, 1, 2), label_smoothing=1.5),
        ValueError,
        r"label_smoothing must be in \[0, 1\], got 1.5",
    ),
    (
        lambda: BF.margin_ranking_loss(t(3), t(3, 1), t(3)),
        ValueError,
        "same number of dimensions",
    ),
]


@pytest.mark.parametrize("call, error, match", ERRORS)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
