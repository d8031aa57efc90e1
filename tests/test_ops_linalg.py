"""Matrix products and linear: gradcheck, torch parity, shape rules, errors."""

import numpy as np
import pytest
from harness import check_gpu_matches_cpu, check_gradcheck, check_torch_parity, random_inputs

import biotorch as bt
import biotorch.nn.functional as F


def _linear(m, *args):
    return (F if m is bt else m.nn.functional).linear(*args)


# name: (fn of (module, *inputs) that runs the same on biotorch and torch, input shapes)
CASES = {
    "dot_1d_1d": (lambda m, a, b: m.matmul(a, b), [(3,), (3,)]),
    "vec_mat": (lambda m, a, b: m.matmul(a, b), [(3,), (3, 4)]),
    "mat_vec": (lambda m, a, b: m.matmul(a, b), [(2, 3), (3,)]),
    "mat_mat": (lambda m, a, b: a @ b, [(2, 3), (3, 5)]),
    "stack_mat": (lambda m, a, b: m.matmul(a, b), [(4, 2, 3), (3, 5)]),
    "stack4_mat": (lambda m, a, b: m.matmul(a, b), [(2, 3, 2, 3), (3, 1)]),
    "mat_stack": (lambda m, a, b: m.matmul(a, b), [(2, 3), (4, 3, 5)]),
    "batched": (lambda m, a, b: m.matmul(a, b), [(4, 2, 3), (4, 3, 5)]),
    "broadcast_batch": (lambda m, a, b: m.matmul(a, b), [(4, 1, 2, 3), (3, 3, 2)]),
    "vec_stack": (lambda m, a, b: m.matmul(a, b), [(3,), (4, 3, 5)]),
    "stack_vec": (lambda m, a, b: m.matmul(a, b), [(4, 2, 3), (3,)]),
    "mm": (lambda m, a, b: m.mm(a, b), [(5, 3), (3, 1)]),
    "bmm": (lambda m, a, b: m.bmm(a, b), [(2, 5, 3), (2, 3, 4)]),
    "dot": (lambda m, a, b: m.dot(a, b), [(7,), (7,)]),
    "dot_method": (lambda m, a, b: a.dot(b), [(4,), (4,)]),
    "outer": (lambda m, a, b: m.outer(a, b), [(3,), (5,)]),
    "linear_bias": (_linear, [(4, 3), (5, 3), (5,)]),
    "linear_no_bias": (_linear, [(4, 3), (5, 3)]),
    "linear_batched": (_linear, [(2, 3, 4, 3), (5, 3), (5,)]),
    "linear_vector": (_linear, [(3,), (2, 3), (2,)]),
    "linear_odd": (_linear, [(1, 1), (1, 1), (1,)]),
    "einsum_mm": (lambda m, a, b: m.einsum("ij,jk->ik", a, b), [(2, 3), (3, 4)]),
    "einsum_implicit_bmm": (lambda m, a, b: m.einsum("bij,bjk", a, b), [(2, 2, 3), (2, 3, 4)]),
    "einsum_list": (lambda m, a, b: m.einsum("i,j", [a, b]), [(2,), (3,)]),
    "einsum_ellipsis": (
        lambda m, a, b: m.einsum("...ij,...jk", a, b),
        [(2, 1, 2, 3), (4, 3, 5)],
    ),
    "einsum_size1_broadcast": (lambda m, a, b: m.einsum("ab,ab->a", a, b), [(2, 1), (2, 3)]),
    "einsum_diagonal": (lambda m, a, b: m.einsum("iij,jk->ik", a, b), [(2, 2, 3), (3, 4)]),
    "einsum_trace": (lambda m, a: m.einsum("ii", a), [(3, 3)]),
    "einsum_sum_one": (lambda m, a: m.einsum("ijk->kj", a), [(2, 3, 4)]),
    "einsum_chain": (
        lambda m, a, b, c: m.einsum("ij,jk,kl->il", a, b, c),
        [(2, 3), (3, 4), (4, 2)],
    ),
    "einsum_separate_sums": (lambda m, a, b: m.einsum("ij,kl->", a, b), [(2, 3), (2, 2)]),
}


@pytest.mark.parametrize("name", CASES)
def test_gradcheck(name):
    fn, shapes = CASES[name]
    check_gradcheck(lambda *xs: fn(bt, *xs), *random_inputs(*shapes))


@pytest.mark.parametrize("name", CASES)
def test_torch_parity(name):
    torch = pytest.importorskip("torch")
    fn, shapes = CASES[name]
    arrays = random_inputs(*shapes, seed=5)
    check_torch_parity(lambda *x: fn(bt, *x), lambda *x: fn(torch, *x), *arrays)


@pytest.mark.gpu
@pytest.mark.parametrize("name", CASES)
def test_gpu_matches_cpu(name):
    fn, shapes = CASES[name]
    check_gpu_matches_cpu(lambda *xs: fn(bt, *xs), *random_inputs(*shapes, seed=6))


def test_linear_is_exported_like_torch():
    assert F.linear is bt.ops.linalg.linear


@pytest.mark.parametrize("needs", [(True, False, False), (False, True, True), (False, False, True)])
def test_linear_gradients_only_where_needed(needs):
    x, w, b = (
        bt.tensor(a).requires_grad_(n)
        for a, n in zip(random_inputs((3, 2), (4, 2), (4,)), needs, strict=True)
    )
    F.linear(x, w, b).sum().backward()
    assert [t.grad is not None for t in (x, w, b)] == list(needs)


def test_large_linear_matches_numpy_gemm():
    x, w, b = random_inputs((8, 16, 64), (32, 64), (32,), dtype=np.float32)
    out = F.linear(bt.tensor(x), bt.tensor(w), bt.tensor(b))
    np.testing.assert_allclose(out.numpy(), x @ w.T + b, rtol=1e-5, atol=1e-5)


def test_integer_matmul_needs_no_grad():
    a = bt.tensor([[1, 2], [3, 4]])
    assert (a @ a).tolist() == [[7, 10], [15, 22]]
    assert bt.mm(a, a).dtype == bt.int64


def test_einsum_output_is_not_a_view_of_its_input():
    x = bt.ones(2, 3)
    out = bt.einsum("ij->ji", x)
    out[0, 0] = 5.0
    assert x.tolist() == [[1.0] * 3] * 2


def test_outer_promotes_like_torch():
    out = bt.outer(bt.tensor([1, 2]), bt.tensor([0.5, 1.0]))
    assert out.dtype == bt.float32 and out.tolist() == [[0.5, 1.0], [1.0, 2.0]]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: bt.matmul(bt.ones(2, 3), bt.ones(4)), RuntimeError, r"matmul: .* 3 != 4"),
        (lambda: bt.matmul(bt.ones(2, 2, 3), bt.ones(3, 3, 1)), RuntimeError, "do not broadcast"),
        (lambda: bt.matmul(bt.ones(3), bt.tensor(2.0)), RuntimeError, "at least 1 dimension"),
        (lambda: bt.matmul(bt.ones(3), 2.0), TypeError, "matmul: expected a Tensor for 'other'"),
        (
            lambda: bt.matmul(bt.ones(2, 3), bt.ones(3, 2, dtype=bt.float64)),
            RuntimeError,
            "matmul: expected operands of the same dtype",
        ),
        (lambda: bt.mm(bt.ones(2, 3), bt.ones(4, 5)), RuntimeError, r"\(2x3 and 4x5\)"),
        (lambda: bt.mm(bt.ones(2, 3, 3), bt.ones(3, 5)), RuntimeError, "mm: expected 'input'"),
        (lambda: bt.bmm(bt.ones(2, 3), bt.ones(2, 3)), RuntimeError, "bmm: expected 'input' to"),
        (lambda: bt.bmm(bt.ones(2, 2, 3), bt.ones(3, 3, 1)), RuntimeError, r"\(2, 3, m\)"),
        (lambda: bt.dot(bt.ones(3), bt.ones(4)), RuntimeError, "dot: .* same length"),
        (lambda: bt.dot(bt.ones(3, 1), bt.ones(3)), RuntimeError, "dot: expected 'input'"),
        (lambda: bt.outer(bt.ones(3), bt.ones(2, 2)), RuntimeError, "outer: expected 'vec2'"),
        (lambda: F.linear(bt.ones(2, 3), bt.ones(4, 5)), RuntimeError, "has 3 features"),
        (lambda: F.linear(bt.ones(2, 3), bt.ones(3)), RuntimeError, "linear: expected 'weight'"),
        (
            lambda: F.linear(bt.ones(2, 3), bt.ones(4, 3), bt.ones(3)),
            RuntimeError,
            "linear: bias of shape",
        ),
        (lambda: bt.einsum("ij,jk", bt.ones(2, 3)), ValueError, "has 2 operands, got 1"),
        (lambda: bt.einsum("ij", bt.ones(3)), ValueError, "subscripts 'ij' do not match"),
        (lambda: bt.einsum("ij,jk", bt.ones(2, 3), bt.ones(4, 2)), ValueError, "'j' has sizes"),
        (lambda: bt.einsum("ij->k", bt.ones(2, 3)), ValueError, "output subscripts 'k'"),
        (lambda: bt.einsum("ij->ii", bt.ones(2, 3)), ValueError, "must be distinct"),
        (
            lambda: bt.einsum("i", [1.0]),
            TypeError,
            r"einsum: expected a Tensor for 'operands\[0\]'",
        ),
        (
            lambda: F.linear(bt.ones(2, 3), bt.ones(4, 3, dtype=bt.float64)),
            RuntimeError,
            "input is biotorch.float32, weight is biotorch.float64",
        ),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
