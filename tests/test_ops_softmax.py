"""softmax / log_softmax: gradcheck, torch parity, stability, dtype and argument errors."""

import numpy as np
import pytest
from harness import check_gpu_matches_cpu, check_gradcheck, check_torch_parity, random_inputs

import biotorch as bt
import biotorch.nn.functional as F

FUNCS = ["softmax", "log_softmax"]
CASES = [((), 0), ((5,), 0), ((3, 4), 1), ((3, 4), 0), ((2, 3, 5), -1), ((2, 3, 5), 1)]


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("shape,dim", CASES)
def test_gradcheck(name, shape, dim):
    fn = getattr(F, name)
    check_gradcheck(lambda x: fn(x, dim), *random_inputs(shape))


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("shape,dim", CASES)
def test_torch_parity(name, shape, dim):
    torch = pytest.importorskip("torch")
    check_torch_parity(
        lambda x: getattr(F, name)(x, dim),
        lambda x: getattr(torch, name)(x, dim),
        *random_inputs(shape, seed=3),
    )


@pytest.mark.parametrize("name", FUNCS)
def test_large_and_infinite_inputs_stay_finite_like_torch(name):
    torch = pytest.importorskip("torch")
    x = np.array([[1000.0, 1001.0, 1002.0], [-np.inf, 0.0, 5.0]], dtype=np.float32)
    ours = getattr(F, name)(bt.tensor(x), -1).numpy()
    ref = getattr(torch, name)(torch.tensor(x), -1).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    assert np.isfinite(ours[0]).all()


@pytest.mark.parametrize("name", FUNCS)
def test_large_and_infinite_inputs_stay_finite(name):
    x = np.array([[1000.0, 1001.0, 1002.0], [-np.inf, 0.0, 5.0]], dtype=np.float32)
    out = getattr(F, name)(bt.tensor(x), -1).numpy()
    assert np.isfinite(out[0]).all() and np.isfinite(out[1, 1:]).all()


def test_rows_sum_to_one_and_methods_dispatch():
    x = bt.tensor(random_inputs((4, 7), seed=5)[0], dtype=bt.float32)
    np.testing.assert_allclose(x.softmax(-1).numpy().sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(x.log_softmax(0).numpy(), np.log(F.softmax(x, 0).numpy()), atol=1e-6)
    assert bt.softmax is F.softmax


@pytest.mark.parametrize("name", FUNCS)
def test_dtype_argument_casts_first(name):
    x = bt.tensor([[1, 2, 3]])
    out = getattr(F, name)(x, 1, dtype=bt.float64)
    assert out.dtype == bt.float64
    y = bt.tensor([1.0, 2.0], requires_grad=True)
    out = getattr(F, name)(y, 0, bt.float64)
    assert out.dtype == bt.float64
    out.sum().backward()
    assert y.grad.dtype == bt.float32


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("shape,dim", [((4, 0), 1), ((0, 3), 1)])
def test_empty_inputs(name, shape, dim):
    x = bt.zeros(*shape, requires_grad=True)
    y = getattr(F, name)(x, dim)
    assert y.shape == shape
    y.sum().backward()
    assert x.grad.shape == shape


@pytest.mark.parametrize("name", FUNCS)
def test_errors(name):
    fn = getattr(F, name)
    with pytest.raises(TypeError, match=f"{name}: dim is required"):
        fn(bt.zeros(3))
    with pytest.raises(RuntimeError, match="floating-point"):
        fn(bt.tensor([1, 2]), 0)
    with pytest.raises(IndexError, match="out of range"):
        fn(bt.zeros(2, 3), 2)


@pytest.mark.gpu
@pytest.mark.parametrize("name", FUNCS)
def test_gpu_matches_cpu(name):
    check_gpu_matches_cpu(lambda x: getattr(F, name)(x, 1), *random_inputs((6, 33, 5)))
