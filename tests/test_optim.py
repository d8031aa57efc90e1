"""Optimizers and schedulers: trajectories against PyTorch, state dicts, argument checks."""

import numpy as np
import pytest

import biotorch as bt
from biotorch import optim

OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.05)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5)),
]


def _loss(params, consts, sign=1.0):
    """A bowl (quadratic in w, quartic in b); ``sign=-1`` turns it over for ``maximize``."""
    (w, b), (c, d) = params, consts
    return ((w * w * c).sum() + (w * d).sum() + 0.1 * (b * b * b * b).sum() - b.sum()) * sign


def _run(lib, name, kwargs, steps=20, groups=False):
    rng = np.random.default_rng(0)
    w0, b0 = rng.standard_normal((4, 3)), rng.standard_normal(3)
    c, d = rng.uniform(0.5, 2, (4, 3)), rng.standard_normal((4, 3))
    make = lib.tensor
    w = make(w0.astype(np.float32), requires_grad=True)
    b = make(b0.astype(np.float32), requires_grad=True)
    consts = (make(c.astype(np.float32)), make(d.astype(np.float32)))
    params = [{"params": [w]}, {"params": [b], "lr": kwargs["lr"] / 2}] if groups else [w, b]
    opt = getattr(lib.optim, name)(params, **kwargs)
    sign = -1.0 if kwargs.get("maximize") else 1.0
    for _ in range(steps):
        opt.zero_grad()
        _loss((w, b), consts, sign).backward()
        opt.step()
    out = w.detach().numpy(), b.detach().numpy()
    assert all(np.isfinite(a).all() for a in out), "the test objective diverged"
    return out


@pytest.mark.parametrize(
    "name, kwargs", OPTIMIZERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIMIZERS)]
)
def test_trajectory_matches_pytorch(name, kwargs):
    torch = pytest.importorskip("torch")
    for groups in (False, True):
        ours = _run(bt, name, kwargs, groups=groups)
        theirs = _run(torch, name, kwargs, groups=groups)
        for a, t in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a, t, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS[1::2], ids=lambda v: str(v))
def test_state_dict_resume_is_exact(name, kwargs):
    """10 steps, save, load into fresh objects, 10 more == 20 straight steps."""
    straight = _run(bt, name, kwargs, steps=20)
    rng = np.random.default_rng(0)
    w0, b0 = rng.standard_normal((4, 3)), rng.standard_normal(3)
    c, d = rng.uniform(0.5, 2, (4, 3)), rng.standard_normal((4, 3))
    consts = (bt.tensor(c.astype(np.float32)), bt.tensor(d.astype(np.float32)))
    w = bt.tensor(w0.astype(np.float32), requires_grad=True)
    b = bt.tensor(b0.astype(np.float32), requires_grad=True)
    opt = getattr(optim, name)([w, b], **kwargs)
    for step in range(20):
        if step == 10:
            state = opt.state_dict()
            w = bt.tensor(w.detach().numpy().copy(), requires_grad=True)
            b = bt.tensor(b.detach().numpy().copy(), requires_grad=True)
            opt = getattr(optim, name)([w, b], **kwargs)
            opt.load_state_dict(state)
        opt.zero_grad()
        _loss((w, b), consts, -1.0 if kwargs.get("maximize") else 1.0).backward()
        opt.step()
    np.testing.assert_array_equal(w.detach().numpy(), straight[0])
    np.testing.assert_array_equal(b.detach().numpy(), straight[1])


def test_state_dict_layout_and_mismatch_errors():
    w = bt.ones(2, requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0] and sd["param_groups"][0]["lr"] == 0.1
    assert sd["state"][0]["step"] == 1 and isinstance(sd["state"][0]["exp_avg"], bt.Tensor)
    other = optim.Adam([bt.ones(2, requires_grad=True), bt.ones(1, requires_grad=True)])
    with pytest.raises(ValueError, match="1 parameters in the state and 2"):
        other.load_state_dict(sd)


def test_argument_checks_and_zero_grad():
    w = bt.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([w], lr=-1)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="more than one group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)
    opt = optim.SGD([w], lr=0.1)
    (w * 2).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None


def test_step_with_closure_and_skips_params_without_grad():
    w, unused = bt.ones(2, requires_grad=True), bt.ones(2, requires_grad=True)
    opt = optim.SGD([w, unused], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 2.0
    assert w.tolist() == [0.0, 0.0] and unused.tolist() == [1.0, 1.0]


SCHEDULERS = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    ("LinearLR", dict(start_factor=0.2, total_iters=6)),
    ("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1 + e))),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=25)),
    (
        "OneCycleLR",
        dict(max_lr=[0.5, 0.2], total_steps=25, three_phase=True, anneal_strategy="linear"),
    ),
]


def _lrs(lib, name, kwargs, optimizer="SGD", steps=24):
    params = [
        {"params": [lib.ones(1, requires_grad=True)]},
        {"params": [lib.ones(1, requires_grad=True)], "lr": 0.05},
    ]
    opt_kwargs = dict(lr=0.1, momentum=0.9) if optimizer == "SGD" else dict(lr=0.1)
    opt = getattr(lib.optim, optimizer)(params, **opt_kwargs)
    sched = getattr(lib.optim.lr_scheduler, name)(opt, **kwargs)
    history = []
    for _ in range(steps):
        opt.step()
        sched.step()
        history.append(
            [g["lr"] for g in opt.param_groups]
            + [g.get("momentum", g.get("betas", [0])[0]) for g in opt.param_groups]
        )
    return np.array(history)


@pytest.mark.parametrize(
    "name, kwargs", SCHEDULERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULERS)]
)
@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_scheduler_matches_pytorch(name, kwargs, optimizer):
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(
        _lrs(bt, name, kwargs, optimizer),
        _lrs(torch, name, kwargs, optimizer),
        rtol=1e-12,
        atol=1e-15,
    )


def _sequential(lib):
    opt = lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.1)
    warm = lib.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=4)
    decay = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    sched = lib.optim.lr_scheduler.SequentialLR(opt, [warm, decay], milestones=[4])
    out = []
    for _ in range(15):
        opt.step()
        sched.step()
        out.append(opt.param_groups[0]["lr"])
    return np.array(out)


def test_sequential_lr_matches_pytorch():
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(_sequential(bt), _sequential(torch), rtol=1e-12)


def _plateau(lib):
    opt = lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=1.0)
    sched = lib.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=0.5, patience=2, cooldown=1, min_lr=0.1
    )
    metrics = [5, 4, 4, 4, 4, 3.9999, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2, 2, 2, 2]
    out = []
    for m in metrics:
        sched.step(m)
        out.append(opt.param_groups[0]["lr"])
    return out


def test_reduce_lr_on_plateau_matches_pytorch():
    torch = pytest.importorskip("torch")
    assert _plateau(bt) == _plateau(torch)


def test_scheduler_state_dict_round_trip():
    opt = optim.SGD([bt.ones(1, requires_grad=True)], lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        sched.step()
    state = sched.state_dict()
    opt2 = optim.SGD([bt.ones(1, requires_grad=True)], lr=0.1)
    sched2 = optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    sched2.load_state_dict(state)
    opt2.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    sched.step()
    sched2.step()
    assert sched.get_last_lr() == sched2.get_last_lr() and "optimizer" not in state


@pytest.mark.gpu
@pytest.mark.parametrize(
    "name, kwargs", OPTIMIZERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIMIZERS)]
)
def test_fused_gpu_updates_match_the_cpu_path(name, kwargs):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((64, 33)).astype(np.float32)
    results = []
    for device in ("cpu", "cuda"):
        w = bt.tensor(w0, device=device, requires_grad=True)
        opt = getattr(optim, name)([w], **kwargs)
        for step in range(5):
            opt.zero_grad()
            ((w * w).sum() + (w * float(step)).sum()).backward()
            opt.step()
        results.append(w.detach().cpu().numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-5, atol=1e-6)
