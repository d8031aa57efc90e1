"""Thread-local gradient recording switches: ``no_grad``, ``enable_grad``, ``set_grad_enabled``."""

from __future__ import annotations

import functools
import threading

__all__ = ["is_grad_enabled", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode"]


class _State(threading.local):
    enabled = True


_state = _State()


def is_grad_enabled() -> bool:
    """Whether operations on this thread record a graph for backward."""
    return _state.enabled


def _set(mode: bool) -> None:
    _state.enabled = mode


class _GradMode:
    """A context manager and decorator that sets grad mode to ``_mode`` and then restores it."""

    _mode = True

    def __enter__(self):
        self._prev = is_grad_enabled()
        _set(self._mode)
        return self

    def __exit__(self, *exc) -> None:
        _set(self._prev)

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Disable gradient recording inside a ``with`` block or a decorated function."""

    _mode = False


class inference_mode(no_grad):
    """Alias of :class:`no_grad` (PyTorch's faster variant; here they are the same)."""

    def __init__(self, mode: bool = True) -> None:
        self._mode = not mode


class enable_grad(_GradMode):
    """Re-enable gradient recording inside a ``no_grad`` block."""

    _mode = True


class set_grad_enabled(_GradMode):
    """Set grad mode now (as a function call) or for a ``with`` block (restored on exit)."""

    def __init__(self, mode: bool) -> None:
        self._prev = is_grad_enabled()
        self._mode = bool(mode)
        _set(self._mode)

    def __enter__(self):
        return self

    def __call__(self, fn):
        _set(self._prev)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(self._mode):
                return fn(*args, **kwargs)

        return wrapper
