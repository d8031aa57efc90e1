"""dropout / dropout1d: statistics, scaling, reproducibility, mask reuse in backward, edge cases."""

import numpy as np
import pytest
from harness import check_gradcheck, random_inputs

import biotorch as bt
import biotorch.nn.functional as F

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_statistics_and_scaling(device, p):
    x = bt.ones(200, 500, device=device)
    y = F.dropout(x, p).cpu().numpy()
    assert y.dtype == np.float32
    assert abs((y == 0).mean() - p) < 0.01
    np.testing.assert_array_equal(np.unique(y), [0.0, np.float32(1.0 / (1.0 - p))])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("fn", [F.dropout, F.dropout1d])
def test_reproducible_under_manual_seed(device, fn):
    x = bt.ones(4, 6, 50, device=device)
    bt.manual_seed(7)
    a = fn(x, 0.5).cpu().numpy()
    b = fn(x, 0.5).cpu().numpy()
    bt.manual_seed(7)
    c = fn(x, 0.5).cpu().numpy()
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("fn", [F.dropout, F.dropout1d])
def test_backward_reuses_the_mask(device, fn):
    x = bt.tensor(random_inputs((3, 4, 30))[0], dtype=bt.float32, device=device)
    x.requires_grad_()
    y = fn(x, 0.3)
    g = bt.tensor(random_inputs((3, 4, 30), seed=1)[0], dtype=bt.float32, device=device)
    y.backward(g)
    kept = y.detach().cpu().numpy() != 0
    np.testing.assert_allclose(
        x.grad.cpu().numpy(), g.cpu().numpy() * kept / np.float32(0.7), rtol=1e-6
    )
    np.testing.assert_allclose(
        y.detach().cpu().numpy(), x.detach().cpu().numpy() * kept / np.float32(0.7), rtol=1e-6
    )


@pytest.mark.parametrize("fn", [F.dropout, F.dropout1d])
def test_gradcheck_with_a_fixed_mask(fn):
    def seeded(x):
        bt.manual_seed(3)
        return fn(x, 0.4)

    check_gradcheck(seeded, *random_inputs((2, 3, 5)))


def test_dropout1d_zeroes_whole_channels():
    y = F.dropout1d(bt.ones(8, 16, 10), 0.5).numpy()
    per_channel = y.reshape(8 * 16, 10)
    assert (per_channel.min(1) == per_channel.max(1)).all()
    assert 0 < (per_channel[:, 0] == 0).sum() < 8 * 16
    unbatched = F.dropout1d(bt.ones(16, 10), 0.5).numpy()
    assert (unbatched.min(1) == unbatched.max(1)).all()


@pytest.mark.parametrize("fn", [F.dropout, F.dropout1d])
def test_identity_cases_return_the_input(fn):
    x = bt.ones(2, 3, requires_grad=True)
    assert fn(x, 0.0) is x
    assert fn(x, 0.7, training=False) is x


@pytest.mark.parametrize("fn", [F.dropout, F.dropout1d])
def test_p_one_zeroes_everything_with_zero_grad(fn):
    x = bt.ones(2, 3, 4, requires_grad=True)
    y = fn(x, 1.0)
    assert not y.detach().numpy().any()
    y.sum().backward()
    assert not x.grad.numpy().any()


def test_inplace():
    x = bt.ones(50, 40)
    version = x._version
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x and x._version == version + 1
    assert set(np.unique(x.numpy())) == {0.0, 2.0}
    leaf = bt.ones(3, 4, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        F.dropout(leaf, 0.5, inplace=True)
    h = leaf * 1.0
    F.dropout(h, 0.5, inplace=True).backward(bt.ones(3, 4))
    np.testing.assert_array_equal(leaf.grad.numpy(), h.detach().numpy())


@pytest.mark.parametrize("dtype", [bt.float16, bt.float64])
def test_keeps_dtype(dtype):
    assert F.dropout(bt.ones(10, dtype=dtype), 0.5).dtype == dtype


def test_errors():
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match=f"dropout: dropout probability .* got {p}"):
            F.dropout(bt.ones(3), p)
        with pytest.raises(ValueError, match="dropout1d: dropout probability"):
            F.dropout1d(bt.ones(3, 4), p)
    with pytest.raises(RuntimeError, match="dropout1d: expected a 2-D .* got 4-D"):
        F.dropout1d(bt.ones(2, 3, 4, 5))
