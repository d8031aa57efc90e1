"""nn.init: gains and fans as torch's, distributions' bounds and moments, orthogonality,
truncation, in-place semantics, generators, errors."""

import math

import numpy as np
import pytest

import biotorch as bt
from biotorch import nn
from biotorch.nn import init

GAINS = [
    ("linear", None),
    ("conv1d", None),
    ("conv_transpose3d", None),
    ("sigmoid", None),
    ("tanh", None),
    ("relu", None),
    ("leaky_relu", None),
    ("leaky_relu", 0.2),
    ("leaky_relu", 3),
    ("selu", None),
]


@pytest.mark.parametrize(("nonlinearity", "param"), GAINS)
def test_calculate_gain_matches_torch(nonlinearity, param):
    torch = pytest.importorskip("torch")
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("shape", [(5, 3), (8, 4, 7), (2, 3, 4, 5), (1, 1)])
def test_fans_match_torch(shape):
    torch = pytest.importorskip("torch")
    ours = init._calculate_fan_in_and_fan_out(bt.empty(*shape))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    for mode in ("fan_in", "fan_out", "FAN_IN"):
        expected = torch.nn.init._calculate_correct_fan(torch.empty(shape), mode)
        assert init._calculate_correct_fan(bt.empty(*shape), mode) == expected


def _values(t) -> np.ndarray:
    return t.detach().numpy().astype(np.float64)


# (name, fill, shape, (low, high) or None, expected std, expected mean)
def _kaiming_std(fan: int, a: float = 0.0) -> float:
    return math.sqrt(2.0 / (1 + a * a)) / math.sqrt(fan)


DISTRIBUTIONS = [
    ("uniform", lambda t: init.uniform_(t, -2.0, 3.0), (200, 100), (-2.0, 3.0), 5 / math.sqrt(12)),
    ("normal", lambda t: init.normal_(t, 1.5, 0.5), (200, 100), None, 0.5),
    (
        "xavier-uniform",
        lambda t: init.xavier_uniform_(t, gain=2.0),
        (300, 50, 2),
        2.0 * math.sqrt(6 / 700),
        2.0 * math.sqrt(2 / 700),
    ),
    ("xavier-normal", lambda t: init.xavier_normal_(t), (300, 100), None, math.sqrt(2 / 400)),
    (
        "kaiming-uniform",
        lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)),
        (256, 64, 3),
        1 / math.sqrt(192),
        1 / math.sqrt(3 * 192),
    ),
    (
        "kaiming-uniform-fan-out",
        lambda t: init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"),
        (100, 300),
        math.sqrt(6 / 100),
        math.sqrt(2 / 100),
    ),
    (
        "kaiming-normal",
        lambda t: init.kaiming_normal_(t, a=0.1, nonlinearity="leaky_relu"),
        (300, 80, 2),
        None,
        _kaiming_std(160, 0.1),
    ),
    (
        "kaiming-normal-tanh",
        lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="tanh"),
        (50, 400),
        None,
        5 / 3 / math.sqrt(50),
    ),
]


@pytest.mark.parametrize(
    ("fill", "shape", "bound", "std"),
    [pytest.param(*d[1:], id=d[0]) for d in DISTRIBUTIONS],
)
@pytest.mark.parametrize("dtype", [bt.float32, bt.float64])
def test_distributions(fill, shape, bound, std, dtype):
    tensor = bt.empty(*shape, dtype=dtype)
    assert fill(tensor) is tensor
    assert tensor.dtype == dtype
    values = _values(tensor)
    assert values.std() == pytest.approx(std, rel=0.03)
    if isinstance(bound, tuple):
        low, high = bound
        assert low <= values.min() < low + 0.01 and high - 0.01 < values.max() < high
    elif bound is not None:
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.98 * bound


@pytest.mark.parametrize(
    ("shape", "mode", "nonlinearity", "a"),
    [((64, 32, 5), "fan_in", "leaky_relu", math.sqrt(5)), ((64, 32), "fan_out", "relu", 0)],
)
def test_kaiming_matches_torch_statistics(shape, mode, nonlinearity, a):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.init.kaiming_uniform_(torch.empty(shape), a, mode, nonlinearity)
    ours = init.kaiming_uniform_(bt.empty(*shape), a, mode, nonlinearity)
    assert _values(ours).std() == pytest.approx(theirs.std().item(), rel=0.05)
    assert np.abs(_values(ours)).max() <= theirs.abs().max().item() * 1.01


@pytest.mark.parametrize(
    ("shape", "gain"), [((6, 10), 1.0), ((10, 6), 2.0), ((4, 3, 5), 0.5), ((7, 7), 1.0)]
)
def test_orthogonal(shape, gain):
    w = init.orthogonal_(bt.empty(*shape, dtype=bt.float64), gain=gain)
    flat = _values(w).reshape(shape[0], -1)
    rows, cols = flat.shape
    product = flat @ flat.T if rows <= cols else flat.T @ flat
    np.testing.assert_allclose(product, gain**2 * np.eye(min(rows, cols)), atol=1e-10)


def test_orthogonal_signs_follow_r_diagonal():
    """Like torch, Q's columns are signed so that R's diagonal is positive: Q^T A = R."""
    gen = bt.Generator().manual_seed(3)
    w = init.orthogonal_(bt.empty(5, 5, dtype=bt.float64), generator=gen)
    a = bt.Generator().manual_seed(3).normal((5, 5), np.float64)
    r = _values(w).T @ a
    assert np.all(np.diag(r) > 0) and np.allclose(np.tril(r, -1), 0, atol=1e-10)


def _truncated_moments(mean, std, a, b):
    """Mean and std of the truncated normal by quadrature of its (rescaled) density."""
    x = np.linspace(a, b, 200_001)
    z = (x - mean) / std
    density = np.exp((np.min(z * z) - z * z) / 2)
    weights = density / density.sum()
    m = (weights * x).sum()
    return m, math.sqrt((weights * (x - m) ** 2).sum())


@pytest.mark.parametrize(
    ("mean", "std", "a", "b"),
    [
        (0.0, 1.0, -2.0, 2.0),  # normal proposals
        (0.0, 0.02, -2.0, 2.0),  # no effective truncation (the ViT default)
        (1.0, 2.0, 0.0, 1.5),  # narrow interval: uniform proposals
        (0.0, 1.0, 2.5, 3.0),  # interval in the tail: uniform proposals
        (0.0, 1.0, 5.0, 9.0),  # far tail (torch's inverse-CDF sampler loses precision here)
        (0.0, 1.0, -0.5, 6.0),
        (0.0, 1.0, 40.0, 40.5),  # no normal draw would ever land here
    ],
)
def test_trunc_normal(mean, std, a, b):
    w = init.trunc_normal_(bt.empty(200, 200), mean, std, a, b)
    values = _values(w)
    assert a <= values.min() and values.max() <= b
    expected_mean, expected_std = _truncated_moments(mean, std, a, b)
    assert values.mean() == pytest.approx(expected_mean, abs=0.01 * std + 1e-4)
    assert values.std() == pytest.approx(expected_std, rel=0.02)


def test_constant_eye_ones_zeros():
    t = bt.empty(3, 4)
    np.testing.assert_array_equal(_values(init.constant_(t, 0.25)), np.full((3, 4), 0.25))
    np.testing.assert_array_equal(_values(init.ones_(t)), np.ones((3, 4)))
    np.testing.assert_array_equal(_values(init.zeros_(t)), np.zeros((3, 4)))
    np.testing.assert_array_equal(_values(init.eye_(t)), np.eye(3, 4))


def test_in_place_on_parameters_outside_autograd():
    p = nn.Parameter(bt.zeros(4, 3))
    storage = p._data
    for fill in (init.kaiming_uniform_, init.xavier_normal_, init.orthogonal_, init.trunc_normal_):
        version = p._version
        fill(p)
        assert p.is_leaf and p.grad_fn is None and p.requires_grad
        assert p._data is storage and p._version > version


def test_generator_makes_draws_reproducible():
    fills = [init.uniform_, init.normal_, init.xavier_uniform_, init.kaiming_normal_]
    fills += [init.orthogonal_, init.trunc_normal_]
    for fill in fills:
        first = fill(bt.empty(6, 5), generator=bt.Generator().manual_seed(11))
        again = fill(bt.empty(6, 5), generator=bt.Generator().manual_seed(11))
        np.testing.assert_array_equal(_values(first), _values(again))
        bt.manual_seed(4)
        seeded = fill(bt.empty(6, 5))
        bt.manual_seed(4)
        np.testing.assert_array_equal(_values(seeded), _values(fill(bt.empty(6, 5))))


def test_zero_element_tensor_warns():
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(bt.empty(0, 3))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: init.calculate_gain("swish"), "unsupported nonlinearity 'swish'"),
        (lambda: init.calculate_gain("leaky_relu", "x"), "not a valid number"),
        (lambda: init.xavier_uniform_(bt.empty(5)), "fewer than 2 dimensions"),
        (lambda: init.kaiming_normal_(bt.empty(3, 3), mode="fan"), "mode 'fan'"),
        (lambda: init.eye_(bt.empty(2, 2, 2)), "2 dimensions"),
        (lambda: init.orthogonal_(bt.empty(4)), "2 or more dimensions"),
        (lambda: init.trunc_normal_(bt.empty(4), a=1.0, b=0.0), "a < b"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.gpu
@pytest.mark.parametrize(
    ("fill", "shape", "bound", "std"),
    [pytest.param(*d[1:], id=d[0]) for d in DISTRIBUTIONS],
)
def test_distributions_on_gpu(fill, shape, bound, std):
    tensor = bt.empty(*shape, device="cuda")
    fill(tensor)
    assert tensor.device.type == "cuda"
    assert _values(tensor.cpu()).std() == pytest.approx(std, rel=0.03)


@pytest.mark.gpu
def test_orthogonal_and_trunc_normal_on_gpu():
    w = init.orthogonal_(bt.empty(6, 10, dtype=bt.float64, device="cuda"), gain=2.0)
    flat = _values(w.cpu())
    np.testing.assert_allclose(flat @ flat.T, 4.0 * np.eye(6), atol=1e-10)
    t = init.trunc_normal_(bt.empty(100, 100, device="cuda"), 0.0, 1.0, 2.5, 3.0)
    values = _values(t.cpu())
    assert 2.5 <= values.min() and values.max() <= 3.0
    assert values.mean() == pytest.approx(_truncated_moments(0.0, 1.0, 2.5, 3.0)[0], abs=0.01)
    gen = bt.Generator("cuda").manual_seed(1)
    first = init.normal_(bt.empty(5, device="cuda"), generator=gen)
    second = init.normal_(bt.empty(5, device="cuda"), generator=bt.Generator("cuda").manual_seed(1))
    np.testing.assert_array_equal(_values(first.cpu()), _values(second.cpu()))
