"""embedding: lookup, accumulated gradients, padding_idx, scale_grad_by_freq, max_norm, errors."""

import numpy as np
import pytest
from harness import check_gpu_matches_cpu, check_gradcheck, check_torch_parity, random_inputs

import biotorch as bt
import biotorch.nn.functional as F

INDICES = [
    np.array(3),
    np.array([0, 2, 2, 5, 2]),
    np.array([[1, 1, 4], [0, 6, 1], [1, 3, 3], [2, 2, 2]]),
]
OPTIONS = [{}, {"padding_idx": 1}, {"padding_idx": -1}, {"scale_grad_by_freq": True}]


@pytest.mark.parametrize("idx", INDICES, ids=lambda a: str(a.shape))
@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_torch_parity(idx, options):
    torch = pytest.importorskip("torch")
    check_torch_parity(
        lambda w: F.embedding(bt.tensor(idx), w, **options),
        lambda w: torch.nn.functional.embedding(torch.tensor(idx), w, **options),
        *random_inputs((7, 5)),
    )


@pytest.mark.parametrize("idx", INDICES, ids=lambda a: str(a.shape))
def test_gradcheck(idx):
    # padding_idx and scale_grad_by_freq deliberately alter the gradient; torch parity covers them.
    check_gradcheck(lambda w: F.embedding(bt.tensor(idx), w), *random_inputs((7, 3)))


def test_repeated_indices_accumulate_and_padding_row_gets_none():
    w = bt.ones(4, 2, requires_grad=True)
    F.embedding(bt.tensor([[3, 1, 3], [3, 0, 1]]), w, padding_idx=0).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[0, 0], [2, 2], [0, 0], [3, 3]])


@pytest.mark.parametrize("dtype", [bt.int8, bt.uint8, bt.int16, bt.int32])
def test_small_integer_tokens_work_like_int64(dtype):
    w = bt.tensor(random_inputs((6, 3))[0])
    idx = [[0, 5, 2], [2, 2, 1]]
    np.testing.assert_array_equal(
        F.embedding(bt.tensor(idx, dtype=dtype), w).numpy(), F.embedding(bt.tensor(idx), w).numpy()
    )


@pytest.mark.parametrize("norm_type", [2.0, 1.0])
def test_max_norm_renormalises_looked_up_rows_in_place_like_torch(norm_type):
    torch = pytest.importorskip("torch")
    w0 = random_inputs((6, 4), seed=4)[0].astype(np.float32) * 2
    idx = np.array([[0, 2], [2, 5]])
    ours, ref = bt.tensor(w0), torch.tensor(w0)
    out = F.embedding(bt.tensor(idx), ours, max_norm=1.5, norm_type=norm_type)
    expected = torch.nn.functional.embedding(
        torch.tensor(idx), ref, max_norm=1.5, norm_type=norm_type
    )
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-5)


@pytest.mark.parametrize("norm_type", [2.0, 1.0])
def test_max_norm_renormalises_only_looked_up_rows(norm_type):
    w0 = random_inputs((6, 4), seed=4)[0].astype(np.float32) * 2
    idx = np.array([[0, 2], [2, 5]])
    weight = bt.tensor(w0)
    version = weight._version
    out = F.embedding(bt.tensor(idx), weight, max_norm=1.5, norm_type=norm_type)
    w = weight.numpy()
    looked_up = np.linalg.norm(w0[[0, 2, 5]], ord=norm_type, axis=1)
    assert np.all(looked_up > 1.5)  # so each looked-up row must shrink
    np.testing.assert_allclose(np.linalg.norm(w[[0, 2, 5]], ord=norm_type, axis=1), 1.5, rtol=1e-5)
    np.testing.assert_array_equal(w[[1, 3, 4]], w0[[1, 3, 4]])
    np.testing.assert_array_equal(out.numpy(), w[idx])
    assert weight._version == version + 1


def test_lives_in_nn_functional_only():
    # torch.embedding(weight, input) takes its arguments the other way round
    assert not hasattr(bt, "embedding")
    assert F.embedding(bt.tensor([1]), bt.ones(3, 2)).shape == (1, 2)


def test_errors():
    w = bt.ones(10, 3)
    with pytest.raises(
        IndexError, match="embedding: index 12 is out of range for num_embeddings=10"
    ):
        F.embedding(bt.tensor([1, 12]), w)
    with pytest.raises(IndexError, match="index -1 is out of range"):
        F.embedding(bt.tensor([-1, 2]), w)
    with pytest.raises(RuntimeError, match="expected integer indices"):
        F.embedding(bt.tensor([1.0]), w)
    with pytest.raises(RuntimeError, match="'weight' must be 2-D"):
        F.embedding(bt.tensor([1]), bt.ones(10))
    with pytest.raises(ValueError, match="padding_idx=10 must be within num_embeddings=10"):
        F.embedding(bt.tensor([1]), w, padding_idx=10)
    with pytest.raises(NotImplementedError, match="sparse"):
        F.embedding(bt.tensor([1]), w, sparse=True)


@pytest.mark.gpu
@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_gpu_matches_cpu(options):
    idx = np.random.default_rng(0).integers(0, 50, (8, 100))
    check_gpu_matches_cpu(
        lambda w: F.embedding(bt.tensor(idx, device=w.device), w, **options),
        *random_inputs((50, 16)),
    )
