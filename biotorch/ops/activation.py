"""Placeholder: filled in by the activation work in progress."""

__all__: list[str] = []
