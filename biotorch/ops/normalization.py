"""Placeholder: filled in by the normalization work in progress."""

__all__: list[str] = []
