"""Placeholder: filled in by the pooling work in progress."""

__all__: list[str] = []
