"""Array backends: NumPy on the CPU, CuPy on NVIDIA GPUs; devices and random-number generators.

This is the only module that imports CuPy, and only when a GPU device is first used.
Everything above it asks :func:`array_module` for a tensor's ``xp`` and writes ``xp.…``.
"""

from __future__ import annotations

import json

import numpy as np

__all__ = [
    "device",
    "cupy",
    "cuda_is_available",
    "cuda_device_count",
    "array_module",
    "device_of",
    "to_device",
    "Generator",
    "default_generator",
    "manual_seed",
]

_cupy = None


def cupy():
    """Import CuPy on first use, with an install hint if it is missing."""
    global _cupy
    if _cupy is None:
        try:
            import cupy as cp
        except ImportError as err:
            raise RuntimeError(
                "biotorch: a CUDA device needs CuPy; install it with "
                "`pip install biotorch[cuda12]` (or [cuda13])"
            ) from err
        _cupy = cp
    return _cupy


def cuda_device_count() -> int:
    """Number of visible CUDA devices (0 when CuPy or a driver is missing)."""
    try:
        return cupy().cuda.runtime.getDeviceCount()
    except Exception:
        return 0


def cuda_is_available() -> bool:
    """True when CuPy imports and at least one CUDA device is visible."""
    return cuda_device_count() > 0


class device:
    """A device: ``device("cpu")``, ``device("cuda")``, ``device("cuda:1")`` or
    ``device("cuda", 1)``."""

    __slots__ = ("type", "index")

    def __init__(self, spec, index: int | None = None) -> None:
        if isinstance(spec, device):
            spec, index = spec.type, spec.index if index is None else index
        elif isinstance(spec, int) and not isinstance(spec, bool):
            spec, index = "cuda", spec
        if not isinstance(spec, str):
            raise TypeError(f"device: expected a string such as 'cpu' or 'cuda:0', got {spec!r}")
        kind, _, num = spec.partition(":")
        if kind not in ("cpu", "cuda") or (num and not num.isdigit()):
            raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got {spec!r}")
        if num:
            if index is not None and index != int(num):
                raise ValueError(f"device: {spec!r} conflicts with index={index}")
            index = int(num)
        if kind == "cpu":
            if index not in (None, 0):
                raise ValueError(f"device: the CPU has no index, got index={index}")
            index = None
        elif index is None:
            index = 0
        self.type, self.index = kind, index

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"


CPU = device("cpu")


def array_module(array):
    """``numpy`` for NumPy arrays, ``cupy`` for CuPy arrays."""
    return np if isinstance(array, np.ndarray | np.generic) else cupy()


def device_of(array) -> device:
    """The device an array lives on."""
    if isinstance(array, np.ndarray | np.generic):
        return CPU
    return device("cuda", array.device.id)


def to_device(array, dev: device):
    """A copy of ``array`` on ``dev``, or ``array`` itself when it is already there."""
    dev = device(dev)
    if dev.type == "cpu":
        return array if isinstance(array, np.ndarray) else array.get()
    cp = cupy()
    if not cuda_is_available() or dev.index >= cuda_device_count():
        raise RuntimeError(
            f"to: device {dev} is not available ({cuda_device_count()} CUDA devices visible)"
        )
    if isinstance(array, cp.ndarray) and array.device.id == dev.index:
        return array
    with cp.cuda.Device(dev.index):
        return cp.asarray(array)


def _mix_seed(seed: int, counter: int) -> int:
    """A 63-bit seed for draw number ``counter`` of a stream seeded with ``seed``."""
    words = np.random.SeedSequence([seed, counter]).generate_state(2, dtype=np.uint32)
    return int(words[0]) | (int(words[1] & 0x7FFFFFFF) << 32)


class Generator:
    """A seeded random stream on one device, like ``torch.Generator``.

    The CPU stream is NumPy's PCG64. On a GPU each draw uses a fresh Philox stream seeded from
    ``(seed, draw counter)``, so the whole state is two integers and can be saved and restored.
    """

    def __init__(self, device="cpu") -> None:
        self.device = globals()["device"](device)
        self.manual_seed(int(np.random.SeedSequence().entropy % (2**63)))

    def manual_seed(self, seed: int) -> Generator:
        """Reset the stream to the start of ``seed``'s sequence; returns self."""
        if not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"manual_seed: expected a non-negative integer seed, got {seed!r}")
        self._seed, self._counter = int(seed), 0
        self._numpy = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def initial_seed(self) -> int:
        """The seed this stream started from."""
        return self._seed

    def seed(self) -> int:
        """Reseed from fresh entropy and return the new seed."""
        new = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(new)
        return new

    def get_state(self):
        """The stream's state as a uint8 tensor (JSON bytes), for checkpoints."""
        from biotorch.tensor import Tensor

        state = {"seed": self._seed, "counter": self._counter}
        state["numpy"] = self._numpy.bit_generator.state
        return Tensor(np.frombuffer(json.dumps(state).encode(), dtype=np.uint8).copy())

    def set_state(self, state) -> Generator:
        """Restore a state returned by :meth:`get_state`; returns self."""
        raw = np.asarray(state.numpy() if hasattr(state, "numpy") else state, dtype=np.uint8)
        try:
            parsed = json.loads(raw.tobytes().decode())
            self._seed, self._counter = int(parsed["seed"]), int(parsed["counter"])
            self._numpy.bit_generator.state = parsed["numpy"]
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"set_state: not a biotorch generator state ({err})") from err
        return self

    def _gpu_stream(self):
        cp = cupy()
        self._counter += 1
        method = cp.cuda.curand.CURAND_RNG_PSEUDO_PHILOX4_32_10
        with cp.cuda.Device(self.device.index):
            return cp.random.RandomState(_mix_seed(self._seed, self._counter), method=method)

    def _floats(self, numpy_method: str, cupy_method: str, shape, dtype):
        """Float32/float64 draws in ``dtype`` (float16 is drawn as float32 and rounded)."""
        dtype = np.dtype(dtype)
        draw = np.dtype(np.float32) if dtype == np.float16 else dtype
        if self.device.type == "cpu":
            values = getattr(self._numpy, numpy_method)(shape, dtype=draw)
        else:
            values = getattr(self._gpu_stream(), cupy_method)(shape, dtype=draw)
        return values.astype(dtype, copy=False)

    def random(self, shape, dtype):
        """Uniform [0, 1) floats of a NumPy float ``dtype``."""
        return self._floats("random", "random_sample", shape, dtype)

    def normal(self, shape, dtype):
        """Standard-normal floats of a NumPy float ``dtype``."""
        return self._floats("standard_normal", "standard_normal", shape, dtype)

    def integers(self, low: int, high: int, shape, dtype):
        """Integers in [low, high) of a NumPy integer ``dtype``."""
        if self.device.type == "cpu":
            return self._numpy.integers(low, high, size=shape).astype(dtype, copy=False)
        return self._gpu_stream().randint(low, high, size=shape).astype(dtype, copy=False)

    def permutation(self, n: int):
        """A random permutation of ``range(n)`` as int64."""
        if self.device.type == "cpu":
            return self._numpy.permutation(n).astype(np.int64)
        return self._gpu_stream().permutation(n).astype(np.int64)


default_generator = Generator("cpu")
_cuda_generators: dict[int, Generator] = {}


def generator_for(dev: device, generator: Generator | None = None) -> Generator:
    """The generator to draw from on ``dev``: ``generator`` if given, else the device default."""
    if generator is not None:
        if generator.device != dev:
            raise ValueError(
                f"generator: a {generator.device} generator cannot fill a {dev} tensor"
            )
        return generator
    if dev.type == "cpu":
        return default_generator
    if dev.index not in _cuda_generators:
        _cuda_generators[dev.index] = Generator(dev).manual_seed(default_generator.initial_seed())
    return _cuda_generators[dev.index]


def manual_seed(seed: int) -> Generator:
    """Seed the CPU generator and every CUDA generator (made now or later) with ``seed``."""
    default_generator.manual_seed(seed)
    for gen in _cuda_generators.values():
        gen.manual_seed(seed)
    return default_generator
