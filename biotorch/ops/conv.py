"""Placeholder: filled in by the conv work in progress."""

__all__: list[str] = []
