"""layer_norm and batch_norm: gradcheck, torch parity, running-statistics updates, errors."""

import numpy as np
import pytest
from harness import check_gpu_matches_cpu, check_gradcheck, check_torch_parity, random_inputs

import biotorch as bt
import biotorch.nn.functional as F

# (input shape, normalized_shape)
LN_SHAPES = [((4, 5), (5,)), ((2, 3, 4), (3, 4)), ((7,), (7,)), ((3, 1, 6), (6,))]
AFFINE = ["none", "weight", "both"]
BN_SHAPES = [(6, 3), (4, 3, 5), (3, 2, 3, 4)]


def _arrays(shape, param_shape, kind, seed=0):
    """Random input, plus weight and bias of ``param_shape`` as ``kind`` asks."""
    n_params = AFFINE.index(kind)
    return random_inputs(shape, *[param_shape] * n_params, seed=seed)


def _ln(lib, norm):
    def fn(x, weight=None, bias=None):
        return lib.layer_norm(x, norm, weight, bias)

    return fn


@pytest.mark.parametrize("shape,norm", LN_SHAPES)
@pytest.mark.parametrize("kind", AFFINE)
def test_layer_norm_gradcheck(shape, norm, kind):
    check_gradcheck(_ln(F, norm), *_arrays(shape, norm, kind))


@pytest.mark.parametrize("shape,norm", LN_SHAPES)
@pytest.mark.parametrize("kind", AFFINE)
def test_layer_norm_torch_parity(shape, norm, kind):
    torch = pytest.importorskip("torch")
    check_torch_parity(
        _ln(F, norm), _ln(torch.nn.functional, norm), *_arrays(shape, norm, kind, seed=1)
    )


def _bn(lib, training, stats):
    """batch_norm with fresh running statistics made by ``stats(channels)`` (or None)."""

    def fn(x, weight=None, bias=None):
        rm, rv = (None, None) if stats is None else stats(x.shape[1])
        return lib.batch_norm(x, rm, rv, weight, bias, training=training, momentum=0.3, eps=1e-3)

    return fn


def _bt_stats(c):
    return tuple(
        bt.tensor(np.linspace(lo, hi, c), dtype=bt.float32) for lo, hi in ((-0.5, 0.5), (0.5, 2))
    )


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("kind", AFFINE)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(shape, kind, training):
    def stats(c):
        return tuple(s.double() for s in _bt_stats(c))

    check_gradcheck(_bn(F, training, stats), *_arrays(shape, (shape[1],), kind))


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("kind", AFFINE)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_torch_parity(shape, kind, training):
    torch = pytest.importorskip("torch")

    def torch_stats(c):
        return tuple(torch.tensor(s.numpy()) for s in _bt_stats(c))

    check_torch_parity(
        _bn(F, training, _bt_stats),
        _bn(torch.nn.functional, training, torch_stats),
        *_arrays(shape, (shape[1],), kind, seed=2),
    )


def test_batch_norm_training_without_running_stats():
    torch = pytest.importorskip("torch")
    check_torch_parity(
        _bn(F, True, None), _bn(torch.nn.functional, True, None), *_arrays((5, 4, 3), (4,), "both")
    )


@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_updates_running_stats_like_torch(shape):
    torch = pytest.importorskip("torch")
    x = random_inputs(shape, seed=3)[0].astype(np.float32) * 3 + 1
    rm, rv = _bt_stats(shape[1])
    trm, trv = (torch.tensor(s.numpy()) for s in (rm, rv))
    for _ in range(2):
        F.batch_norm(bt.tensor(x), rm, rv, training=True, momentum=0.2)
        torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.2)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_updates_running_stats_in_place(shape):
    """Training blends the batch mean and unbiased variance in with ``momentum``, in place;
    evaluation leaves the statistics alone."""
    x = random_inputs(shape, seed=3)[0].astype(np.float32) * 3 + 1
    rm, rv = _bt_stats(shape[1])
    expected_mean, expected_var = rm.numpy().copy(), rv.numpy().copy()
    versions = rm._version, rv._version
    axes = (0, *range(2, len(shape)))
    for _ in range(2):
        F.batch_norm(bt.tensor(x), rm, rv, training=True, momentum=0.2)
        expected_mean = 0.8 * expected_mean + 0.2 * x.mean(axis=axes)
        expected_var = 0.8 * expected_var + 0.2 * x.var(axis=axes, ddof=1)
    np.testing.assert_allclose(rm.numpy(), expected_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rv.numpy(), expected_var, rtol=1e-5, atol=1e-6)
    assert (rm._version, rv._version) == (versions[0] + 2, versions[1] + 2)
    before = rm.numpy().copy(), rv.numpy().copy()
    F.batch_norm(bt.tensor(x), rm, rv, training=False)
    np.testing.assert_array_equal(rm.numpy(), before[0])
    np.testing.assert_array_equal(rv.numpy(), before[1])


def test_layer_norm_output_statistics():
    x = bt.tensor(random_inputs((6, 50), seed=4)[0] * 5 + 3, dtype=bt.float32)
    y = F.layer_norm(x, (50,)).numpy()
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(-1), 1, rtol=1e-3)
    assert F.layer_norm(x, 50).shape == (6, 50)


def test_errors():
    x = bt.ones(4, 3)
    with pytest.raises(RuntimeError, match=r"layer_norm: normalized_shape=\[4\] expects"):
        F.layer_norm(x, (4,))
    with pytest.raises(RuntimeError, match="layer_norm: 'weight' has shape"):
        F.layer_norm(x, (3,), weight=bt.ones(4))
    with pytest.raises(RuntimeError, match="running_mean must be given in evaluation mode"):
        F.batch_norm(x, None, None)
    with pytest.raises(RuntimeError, match=r"'running_mean' has shape \(2,\), expected \(3,\)"):
        F.batch_norm(x, bt.zeros(2), bt.ones(2))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(bt.ones(1, 3), bt.zeros(3), bt.ones(3), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: expected an input of shape \(N, C\)"):
        F.batch_norm(bt.ones(3), bt.zeros(3), bt.ones(3))


@pytest.mark.gpu
@pytest.mark.parametrize("training", [True, False])
def test_gpu_matches_cpu(training):
    check_gpu_matches_cpu(
        lambda x, w, b: F.layer_norm(x, (7,), w, b), *random_inputs((4, 9, 7), (7,), (7,))
    )

    def bn(x, w, b):
        rm, rv = (s.to(x.device) for s in _bt_stats(5))
        return F.batch_norm(x, rm, rv, w, b, training=training)

    check_gpu_matches_cpu(bn, *random_inputs((8, 5, 11), (5,), (5,)))


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_modifying_the_weight_before_backward_is_detected(norm):
    x = bt.ones(4, 3, requires_grad=True)
    w = bt.ones(3)
    if norm == "layer":
        y = F.layer_norm(x, (3,), w)
    else:
        y = F.batch_norm(x, None, None, w, training=True)
    w.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()
