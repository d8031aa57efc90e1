"""Genetic variants: VCF records, and the reference and alternative windows a model scores for
variant effect prediction (the difference of its outputs on the two)."""

from __future__ import annotations

import os
import re
import warnings
from typing import Any

import numpy as np

from biotorch.data.datasets import Dataset
from biotorch.data.encoding import encode
from biotorch.data.fasta import (
    _GZIP_ERRORS,
    FileFormatError,
    _check_intact,
    _corrupt_gzip,
    _open_binary,
)
from biotorch.data.genome import Genome

__all__ = ["read_vcf", "VariantDataset"]

_ALLELE = re.compile(r"[ACGTN]+")
_POSITION = re.compile(r"[0-9]+")  # str.isdigit() also takes "²", which int() refuses


def read_vcf(path: str | os.PathLike, genome: Genome | None = None, on_error: str = "raise") -> Any:
    """Read the variants of a VCF file (plain or gzip) into a pandas DataFrame.

    Parameters
    ----------
    path : str or PathLike
        VCF; ``##`` meta lines and the ``#CHROM`` header are skipped, the first five columns
        (CHROM, POS, ID, REF, ALT) are read.
    genome : Genome, optional
        Check that each chromosome exists, that the variant lies inside it, and that REF is the
        genome's sequence at POS (case-insensitive).
    on_error : {"raise", "skip"}
        Records that cannot be scored — symbolic or breakend alleles (``<DEL>``, ``*``,
        ``G]chr2:5]``), ``ALT`` ``.``, letters other than ACGTN, a REF that the genome
        contradicts — raise :class:`~biotorch.data.fasta.FileFormatError` naming the file and
        line, or are dropped with a warning that counts them. Lines with fewer than five
        columns, a non-numeric POS or truncated/corrupt gzip data always raise.

    Returns
    -------
    pandas.DataFrame
        One row per alternative allele (a record with ALT ``A,T`` gives two): ``chrom``,
        ``pos`` (1-based, as in the file), ``id``, ``ref``, ``alt`` (upper case) and ``line``.
    """
    import pandas as pd

    if on_error not in ("raise", "skip"):
        raise ValueError(f"read_vcf: on_error={on_error!r}, expected 'raise' or 'skip'")
    rows, skipped, lineno = [], 0, 0
    with _open_binary(path) as fh:
        try:
            for lineno, raw in enumerate(fh, 1):
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if not line or line.startswith("#"):
                    continue
                fields = line.split("\t")
                if len(fields) < 5 or not _POSITION.fullmatch(fields[1]) or int(fields[1]) < 1:
                    raise FileFormatError(
                        f"{path}, line {lineno}: expected tab-separated CHROM, POS (a positive "
                        f"integer), ID, REF, ALT; got {line[:80]!r}"
                    )
                if "\r" in line:  # would split a line of tab-separated outputs
                    raise FileFormatError(
                        f"{path}, line {lineno}: carriage return inside the line; expected "
                        f"one only before the line end, got {line[:80]!r}"
                    )
                chrom, pos, vid, ref = fields[0], int(fields[1]), fields[2], fields[3].upper()
                for alt in fields[4].upper().split(","):
                    problem = _problem(chrom, pos, ref, alt, genome)
                    if problem is None:
                        rows.append((chrom, pos, vid, ref, alt, lineno))
                    elif on_error == "skip":
                        skipped += 1
                    else:
                        raise FileFormatError(f"{path}, line {lineno}: {problem}")
        except _GZIP_ERRORS as err:
            raise _corrupt_gzip(path, err, lineno) from err
        except FileFormatError:
            _check_intact(fh, path, lineno)
            raise
    if skipped:
        warnings.warn(
            f"read_vcf: skipped {skipped} allele(s) of {path} that cannot be scored "
            f"(on_error='skip'; use on_error='raise' to see the first)",
            UserWarning,
            stacklevel=2,
        )
    df = pd.DataFrame(rows, columns=["chrom", "pos", "id", "ref", "alt", "line"])
    return df.astype({"pos": np.int64, "line": np.int64})


def _problem(chrom: str, pos: int, ref: str, alt: str, genome: Genome | None) -> str | None:
    """Why a REF/ALT pair cannot be scored, or None."""
    for name, allele in (("REF", ref), ("ALT", alt)):
        if not _ALLELE.fullmatch(allele):
            return (
                f"{name} allele {allele!r} at {chrom}:{pos} is not a sequence of A, C, G, T, N "
                f"(symbolic, breakend and missing alleles cannot be scored)"
            )
    if genome is None:
        return None
    size = genome.chrom_sizes.get(chrom)
    if size is None:
        return f"chromosome {chrom!r} is not in the genome {genome.path}"
    if pos - 1 + len(ref) > size:
        return f"{chrom}:{pos} with REF of {len(ref)} bp runs past the chromosome end ({size})"
    found = genome.fetch(chrom, pos - 1, pos - 1 + len(ref)).upper()
    if found != ref:
        return f"REF {ref!r} at {chrom}:{pos} does not match the genome ({found!r})"
    return None


class VariantDataset(Dataset):
    """Reference and alternative windows of ``length`` bp around each variant, as int8 tokens.

    Item ``i`` is ``(ref_tokens, alt_tokens)``. Both windows start ``length // 2`` bp before
    the variant's first REF base, so that base sits at index ``length // 2``. The alternative
    window is the same left flank, then ALT, then the reference after REF, cut to ``length``:
    an insertion pushes the right flank out, a deletion pulls more reference in. Positions
    past a chromosome end are N.

    Parameters
    ----------
    variants : str, PathLike or pandas.DataFrame
        A VCF file (read with :func:`read_vcf`, checked against the genome) or its table.
    genome : Genome or str
        The reference (a path opens a :class:`Genome`).
    length : int
        Window length (the model's input length).
    on_error : {"raise", "skip"}
        Passed to :func:`read_vcf`.
    """

    def __init__(
        self,
        variants: Any,
        genome: Genome | str | os.PathLike,
        length: int,
        on_error: str = "raise",
    ) -> None:
        self.genome = genome if isinstance(genome, Genome) else Genome(genome)
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ValueError(f"VariantDataset: length={length!r}, expected a positive int")
        self.length = length
        if isinstance(variants, str | os.PathLike):
            variants = read_vcf(variants, self.genome, on_error)
        self.variants = variants.reset_index(drop=True)
        self._chroms = self.variants["chrom"].to_numpy(dtype=str)
        self._firsts = self.variants["pos"].to_numpy(dtype=np.int64) - 1
        self._ref_lengths = self.variants["ref"].str.len().to_numpy(dtype=np.int64)
        self._alts = self.variants["alt"].to_numpy(dtype=str)

    def __len__(self) -> int:
        return len(self.variants)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        chrom, first = self._chroms[i], int(self._firsts[i])
        left = self.length // 2
        start = first - left
        ref = self.genome.fetch_tokens(chrom, start, start + self.length)
        alt = encode(self._alts[i], self.genome.alphabet)
        after = first + int(self._ref_lengths[i])
        fill = max(self.length - left - len(alt), 0)
        right = self.genome.fetch_tokens(chrom, after, after + fill)
        return ref, np.concatenate([ref[:left], alt, right])[: self.length]
