"""Placeholder: filled in by the loss work in progress."""

__all__: list[str] = []
