"""Placeholder: filled in by the dropout work in progress."""

__all__: list[str] = []
