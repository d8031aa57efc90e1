"""``biotorch.cuda``: GPU availability and seeding (CuPy is imported only when asked)."""

from __future__ import annotations

from biotorch import backend

__all__ = ["is_available", "device_count", "manual_seed", "manual_seed_all", "synchronize"]


def is_available() -> bool:
    """True when CuPy imports and a CUDA device is visible."""
    return backend.cuda_is_available()


def device_count() -> int:
    """Number of visible CUDA devices."""
    return backend.cuda_device_count()


def manual_seed(seed: int) -> None:
    """Seed the generator of the current CUDA device."""
    backend.generator_for(backend.device("cuda")).manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    """Seed the generators of all CUDA devices."""
    for index in range(device_count()):
        backend.generator_for(backend.device("cuda", index)).manual_seed(seed)


def synchronize() -> None:
    """Wait for all work queued on the current CUDA device."""
    backend.cupy().cuda.Device().synchronize()
