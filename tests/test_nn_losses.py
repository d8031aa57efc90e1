"""Loss modules: parity with torch.nn (values and input gradients, with class weights as
buffers), float64 gradchecks, state_dict/to(), legacy reduction arguments, repr."""

import numpy as np
import pytest

import biotorch as bt
from biotorch import nn
from biotorch.autograd import gradcheck


def _log_softmax(x, axis=1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# How to draw an input or a target of a shape.
DRAW = {
    "normal": lambda rng, s: rng.standard_normal(s),
    "unit": lambda rng, s: rng.uniform(0.05, 0.95, s),
    "positive": lambda rng, s: rng.uniform(0.5, 2.0, s),
    "logprobs": lambda rng, s: _log_softmax(rng.standard_normal(s)),
    "probs": lambda rng, s: np.exp(_log_softmax(rng.standard_normal(s))),
    "counts": lambda rng, s: rng.poisson(1.5, s).astype(np.float64),
    "classes4": lambda rng, s: rng.integers(0, 4, s),
}

# (id, constructor(nn namespace, tensor factory), (input kind, shape), (target kind, shape))
LOSSES = [
    ("bce-logits", lambda m, T: m.BCEWithLogitsLoss(), ("normal", (4, 3)), ("unit", (4, 3))),
    (
        "bce-logits-weighted",
        lambda m, T: m.BCEWithLogitsLoss(
            weight=T([1.0, 0.5, 2.0]), pos_weight=T([3.0, 1.0, 0.2]), reduction="sum"
        ),
        ("normal", (2, 5, 3)),
        ("unit", (2, 5, 3)),
    ),
    ("bce", lambda m, T: m.BCELoss(), ("unit", (6,)), ("unit", (6,))),
    (
        "bce-weighted",
        lambda m, T: m.BCELoss(weight=T([2.0, 0.5]), reduction="none"),
        ("unit", (3, 2)),
        ("unit", (3, 2)),
    ),
    ("ce", lambda m, T: m.CrossEntropyLoss(), ("normal", (5, 4)), ("classes4", (5,))),
    (
        "ce-weighted-ignore-smooth",
        lambda m, T: m.CrossEntropyLoss(
            weight=T([1.0, 2.0, 0.5, 1.5]), ignore_index=1, label_smoothing=0.1
        ),
        ("normal", (8, 4)),
        ("classes4", (8,)),
    ),
    (
        "ce-sequence",
        lambda m, T: m.CrossEntropyLoss(reduction="sum"),
        ("normal", (2, 4, 7)),
        ("classes4", (2, 7)),
    ),
    ("ce-soft-targets", lambda m, T: m.CrossEntropyLoss(), ("normal", (3, 4)), ("probs", (3, 4))),
    ("nll", lambda m, T: m.NLLLoss(), ("logprobs", (5, 4)), ("classes4", (5,))),
    (
        "nll-weighted",
        lambda m, T: m.NLLLoss(weight=T([1.0, 2.0, 0.5, 1.5]), ignore_index=0, reduction="sum"),
        ("logprobs", (3, 4, 5)),
        ("classes4", (3, 5)),
    ),
    ("mse", lambda m, T: m.MSELoss(), ("normal", (4, 3)), ("normal", (4, 3))),
    ("mse-none", lambda m, T: m.MSELoss(reduction="none"), ("normal", (4, 3)), ("normal", (4, 3))),
    ("l1", lambda m, T: m.L1Loss(reduction="sum"), ("normal", (4, 3)), ("normal", (4, 3))),
    ("huber", lambda m, T: m.HuberLoss(delta=0.5), ("normal", (5, 3)), ("normal", (5, 3))),
    ("smooth-l1", lambda m, T: m.SmoothL1Loss(beta=0.5), ("normal", (5, 3)), ("normal", (5, 3))),
    ("poisson", lambda m, T: m.PoissonNLLLoss(), ("normal", (4, 3)), ("counts", (4, 3))),
    (
        "poisson-rates-full",
        lambda m, T: m.PoissonNLLLoss(log_input=False, full=True),
        ("positive", (4, 3)),
        ("counts", (4, 3)),
    ),
    (
        "kl-batchmean",
        lambda m, T: m.KLDivLoss(reduction="batchmean"),
        ("logprobs", (3, 4)),
        ("probs", (3, 4)),
    ),
    (
        "kl-log-target",
        lambda m, T: m.KLDivLoss(reduction="sum", log_target=True),
        ("logprobs", (3, 4)),
        ("logprobs", (3, 4)),
    ),
]
CASES = [pytest.param(*case[1:], id=case[0]) for case in LOSSES]


def _draw(spec, seed, dtype):
    kind, shape = spec
    values = DRAW[kind](np.random.default_rng(seed), shape)
    return values if values.dtype.kind == "i" else values.astype(dtype)


@pytest.mark.parametrize(("make", "input_spec", "target_spec"), CASES)
def test_torch_parity(make, input_spec, target_spec):
    torch = pytest.importorskip("torch")
    x, y = _draw(input_spec, 0, np.float32), _draw(target_spec, 1, np.float32)
    ours = make(nn, lambda v: bt.tensor(v, dtype=bt.float32))
    theirs = make(torch.nn, lambda v: torch.tensor(v, dtype=torch.float32))
    b_x, t_x = bt.tensor(x).requires_grad_(), torch.tensor(x, requires_grad=True)
    b_out, t_out = ours(b_x, bt.tensor(y)), theirs(t_x, torch.tensor(y))
    assert tuple(b_out.shape) == tuple(t_out.shape)
    np.testing.assert_allclose(b_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-5, atol=1e-6)
    upstream = np.random.default_rng(2).standard_normal(tuple(t_out.shape)).astype(np.float32)
    b_out.backward(bt.tensor(upstream))
    t_out.backward(torch.tensor(upstream))
    np.testing.assert_allclose(b_x.grad.numpy(), t_x.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize(("make", "input_spec", "target_spec"), CASES)
def test_gradcheck(make, input_spec, target_spec):
    loss = make(nn, lambda v: bt.tensor(v, dtype=bt.float64))
    x = bt.tensor(_draw(input_spec, 3, np.float64)).requires_grad_()
    target = bt.tensor(_draw(target_spec, 4, np.float64))
    assert gradcheck(lambda inp: loss(inp, target), [x], atol=1e-5, rtol=1e-3)


# Class-index losses whose targets below are all ignore_index: the mean is nan (0/0), and the
# gradients are zero, as in PyTorch.
IGNORING = [
    pytest.param(lambda m, T: m.CrossEntropyLoss(), id="ce"),
    pytest.param(
        lambda m, T: m.CrossEntropyLoss(
            weight=T([1.0, 2.0, 0.5, 1.5]), ignore_index=2, label_smoothing=0.1
        ),
        id="ce-weighted-smooth",
    ),
    pytest.param(lambda m, T: m.NLLLoss(), id="nll"),
    pytest.param(
        lambda m, T: m.NLLLoss(weight=T([1.0, 2.0, 0.5, 1.5]), ignore_index=3), id="nll-w"
    ),
]


def _all_ignored(lib, loss):
    """Logits ``(2, 4, 3)`` (requiring grad) and targets ``(2, 3)``, all ``loss.ignore_index``."""
    x = np.random.default_rng(5).standard_normal((2, 4, 3)).astype(np.float32)
    target = np.full((2, 3), loss.ignore_index)
    return lib.tensor(x, requires_grad=True), lib.tensor(target)


@pytest.mark.parametrize("make", IGNORING)
def test_all_targets_ignored_nan_mean_zero_gradients(make):
    loss = make(nn, lambda v: bt.tensor(v, dtype=bt.float32))
    x, target = _all_ignored(bt, loss)
    out = loss(x, target)
    assert np.isnan(out.item())
    out.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 4, 3)))


@pytest.mark.parametrize("make", IGNORING)
def test_all_targets_ignored_torch_parity(make):
    torch = pytest.importorskip("torch")
    ours = make(nn, lambda v: bt.tensor(v, dtype=bt.float32))
    theirs = make(torch.nn, lambda v: torch.tensor(v, dtype=torch.float32))
    (b_x, b_t), (t_x, t_t) = _all_ignored(bt, ours), _all_ignored(torch, theirs)
    b_out, t_out = ours(b_x, b_t), theirs(t_x, t_t)
    np.testing.assert_array_equal(b_out.detach().numpy(), t_out.detach().numpy())
    b_out.backward()
    t_out.backward()
    np.testing.assert_array_equal(b_x.grad.numpy(), t_x.grad.numpy())


def test_weights_are_buffers():
    loss = nn.BCEWithLogitsLoss(weight=bt.ones(3), pos_weight=bt.full((3,), 2.0))
    assert list(loss.state_dict()) == ["weight", "pos_weight"]
    assert list(nn.MSELoss().state_dict()) == []
    ce = nn.CrossEntropyLoss(weight=bt.tensor([1.0, 3.0])).double()
    assert ce.weight.dtype == bt.float64 and not ce.weight.requires_grad
    assert list(nn.NLLLoss().state_dict()) == []  # a None buffer is left out


# Deprecated (size_average, reduce) and the reduction they stand for.
LEGACY = [(False, None, "sum"), (None, False, "none"), (True, True, "mean")]


@pytest.mark.parametrize(("size_average", "reduce", "expected"), LEGACY)
def test_legacy_reduction_arguments(size_average, reduce, expected):
    with pytest.warns(UserWarning, match="deprecated"):
        loss = nn.MSELoss(size_average=size_average, reduce=reduce)
    assert loss.reduction == expected


@pytest.mark.parametrize(("size_average", "reduce", "expected"), LEGACY)
def test_legacy_reduction_arguments_match_torch(size_average, reduce, expected):
    torch = pytest.importorskip("torch")
    with pytest.warns(UserWarning):
        assert torch.nn.MSELoss(size_average=size_average, reduce=reduce).reduction == expected


def test_repr_and_settings():
    loss = nn.CrossEntropyLoss(ignore_index=3, label_smoothing=0.2)
    assert repr(loss) == "CrossEntropyLoss()"
    assert (loss.ignore_index, loss.label_smoothing, loss.reduction) == (3, 0.2, "mean")
    assert nn.HuberLoss(reduction="sum", delta=2.0).delta == 2.0
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"
    with pytest.raises(ValueError, match="'batchmean' is not a valid"):
        nn.L1Loss(reduction="batchmean")
