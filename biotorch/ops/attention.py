"""Placeholder: filled in by the attention work in progress."""

__all__: list[str] = []
