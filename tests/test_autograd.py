"""Engine semantics: accumulation, graph release, deep graphs, grad modes, hooks, in-place."""

import threading
import warnings

import numpy as np
import pytest

import biotorch as bt
from biotorch.autograd import Function, gradcheck


def leaf(*values, dtype=bt.float64):
    return bt.tensor(list(values), dtype=dtype, requires_grad=True)


def test_gradients_accumulate_across_backward_calls():
    x = leaf(1.0, 2.0)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])


def test_tensor_used_twice_sums_both_paths():
    x = leaf(1.5, -2.0)
    y = x * x
    z = y + y * x
    z.sum().backward()
    xs = x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), 2 * xs + 3 * xs**2)


def test_shared_leaf_added_to_itself_gets_independent_grad_arrays():
    x = leaf(1.0, 2.0)
    w = leaf(3.0, 4.0)
    (x + w).sum().backward()
    x.grad.mul_(10)
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 1.0])


def test_second_backward_without_retain_graph_names_retain_graph():
    x = leaf(1.0, 2.0)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf(1.0, 2.0)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_saved_arrays_are_freed_after_backward():
    x = leaf(1.0, 2.0)
    y = x * x
    node = y.grad_fn
    y.sum().backward()
    assert node._saved == () and node._released


def test_deep_chain_of_100k_ops_has_no_recursion_limit():
    x = leaf(0.5)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_non_scalar_backward_needs_explicit_gradient():
    x = leaf(1.0, 2.0, 3.0)
    y = x * 2
    with pytest.raises(RuntimeError, match="scalar outputs"):
        y.backward()
    y.backward(bt.tensor([1.0, 0.5, 0.0], dtype=bt.float64))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 1.0, 0.0])


def test_backward_gradient_shape_is_checked():
    x = leaf(1.0, 2.0)
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).backward(bt.ones(3, dtype=bt.float64))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        bt.ones(2).sum().backward()


def test_broadcasting_is_undone_for_every_input():
    a = bt.randn(3, 1, 4, dtype=bt.float64, requires_grad=True)
    b = bt.randn(5, 1, dtype=bt.float64, requires_grad=True)
    c = bt.tensor(2.0, dtype=bt.float64, requires_grad=True)
    (a * b * c).sum().backward()
    assert a.grad.shape == (3, 1, 4) and b.grad.shape == (5, 1) and c.grad.shape == ()
    expected_c = (a.detach().numpy() * b.detach().numpy()).sum()
    np.testing.assert_allclose(c.grad.item(), expected_c)


def test_mixed_dtype_gradient_is_cast_back_to_the_input_dtype():
    x = bt.ones(3, requires_grad=True)
    y = bt.ones(3, dtype=bt.float64, requires_grad=True)
    (x * y).sum().backward()
    assert x.grad.dtype == bt.float32 and y.grad.dtype == bt.float64


def test_no_grad_enable_grad_and_set_grad_enabled():
    x = leaf(1.0)
    with bt.no_grad():
        assert not (x * 2).requires_grad
        with bt.enable_grad():
            assert (x * 2).requires_grad
    bt.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        bt.set_grad_enabled(True)
    with bt.set_grad_enabled(False):
        assert not bt.is_grad_enabled()
    assert bt.is_grad_enabled()


def test_grad_mode_decorators():
    x = leaf(1.0)

    @bt.no_grad()
    def f(t):
        return t * 2

    @bt.set_grad_enabled(False)
    def g(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad
    assert bt.is_grad_enabled() and (x * 2).requires_grad


def test_grad_mode_is_thread_local():
    seen = []
    with bt.no_grad():
        thread = threading.Thread(target=lambda: seen.append(bt.is_grad_enabled()))
        thread.start()
        thread.join()
        assert not bt.is_grad_enabled()
    assert seen == [True]


def test_autograd_grad_returns_gradients_without_touching_dot_grad():
    x = leaf(1.0, 2.0)
    y = leaf(3.0)
    z = (x * x * y).sum()
    gx, gy = bt.autograd.grad(z, [x, y])
    np.testing.assert_allclose(gx.numpy(), [6.0, 12.0])
    np.testing.assert_allclose(gy.numpy(), [5.0])
    assert x.grad is None and y.grad is None


def test_autograd_grad_of_intermediate_and_unused_inputs():
    x = leaf(1.0, 2.0)
    mid = x * 3
    unused = leaf(1.0)
    out = (mid * mid).sum()
    (g_mid,) = bt.autograd.grad(out, mid, retain_graph=True)
    np.testing.assert_allclose(g_mid.numpy(), 2 * mid.detach().numpy())
    with pytest.raises(RuntimeError, match="allow_unused"):
        bt.autograd.grad(out, [x, unused], retain_graph=True)
    gx, gu = bt.autograd.grad(out, [x, unused], allow_unused=True)
    assert gu is None and gx is not None


def test_create_graph_is_refused_clearly():
    x = leaf(1.0)
    with pytest.raises(NotImplementedError, match="create_graph"):
        bt.autograd.grad((x * x).sum(), x, create_graph=True)


def test_hooks_on_leaf_and_intermediate_can_replace_gradients():
    x = leaf(1.0, 2.0)
    y = x * 2
    seen = []
    y.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 10)
    handle = x.register_hook(lambda g: g + 1)
    y.sum().backward()
    np.testing.assert_allclose(seen[0], [1.0, 1.0])
    np.testing.assert_allclose(x.grad.numpy(), [21.0, 21.0])
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_post_accumulate_grad_hook_sees_the_accumulated_grad_once_per_backward():
    x = leaf(1.0, 2.0)
    seen = []
    handle = x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    (x * x + x).sum().backward()  # x reaches the loss along three paths: one call
    (x * 3).sum().backward()
    np.testing.assert_allclose(seen, [[3.0, 5.0], [6.0, 8.0]])
    handle.remove()
    (x * 3).sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="only leaf tensors"):
        (x * 2).register_post_accumulate_grad_hook(print)
    torch = pytest.importorskip("torch")
    tx, tseen = torch.tensor([1.0, 2.0], requires_grad=True), []
    tx.register_post_accumulate_grad_hook(lambda t: tseen.append(t.grad.numpy().copy()))
    (tx * tx + tx).sum().backward()
    (tx * 3).sum().backward()
    np.testing.assert_allclose(seen, tseen)


def test_retain_grad_keeps_intermediate_gradient():
    x = leaf(1.0, 2.0)
    y = x * 3
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * y.detach().numpy())


def test_modifying_a_saved_tensor_in_place_raises_on_backward():
    x = leaf(1.0, 2.0)
    y = x * 3.0
    z = (y + 2).sum()
    w = y * y
    y.add_(1)
    z.backward()  # add saves nothing, so its backward is unaffected
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        w.sum().backward()


def test_in_place_on_leaf_requiring_grad_raises_but_works_under_no_grad():
    x = leaf(1.0, 2.0)
    with pytest.raises(RuntimeError, match="leaf"):
        x.add_(1)
    with bt.no_grad():
        x.mul_(2)
        x += 1
    np.testing.assert_allclose(x.detach().numpy(), [3.0, 5.0])
    assert x._version == 2


def test_in_place_ops_on_intermediates_give_correct_gradients():
    torch = pytest.importorskip("torch")
    a_np = np.array([0.5, -1.0, 2.0])
    b_np = np.array([1.5, 2.0, -0.5])
    a, b = bt.tensor(a_np, requires_grad=True), bt.tensor(b_np, requires_grad=True)
    ta, tb = torch.tensor(a_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)
    for x, y in ((a, b), (ta, tb)):
        z = x * 1.0
        z.mul_(y)
        z += y
        z.clamp_(min=-1.0)
        z.sub_(x, alpha=2)
        (z * z).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy())
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy())


def test_in_place_zero_fill_copy_and_views_share_versions():
    x = bt.arange(6, dtype=bt.float32).reshape(2, 3)
    v = x.reshape(3, 2)
    v.zero_()
    assert x.sum().item() == 0 and x._version == v._version == 1
    x.fill_(2.5)
    x.copy_(bt.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(x.numpy(), [[1, 2, 3], [1, 2, 3]])
    d = x.detach()
    d.add_(1)
    assert x._version == d._version


def test_in_place_float_result_into_int_tensor_raises():
    x = bt.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        x.mul_(0.5)


def test_custom_function_api():
    class ScaledSquare(Function):
        @staticmethod
        def forward(ctx, x, scale):
            ctx.save_for_backward(x)
            ctx.scale = scale
            return scale * x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            assert ctx.needs_input_grad == (True, False)
            return 2 * ctx.scale * x * grad, None

    x = leaf(1.0, -2.0)
    y = ScaledSquare.apply(x, 3.0)
    assert repr(y.grad_fn) == "<ScaledSquareBackward>"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, -12.0])
    assert gradcheck(lambda t: ScaledSquare.apply(t, 0.5), leaf(0.3, 1.7))


def test_mark_non_differentiable_and_multiple_outputs():
    class SortWithIndex(Function):
        @staticmethod
        def forward(ctx, x):
            order = np.argsort(x)
            ctx.order = order
            values = x[order]
            mask = values > 0
            ctx.mark_non_differentiable(mask)
            return values, mask

        @staticmethod
        def backward(ctx, grad_values, grad_mask):
            out = np.zeros_like(grad_values)
            out[ctx.order] = grad_values
            return out

    x = leaf(3.0, -1.0, 2.0)
    values, mask = SortWithIndex.apply(x)
    assert values.requires_grad and not mask.requires_grad
    (values * bt.tensor([1.0, 2.0, 3.0], dtype=bt.float64)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 1.0, 2.0])


def test_backward_returning_wrong_number_of_gradients_is_reported():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(RuntimeError, match="returned 1 gradients, expected 2"):
        Bad.apply(leaf(1.0), leaf(2.0)).sum().backward()


def test_gradcheck_catches_a_wrong_gradient():
    class WrongExp(Function):
        @staticmethod
        def forward(ctx, x):
            return np.exp(x)

        @staticmethod
        def backward(ctx, grad):
            return grad * 1.1

    with pytest.raises(AssertionError, match="Jacobian mismatch"):
        gradcheck(WrongExp.apply, leaf(0.1, 0.2))
    assert not gradcheck(WrongExp.apply, leaf(0.1), raise_exception=False)


def test_gradcheck_refuses_float32():
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda t: t * 2, bt.ones(2, requires_grad=True))


def test_detach_and_requires_grad_rules():
    x = leaf(1.0)
    y = x * 2
    assert not y.is_leaf and x.is_leaf and y.detach().is_leaf
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)
    with pytest.raises(RuntimeError, match="floating-point"):
        bt.tensor([1, 2]).requires_grad_()


def test_backward_inputs_restricts_accumulation():
    x, y = leaf(1.0), leaf(2.0)
    (x * y).backward(inputs=[x])
    assert x.grad.item() == 2.0 and y.grad is None


def test_leaves_are_freed_without_waiting_for_the_garbage_collector():
    import gc
    import weakref

    gc.disable()
    try:
        x = leaf(1.0, 2.0)
        (x * x).sum().backward()
        ref = weakref.ref(x)
        del x
        assert ref() is None
    finally:
        gc.enable()


# Values at domain edges, as PyTorch gives them (forward, and d/dx of the sum).
EDGES = [
    ("log(0)", lambda x: x.log(), [0.0], [-np.inf], [np.inf]),
    ("log2(0)", lambda x: x.log2(), [0.0], [-np.inf], [np.inf]),
    ("sqrt(-1)", lambda x: x.sqrt(), [-1.0], [np.nan], [np.nan]),
    ("1/0", lambda x: 1.0 / x, [0.0], [np.inf], [-np.inf]),
    ("0/0", lambda x: x / x, [0.0], [np.nan], [np.nan]),
    ("exp overflow", lambda x: x.exp(), [1e3], [np.inf], [np.inf]),
    ("inf - inf", lambda x: x.exp() - x.exp(), [1e3], [np.nan], [np.nan]),
    ("(-1)**0.5", lambda x: x**0.5, [-1.0], [np.nan], [np.nan]),
    ("x // 0", lambda x: x // 0.0 + x, [1.0], [np.inf], [1.0]),
    ("log_softmax(-inf)", lambda x: bt.log_softmax(x, 0), [-np.inf, -np.inf], [np.nan] * 2, None),
    ("mean of nothing", lambda x: x[:0].mean(), [1.0], np.nan, [0.0]),
    (
        "relu past inf",
        lambda x: x.relu() * bt.tensor([np.inf, 1.0]),
        [-1.0, 2.0],
        [np.nan, 2.0],
        [0.0, 1.0],
    ),
]


@pytest.mark.parametrize("name, fn, x, value, grad", EDGES, ids=[e[0] for e in EDGES])
def test_domain_edges_are_inf_or_nan_without_warnings(name, fn, x, value, grad):
    x = bt.tensor(x, dtype=bt.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = fn(x)
        y.sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), value)
    if grad is not None:
        np.testing.assert_array_equal(x.grad.numpy(), grad)
