"""``Genome``: random access to a reference FASTA through pyfaidx, safe across worker processes.

The ``.fai`` index is built (if missing or stale) once, when the ``Genome`` is made in the main
process. The pyfaidx handle itself is opened lazily, once per process: a ``Genome`` pickled to a
``spawn`` worker drops its handle, and one inherited through ``fork`` notices the new process id
and reopens the file (a handle shared across processes returns wrong sequences).
"""

from __future__ import annotations

import os
import struct
import zlib
from typing import Any

import numpy as np

from biotorch.data.alphabets import DNA, Alphabet
from biotorch.data.encoding import encode, reverse_complement

__all__ = ["Genome"]

_N_SCAN_CHUNK = 1 << 24
#: What Biopython's BGZF reader (used by pyfaidx) raises on truncated or corrupt data.
_BGZF_ERRORS = (EOFError, zlib.error, struct.error, ValueError, RuntimeError)


class Genome:
    """A reference genome in an uncompressed (or bgzip) FASTA file.

    Parameters
    ----------
    fasta_path : str or PathLike
        The FASTA file; chromosome names are the header up to its first whitespace (space,
        tab, ...: pyfaidx's rule, the one :func:`~biotorch.data.fasta.read_fasta` follows). A
        compressed file must be BGZF as written by htslib's ``bgzip`` (blocks of at most 0xff00
        bytes): pyfaidx misreads BGZF files with full 64 KiB blocks (Biopython's default writer).
        A file that cannot be indexed (malformed, truncated or corrupt) raises
        :class:`~biotorch.data.fasta.FileFormatError` naming it.
    alphabet : Alphabet
        Alphabet used by :meth:`fetch_tokens` (DNA by default).

    Examples
    --------
    >>> genome = Genome("hg38.fa")  # doctest: +SKIP
    >>> genome.fetch("chr1", 999, 1010, strand="-")  # doctest: +SKIP
    'NNNNNNNNNNN'
    """

    def __init__(self, fasta_path: str | os.PathLike, alphabet: Alphabet = DNA) -> None:
        self.path = os.fspath(fasta_path)
        self.alphabet = alphabet
        self._faidx: Any = None
        self._pid: int | None = None
        try:
            index = self._handle().index
        except Exception as err:
            raise self._index_error(err) from err
        self.chrom_sizes: dict[str, int] = {name: int(rec.rlen) for name, rec in index.items()}
        self._n_runs: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _index_error(self, err: Exception) -> ValueError:
        """A clear error for a file pyfaidx cannot index (raise it ``from err``)."""
        from biotorch.data.fasta import _GZIP_MAGIC, FileFormatError, _iter_raw_fasta

        with open(self.path, "rb") as fh:
            head = fh.read(14)
        if head[:2] == _GZIP_MAGIC and head[12:14] != b"BC":  # gzip but not BGZF
            hint = "gzip files need bgzip compression for indexed access"
            return FileFormatError(f"Genome: cannot index {self.path} ({hint}): {err}")
        if any(m in str(err) for m in ("Bad sequence name", "Duplicate key")):  # name the line
            try:
                for _ in _iter_raw_fasta(self.path):
                    pass
            except FileFormatError as found:
                return found
        if head[:2] == _GZIP_MAGIC and isinstance(err, _BGZF_ERRORS):
            return FileFormatError(
                f"Genome: {self.path}: truncated or corrupt bgzip data "
                f"({type(err).__name__}: {err}); the file is incomplete or damaged"
            )
        return FileFormatError(f"Genome: cannot index {self.path}: {err}")

    @property
    def chromosomes(self) -> list[str]:
        """Chromosome names in file order."""
        return list(self.chrom_sizes)

    def __repr__(self) -> str:
        return f"Genome({self.path!r}, {len(self.chrom_sizes)} chromosomes)"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_faidx"] = None
        state["_pid"] = None
        return state

    def _handle(self) -> Any:
        """This process's pyfaidx handle (opened on first use in each process)."""
        if self._faidx is None or self._pid != os.getpid():
            import pyfaidx

            self._faidx = pyfaidx.Faidx(self.path, as_raw=True, sequence_always_upper=False)
            self._pid = os.getpid()
        return self._faidx

    def _check(self, chrom: str, start: int, end: int, strand: str) -> int:
        size = self.chrom_sizes.get(chrom)
        if size is None:
            names = ", ".join(repr(c) for c in self.chromosomes[:5])
            raise ValueError(
                f"Genome: chromosome {chrom!r} is not in {self.path} (it has {names}"
                f"{', ...' if len(self.chrom_sizes) > 5 else ''}; {len(self.chrom_sizes)} in all)"
            )
        if start > end:
            raise ValueError(
                f"Genome.fetch: start={start} > end={end} on {chrom}; expected start <= end"
            )
        if strand not in ("+", "-", "."):
            raise ValueError(f"Genome.fetch: strand={strand!r}, expected '+', '-' or '.'")
        return size

    def _raw(self, chrom: str, start: int, end: int, size: int) -> tuple[str, int, int]:
        """Sequence of ``[max(start, 0), min(end, size))`` and the N padding on each side."""
        lo, hi = max(start, 0), min(end, size)
        text = self._handle().fetch(chrom, lo + 1, hi) if lo < hi else ""
        left = min(max(-start, 0), end - start)
        right = end - start - left - len(text)
        return text, left, right

    def fetch(self, chrom: str, start: int, end: int, strand: str = "+") -> str:
        """Sequence of ``chrom:[start, end)`` (0-based, half-open) as text, case as in the file.

        Positions outside the chromosome are ``N``; ``strand="-"`` gives the reverse complement.
        """
        start, end = int(start), int(end)
        size = self._check(chrom, start, end, strand)
        text, left, right = self._raw(chrom, start, end, size)
        n = self.alphabet.unknown
        text = n * left + text + n * right
        return reverse_complement(text, self.alphabet) if strand == "-" else text

    def fetch_tokens(
        self, chrom: str, start: int, end: int, strand: str = "+", iupac: str = "n"
    ) -> np.ndarray:
        """Like :meth:`fetch`, as int8 tokens of ``self.alphabet`` (N-padded, strand-aware)."""
        start, end = int(start), int(end)
        size = self._check(chrom, start, end, strand)
        text, left, right = self._raw(chrom, start, end, size)
        tokens = np.full(end - start, self.alphabet.unknown_token, dtype=np.int8)
        try:
            tokens[left : left + len(text)] = encode(text, self.alphabet, iupac)
        except ValueError as err:
            raise ValueError(f"Genome {self.path}: {chrom}:{start}-{end}: {err}") from None
        return reverse_complement(tokens, self.alphabet) if strand == "-" else tokens

    def fetch_one_hot(self, chrom: str, start: int, end: int, strand: str = "+") -> np.ndarray:
        """Like :meth:`fetch`, one-hot float32 of shape ``(channels, end - start)``, N as zeros."""
        from biotorch.data.encoding import one_hot

        return one_hot(self.fetch_tokens(chrom, start, end, strand), self.alphabet)

    def n_runs(self, chrom: str) -> tuple[np.ndarray, np.ndarray]:
        """Sorted ``(starts, ends)`` of the runs of unknown letters (``N``, any case) in ``chrom``.

        Computed once per chromosome by scanning it in chunks, then cached.
        """
        if chrom not in self._n_runs:
            size = self._check(chrom, 0, 0, "+")
            upper, lower = ord(self.alphabet.unknown), ord(self.alphabet.unknown.lower())
            starts, ends = [], []
            for lo in range(0, size, _N_SCAN_CHUNK):
                hi = min(lo + _N_SCAN_CHUNK, size)
                raw = np.frombuffer(self._handle().fetch(chrom, lo + 1, hi).encode(), np.uint8)
                is_n = (raw == upper) | (raw == lower)
                change = np.flatnonzero(is_n[1:] != is_n[:-1]) + 1
                bounds = np.concatenate([[0], change, [len(is_n)]])
                runs = is_n[bounds[:-1]]
                starts.append(bounds[:-1][runs] + lo)
                ends.append(bounds[1:][runs] + lo)
            s = np.concatenate(starts) if starts else np.zeros(0, np.int64)
            e = np.concatenate(ends) if ends else np.zeros(0, np.int64)
            join = np.flatnonzero(s[1:] == e[:-1])  # runs cut at a chunk border
            self._n_runs[chrom] = (np.delete(s, join + 1), np.delete(e, join))
        return self._n_runs[chrom]
