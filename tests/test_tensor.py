"""Tensor attributes, conversions, devices, dtypes and type promotion."""

import numpy as np
import pytest

import biotorch as bt


def test_attributes():
    x = bt.zeros(2, 3)
    assert x.shape == (2, 3) and x.size() == (2, 3) and x.size(1) == 3 and x.size(-1) == 3
    assert x.dtype == bt.float32 and x.ndim == x.dim() == 2 and x.numel() == 6
    assert x.device == bt.device("cpu") and str(x.device) == "cpu" and not x.is_cuda
    assert x.is_leaf and not x.requires_grad and x.grad is None and x.grad_fn is None
    assert len(x) == 2 and x.element_size() == 4 and x.is_floating_point()


def test_python_values_follow_pytorch_dtypes():
    assert bt.tensor([1.0, 2.0]).dtype == bt.float32
    assert bt.tensor([1, 2]).dtype == bt.int64
    assert bt.tensor([True]).dtype == bt.bool
    assert bt.tensor(np.zeros(2)).dtype == bt.float64
    assert bt.tensor([1, 2], dtype=bt.float16).dtype == bt.float16
    assert bt.tensor(2.5, dtype=float).dtype == bt.float64


def test_item_tolist_numpy_and_array_protocol():
    x = bt.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x[1, 0].item() == 3.0
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert np.shares_memory(x.numpy(), x._data)
    np.testing.assert_array_equal(np.asarray(x), x.numpy())
    with pytest.raises(ValueError, match="one-element"):
        x.item()
    with pytest.raises(RuntimeError, match="detach"):
        x.requires_grad_().numpy()


def test_from_numpy_shares_memory_and_tensor_copies():
    a = np.arange(4.0)
    shared, copied = bt.from_numpy(a), bt.tensor(a)
    a[0] = 10
    assert shared.numpy()[0] == 10 and copied.numpy()[0] == 0
    with pytest.raises(TypeError, match="numpy.ndarray"):
        bt.from_numpy([1, 2])


def test_dlpack_round_trip_with_numpy():
    x = bt.arange(6, dtype=bt.float32)
    y = np.from_dlpack(x)
    assert np.shares_memory(y, x.numpy())
    z = bt.from_dlpack(np.arange(3.0))
    assert z.dtype == bt.float64 and z.tolist() == [0.0, 1.0, 2.0]


def test_dlpack_round_trip_with_torch():
    torch = pytest.importorskip("torch")
    x = bt.arange(6, dtype=bt.float32)
    t = torch.from_dlpack(x)
    t[0] = 42.0
    assert x.tolist()[0] == 42.0
    assert bt.from_dlpack(torch.ones(2)).tolist() == [1.0, 1.0]


def test_to_dtype_and_conversion_methods():
    x = bt.tensor([1.7, -2.2], requires_grad=True)
    assert x.double().dtype == bt.float64 and x.half().dtype == bt.float16
    assert x.long().tolist() == [1, -2] and x.int().dtype == bt.int32
    assert x.bool().tolist() == [True, True]
    assert x.to(bt.float64).requires_grad
    assert x.to("cpu") is x and x.to(bt.float32) is x
    y = x.to(dtype=bt.float64) * 2
    y.sum().backward()
    assert x.grad.dtype == bt.float32 and x.grad.tolist() == [2.0, 2.0]


def test_clone_is_differentiable_and_independent():
    x = bt.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert not np.shares_memory(c._data, x._data)
    (c * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_repr_is_readable():
    assert repr(bt.tensor([1.0, 2.5])) == "tensor([1.0000, 2.5000])"
    assert repr(bt.tensor([1, 2])) == "tensor([1, 2])"
    assert "dtype=biotorch.float64" in repr(bt.tensor([1.0], dtype=bt.float64))
    assert "requires_grad=True" in repr(bt.ones(1, requires_grad=True))
    assert "grad_fn=<MulBackward>" in repr(bt.ones(1, requires_grad=True) * 2)
    assert repr(bt.float32) == "biotorch.float32"


def test_bool_and_number_protocols():
    assert bool(bt.tensor([1.0])) and float(bt.tensor(2.5)) == 2.5 and int(bt.tensor(3)) == 3
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(bt.ones(2))
    assert [0, 1, 2][bt.tensor(1)] == 1


def test_numpy_scalars_on_the_left_give_tensors():
    x = bt.ones(2)
    y = np.float32(2.0) * x
    assert isinstance(y, bt.Tensor) and y.tolist() == [2.0, 2.0]


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (bt.ones(2), bt.tensor(1.0, dtype=bt.float64), bt.float32),  # 0-d does not win a tie
        (bt.ones(2, dtype=bt.int64), 2.5, bt.float32),  # Python float -> default dtype
        (bt.ones(2, dtype=bt.int64), bt.ones(2), bt.float32),  # int with float32 -> float32
        (bt.ones(2, dtype=bt.int32), bt.ones(2, dtype=bt.int64), bt.int64),
        (bt.ones(2, dtype=bt.uint8), bt.ones(2, dtype=bt.int8), bt.int16),
        (bt.ones(2, dtype=bt.float16), 3, bt.float16),
        (bt.ones(2, dtype=bt.bool), 3, bt.int64),
        (bt.ones(2), bt.ones(2, dtype=bt.float64), bt.float64),
    ],
)
def test_type_promotion_matches_pytorch(a, b, expected):
    assert (a + b).dtype == expected
    assert (b + a).dtype == expected


def test_division_of_integers_is_true_division():
    assert (bt.tensor([1, 2]) / 2).tolist() == [0.5, 1.0]
    assert (bt.tensor([1, 2]) / 2).dtype == bt.float32


def test_bad_operands_are_named():
    with pytest.raises(TypeError, match="'other'"):
        bt.ones(2) + [1, 2]


def test_devices_parse_and_compare():
    assert bt.device("cuda") == bt.device("cuda:0") == bt.device("cuda", 0)
    assert repr(bt.device("cuda:1")) == "device(type='cuda', index=1)"
    assert bt.device("cpu") == "cpu"
    with pytest.raises(ValueError, match="cpu"):
        bt.device("tpu")


def test_cuda_reports_unavailable_without_a_gpu():
    if bt.cuda.is_available():
        pytest.skip("a GPU is present; covered by the gpu tests")
    assert bt.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="CuPy|not available"):
        bt.ones(2).to("cuda")


@pytest.mark.gpu
def test_cuda_round_trip_and_device_mismatch():
    x = bt.ones(3, requires_grad=True)
    y = x.cuda()
    assert y.device == bt.device("cuda:0") and y.is_cuda
    (y * 2).sum().backward()
    assert x.grad.device == bt.device("cpu") and x.grad.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(RuntimeError, match="same device"):
        x + y
    assert bt.from_dlpack(y.detach()).device == y.device


def test_bitwise_operators_follow_dtype():
    a = bt.tensor([5, 3, 12])
    assert (a & 6).tolist() == [4, 2, 4] and (a | 1).tolist() == [5, 3, 13]
    assert (a ^ 3).tolist() == [6, 0, 15] and (3 & a).tolist() == [1, 3, 0]
    assert (~a).tolist() == [-6, -4, -13]
    m = bt.tensor([True, False, True])
    assert (m & bt.tensor([True, True, False])).tolist() == [True, False, False]
    assert (~m).tolist() == [False, True, False] and (m | False).dtype == bt.bool
    with pytest.raises(TypeError, match="integer or bool"):
        bt.ones(2) & 1


def test_top_level_namespace_has_torch_level_functions_only():
    for name in ("exp", "sum", "cat", "matmul", "softmax", "where", "tensor", "sigmoid"):
        assert hasattr(bt, name), name
    # nn-level functions whose torch top-level namesakes take other arguments stay in F
    for name in ("embedding", "batch_norm", "dropout", "cross_entropy", "conv1d"):
        assert not hasattr(bt, name), name
        assert hasattr(bt.nn.functional, name), name


def test_setitem_without_grad_writes_in_place_and_bumps_the_version():
    x = bt.zeros(3, 4)
    storage = x._data
    x[1] = 2.0
    x[:, 1:3] = bt.ones(3, 2)
    x[0, -1] = bt.tensor(5.0)
    assert x._data is storage and x._version == 3
    assert x.tolist() == [[0, 1, 1, 5], [2, 1, 1, 2], [0, 1, 1, 0]]
    with pytest.raises(ValueError, match="step"):
        x[::-1] = 0.0


def test_writing_into_an_expanded_view_is_explained():
    e = bt.ones(1, 3).expand(4, 3)
    with pytest.raises(RuntimeError, match="clone"):
        e.add_(1)
    with pytest.raises(RuntimeError, match="clone"):
        e[0] = 2.0
