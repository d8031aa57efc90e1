"""What graph nodes keep for backward: only the arrays their gradients need.

Each case builds a non-leaf ``h`` (from ``x + 1``: Add keeps nothing), applies an op to it, drops
``h`` and checks through a weak reference whether ``h``'s array is still alive (kept by the op's
node), then that the gradient is still right.
"""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import biotorch
from biotorch.autograd.function import quiet_floating_point, restore_floating_point

RNG = np.random.default_rng(0)


def _leaf(requires_grad=True):
    data = RNG.uniform(0.5, 1.5, (4, 5))
    return biotorch.tensor(data, dtype=biotorch.float64, requires_grad=requires_grad)


# (name, op on h and a second tensor w that requires grad or not, whether h's array is needed)
CASES = [
    ("mul by a Python number", lambda h, w: h * 2.0, False),
    ("number times tensor", lambda h, w: 3.0 * h, False),
    ("div by a Python number", lambda h, w: h / 4.0, False),
    ("add", lambda h, w: h + w, False),
    ("sub a number", lambda h, w: h - 1.5, False),
    ("exp (keeps its output)", lambda h, w: h.exp(), False),
    ("tanh (keeps its output)", lambda h, w: h.tanh(), False),
    ("sigmoid (keeps its output)", lambda h, w: h.sigmoid(), False),
    ("mul by a tensor without grad", lambda h, w: h * w.detach(), False),
    ("div by a tensor without grad", lambda h, w: h / w.detach(), False),
    ("remainder by a number", lambda h, w: h % 0.7, False),
    ("pow by a number", lambda h, w: h**2.0, True),
    ("mul by a tensor that requires grad", lambda h, w: h * w, True),
    ("div of a tensor that requires grad", lambda h, w: w / h, True),
]


@pytest.mark.parametrize("name, op, needed", CASES, ids=[c[0] for c in CASES])
def test_node_keeps_only_what_its_gradient_needs(name, op, needed):
    x, w = _leaf(), _leaf()
    h = x + 1.0
    alive = weakref.ref(h._data)
    out = op(h, w)
    del h
    gc.collect()
    assert (alive() is not None) == needed, f"{name}: input array kept={alive() is not None}"

    out.sum().backward()
    expected = biotorch.autograd.grad(op(x + 1.0, w).sum(), [x])[0]
    np.testing.assert_allclose(x.grad.numpy(), expected.numpy(), rtol=1e-12)


def test_mul_by_scalar_saves_no_array():
    y = (_leaf() + 1.0) * 2.0
    saved = y.grad_fn.saved_tensors
    assert not any(isinstance(s, np.ndarray) for s in saved), saved


def test_div_saves_its_quotient_only_for_the_divisor_gradient():
    a, b = _leaf(), _leaf(requires_grad=False)
    saved = (a / b).grad_fn.saved_tensors
    assert len(saved) == 2 and saved[0] is b._data and saved[1] is None
    b.requires_grad_()
    out = a / b
    assert out.grad_fn.saved_tensors[1] is out._data


def test_quiet_floating_point_restores_the_callers_state():
    with np.errstate(divide="raise", over="warn", invalid="call", under="raise"):
        before = np.geterr()
        token = quiet_floating_point()
        quiet = np.geterr()
        inner = quiet_floating_point()  # nested: already quiet, nothing to undo
        restore_floating_point(inner)
        assert np.geterr() == quiet
        restore_floating_point(token)
        assert np.geterr() == before
    assert quiet["divide"] == quiet["over"] == quiet["invalid"] == "ignore"
    assert quiet["under"] == "raise"


def test_ops_stay_quiet_and_callers_errors_come_back():
    x = biotorch.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(divide="raise"):
        y = x.log()  # log(0): -inf without a warning, as in PyTorch
        y.sum().backward()  # 1/0 in backward: inf, quietly
        assert np.isinf(y.detach().numpy()[0]) and np.isinf(x.grad.numpy()[0])
        with pytest.raises(FloatingPointError):
            np.log(np.zeros(1))
