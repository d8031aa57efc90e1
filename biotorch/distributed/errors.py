"""Exceptions of :mod:`biotorch.distributed`."""

__all__ = ["DistributedError", "DistributedTimeoutError"]


class DistributedError(RuntimeError):
    """A collective failed or the ranks disagree (shapes, dtypes, the collective called)."""


class DistributedTimeoutError(DistributedError, TimeoutError):
    """A collective did not complete within the process group's timeout."""
