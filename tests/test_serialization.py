"""Checkpoints: round trips, atomic writes, refusal of bad files, PyTorch interop, resume."""

import io
import os
import pickle
import re
import stat
import struct
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import biotorch as bt
from biotorch import nn, optim, serialization
from biotorch.serialization import CheckpointError


def test_nested_round_trip_is_exact(tmp_path):
    obj = {
        "model": OrderedDict([("conv.weight", bt.randn(3, 4, 5)), ("bn.count", bt.tensor(7))]),
        "optimizer": {"state": {0: {"step": 4, "exp_avg": bt.zeros(2, dtype=bt.float64)}}},
        "betas": (0.9, 0.999),
        "history": [1.5, float("inf"), None, True, "text"],
        "mask": bt.tensor([True, False]),
        "tokens": np.arange(5, dtype=np.int8),
        "half": bt.ones(3, dtype=bt.float16),
        "empty": bt.zeros(0, 3),
    }
    path = tmp_path / "ckpt.safetensors"
    bt.save(obj, path)
    back = bt.load(path)
    assert list(back) == list(obj)
    assert isinstance(back["betas"], tuple) and back["history"] == obj["history"]
    assert list(back["optimizer"]["state"]) == [0] and back["optimizer"]["state"][0]["step"] == 4
    for key in ("mask", "half", "empty"):
        assert back[key].dtype == obj[key].dtype and back[key].shape == obj[key].shape
    np.testing.assert_array_equal(
        back["model"]["conv.weight"].numpy(), obj["model"]["conv.weight"].numpy()
    )
    assert isinstance(back["tokens"], np.ndarray) and back["tokens"].dtype == np.int8
    assert back["model"]["bn.count"].item() == 7 and back["model"]["bn.count"].shape == ()


def test_state_dict_files_are_plain_safetensors(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    sd = OrderedDict([("layer.weight", bt.randn(2, 3)), ("layer.bias", bt.zeros(2))])
    bt.save(sd, tmp_path / "m.safetensors")
    other = st.load_file(str(tmp_path / "m.safetensors"))
    assert sorted(other) == ["layer.bias", "layer.weight"]
    np.testing.assert_array_equal(other["layer.weight"], sd["layer.weight"].numpy())
    st.save_file({"w": np.ones((2, 2), np.float32)}, str(tmp_path / "foreign.safetensors"))
    assert bt.load(tmp_path / "foreign.safetensors")["w"].tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_file_objects_and_map_location(tmp_path):
    buffer = io.BytesIO()
    bt.save({"x": bt.arange(3)}, buffer)
    buffer.seek(0)
    assert bt.load(buffer, map_location="cpu")["x"].tolist() == [0, 1, 2]


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    bt.save({"v": bt.tensor([1.0])}, path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        bt.save({"v": bt.tensor([2.0])}, path)
    monkeypatch.undo()
    assert bt.load(path)["v"].tolist() == [1.0]
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]


def test_saved_files_get_the_usual_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        bt.save({"v": bt.ones(1)}, tmp_path / "m.safetensors")
    finally:
        os.umask(mask)
    assert (tmp_path / "m.safetensors").stat().st_mode & 0o777 == 0o644


def test_save_keeps_an_existing_mode_and_never_touches_the_umask(tmp_path, monkeypatch):
    path = tmp_path / "private.safetensors"
    bt.save({"v": bt.ones(1)}, path)
    os.chmod(path, 0o600)

    def umask(*args):
        raise AssertionError("save changed the process umask")

    monkeypatch.setattr(os, "umask", umask)
    bt.save({"v": bt.zeros(1)}, path)
    bt.save({"v": bt.ones(1)}, tmp_path / "new.safetensors")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert bt.load(path)["v"].tolist() == [0.0]


def test_save_killed_mid_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    bt.save({"v": bt.tensor([1.0])}, path)
    seen = []

    def killed(out, header, blobs):
        out.write(header[:5])
        seen.extend(os.listdir(tmp_path))
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization, "_write_all", killed)
    with pytest.raises(KeyboardInterrupt):
        bt.save({"v": bt.tensor([2.0])}, path)
    monkeypatch.undo()
    temporaries = [name for name in seen if name != "ckpt.safetensors"]
    assert len(temporaries) == 1  # named so that a save killed outright can be found
    assert re.fullmatch(rf"\.ckpt\.tmp-{os.getpid()}-[0-9a-f]+\.safetensors", temporaries[0])
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]
    assert bt.load(path)["v"].tolist() == [1.0]


def test_unsupported_values_are_named(tmp_path):
    with pytest.raises(TypeError, match=r"set at opt"):
        bt.save({"opt": {1, 2}}, tmp_path / "x")
    with pytest.raises(TypeError, match="keys must be str or int"):
        bt.save({(1, 2): 3}, tmp_path / "x")
    assert not os.path.exists(tmp_path / "x")


def test_truncated_corrupted_and_foreign_files_are_refused(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    bt.save({"w": bt.randn(10, 10)}, path)
    raw = path.read_bytes()
    cases = {
        "truncated": raw[:-7],
        "tiny": raw[:5],
        "header-cut": raw[:20],
        "garbage": os.urandom(256),
        "text": b"chrom\tstart\tend\nchr1\t0\t10\n" * 4,
        "bad-json": struct.pack("<Q", 8) + b"{notjson",
        "trailing": raw + b"extra",
    }
    for name, content in cases.items():
        bad = tmp_path / f"{name}.bin"
        bad.write_bytes(content)
        with pytest.raises(CheckpointError):
            bt.load(bad)


def _torch_file(tmp_path, obj, name="m.pt"):
    torch = pytest.importorskip("torch")
    path = tmp_path / name
    torch.save(obj, path)
    return torch, path


def test_reads_pytorch_state_dicts_without_torch_code(tmp_path):
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(
        torch.nn.Conv1d(4, 8, 5), torch.nn.BatchNorm1d(8), torch.nn.Linear(3, 2)
    )
    sd = model.state_dict()
    sd["transposed"] = torch.randn(4, 6).t()
    sd["bf16"] = torch.randn(3).to(torch.bfloat16)
    sd["offset_view"] = torch.arange(10.0)[3:7]
    _, path = _torch_file(tmp_path, sd)
    ours = bt.load_torch_state_dict(path)
    assert list(ours) == list(sd)
    for key, value in sd.items():
        expected = value.float().numpy() if value.dtype == torch.bfloat16 else value.numpy()
        np.testing.assert_array_equal(ours[key].numpy(), expected)
        assert ours[key].shape == tuple(value.shape)
    assert ours["1.num_batches_tracked"].dtype == bt.int64


def test_pytorch_safetensors_and_parameters(tmp_path):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    st.save_file({"w": torch.ones(2, 3, dtype=torch.bfloat16)}, str(tmp_path / "t.safetensors"))
    assert bt.load(tmp_path / "t.safetensors")["w"].dtype == bt.float32
    _, path = _torch_file(tmp_path, {"p": torch.nn.Parameter(torch.ones(2))})
    assert bt.load_torch_state_dict(path)["p"].tolist() == [1.0, 1.0]


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/biotorch_pwned",))


def test_malicious_pickles_are_refused_without_running_code(tmp_path):
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evil/data.pkl", pickle.dumps({"w": _Evil()}, protocol=2))
        archive.writestr("evil/byteorder", "little")
    if os.path.exists("/tmp/biotorch_pwned"):
        os.unlink("/tmp/biotorch_pwned")
    with pytest.raises(CheckpointError, match="refusing"):
        bt.load_torch_state_dict(path)
    assert not os.path.exists("/tmp/biotorch_pwned")
    with pytest.raises(CheckpointError, match="load_torch_state_dict"):
        bt.load(path)


def test_legacy_and_corrupt_torch_files_are_refused(tmp_path):
    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes(pickle.dumps({"w": 1}, protocol=2))
    with pytest.raises(CheckpointError, match="legacy"):
        bt.load_torch_state_dict(legacy)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"PK\x03\x04" + os.urandom(64))
    with pytest.raises(CheckpointError):
        bt.load_torch_state_dict(broken)


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(bt.randn(6, 4) * 0.5)
        self.b = nn.Parameter(bt.zeros(4))

    def forward(self, x):
        return x @ self.w + self.b


def _train(model, opt, sched, epochs, data):
    x, y = data
    for _ in range(epochs):
        for i in range(0, 32, 8):
            noise = bt.randn(8, 6) * 0.01  # consumes the global RNG stream each step
            loss = ((model(x[i : i + 8] + noise) - y[i : i + 8]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()


def _fresh(seed=0):
    bt.manual_seed(seed)
    model = _Tiny()
    opt = optim.Adam(model.parameters(), lr=0.05)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    return model, opt, sched


def test_training_resumes_bit_for_bit(tmp_path):
    data_rng = np.random.default_rng(1)
    data = (
        bt.tensor(data_rng.standard_normal((32, 6)), dtype=bt.float32),
        bt.tensor(data_rng.standard_normal((32, 4)), dtype=bt.float32),
    )
    model, opt, sched = _fresh()
    _train(model, opt, sched, 2, data)
    straight = {k: v.numpy().copy() for k, v in model.state_dict().items()}

    model, opt, sched = _fresh()
    _train(model, opt, sched, 1, data)
    bt.save(
        {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "epoch": 1,
            "rng": bt.get_rng_state(),
        },
        tmp_path / "resume.safetensors",
    )
    model, opt, sched = _fresh(seed=99)
    ckpt = bt.load(tmp_path / "resume.safetensors")
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    sched.load_state_dict(ckpt["scheduler"])
    bt.set_rng_state(ckpt["rng"])
    assert ckpt["epoch"] == 1
    _train(model, opt, sched, 1, data)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), straight[key])
