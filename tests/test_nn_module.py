"""Module registration, traversal, modes, conversion, hooks, state_dict and repr."""

import numpy as np
import pytest

import biotorch as bt
from biotorch import nn


class Affine(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(bt.ones(n))
        self.bias = nn.Parameter(bt.zeros(n))
        self.register_buffer("count", bt.zeros(1, dtype=bt.int64))
        self.register_buffer("scratch", bt.zeros(n), persistent=False)

    def forward(self, x):
        return x * self.weight + self.bias

    def extra_repr(self) -> str:
        return f"n={self.weight.shape[0]}"


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first = Affine(3)
        self.blocks = nn.ModuleList([Affine(3), Affine(3)])
        self.head = nn.Sequential(Affine(3), nn.Identity())
        self.shared = self.first  # the same module twice: its parameters count once

    def forward(self, x):
        x = self.first(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def test_registration_and_traversal():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == [
        "first.weight",
        "first.bias",
        "blocks.0.weight",
        "blocks.0.bias",
        "blocks.1.weight",
        "blocks.1.bias",
        "head.0.weight",
        "head.0.bias",
    ]
    assert all(p.requires_grad and p.is_leaf for p in net.parameters())
    assert [n for n, _ in net.named_buffers()][:2] == ["first.count", "first.scratch"]
    assert [n for n, _ in net.named_children()] == ["first", "blocks", "head"]
    assert len(list(net.modules())) == 8  # Net, first, blocks + 2, head + 2 (shared: once)
    assert net.get_submodule("blocks.1") is net.blocks[1]
    assert isinstance(net.first.weight, nn.Parameter) and "weight" in dir(net.first)


def test_reassignment_and_deletion_update_registries():
    m = Affine(2)
    m.bias = None
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    with pytest.raises(TypeError, match="Parameter or None"):
        m.weight = bt.ones(2)
    m.weight = nn.Parameter(bt.zeros(2))
    del m.weight
    assert list(m.parameters()) == []
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        m.missing  # noqa: B018


def test_assignment_before_init_is_explained():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(bt.ones(1))

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_forward_and_gradients_flow_to_parameters():
    net = Net()
    out = net(bt.tensor([1.0, 2.0, 3.0]))
    out.sum().backward()
    assert net.first.weight.grad.tolist() == [1.0, 2.0, 3.0]
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_train_eval_and_requires_grad():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    with pytest.raises(ValueError, match="bool"):
        net.train("yes")


def test_to_double_keeps_parameter_identity_and_int_buffers():
    net = Net()
    weight = net.first.weight
    net.double()
    assert net.first.weight is weight and weight.dtype == bt.float64
    assert net.first.count.dtype == bt.int64
    net.to(bt.float32)
    assert weight.dtype == bt.float32


def test_apply_visits_children_first():
    seen = []
    Net().apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen.count("Affine") == 4


def test_forward_hooks_and_pre_hooks():
    m = Affine(2)
    calls = []
    pre = m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
    post = m.register_forward_hook(lambda mod, args, out: calls.append(out.tolist()) or out + 1)
    assert m(bt.ones(2)).tolist() == [3.0, 3.0]
    assert calls == [[2.0, 2.0]]
    pre.remove()
    post.remove()
    assert m(bt.ones(2)).tolist() == [1.0, 1.0]


def test_state_dict_round_trip_and_persistence():
    a, b = Net(), Net()
    with bt.no_grad():
        a.first.weight.mul_(3)
        a.first.count.fill_(7)
    sd = a.state_dict()
    assert "first.scratch" not in sd and "first.count" in sd
    assert not sd["first.weight"].requires_grad
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b.first.weight.tolist() == [3.0, 3.0, 3.0] and b.first.count.tolist() == [7]
    assert np.shares_memory(sd["first.weight"].numpy(), a.first.weight._data)


def test_load_state_dict_reports_missing_unexpected_and_shape_mismatch():
    net = Net()
    sd = net.state_dict()
    del sd["head.0.bias"]
    sd["extra"] = bt.zeros(1)
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(sd)
    assert "Missing key(s)" in str(err.value) and "'head.0.bias'" in str(err.value)
    assert "Unexpected key(s)" in str(err.value) and "'extra'" in str(err.value)
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["head.0.bias"] and result.unexpected_keys == ["extra"]
    sd = net.state_dict()
    sd["first.weight"] = bt.zeros(4)
    with pytest.raises(RuntimeError, match=r"first.weight: .*\(4,\).*\(3,\)"):
        net.load_state_dict(sd, strict=False)


def test_repr_tree():
    text = repr(Net())
    assert text.startswith(
        "Net(\n  (first): Affine(n=3)\n  (blocks): ModuleList(\n    (0): Affine(n=3)"
    )
    assert "(1): Identity()" in text


def test_containers():
    seq = nn.Sequential(Affine(2), nn.Identity())
    assert len(seq) == 2 and isinstance(seq[0], Affine) and isinstance(seq[-1], nn.Identity)
    assert isinstance(seq[:1], nn.Sequential) and len(seq[:1]) == 1
    seq.append(Affine(2))
    assert len(list(seq.parameters())) == 4
    ml = nn.ModuleList([Affine(1)])
    ml += [Affine(1)]
    ml.insert(0, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Identity", "Affine", "Affine"]
    del ml[0]
    assert [n for n, _ in ml.named_children()] == ["0", "1"]
    md = nn.ModuleDict({"a": Affine(1)})
    md["b"] = Affine(2)
    assert list(md.keys()) == ["a", "b"] and "b" in md and len(list(md.parameters())) == 4
    with pytest.raises(IndexError, match="out of range"):
        seq[5]


def test_parameter_repr_and_defaults():
    p = nn.Parameter(bt.zeros(2))
    assert p.requires_grad and repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(bt.zeros(1), requires_grad=False).requires_grad
    assert type(p * 2) is bt.Tensor
