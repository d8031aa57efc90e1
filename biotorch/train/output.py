"""Result files: strict JSON and tab-separated tables, written all-or-nothing."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

from biotorch._atomic import atomic_write_text

FORBIDDEN = {"\t": "a tab", "\n": "a newline", "\r": "a carriage return"}


def json_ready(obj: Any) -> Any:
    """``obj`` with NaN/inf floats replaced by None (strict JSON)."""
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """``obj`` as indented strict JSON (:func:`json_ready`), all-or-nothing."""
    atomic_write_text(path, json.dumps(json_ready(obj), indent=1))


def tsv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A tab-separated table (header line, one line per row, final newline).

    A field containing a tab, newline or carriage return would corrupt the table: it is refused
    with a ``ValueError`` naming the row (by its first field) and the column, before any text is
    returned.
    """
    lines = [_tsv_line(header, header, "header")]
    for i, row in enumerate(rows, start=1):
        lines.append(_tsv_line(row, header, f"row {i} ({row[0]!r})" if row else f"row {i}"))
    return "\n".join(lines) + "\n"


def _tsv_line(fields: Sequence[str], header: Sequence[str], where: str) -> str:
    for j, field in enumerate(fields):
        for char, name in FORBIDDEN.items():
            if char in field:
                column = header[j] if j < len(header) else str(j)
                raise ValueError(
                    f"TSV {where}, column {column!r}: field {field!r} contains {name}; "
                    "tab-separated output cannot hold it"
                )
    return "\t".join(fields)
