"""nn.utils: gradient clipping against torch.nn.utils (total norms of every order, clipped
gradients, non-finite norms), and parameter/vector conversion."""

import math

import numpy as np
import pytest

import biotorch as bt
from biotorch import nn
from biotorch.nn import utils

SHAPES = [(3, 4), (5,), (), (2, 1, 3)]


def _pairs(scale: float = 1.0, poison: float | None = None):
    """Parameters with gradients (the same values for biotorch and, when present, torch); one
    extra parameter has no gradient."""
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s).astype(np.float32) * scale for s in SHAPES]
    if poison is not None:
        grads[1][2] = poison
    ours = []
    for g in grads:
        p = nn.Parameter(bt.zeros(*g.shape))
        p.grad = bt.tensor(g)
        ours.append(p)
    ours.append(nn.Parameter(bt.zeros(2)))  # no grad: skipped
    return grads, ours


def _torch_params(torch, grads):
    params = []
    for g in grads:
        p = torch.nn.Parameter(torch.zeros(g.shape))
        p.grad = torch.tensor(g)
        params.append(p)
    return params + [torch.nn.Parameter(torch.zeros(2))]


@pytest.mark.parametrize("norm_type", [2.0, 1, math.inf, 0.5, 3.0, "inf"])
@pytest.mark.parametrize("max_norm", [0.3, 1e4])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    norm_type = float(norm_type)
    grads, ours = _pairs()
    theirs = _torch_params(torch, grads)
    total = utils.clip_grad_norm_(iter(ours), max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, bt.Tensor) and total.ndim == 0 and total.dtype == bt.float32
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    for p, t in zip(ours[:-1], theirs[:-1], strict=True):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-7)
    assert ours[-1].grad is None
    clipped = np.concatenate([p.grad.numpy().ravel() for p in ours[:-1]])
    assert np.linalg.norm(clipped, norm_type) <= max_norm * (1 + 1e-5) or max_norm > 1e3


def test_clip_grad_norm_single_tensor_and_no_grads():
    p = nn.Parameter(bt.zeros(3))
    p.grad = bt.tensor([3.0, 0.0, -4.0])
    assert utils.clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.0, -0.8], rtol=1e-5)
    total = utils.clip_grad_norm_([nn.Parameter(bt.zeros(2))], 1.0)
    assert total.item() == 0.0


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf * 0
@pytest.mark.parametrize("poison", [math.nan, math.inf])
def test_clip_grad_norm_nonfinite(poison):
    torch = pytest.importorskip("torch")
    grads, ours = _pairs(poison=poison)
    theirs = _torch_params(torch, grads)
    total = utils.clip_grad_norm_(ours, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert np.isnan(total.item()) == np.isnan(expected.item())
    assert math.isinf(total.item()) == math.isinf(expected.item())
    for p, t in zip(ours[:-1], theirs[:-1], strict=True):
        np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("poison", [math.nan, math.inf])
def test_clip_grad_norm_error_if_nonfinite(poison):
    grads, ours = _pairs(poison=poison)
    with pytest.raises(RuntimeError, match="non-finite"):
        utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    for p, g in zip(ours[:-1], grads, strict=True):  # untouched after the error
        np.testing.assert_array_equal(p.grad.numpy(), g)


def test_clip_grad_norm_of_a_model_keeps_grads_leafless():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    model(bt.randn(16, 4) * 10).sum().backward()
    before = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
    total = utils.clip_grad_norm_(model.parameters(), 0.5)
    expected = math.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in before.values()))
    assert total.item() == pytest.approx(expected, rel=1e-5)
    for name, p in model.named_parameters():
        assert p.grad.grad_fn is None and not p.grad.requires_grad
        np.testing.assert_allclose(p.grad.numpy(), before[name] * 0.5 / (expected + 1e-6), 1e-5)


def test_clip_grad_value_matches_torch():
    torch = pytest.importorskip("torch")
    grads, ours = _pairs(scale=2.0)
    theirs = _torch_params(torch, grads)
    assert utils.clip_grad_value_(ours, 0.7) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, t in zip(ours[:-1], theirs[:-1], strict=True):
        np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())
        assert np.abs(p.grad.numpy()).max() <= 0.7


def test_clip_grad_value_clamps_each_gradient():
    grads, ours = _pairs(scale=2.0)
    assert utils.clip_grad_value_(ours, 0.7) is None
    for p, g in zip(ours[:-1], grads, strict=True):
        np.testing.assert_array_equal(p.grad.numpy(), np.clip(g, -0.7, 0.7))
    assert ours[-1].grad is None


def test_parameters_to_vector_and_back():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2, bias=False))
    params = list(model.parameters())
    vec = utils.parameters_to_vector(params)
    assert vec.shape == (3 * 4 + 4 + 4 * 2,)
    expected = np.concatenate([p.detach().numpy().ravel() for p in params])
    np.testing.assert_array_equal(vec.detach().numpy(), expected)
    (vec * bt.arange(vec.numel(), dtype=bt.float32)).sum().backward()  # differentiable
    offsets = np.cumsum([0] + [p.numel() for p in params])
    for p, start in zip(params, offsets, strict=False):
        np.testing.assert_array_equal(
            p.grad.numpy().ravel(), np.arange(start, start + p.numel(), dtype=np.float32)
        )
    new = bt.arange(vec.numel(), dtype=bt.float32)
    utils.vector_to_parameters(new, model.parameters())
    np.testing.assert_array_equal(utils.parameters_to_vector(params).detach().numpy(), new.numpy())
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in model.parameters())
    assert model[1].weight.shape == (2, 4)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda ps: utils.vector_to_parameters([1.0], ps), TypeError, "expected a Tensor"),
        (lambda ps: utils.vector_to_parameters(bt.zeros(5), ps), ValueError, r"expected \(7,\)"),
        (lambda ps: utils.vector_to_parameters(bt.zeros(7, 1), ps), ValueError, "shape"),
    ],
)
def test_vector_to_parameters_errors(call, error, match):
    params = [nn.Parameter(bt.zeros(3)), nn.Parameter(bt.zeros(2, 2))]
    with pytest.raises(error, match=match):
        call(params)


@pytest.mark.gpu
@pytest.mark.parametrize("norm_type", [2.0, math.inf])
def test_clip_grad_norm_gpu_matches_cpu(norm_type):
    _, cpu = _pairs()
    _, gpu = _pairs()
    for p in gpu:
        p.data = p.to("cuda")
        if p.grad is not None:
            p.grad = p.grad.to("cuda")
    totals = [utils.clip_grad_norm_(ps, 0.3, norm_type) for ps in (cpu, gpu)]
    assert totals[1].device.type == "cuda"
    assert totals[1].cpu().item() == pytest.approx(totals[0].item(), rel=1e-5)
    for c, g in zip(cpu[:-1], gpu[:-1], strict=True):
        np.testing.assert_allclose(g.grad.cpu().numpy(), c.grad.numpy(), rtol=1e-5, atol=1e-7)
    utils.clip_grad_value_(gpu, 0.01)
    assert float(abs(utils.parameters_to_vector([p.grad for p in gpu[:-1]])).max().item()) <= 0.01
