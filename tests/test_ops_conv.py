"""conv1d: gradcheck, torch parity (forward and backward) over strides, paddings, dilations and
groups, for both the per-tap and the stacked-taps (im2col) computation; error messages, and
CuPy vs NumPy."""

import re

import numpy as np
import pytest
from harness import check_gpu_matches_cpu, check_gradcheck, check_torch_parity, random_inputs

import biotorch
import biotorch.nn.functional as F
import biotorch.ops.conv

# (input shape, weight shape, stride, padding, dilation, groups)
CONFIGS = [
    ((2, 4, 11), (6, 4, 3), 1, 0, 1, 1),
    ((2, 4, 11), (6, 4, 3), 2, 1, 1, 1),
    ((3, 6, 17), (9, 2, 4), 3, 2, 2, 3),
    ((2, 4, 12), (8, 4, 4), 1, "same", 1, 1),
    ((2, 4, 13), (8, 1, 4), 1, "same", 2, 4),
    ((2, 4, 13), (5, 4, 3), 1, "same", 3, 1),
    ((5, 9), (5, 1, 2), 1, "valid", 1, 5),
    ((2, 4, 7), (4, 4, 7), 1, 0, 1, 1),
    ((2, 3, 10), (6, 1, 3), 4, 1, 3, 3),
    ((1, 2, 9), (3, 2, 1), 2, 0, 1, 1),
    ((4, 3, 20), (2, 3, 5), 5, 3, 1, 1),
    ((3, 8), (4, 3, 2), (2,), (1,), (2,), 1),
]
IDS = [f"x{c[0]}-w{c[1]}-s{c[2]}-p{c[3]}-d{c[4]}-g{c[5]}" for c in CONFIGS]


@pytest.fixture(params=["per_tap", "stacked", "thin", "thin_per_item"])
def strategy(request, monkeypatch):
    """Run the test with per-tap GEMMs only, with the taps always stacked (im2col), or with the
    forward of every ungrouped layer as per-item GEMMs (all items at once, or one at a time)."""
    limits = {"per_tap": 0, "stacked": 1 << 40, "thin": 1 << 40, "thin_per_item": 1}
    monkeypatch.setattr(biotorch.ops.conv, "COLUMNS_MAX_ELEMENTS", limits[request.param])
    thin = request.param.startswith("thin")
    monkeypatch.setattr(biotorch.ops.conv, "THIN_MAX_DEPTH", 1 << 40 if thin else 0)
    return request.param


def _call(lib, cfg, bias: bool):
    _, _, stride, padding, dilation, groups = cfg
    conv = lib.nn.functional.conv1d

    def fn(x, w, *b):
        return conv(x, w, b[0] if bias else None, stride, padding, dilation, groups)

    return fn


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_conv1d_torch_parity(cfg, bias, strategy):
    torch = pytest.importorskip("torch")
    shapes = [cfg[0], cfg[1]] + ([(cfg[1][0],)] if bias else [])
    check_torch_parity(_call(biotorch, cfg, bias), _call(torch, cfg, bias), *random_inputs(*shapes))


@pytest.mark.parametrize("cfg", CONFIGS[:6] + CONFIGS[8:], ids=IDS[:6] + IDS[8:])
def test_conv1d_gradcheck(cfg, strategy):
    x, w, b = random_inputs(cfg[0], cfg[1], (cfg[1][0],), seed=3)
    check_gradcheck(_call(biotorch, cfg, True), x, w, b)


def test_conv1d_deepsea_sized_parity(strategy):
    torch = pytest.importorskip("torch")
    cfg = ((4, 32, 60), (48, 32, 8), 1, 0, 1, 1)
    arrays = random_inputs(cfg[0], cfg[1], (48,), seed=5)
    check_torch_parity(
        _call(biotorch, cfg, True), _call(torch, cfg, True), *arrays, rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize("kernel", [2, 3, 4, 7, 8])
def test_conv1d_same_keeps_length(kernel):
    x, w = random_inputs((2, 3, 10), (5, 3, kernel))
    y = F.conv1d(biotorch.tensor(x), biotorch.tensor(w), padding="same")
    assert y.shape == (2, 5, 10)


def test_conv1d_grad_only_where_needed_and_dtype_kept():
    x, w, b = random_inputs((2, 3, 9), (4, 3, 3), (4,), dtype=np.float32)
    tx, tw, tb = biotorch.tensor(x), biotorch.tensor(w, requires_grad=True), biotorch.tensor(b)
    y = F.conv1d(tx, tw, tb, padding=1)
    assert y.dtype == biotorch.float32
    y.sum().backward()
    assert tx.grad is None and tb.grad is None
    assert tw.grad.dtype == biotorch.float32 and tw.grad.shape == (4, 3, 3)
    # d sum(y) / d w[o, c, k] = sum over batch and positions of the input tap k reads.
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1)))
    expected = np.stack([padded[:, :, k : k + 9].sum(axis=(0, 2)) for k in range(3)], axis=-1)
    np.testing.assert_allclose(tw.grad.numpy(), np.broadcast_to(expected, (4, 3, 3)), rtol=1e-5)


def test_conv1d_no_grad_records_nothing():
    x, w = random_inputs((2, 3, 9), (4, 3, 3))
    with biotorch.no_grad():
        y = F.conv1d(biotorch.tensor(x), biotorch.tensor(w, requires_grad=True))
    assert not y.requires_grad and y.grad_fn is None


@pytest.mark.parametrize(
    "x_shape, w_shape, kwargs, error, message",
    [
        ((2, 5, 10), (6, 4, 3), {}, RuntimeError, "conv1d: input has 5 channels, weight expects 4"),
        ((2, 4, 10), (6, 2, 3), {"groups": 3}, RuntimeError, "input has 4 channels"),
        ((2, 4, 10), (5, 2, 3), {"groups": 2}, RuntimeError, "not divisible by groups 2"),
        ((2, 4, 3), (6, 4, 5), {}, RuntimeError, "padded input length 3 is shorter"),
        ((2, 4, 5), (6, 4, 3), {"dilation": 3}, RuntimeError, "effective kernel size 7"),
        ((4, 10), (6, 4, 3, 1), {}, RuntimeError, "3-D weight"),
        ((1, 1, 4, 10), (6, 4, 3), {}, RuntimeError, "2-D (unbatched) or 3-D"),
        ((2, 4, 10), (6, 4, 3), {"stride": 0}, ValueError, "stride to be an int >= 1"),
        ((2, 4, 10), (6, 4, 3), {"padding": -1}, ValueError, "padding to be an int >= 0"),
        ((2, 4, 10), (6, 4, 3), {"padding": "full"}, ValueError, "'same' or 'valid'"),
        ((2, 4, 10), (6, 4, 3), {"padding": "same", "stride": 2}, ValueError, "strided"),
        ((2, 4, 10), (6, 4, 3), {"bias": np.zeros(5)}, RuntimeError, "bias has shape (5,)"),
    ],
)
def test_conv1d_errors(x_shape, w_shape, kwargs, error, message):
    x, w = random_inputs(x_shape, w_shape, dtype=np.float32)
    if "bias" in kwargs:
        kwargs["bias"] = biotorch.tensor(kwargs["bias"].astype(np.float32))
    with pytest.raises(error, match=re.escape(message)):
        F.conv1d(biotorch.tensor(x), biotorch.tensor(w), **kwargs)


def test_conv1d_type_errors():
    x, w = random_inputs((2, 4, 10), (6, 4, 3))
    with pytest.raises(TypeError, match="input=biotorch.float64, weight=biotorch.float32"):
        F.conv1d(biotorch.tensor(x), biotorch.tensor(w, dtype=biotorch.float32))
    with pytest.raises(TypeError, match="expected weight to be a Tensor"):
        F.conv1d(biotorch.tensor(x), w)


@pytest.mark.gpu
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_conv1d_gpu_matches_cpu(cfg, strategy):
    arrays = random_inputs(cfg[0], cfg[1], (cfg[1][0],), dtype=np.float32)
    check_gpu_matches_cpu(_call(biotorch, cfg, True), *arrays)
