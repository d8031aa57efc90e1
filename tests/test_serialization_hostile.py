"""Crafted checkpoints: every malformed .pt or safetensors file is a CheckpointError that names
the file and the tensor, never a read outside the data, a crash, a huge allocation or a bare
TypeError/RecursionError. The .pt files are written opcode by opcode, so no test needs torch
(one checks the writer against torch.load when torch is importable)."""

import json
import math
import pickle
import pickletools
import re
import struct
import tracemalloc
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import biotorch as bt
from biotorch import serialization
from biotorch.serialization import CheckpointError


# -- a PyTorch zip checkpoint writer, without torch ---------------------------------------------
def _push(value) -> bytes:
    """Pickle opcodes that push a plain value (no memo, so fragments can be concatenated)."""
    ops = pickletools.optimize(pickle.dumps(value, protocol=2))
    return ops[2:-1]  # without PROTO and STOP


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _tensor(key, offset, size, stride, storage="FloatStorage", numel=None) -> bytes:
    """Opcodes for ``torch._utils._rebuild_tensor_v2`` on storage ``key`` (as torch.save writes)."""
    numel = math.prod(size) if numel is None else numel
    pid = b"(" + _push("storage") + _global("torch", storage) + _push(key)
    pid += _push("cpu") + _push(numel) + b"tQ"  # TUPLE, BINPERSID
    hooks = _global("collections", "OrderedDict") + b")R"
    args = b"(" + pid + _push(offset) + _push(tuple(size)) + _push(tuple(stride))
    return _global("torch._utils", "_rebuild_tensor_v2") + args + _push(False) + hooks + b"tR"


def _state_dict(entries) -> bytes:
    """A pickled OrderedDict of {key: opcodes pushing the value}."""
    body = b"".join(_push(key) + ops for key, ops in entries.items())
    return b"\x80\x02" + _global("collections", "OrderedDict") + b")R(" + body + b"u."


def _write_pt(path, pickled: bytes, storages: dict, order=b"little", method=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickled)
        archive.writestr("archive/byteorder", order)
        for key, data in storages.items():
            archive.writestr(f"archive/data/{key}", data, compress_type=method)
        archive.writestr("archive/version", "3\n")
    return path


def _one_tensor_file(tmp_path, offset, size, stride, data=None, numel=None, **kw):
    data = np.arange(4, dtype="<f4").tobytes() if data is None else data
    numel = len(data) // 4 if numel is None else numel
    pickled = _state_dict({"w": _tensor("0", offset, size, stride, numel=numel, **kw)})
    return _write_pt(tmp_path / "m.pt", pickled, {"0": data})


def _refused(path, *phrases):
    """Loading ``path`` (a .pt with load_torch_state_dict, else with load) raises a
    CheckpointError naming the file and each phrase."""
    with pytest.raises(CheckpointError) as info:
        (bt.load_torch_state_dict if path.suffix == ".pt" else bt.load)(path)
    message = str(info.value)
    assert str(path) in message
    for phrase in phrases:
        assert phrase in message, message
    return message


# -- valid hand-built files ----------------------------------------------------------------------
def _valid_file(tmp_path, order="<"):
    floats = np.arange(24, dtype=f"{order}f4").tobytes()
    bf16 = (np.array([1.0, -2.5, 3.0], dtype="<f4").view("<u4") >> 16).astype(f"{order}u2")
    entries = {
        "transposed": _tensor("0", 0, (6, 4), (1, 6)),
        "view": _tensor("0", 5, (3,), (2,), numel=24),
        "scalar": _tensor("0", 7, (), (), numel=24),
        "empty": _tensor("0", 0, (0, 3), (3, 1), numel=24),
        "broadcast_row": _tensor("0", 2, (1, 4), (1000, 1), numel=24),
        "bf16": _tensor("1", 0, (3,), (1,), storage="BFloat16Storage"),
    }
    byteorder = b"little" if order == "<" else b"big"
    return _write_pt(
        tmp_path / "ok.pt", _state_dict(entries), {"0": floats, "1": bf16.tobytes()}, byteorder
    )


@pytest.mark.parametrize("order", ["<", ">"])
def test_valid_hand_built_files_load(tmp_path, order):
    sd = bt.load_torch_state_dict(_valid_file(tmp_path, order))
    base = np.arange(24, dtype=np.float32)
    np.testing.assert_array_equal(sd["transposed"].numpy(), base.reshape(4, 6).T)
    assert sd["view"].tolist() == [5.0, 7.0, 9.0]
    assert sd["scalar"].shape == () and sd["scalar"].item() == 7.0
    assert sd["empty"].shape == (0, 3)
    assert sd["broadcast_row"].tolist() == [[2.0, 3.0, 4.0, 5.0]]
    assert sd["bf16"].tolist() == [1.0, -2.5, 3.0]


def test_hand_built_files_match_torch_load(tmp_path):
    torch = pytest.importorskip("torch")
    path = _valid_file(tmp_path)
    theirs = torch.load(path, weights_only=True)
    ours = bt.load_torch_state_dict(path)
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        np.testing.assert_array_equal(ours[key].numpy(), value.float().numpy())


# -- tensors that do not fit their storage -------------------------------------------------------
def test_reading_past_the_storage_is_refused(tmp_path):
    _refused(_one_tensor_file(tmp_path, 2, (4,), (1,)), "tensor 'w'", "reach element 5")
    _refused(_one_tensor_file(tmp_path, 0, (2, 2), (1, 3)), "reach element 4")
    _refused(_one_tensor_file(tmp_path, 9, (0,), (1,)), "offset 9 lies past")


def test_huge_strides_are_refused_without_a_crash(tmp_path):
    _refused(_one_tensor_file(tmp_path, 0, (2,), (2**40,)), "'w'", "reach element")
    _refused(_one_tensor_file(tmp_path, 0, (2, 2), (1, 2**62)), "reach element")
    _refused(_one_tensor_file(tmp_path, 0, (3,), (2**64,)), "reach element")


def test_zero_strides_cannot_allocate_huge_arrays(tmp_path):
    _refused(_one_tensor_file(tmp_path, 0, (2**20, 2**20), (0, 0)), "'w'", "more than 64 times")
    _refused(_one_tensor_file(tmp_path, 0, (2**40, 2**40), (0, 0)), "int64")


def test_short_long_and_ragged_storages_are_refused(tmp_path):
    four = np.arange(4, dtype="<f4").tobytes()
    _refused(_one_tensor_file(tmp_path, 0, (4,), (1,), data=four[:12], numel=4), "12 bytes")
    _refused(_one_tensor_file(tmp_path, 0, (3,), (1,), data=four, numel=3), "16 bytes")
    _refused(_one_tensor_file(tmp_path, 0, (1,), (1,), data=four[:7], numel=1), "whole number")
    bf16 = np.ones(3, "<u2").tobytes()  # 3 elements where the record says 4
    short = _one_tensor_file(tmp_path, 0, (4,), (1,), data=bf16, numel=4, storage="BFloat16Storage")
    _refused(short, "'w'", "6 bytes", "4 torch.BFloat16Storage elements")
    _refused(_one_tensor_file(tmp_path, 0, (4,), (1,), numel=10**30), "10000000000000000000")


@pytest.mark.parametrize(
    ("offset", "size", "stride", "phrase"),
    [
        (-1, (2,), (1,), "storage offset -1"),
        (1.0, (2,), (1,), "storage offset 1.0"),
        (True, (2,), (1,), "storage offset True"),
        (0, (-2,), (1,), "negative dimension"),
        (0, (2.0,), (1,), "not a list of integers"),
        (0, (2,), (-1,), "stride (-1,)"),
        (0, (2, 1), (1,), "is not 2 integers"),
        (0, (1,) * 65, (1,) * 65, "65 dimensions"),
    ],
)
def test_malformed_views_are_refused(tmp_path, offset, size, stride, phrase):
    _refused(_one_tensor_file(tmp_path, offset, size, stride), "tensor 'w'", phrase)


def test_malformed_storage_ids_and_byteorders_are_refused(tmp_path):
    pid = b"(" + _push("storage") + _global("torch", "FloatStorage") + _push(0) + b"tQ"
    pickled = _state_dict({"w": pid})  # a bare, malformed storage id as a value
    _refused(_write_pt(tmp_path / "a.pt", pickled, {}), "w holds storage ('storage'")
    keyed = b"\x80\x02}" + _tensor("0", 0, (2,), (1,)) + _push(1) + b"s."  # {tensor: 1}
    _refused(_write_pt(tmp_path / "k.pt", keyed, {}), "not a state dict value")
    record = _tensor("0", 0, (2,), (1,), numel=2)
    bad_numel = record.replace(_push(2) + b"tQ", _push(-2) + b"tQ")
    _refused(_write_pt(tmp_path / "b.pt", _state_dict({"w": bad_numel}), {}), "bad storage id")
    missing = _write_pt(tmp_path / "c.pt", _state_dict({"w": record}), {})
    _refused(missing, "tensor 'w'", "lacks archive/data/0")
    odd = _write_pt(tmp_path / "d.pt", _state_dict({"w": record}), {"0": b"\0" * 8}, b"middle")
    _refused(odd, "byteorder says")


def test_nested_state_dicts_name_the_full_key(tmp_path):
    inner = b"}(" + _push("layer") + _tensor("0", 3, (4,), (1,), numel=4) + b"u"  # EMPTY_DICT
    pickled = _state_dict({"model": inner})
    path = _write_pt(tmp_path / "m.pt", pickled, {"0": np.zeros(4, "<f4").tobytes()})
    _refused(path, "tensor 'model.layer'")


# -- pickles nested too deep, cyclic, or exponentially shared ------------------------------------
def test_deep_pickle_nesting_is_refused(tmp_path):
    depth = 100_000
    pickled = b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."  # lists in lists
    _refused(_write_pt(tmp_path / "deep.pt", pickled, {}), "nested over")


def test_cyclic_pickles_are_refused(tmp_path):
    pickled = b"\x80\x02]q\x00h\x00a."  # l = []; l.append(l)
    _refused(_write_pt(tmp_path / "cycle.pt", pickled, {}), "nested over")


def test_shared_references_are_built_once(tmp_path):
    ops = b"\x80\x02" + _tensor("0", 0, (4,), (1,)) + b"q\x00"  # BINPUT 0
    for level in range(1, 60):  # each level holds the previous one twice: 2**59 paths
        ops += b"h" + bytes([level - 1]) + b"h" + bytes([level - 1]) + b"\x86q" + bytes([level])
    path = _write_pt(tmp_path / "dag.pt", ops + b".", {"0": np.ones(4, "<f4").tobytes()})
    node = bt.load_torch_state_dict(path)
    for _ in range(59):
        assert node[0] is node[1]
        node = node[0]
    assert node.tolist() == [1.0] * 4


def test_pickled_bytearrays_cannot_reserve_memory(tmp_path):
    declared = (2**31).to_bytes(8, "little")  # BYTEARRAY8 of 2 GiB, followed by 3 bytes
    path = _write_pt(tmp_path / "ba.pt", b"\x80\x05\x96" + declared + b"abc.", {})
    tracemalloc.start()
    try:
        _refused(path, "bytearray")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**26
    key = "\u00d6l"  # UTF-8 "\xc3\x96" holds byte 0x96, BYTEARRAY8's opcode: the careful path
    pickled = _state_dict({key: _tensor("0", 0, (2,), (1,))})
    path = _write_pt(tmp_path / "ok.pt", pickled, {"0": np.ones(2, "<f4").tobytes()})
    assert b"\x96" in pickled and list(bt.load_torch_state_dict(path)) == [key]


def test_expanded_views_within_the_budget_load(tmp_path):
    """Buffers like ``torch.arange(4).expand(3, 4)`` (stride 0) are legitimate entries."""
    path = _one_tensor_file(tmp_path, 0, (3, 4), (0, 1))
    (loaded,) = bt.load_torch_state_dict(path).values()
    np.testing.assert_array_equal(loaded.numpy(), np.tile(np.arange(4, dtype=np.float32), (3, 1)))


# -- zip bombs and storage reuse -----------------------------------------------------------------
def test_decompression_bombs_and_reused_storages_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(serialization, "_EXPANSION_SLACK", 0)
    zeros = bytes(4 * 2**20)  # 4 MiB of zeros deflate to about 4 KiB
    pickled = _state_dict({"w": _tensor("0", 0, (2**20,), (1,))})
    bomb = _write_pt(tmp_path / "bomb.pt", pickled, {"0": zeros}, method=zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < 64 * 1024
    _refused(bomb, "tensor 'w'", "more than 64 times")
    reused = {f"w{i}": _tensor("0", 0, (2**16,), (1,)) for i in range(200)}  # 200 x 256 KiB
    path = _write_pt(tmp_path / "reuse.pt", _state_dict(reused), {"0": bytes(2**18)})
    _refused(path, "more than 64 times")
    _refused(
        _write_pt(tmp_path / "bz.pt", pickled, {"0": zeros}, method=zipfile.ZIP_BZIP2),
        "compression 12",
    )


@pytest.mark.parametrize(("flag", "phrase"), [(0x1, "encrypted"), (0x40, "strong encryption")])
def test_encrypted_members_are_refused(tmp_path, flag, phrase):
    path = _one_tensor_file(tmp_path, 0, (4,), (1,))
    raw = bytearray(path.read_bytes())
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local, central
        start = raw.find(signature)  # the first member: data.pkl
        raw[start + flag_at] |= flag
    path.write_bytes(bytes(raw))
    _refused(path, "data.pkl is corrupted or encrypted", phrase)


def test_deflated_archives_still_load(tmp_path):
    pickled = _state_dict({"w": _tensor("0", 0, (3,), (1,))})
    data = np.array([1.0, 2.0, 3.0], "<f4").tobytes()
    path = _write_pt(tmp_path / "z.pt", pickled, {"0": data}, method=zipfile.ZIP_DEFLATED)
    assert bt.load_torch_state_dict(path)["w"].tolist() == [1.0, 2.0, 3.0]


# -- safetensors ---------------------------------------------------------------------------------
def _safetensors(path, header, data=b"", size=None):
    encoded = json.dumps(header).encode() if not isinstance(header, bytes) else header
    path.write_bytes(struct.pack("<Q", len(encoded) if size is None else size) + encoded + data)
    return path


def _entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


@pytest.mark.parametrize(
    ("entry", "phrase"),
    [
        ({"dtype": "F32", "shape": [2], "data_offsets": ["0", "8"]}, "data_offsets"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [0.0, 8.0]}, "data_offsets"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [0, 8, 9]}, "data_offsets"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [True, 8]}, "data_offsets"),
        ({"dtype": ["F32"], "shape": [2], "data_offsets": [0, 8]}, "unsupported dtype"),
        ({"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}, "negative dimension"),
        ({"dtype": "F32", "shape": [2**32, 2**32], "data_offsets": [0, 8]}, "int64"),
        ({"dtype": "F32", "shape": [2**31, 2**31], "data_offsets": [0, 8]}, "does not fit"),
        ({"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}, "not a list of integers"),
        ({"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}, "not a list of integers"),
        ({"dtype": "F32", "shape": [[2]], "data_offsets": [0, 8]}, "not a list of integers"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}, "does not fit"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [0, 16]}, "does not fit"),
        ({"dtype": "F32", "shape": [2]}, "malformed entry"),
        ([0, 8], "malformed entry"),
        ("F32", "malformed entry"),
    ],
)
def test_malformed_safetensors_entries_are_refused(tmp_path, entry, phrase):
    path = _safetensors(tmp_path / "bad.safetensors", {"w": entry}, bytes(8))
    _refused(path, "tensor 'w'", phrase)


def test_zero_size_tensors_with_wrapping_shapes_are_refused(tmp_path):
    # 2**64 elements wrapped to 0 in int64, so this once passed as an empty tensor
    path = _safetensors(tmp_path / "wrap.safetensors", {"w": _entry("U8", (2**32, 2**32), (0, 0))})
    _refused(path, "tensor 'w'", "int64")


def test_overlapping_and_gapped_safetensors_ranges_are_refused(tmp_path):
    overlap = {"a": _entry(offsets=(0, 8)), "b": _entry(offsets=(4, 12))}
    path = _safetensors(tmp_path / "overlap.safetensors", overlap, bytes(12))
    _refused(path, "tensor 'b'", "overlap", "tensor 'a'")
    gap = {"a": _entry(offsets=(0, 8)), "b": _entry(offsets=(12, 20))}
    _refused(_safetensors(tmp_path / "gap.safetensors", gap, bytes(20)), "[8, 12)", "'b'")


@pytest.mark.parametrize("metadata", [["format"], "text", 3, {"format": 1}, {"a": {"b": "c"}}])
def test_malformed_metadata_is_refused(tmp_path, metadata):
    header = {"__metadata__": metadata, "w": _entry()}
    _refused(_safetensors(tmp_path / "meta.safetensors", header, bytes(8)), "__metadata__")


def test_headers_longer_than_the_file_or_too_deep_are_refused(tmp_path):
    path = _safetensors(tmp_path / "long.safetensors", {"w": _entry()}, bytes(8), size=10**6)
    _refused(path, "header of 1000000 bytes")
    path = _safetensors(tmp_path / "huge.safetensors", {"w": _entry()}, bytes(8), size=2**64 - 1)
    _refused(path, "header of")
    deep = b'{"w": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    _refused(_safetensors(tmp_path / "deep.safetensors", deep), "corrupted header")


def _structured(tmp_path, structure, name="s.safetensors"):
    metadata = {"format": serialization._FORMAT, "structure": json.dumps(structure)}
    header = {"__metadata__": metadata, "w": _entry()}
    return _safetensors(tmp_path / name, header, bytes(8))


def test_malformed_structures_are_refused(tmp_path):
    tensor = {"__tensor__": "w", "device": "cpu"}
    assert bt.load(_structured(tmp_path, {"__dict__": [["k", tensor]]}))["k"].tolist() == [0, 0]
    cases = [
        ({"__tensor__": ["w"]}, "missing tensor"),
        ({"__dict__": [["k", {"__tensor__": "x"}]]}, "structure at k: names a missing tensor"),
        ({"__dict__": [["k"]]}, "unrecognised"),
        ({"__dict__": [[["k"], 1]]}, "unrecognised"),
        ({"__tuple__": "ab"}, "unrecognised"),
        ({"__dict__": [["k", {"__tensor__": "w", "device": "gpu"}]]}, "invalid device 'gpu'"),
        ({"__dict__": [["k", {"__tensor__": "w", "device": 0}]]}, "invalid device 0"),
    ]
    for structure, phrase in cases:
        _refused(_structured(tmp_path, structure), phrase)


def test_deep_structures_are_refused(tmp_path):
    deep_json = "[" * 100_000 + "]" * 100_000
    metadata = {"format": serialization._FORMAT, "structure": deep_json}
    path = _safetensors(tmp_path / "deep.safetensors", {"__metadata__": metadata})
    _refused(path, "corrupted structure")
    nested: list = []
    for _ in range(900):  # parses, but _rebuild once recursed into a RecursionError
        nested = [nested]
    _refused(_structured(tmp_path, nested), "nested more than 100")


def test_save_and_load_agree_on_the_nesting_bound(tmp_path):
    deepest = bt.ones(1)
    for _ in range(serialization._MAX_NESTING):
        deepest = [deepest]
    bt.save(deepest, tmp_path / "ok.safetensors")
    back = bt.load(tmp_path / "ok.safetensors")
    for _ in range(serialization._MAX_NESTING):
        back = back[0]
    assert back.tolist() == [1.0]
    with pytest.raises(ValueError, match=re.escape("nested more than 100 containers")):
        bt.save({"a": [deepest]}, tmp_path / "deep.safetensors")
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="a cycle"):
        bt.save(cycle, tmp_path / "cycle.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.safetensors"]


def test_valid_foreign_safetensors_still_load(tmp_path):
    header = {
        "__metadata__": None,
        "b": _entry("BF16", (2,), (8, 12)),
        "a": _entry("F32", (2,), (0, 8)),
        "e": _entry("I64", (0, 5), (12, 12)),
    }
    data = np.array([1.5, 2.0], "<f4").tobytes() + np.array([0x3F80, 0xC000], "<u2").tobytes()
    loaded = bt.load(_safetensors(tmp_path / "f.safetensors", header, data))
    assert loaded["a"].tolist() == [1.5, 2.0] and loaded["b"].tolist() == [1.0, -2.0]
    assert loaded["e"].shape == (0, 5) and isinstance(loaded, OrderedDict)
