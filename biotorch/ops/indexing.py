"""Placeholder: filled in by the indexing work in progress."""

__all__: list[str] = []
