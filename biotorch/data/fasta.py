"""FASTA and sequence-table datasets: ``read_fasta``, ``FastaDataset``, ``SequenceTableDataset``.

Sequences are encoded once, at construction, into one int8 token buffer
(:class:`~biotorch.data.store.SequenceStore`); ``dataset[i]`` is ``(tokens, target)`` (or just
``tokens`` without labels) after ``transform`` / ``target_transform``. Labels come from a table
keyed by record id, from a ``key=value`` header field, or from one file per class. Bad input
raises :class:`FileFormatError` naming the file, line and record; records without a label raise,
or with ``on_missing_label="skip"`` are skipped and counted in a warning.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from biotorch.data.alphabets import DNA, Alphabet
from biotorch.data.datasets import Dataset, current_rng
from biotorch.data.encoding import RaggedArray, encode
from biotorch.data.genome import Genome
from biotorch.data.store import SequenceStore
from biotorch.data.transforms import apply_transform

__all__ = [
    "FileFormatError",
    "FastaRecord",
    "read_fasta",
    "read_table",
    "FastaDataset",
    "SequenceTableDataset",
]

PathLike = str | os.PathLike


class FileFormatError(ValueError):
    """A data file is malformed; the message names the file, line and record."""


class FastaRecord(NamedTuple):
    """One FASTA record: ``id``, ``description``, the sequence and the 1-based line of its header.

    The id is the header up to its first whitespace of any kind (spaces, tabs, as Python's
    ``str.split()`` sees it, the rule of pyfaidx and Biopython), so it never holds a tab, newline
    or carriage return; the description is the rest of the header, stripped.
    """

    id: str
    description: str
    sequence: str
    line: int


class _RawRecord(NamedTuple):
    id: str
    description: str
    chunks: list[bytes]
    lines: list[int]  # line number of each chunk
    header_line: int


_UTF8_BOM = b"\xef\xbb\xbf"


_GZIP_MAGIC = b"\x1f\x8b"
#: What the gzip module raises on truncated or corrupt data.
_GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


def _open_binary(path: PathLike) -> Any:
    """Open a plain or gzip-compressed file for binary reading (gzip found by magic bytes).

    Reading a truncated or corrupt gzip file raises one of ``_GZIP_ERRORS``; readers turn it
    into :func:`_corrupt_gzip`.
    """
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == _GZIP_MAGIC else open(path, "rb")


def _corrupt_gzip(path: PathLike, err: BaseException, lines_read: int | None) -> FileFormatError:
    """The error for gzip data that cannot be decompressed (raise it ``from err``)."""
    where = "" if lines_read is None else f", after line {lines_read}"
    return FileFormatError(
        f"{path}{where}: truncated or corrupt gzip data ({type(err).__name__}: {err}); "
        "the file is incomplete or damaged, re-download or re-compress it"
    )


def _check_intact(fh: Any, path: PathLike, lines_read: int) -> None:
    """Raise the damaged-gzip error if the rest of ``fh`` (when gzip) cannot be decompressed.

    Call it before reporting a malformed line: in a corrupt gzip file the bad line is most
    likely garbage decompressed from the damage, and the damage is the error to report.
    """
    if isinstance(fh, gzip.GzipFile):
        try:
            while fh.read(1 << 24):
                pass
        except _GZIP_ERRORS as err:
            raise _corrupt_gzip(path, err, lines_read) from err


def _read_bytes(path: PathLike) -> bytes:
    """The whole file, decompressed when gzip; bad gzip data raises :class:`FileFormatError`."""
    chunks: list[bytes] = []
    with _open_binary(path) as fh:
        if not isinstance(fh, gzip.GzipFile):
            return fh.read()
        try:
            while chunk := fh.read(1 << 24):
                chunks.append(chunk)
        except _GZIP_ERRORS as err:
            raise _corrupt_gzip(path, err, sum(c.count(b"\n") for c in chunks)) from err
    return b"".join(chunks)


def _record_id(header: str) -> tuple[str, str]:
    """``(id, description)`` of a header (without ``>``): the id ends at the first whitespace."""
    parts = header.split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


def _iter_raw_fasta(path: PathLike) -> Iterator[_RawRecord]:
    """Records of a FASTA file with their line numbers; checks headers, empty and duplicate ids."""
    seen: dict[str, int] = {}
    record: _RawRecord | None = None
    lineno = 0
    with _open_binary(path) as fh:
        try:
            for lineno, raw in enumerate(fh, 1):
                line = raw.rstrip()
                if lineno == 1 and line.startswith(_UTF8_BOM):  # written by some Windows editors
                    line = line[len(_UTF8_BOM) :]
                if line.startswith(b">"):
                    if record is not None:
                        yield _finish(path, record)
                    name, description = _record_id(line[1:].decode("utf-8", errors="replace"))
                    if not name:
                        raise FileFormatError(f"{path}, line {lineno}: header has no record id")
                    if name in seen:
                        raise FileFormatError(
                            f"{path}, line {lineno}: duplicate record id {name!r} "
                            f"(first at line {seen[name]})"
                        )
                    seen[name] = lineno
                    record = _RawRecord(name, description, [], [], lineno)
                elif line and not line.startswith(b";"):
                    if record is None:
                        raise FileFormatError(
                            f"{path}, line {lineno}: sequence data before the first '>' header; "
                            "expected a FASTA file"
                        )
                    record.chunks.append(line)
                    record.lines.append(lineno)
        except _GZIP_ERRORS as err:
            raise _corrupt_gzip(path, err, lineno) from err
        except FileFormatError:
            _check_intact(fh, path, lineno)
            raise
    if record is None:
        raise FileFormatError(f"{path}: no FASTA records (no line starts with '>')")
    yield _finish(path, record)


def _finish(path: PathLike, record: _RawRecord) -> _RawRecord:
    if not record.chunks:
        raise FileFormatError(
            f"{path}, line {record.header_line}: record {record.id!r} is empty (no sequence)"
        )
    return record


def _encode_record(
    path: PathLike, record: _RawRecord, alphabet: Alphabet, iupac: str
) -> np.ndarray:
    """Tokens of one record; a bad character raises with the file line it is on."""
    try:
        return encode(b"".join(record.chunks), alphabet, iupac)
    except ValueError:
        for chunk, lineno in zip(record.chunks, record.lines, strict=True):
            try:
                encode(chunk, alphabet, iupac)
            except ValueError as err:
                raise FileFormatError(
                    f"{path}, line {lineno}: record {record.id!r}: {err}"
                ) from None
        raise


def read_fasta(
    path: PathLike, alphabet: Alphabet | None = None, iupac: str = "n"
) -> Iterator[FastaRecord]:
    """Stream the records of a FASTA file (plain or gzip).

    Parameters
    ----------
    path : str or PathLike
        FASTA file; gzip compression is detected from the file's first bytes.
    alphabet : Alphabet, optional
        When given, every character is checked against it (and ``iupac``).
    iupac : {"n", "fractional", "error"}
        Ambiguity-code policy used for the check.

    Raises
    ------
    FileFormatError
        Sequence before the first header, an empty record, a duplicate id, or a character
        outside ``alphabet``; the message names the file, the line and the record.
    """
    for record in _iter_raw_fasta(path):
        if alphabet is not None:
            _encode_record(path, record, alphabet, iupac)
        sequence = b"".join(record.chunks).decode("ascii", errors="replace")
        yield FastaRecord(record.id, record.description, sequence, record.header_line)


def read_table(path: PathLike, sep: str | None = None) -> Any:
    """Read a CSV/TSV table (plain or gzip) into a pandas DataFrame of verbatim text.

    ``sep=None`` picks the separator from the extension (``.tsv``/``.tab``/``.txt``, optionally
    ``.gz``, mean tab, ``.csv`` comma) or sniffs it. Nothing is guessed to be missing: ``NA``,
    ``null`` or ``None`` stay strings and an empty field is ``""`` (callers decide where numbers
    are expected). Blank lines are skipped. The index holds the 1-based file line of each row
    (index name ``"line"``), or the row number from 0 (name ``"row"``) when a quoted field spans
    lines.

    Raises
    ------
    FileFormatError
        Truncated or corrupt gzip data, no header line, a line with too many fields, or text
        that is not UTF-8; the message names the file.
    """
    import pandas as pd

    if sep is None:
        suffixes = [s.lower() for s in Path(path).suffixes if s.lower() != ".gz"]
        ext = suffixes[-1] if suffixes else ""
        sep = {".tsv": "\t", ".tab": "\t", ".txt": "\t", ".csv": ","}.get(ext)
    data = _read_bytes(path)
    try:
        df = _parse_text(path, data, sep=sep, engine="python" if sep is None else "c")
    except pd.errors.EmptyDataError:
        raise FileFormatError(f"{path}: empty table (no header line)") from None
    header_line = data.count(b"\n", 0, re.match(rb"\s*", data).end()) + 1
    _number_rows(df, data, header_line, sep)
    return df


def _parse_text(path: PathLike, data: bytes, **options: Any) -> Any:
    """``pandas.read_csv`` of ``data`` with every field as verbatim text (``""`` when empty);
    a line with too many fields or text that is not UTF-8 raises :class:`FileFormatError`."""
    import pandas as pd

    try:
        return pd.read_csv(io.BytesIO(data), dtype=str, na_filter=False, **options)
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise FileFormatError(f"{path}: {str(err).strip()}") from err


def _number_rows(df: Any, data: bytes, first: int, sep: str | None) -> None:
    """Set ``df.index`` to the file lines of the rows pandas read from ``data`` after its first
    ``first`` lines, skipping blank lines as pandas does (whitespace other than ``sep``).

    Where rows cannot be matched to lines (a quoted field spanning lines) the index stays the
    row number; the index name says which (``"line"`` or ``"row"``).
    """
    rows = len(df)
    total = data.count(b"\n") + (not data.endswith(b"\n"))
    if total - first == rows:  # no blank line, no field spanning lines: the common case
        df.index = np.arange(first + 1, first + rows + 1)
        df.index.name = "line"
        return
    space = b" \t\r".replace((sep or "").encode(), b"")
    lines = data.splitlines()
    kept = [i + 1 for i in range(first, len(lines)) if lines[i].strip(space)]
    if len(kept) == rows:
        df.index = np.array(kept, dtype=np.int64)
        df.index.name = "line"
    else:
        df.index.name = "row"


def _transformed(
    x: Any,
    target: Any,
    transform: Callable[..., Any] | None,
    target_transform: Callable[..., Any] | None,
) -> Any:
    """``(transform(x), target_transform(target))``, or just ``transform(x)`` without a target.

    Transforms that take ``rng=`` get the loader's per-worker stream.
    """
    if transform is not None:
        x = apply_transform(transform, x, current_rng())
    if target is None:
        return x
    if target_transform is not None:
        target = apply_transform(target_transform, target, current_rng())
    return x, target


class _Where(NamedTuple):
    """Where a record came from, for messages (``unit`` is "line" in files, "row" in frames)."""

    file: str
    line: int
    id: str
    unit: str = "line"

    @property
    def place(self) -> str:
        return f"{self.file}, {self.unit} {self.line}"

    def __str__(self) -> str:
        return f"{self.place}: record {self.id!r}"


_MULTI_SEP = re.compile(r"[,;|]")


def _targets(
    values: Sequence[Any], multi_label: bool, classes: Sequence[str] | None
) -> tuple[np.ndarray, list[str] | None, np.ndarray]:
    """Targets from raw label values (``None``/NaN = missing): ``(targets, classes, missing)``.

    - rows of several values (a list per record): a float32 matrix (multi-label/multi-target);
    - ``multi_label=True``: strings like ``"a;b"`` -> multi-hot float32 over ``classes``;
    - strings: int64 class indices into ``classes`` (sorted unique values unless given);
    - integers: int64 class indices; other numbers: float32.
    """
    import pandas as pd

    values = list(values)
    missing = np.array([_is_missing(v) for v in values], dtype=bool)
    present = [v for v, m in zip(values, missing, strict=True) if not m]
    if present and isinstance(present[0], (list, tuple, np.ndarray)):
        width = len(present[0])
        out = np.zeros((len(values), width), dtype=np.float32)
        for i, v in enumerate(values):
            if not missing[i]:
                out[i] = np.asarray(v, dtype=np.float32)
        return out, None, missing
    if multi_label:
        sets = [
            set() if m else {s.strip() for s in _MULTI_SEP.split(str(v))} - {""}
            for v, m in zip(values, missing, strict=True)
        ]
        classes = list(classes) if classes is not None else sorted(set().union(*sets))
        _check_known(sets, classes)
        out = np.zeros((len(values), len(classes)), dtype=np.float32)
        index = {c: j for j, c in enumerate(classes)}
        for i, labels in enumerate(sets):
            out[i, [index[c] for c in labels]] = 1.0
        return out, classes, missing
    series = pd.Series(present)
    if classes is not None or not pd.api.types.is_numeric_dtype(series):
        names = [str(v) for v in present]
        classes = list(classes) if classes is not None else sorted(set(names))
        _check_known([{n} for n in names], classes)
        index = {c: j for j, c in enumerate(classes)}
        out = np.zeros(len(values), dtype=np.int64)
        out[~missing] = [index[n] for n in names]
        return out, classes, missing
    numeric = series.to_numpy()
    integral = numeric.dtype.kind in "iub" or bool(np.all(np.mod(numeric, 1) == 0))
    out = np.zeros(len(values), dtype=np.int64 if integral else np.float32)
    out[~missing] = numeric
    return out, None, missing


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    if isinstance(value, str):
        return not value.strip()
    return False


def _check_known(label_sets: list[set[str]], classes: Sequence[str]) -> None:
    known = set(classes)
    unknown = sorted(set().union(*label_sets) - known)
    if unknown:
        raise ValueError(f"labels {unknown[:5]} are not in classes={list(classes)}")


#: Cells that mean "no value" in a column of numbers; a column of text keeps them as names.
_MISSING_NUMBERS = ["", "NA", "N/A", "n/a", "NaN", "nan", "-nan", "null", "NULL", "None", "."]


def _missing_numbers(column: Any) -> tuple[Any, Any]:
    """``(numbers, missing)`` of a column: float/int values and where a number is absent."""
    import pandas as pd

    missing = column.isna()
    if not pd.api.types.is_numeric_dtype(column):
        missing |= column.isin(_MISSING_NUMBERS)
    return pd.to_numeric(column.mask(missing), errors="coerce"), missing


def _label_values(
    df: Any, label_columns: str | Sequence[str], where: Callable[[int], str], text: bool = False
) -> list[Any]:
    """Raw label of each row (``None`` where missing); ``where(i)`` places row ``i`` in messages.

    One column: numbers when every cell is a number or a missing number (``NA``, ``NaN``,
    ``null``, empty, ...) and some cell is a number, unless ``text`` (class names are given, or
    the cells are label sets); otherwise text read verbatim (class names such as ``"NA"``),
    where only blank cells are missing. Several columns: a list of numbers per row, missing
    when any cell is a missing number; a cell that is not a number raises
    :class:`FileFormatError`.
    """
    if isinstance(label_columns, str):
        column = df[label_columns]
        numbers, missing = _missing_numbers(column)
        found = int(numbers.notna().sum())
        if text or not found or found + int(missing.sum()) < len(column):  # class names
            missing = column.isna() | (column.astype(str).str.strip() == "")
            numbers = column
        return [None if m else v for v, m in zip(numbers.tolist(), missing, strict=True)]
    blocks, absent = [], np.zeros(len(df), dtype=bool)
    for name in label_columns:
        numbers, missing = _missing_numbers(df[name])
        bad = numbers.isna().to_numpy() & ~missing.to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise FileFormatError(
                f"{where(i)}: column {name!r}: {df[name].iloc[i]!r} is not a number"
            )
        blocks.append(numbers.to_numpy(dtype=float))
        absent |= missing.to_numpy()
    rows = np.stack(blocks, axis=1).tolist()
    return [None if m else r for r, m in zip(rows, absent, strict=True)]


def _row_places(name: str, df: Any, from_file: bool) -> Callable[[int], str]:
    """``where(i)`` of row ``i``: ``"file, line N"`` (read_table rows) or ``"name, row i"``."""
    if from_file and df.index.name == "line":
        lines = df.index.to_numpy()
        return lambda i: f"{name}, line {lines[i]}"
    return lambda i: f"{name}, row {i}"


def _table_labels(
    table: Any,
    ids: Sequence[str],
    id_column: str,
    label_columns: str | Sequence[str],
    text: bool,
) -> list[Any]:
    """Label value of each id from a DataFrame or CSV/TSV path (``None`` for absent ids).

    ``text``: the labels are class names (see :func:`_label_values`)."""
    import pandas as pd

    from_file = not isinstance(table, pd.DataFrame)
    name = str(table) if from_file else "labels DataFrame"
    df = read_table(table) if from_file else table
    columns = [label_columns] if isinstance(label_columns, str) else list(label_columns)
    absent = [c for c in [id_column, *columns] if c not in df.columns]
    if absent:
        raise ValueError(
            f"{name}: no column(s) {absent}; it has {list(df.columns)} "
            f"(set id_column= and label_columns=)"
        )
    where = _row_places(name, df, from_file)
    keys = df[id_column].astype(str).to_numpy()
    dup = pd.Series(keys).duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise FileFormatError(f"{where(row)}: duplicate id {keys[row]!r} in {id_column!r}")
    lookup = dict(zip(keys, _label_values(df, label_columns, where, text), strict=True))
    unused = len(set(keys) - set(ids))
    if unused:
        warnings.warn(f"{name}: {unused} label row(s) match no sequence id", stacklevel=3)
    return [lookup.get(i) for i in ids]


def _header_labels(descriptions: Sequence[str], field: str) -> list[str | None]:
    """Value of ``field=value`` in each header description (``None`` where absent)."""
    pattern = re.compile(rf"(?:^|[\s|;]){re.escape(field)}=([^\s|;]+)")
    found = [pattern.search(d) for d in descriptions]
    return [m.group(1) if m else None for m in found]


class _LabeledSequences(Dataset):
    """Shared part of the sequence datasets: a store, targets, transforms and missing labels."""

    store: SequenceStore | _IndexedSequences

    def _setup(
        self,
        where: list[_Where],
        values: list[Any] | None,
        multi_label: bool,
        classes: Sequence[str] | None,
        on_missing_label: str,
    ) -> np.ndarray:
        """Set ``targets``/``classes``; return the indices of the records to keep."""
        if on_missing_label not in ("error", "skip"):
            raise ValueError(f"on_missing_label={on_missing_label!r}, expected 'error' or 'skip'")
        self.classes: list[str] | None = None
        self.targets: np.ndarray | None = None
        self.skipped = 0
        keep = np.arange(len(where))
        if values is not None:
            try:
                targets, self.classes, missing = _targets(values, multi_label, classes)
            except ValueError as err:
                raise ValueError(f"{type(self).__name__}: {err}") from None
            if missing.any():
                first = where[int(np.flatnonzero(missing)[0])]
                if on_missing_label == "error":
                    raise ValueError(
                        f"{type(self).__name__}: {first} has no label ({int(missing.sum())} "
                        "record(s) lack one); pass on_missing_label='skip' to skip them"
                    )
                self.skipped = int(missing.sum())
                warnings.warn(
                    f"{type(self).__name__}: skipped {self.skipped} record(s) without a label "
                    f"(first: {first})",
                    stacklevel=3,
                )
            keep = np.flatnonzero(~missing)
            self.targets = targets[keep]
        return keep

    def _store(self, tokens: list[np.ndarray], where: list[_Where], keep: np.ndarray) -> None:
        ids = [where[i].id for i in keep]
        self.store = SequenceStore(RaggedArray.from_arrays(tokens[i] for i in keep), ids)

    @property
    def ids(self) -> np.ndarray:
        """Record id of every sample."""
        return self.store.ids

    @property
    def lengths(self) -> np.ndarray:
        """Sequence length of every sample (for length-bucketed batching)."""
        return self.store.lengths

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, index: int) -> Any:
        target = None if self.targets is None else self.targets[index]
        return _transformed(self.store[index], target, self.transform, self.target_transform)


class FastaDataset(_LabeledSequences):
    """Sequences of FASTA files (plain or gzip) with optional labels.

    Parameters
    ----------
    path : str, PathLike or mapping of class name to path
        One FASTA file, or one file per class (``{"bound": "pos.fa", "unbound": "neg.fa"}``;
        the target is the class index in mapping order).
    alphabet : Alphabet
        ``DNA`` (default), ``RNA``, ``PROTEIN`` or a custom alphabet; other characters raise.
    labels : str, PathLike or pandas.DataFrame, optional
        Table keyed by record id (CSV/TSV, see :func:`read_table`); ids are matched verbatim.
    label_columns : str or list of str
        Label column (single-label or, with ``multi_label``, delimited labels) or several
        columns (a float32 vector per record: multi-label 0/1 or multi-target). A column whose
        cells are all numbers or missing numbers (empty, ``NA``, ``NaN``, ``null``, ``None``,
        ``.``), with at least one number, holds numbers; any other column holds class names,
        verbatim (``"NA"`` is a class there), and only its blank cells are missing. In several
        columns every cell must be a number or a missing number.
    id_column : str
        Column of ``labels`` holding the record ids.
    label_from_header : str, optional
        Take the label from a ``field=value`` in the header, e.g. ``"label"`` for
        ``>seq1 label=bound``.
    multi_label : bool
        Labels are delimited class sets (``"a;b"``, ``"a,b"`` or ``"a|b"``): multi-hot targets.
    classes : list of str, optional
        Class names in target order (default: sorted labels).
    transform, target_transform : callable, optional
        Applied to the int8 tokens and the target; called with ``rng=`` (the loader's worker
        stream) when they accept it.
    on_missing_label : {"error", "skip"}
        What to do with records without a label.
    iupac : {"n", "fractional", "error"}
        Ambiguity-code policy of the encoding.
    in_memory : bool
        Record ids are the same in both modes (the header up to its first whitespace, see
        :class:`FastaRecord`). ``True`` (default): parse (plain or gzip) and encode every record
        once into one token buffer. ``False``: index uncompressed/bgzip files with pyfaidx (the
        ``.fai`` is built here, in the main process) and read each record on access, with one
        handle per worker process; for files too large for memory. Labels from headers need
        ``in_memory=True``.

    Attributes
    ----------
    ids, lengths, targets, classes, skipped : per-sample ids, lengths, targets (int64 classes,
        float32 values or multi-hot rows), class names and the number of skipped records.

    Examples
    --------
    >>> ds = FastaDataset({"bound": "pos.fa", "unbound": "neg.fa"})  # doctest: +SKIP
    >>> tokens, target = ds[0]  # doctest: +SKIP
    """

    def __init__(
        self,
        path: PathLike | Mapping[str, PathLike],
        alphabet: Alphabet = DNA,
        labels: Any = None,
        label_columns: str | Sequence[str] = "label",
        id_column: str = "id",
        label_from_header: str | None = None,
        multi_label: bool = False,
        classes: Sequence[str] | None = None,
        transform: Callable[..., Any] | None = None,
        target_transform: Callable[..., Any] | None = None,
        on_missing_label: str = "error",
        iupac: str = "n",
        in_memory: bool = True,
    ) -> None:
        per_class = isinstance(path, Mapping)
        if sum([per_class, labels is not None, label_from_header is not None]) > 1:
            raise ValueError(
                "FastaDataset: give labels by one of a {class: path} mapping, labels= or "
                "label_from_header=, not several"
            )
        files = list(path.items()) if per_class else [(None, path)]
        self.alphabet = alphabet
        if in_memory:
            where, source, tokens, descriptions = _read_files(
                [f for _, f in files], alphabet, iupac
            )
        elif label_from_header is not None:
            raise ValueError(
                "FastaDataset: label_from_header needs in_memory=True (the .fai index keeps no "
                "header descriptions)"
            )
        else:
            genomes = [Genome(f, alphabet) for _, f in files]
            where, source, sizes = _index_files(genomes)
        values = None
        if per_class:
            values, classes = [files[k][0] for k in source], [str(c) for c in path]
        elif labels is not None:
            ids, as_text = [w.id for w in where], multi_label or classes is not None
            values = _table_labels(labels, ids, id_column, label_columns, as_text)
        elif label_from_header is not None:
            values = _header_labels(descriptions, label_from_header)
        self.transform, self.target_transform = transform, target_transform
        keep = self._setup(where, values, multi_label, classes, on_missing_label)
        if in_memory:
            self._store(tokens, where, keep)
        else:
            ids = [where[i].id for i in keep]
            self.store = _IndexedSequences(genomes, source[keep], ids, sizes[keep], iupac)


_TSV_BREAKERS = re.compile(r"[\t\n\r]")


def _check_id_characters(ids: Sequence[str], where: Callable[[int], str]) -> None:
    """Refuse empty ids and ids holding a tab, newline or carriage return (they would break
    TSV outputs)."""
    if ids and min(map(len, ids)) == 0:
        raise FileFormatError(f"{where(list(ids).index(''))}: empty record id")
    if _TSV_BREAKERS.search("".join(ids)):
        i = next(i for i, rid in enumerate(ids) if _TSV_BREAKERS.search(rid))
        raise FileFormatError(
            f"{where(i)}: record id {ids[i]!r} holds a tab, newline or carriage return; "
            "expected an id without them (ids are written to tab-separated outputs)"
        )


def _check_new_id(here: _Where, first_seen: dict[str, _Where]) -> None:
    if here.id in first_seen:
        raise FileFormatError(f"{here}: duplicate record id (first in {first_seen[here.id]})")
    first_seen[here.id] = here


def _read_files(
    files: Sequence[PathLike], alphabet: Alphabet, iupac: str
) -> tuple[list[_Where], np.ndarray, list[np.ndarray], list[str]]:
    """Every record of ``files``: where it is, which file, its tokens and its description."""
    where, source, tokens, descriptions = [], [], [], []
    first_seen: dict[str, _Where] = {}
    for k, file in enumerate(files):
        for record in _iter_raw_fasta(file):
            here = _Where(str(file), record.header_line, record.id)
            _check_new_id(here, first_seen)
            tokens.append(_encode_record(file, record, alphabet, iupac))
            where.append(here)
            source.append(k)
            descriptions.append(record.description)
    return where, np.array(source, dtype=np.int64), tokens, descriptions


def _index_files(genomes: Sequence[Genome]) -> tuple[list[_Where], np.ndarray, np.ndarray]:
    """Every record of the indexed files: where it is, which file, its length."""
    where, source, sizes = [], [], []
    first_seen: dict[str, _Where] = {}
    for k, genome in enumerate(genomes):
        names = genome.chromosomes
        if re.search(r"\s", "".join(names)):  # a .fai written by another tool or by hand
            i = next(i for i, name in enumerate(names) if re.search(r"\s", name))
            raise FileFormatError(
                f"{genome.path}.fai, line {i + 1}: record id {names[i]!r} holds whitespace; "
                "expected the header up to its first whitespace (delete the index to rebuild it)"
            )
        for i, (name, size) in enumerate(genome.chrom_sizes.items()):
            here = _Where(genome.path, i + 1, name, unit="record")
            _check_new_id(here, first_seen)
            if size == 0:
                raise FileFormatError(f"{here}: record is empty (no sequence)")
            where.append(here)
            source.append(k)
            sizes.append(size)
    return where, np.array(source, dtype=np.int64), np.array(sizes, dtype=np.int64)


class _IndexedSequences:
    """Records read on demand through pyfaidx; the same interface as ``SequenceStore``.

    Each file is a :class:`~biotorch.data.genome.Genome`, so every worker process opens its own
    handle; characters outside the alphabet raise when a record is read.
    """

    def __init__(
        self,
        genomes: Sequence[Genome],
        source: np.ndarray,
        ids: Sequence[str],
        lengths: np.ndarray,
        iupac: str,
    ) -> None:
        self.genomes = list(genomes)
        self.source = source
        self.ids = np.asarray(ids, dtype=str)
        self.lengths = lengths
        self.iupac = iupac

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> np.ndarray:
        genome = self.genomes[self.source[index]]
        return genome.fetch_tokens(
            str(self.ids[index]), 0, int(self.lengths[index]), "+", self.iupac
        )


class SequenceTableDataset(_LabeledSequences):
    """Sequences and labels from a CSV/TSV table (``sequence,label`` and the like).

    Parameters
    ----------
    path : str, PathLike or pandas.DataFrame
        The table (CSV/TSV, optionally gzip; see :func:`read_table`).
    sequence_column : str
        Column of sequences.
    label_columns : str, list of str or None
        Label column(s), as for :class:`FastaDataset`; ``None`` for unlabeled sequences.
    id_column : str, optional
        Column of record ids (default: row numbers).
    sep : str, optional
        Field separator; ``None`` picks it from the extension or sniffs it.
    alphabet, multi_label, classes, transform, target_transform, on_missing_label, iupac
        As for :class:`FastaDataset`.
    """

    def __init__(
        self,
        path: PathLike | Any,
        sequence_column: str = "sequence",
        label_columns: str | Sequence[str] | None = "label",
        id_column: str | None = None,
        sep: str | None = None,
        alphabet: Alphabet = DNA,
        multi_label: bool = False,
        classes: Sequence[str] | None = None,
        transform: Callable[..., Any] | None = None,
        target_transform: Callable[..., Any] | None = None,
        on_missing_label: str = "error",
        iupac: str = "n",
    ) -> None:
        import pandas as pd

        from_file = not isinstance(path, pd.DataFrame)
        name = str(path) if from_file else "DataFrame"
        df = read_table(path, sep=sep) if from_file else path
        columns = [] if label_columns is None else [label_columns]
        if isinstance(label_columns, (list, tuple)):
            columns = list(label_columns)
        absent = [c for c in [sequence_column, id_column, *columns] if c and c not in df.columns]
        if absent:
            raise ValueError(
                f"SequenceTableDataset: {name} has no column(s) {absent}; it has {list(df.columns)}"
            )
        self.alphabet = alphabet
        ids = df[id_column].astype(str).tolist() if id_column else [str(i) for i in range(len(df))]
        if from_file and df.index.name == "line":
            where = [_Where(name, line, rid) for line, rid in zip(df.index, ids, strict=True)]
        else:
            where = [_Where(name, i, rid, "row") for i, rid in enumerate(ids)]
        _check_id_characters(ids, lambda i: where[i].place)
        tokens = [
            self._encode(s, w, iupac) for s, w in zip(df[sequence_column], where, strict=True)
        ]
        values = None
        if label_columns is not None:
            as_text = multi_label or classes is not None
            values = _label_values(df, label_columns, lambda i: str(where[i]), as_text)
        self.transform, self.target_transform = transform, target_transform
        keep = self._setup(where, values, multi_label, classes, on_missing_label)
        self._store(tokens, where, keep)

    def _encode(self, sequence: Any, where: _Where, iupac: str) -> np.ndarray:
        if _is_missing(sequence):
            raise FileFormatError(f"{where}: empty sequence")
        try:
            return encode(str(sequence).strip(), self.alphabet, iupac)
        except ValueError as err:
            raise FileFormatError(f"{where}: {err}") from None
