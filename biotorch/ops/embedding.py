"""Placeholder: filled in by the embedding work in progress."""

__all__: list[str] = []
