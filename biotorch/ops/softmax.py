"""Placeholder: filled in by the softmax work in progress."""

__all__: list[str] = []
