"""Genomic intervals: ``read_bed``, ``IntervalDataset`` and ``GenomeWindowSampler``.

Coordinates are 0-based and half-open, as in BED. ``strand="-"`` means the reverse complement.
"""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biotorch.data.datasets import Dataset, get_worker_info
from biotorch.data.fasta import (
    FileFormatError,
    _label_values,
    _number_rows,
    _parse_text,
    _read_bytes,
    _targets,
    _transformed,
)
from biotorch.data.genome import Genome

__all__ = [
    "read_bed",
    "IntervalDataset",
    "GenomeWindowSampler",
    "BED_COLUMNS",
    "NARROWPEAK_COLUMNS",
]

#: Column names of BED3 ... BED12, in order.
BED_COLUMNS = tuple(
    "chrom start end name score strand thickStart thickEnd itemRgb blockCount blockSizes "
    "blockStarts".split()
)
#: Column names of ENCODE narrowPeak (BED6+4; ``peak`` is the summit offset from ``start``).
NARROWPEAK_COLUMNS = BED_COLUMNS[:6] + ("signalValue", "pValue", "qValue", "peak")

_HEADER_PREFIXES = (b"#", b"track", b"browser")


def _header_lines(data: bytes) -> int:
    """Number of ``track``/``browser``/``#`` (or blank) lines at the top of a BED file."""
    n = start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end + 1
        line = data[start:end]
        if line.strip() and not line.startswith(_HEADER_PREFIXES):
            break
        n, start = n + 1, end
    return n


def _read_bed_file(path: str | os.PathLike, narrowpeak: bool | None) -> Any:
    """The fields of a BED file as verbatim text, named, indexed by file line."""
    import pandas as pd

    name = os.fspath(path)
    data = _read_bytes(path)
    skip = _header_lines(data)
    try:
        df = _parse_text(name, data, sep="\t", header=None, skiprows=skip, quoting=csv.QUOTE_NONE)
    except pd.errors.EmptyDataError:
        df = pd.DataFrame(columns=range(3), dtype=str)
    _number_rows(df, data, skip, "\t")
    if narrowpeak is None:
        narrowpeak = name.lower().removesuffix(".gz").endswith(".narrowpeak") or (df.shape[1] == 10)
    names = NARROWPEAK_COLUMNS if narrowpeak else BED_COLUMNS
    if df.shape[1] < 3:
        raise FileFormatError(f"{name}, line {skip + 1}: {df.shape[1]} column(s), BED has >= 3")
    df.columns = [*names[: df.shape[1]], *(f"col{i}" for i in range(len(names), df.shape[1]))]
    return df


def _drop_bad(
    df: Any, checks: list[tuple[np.ndarray, str]], lines: np.ndarray, name: str, on_error: str
) -> np.ndarray:
    """Rows failing any check: raise at the first one, or (``on_error="skip"``) count and warn."""
    bad = np.logical_or.reduce([mask for mask, _ in checks])
    if not bad.any():
        return bad
    i = int(np.flatnonzero(bad)[0])
    reason = next(r for mask, r in checks if mask[i])
    row = df.iloc[i]
    msg = f"{name}, line {lines[i]}: {row['chrom']}:{row['start']}-{row['end']}: {reason}"
    if on_error == "raise":
        raise FileFormatError(msg)
    counts = "; ".join(f"{int(mask.sum())} {r}" for mask, r in checks if mask.any())
    warnings.warn(
        f"read_bed: skipped {int(bad.sum())} interval(s) ({counts}); first: {msg}", stacklevel=3
    )
    return bad


def read_bed(
    path: str | os.PathLike | Any,
    genome: Genome | Mapping[str, int] | None = None,
    narrowpeak: bool | None = None,
    on_error: str = "raise",
) -> Any:
    """Read a BED3/BED6/BED12 or narrowPeak file into a pandas DataFrame.

    Parameters
    ----------
    path : str, PathLike or pandas.DataFrame
        Tab-separated file (optionally gzip); ``track``/``browser``/``#`` lines at the top and
        blank lines are skipped; fields are read verbatim (no quoting, and a chromosome or name
        such as ``NA`` stays a name). A DataFrame with ``chrom``, ``start``, ``end`` columns is
        checked the same way.
    genome : Genome or mapping of chromosome to size, optional
        Check chromosome names and that intervals end within their chromosome.
    narrowpeak : bool, optional
        Name 10-column files with :data:`NARROWPEAK_COLUMNS` (default: when the name ends in
        ``.narrowPeak`` or ``.narrowPeak.gz``, or the file has exactly 10 columns).
    on_error : {"raise", "skip"}
        Bad intervals (unknown chromosome, ``end < start``, past the chromosome end, strand
        not ``+ - .``) raise :class:`~biotorch.data.fasta.FileFormatError` naming the file and
        line, or are dropped with a warning that counts them. A ``start``/``end`` that is not
        an integer, a narrowPeak ``signalValue``/``pValue``/``qValue``/``peak`` that is not a
        number, or truncated/corrupt gzip data always raise.

    Returns
    -------
    pandas.DataFrame
        Columns named after the BED fields; ``start``/``end`` int64, narrowPeak numbers numeric,
        other columns numeric when every value is a number (else text); a ``line`` column holds
        the 1-based file line of each interval.
    """
    import pandas as pd

    if on_error not in ("raise", "skip"):
        raise ValueError(f"read_bed: on_error={on_error!r}, expected 'raise' or 'skip'")
    if isinstance(path, pd.DataFrame):
        name, df = "DataFrame", path.reset_index(drop=True).copy()
        lines = df["line"].to_numpy() if "line" in df.columns else np.arange(len(df)) + 1
    else:
        name, df = os.fspath(path), _read_bed_file(path, narrowpeak)
        lines = df.index.to_numpy()
        if df.index.name != "line":  # only a blank line of odd control characters does this
            raise FileFormatError(f"{name}: cannot match the rows read to file lines")
        df = df.reset_index(drop=True)
    # read verbatim: chromosome and interval names such as "NA" stay names; numbers are checked
    strict = ["start", "end", *(c for c in NARROWPEAK_COLUMNS[6:] if c in df.columns)]
    for column in strict:
        values = pd.to_numeric(df[column], errors="coerce")
        bad = values.isna().to_numpy()
        if column in ("start", "end"):
            bad = bad | (values.to_numpy() % 1 != 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            kind = "an integer" if column in ("start", "end") else "a number"
            raise FileFormatError(
                f"{name}, line {lines[i]}: {column} {df[column].iloc[i]!r} is not {kind}"
            )
        df[column] = values.astype(np.int64) if column in ("start", "end") else values
    df["chrom"] = df["chrom"].astype(str)
    for column in df.columns.difference(["chrom", "name", "strand", *strict]):
        numbers = pd.to_numeric(df[column], errors="coerce")
        if not numbers.isna().any():
            df[column] = numbers
    start, end = df["start"].to_numpy(), df["end"].to_numpy()
    checks = [((end < start) | (start < 0), "end < start or start < 0")]
    if "strand" in df.columns:
        checks.append((~df["strand"].isin(["+", "-", "."]).to_numpy(), "strand not + - or ."))
    if genome is not None:
        sizes = genome.chrom_sizes if isinstance(genome, Genome) else dict(genome)
        size = df["chrom"].map(sizes).to_numpy(dtype=float)
        checks.append((np.isnan(size), "chromosome not in the genome"))
        checks.append((end > np.nan_to_num(size, nan=np.inf), "ends past the chromosome end"))
    drop = _drop_bad(df, checks, lines, name, on_error)
    df["line"] = lines
    return df[~drop].reset_index(drop=True)


class _IntervalIndex:
    """Merged intervals per chromosome, answering "how many bp of ``[a, b)`` are covered"."""

    def __init__(self, runs: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
        self._runs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for chrom, (s, e) in runs.items():
            order = np.argsort(s, kind="stable")
            s, e = np.asarray(s, np.int64)[order], np.asarray(e, np.int64)[order]
            reach = np.maximum.accumulate(e) if len(e) else e
            new = np.concatenate([[True], s[1:] > reach[:-1]]) if len(s) else np.zeros(0, bool)
            group = np.cumsum(new) - 1
            ms = s[new]
            me = np.zeros(len(ms), np.int64)
            np.maximum.at(me, group, e)
            cum = np.concatenate([[0], np.cumsum(me - ms)])
            self._runs[chrom] = (ms, me, cum)

    @classmethod
    def from_bed(cls, df: Any) -> _IntervalIndex:
        groups = df.groupby("chrom", sort=False)
        return cls({c: (g["start"].to_numpy(), g["end"].to_numpy()) for c, g in groups})

    def _cumulative(self, chrom: str, x: np.ndarray) -> np.ndarray:
        """Covered bp in ``[0, x)`` for every ``x``."""
        runs = self._runs.get(chrom)
        if runs is None or not len(runs[0]):
            return np.zeros(len(x), dtype=np.int64)
        s, e, cum = runs
        k = np.searchsorted(s, x, side="right") - 1
        kk = np.maximum(k, 0)
        return np.where(k >= 0, cum[kk] + np.clip(x - s[kk], 0, e[kk] - s[kk]), 0)

    def coverage(self, chrom: str, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Covered bp of each ``[starts[i], ends[i])`` on ``chrom``."""
        return self._cumulative(chrom, np.asarray(ends)) - self._cumulative(
            chrom, np.asarray(starts)
        )


def _bed_name(bed: Any, i: int) -> str:
    return Path(bed).name if isinstance(bed, (str, os.PathLike)) else f"target{i}"


class _WindowDataset(Dataset):
    """Fixed-length windows of a genome: ``(tokens, target)`` or ``tokens``."""

    genome: Genome
    length: int

    transform: Callable[..., Any] | None
    target_transform: Callable[..., Any] | None

    def _sample(self, chrom: str, start: int, strand: str, target: Any) -> Any:
        x = self.genome.fetch_tokens(chrom, start, start + self.length, strand)
        return _transformed(x, target, self.transform, self.target_transform)


class IntervalDataset(_WindowDataset):
    """Windows of ``length`` bp around the intervals of a BED/narrowPeak table.

    Parameters
    ----------
    bed : str, PathLike or pandas.DataFrame
        Intervals (see :func:`read_bed`); checked against the genome.
    genome : Genome or str
        The reference (a path opens a :class:`Genome`).
    length : int
        Window length; windows past a chromosome end are N-padded.
    center : {"middle", "summit"}
        Centre each window on the interval's middle or on its narrowPeak summit
        (``start + peak``; intervals with ``peak == -1`` use the middle).
    strand_aware : bool
        Reverse-complement intervals on the ``-`` strand (needs a ``strand`` column).
    label_columns : str or list of str, optional
        Target column(s), as in :class:`~biotorch.data.fasta.FastaDataset`.
    transform, target_transform : callable, optional
        Applied to the int8 tokens / the target (with ``rng=`` when they accept it).
    on_error : {"raise", "skip"}
        Passed to :func:`read_bed`.
    """

    def __init__(
        self,
        bed: Any,
        genome: Genome | str | os.PathLike,
        length: int,
        center: str = "middle",
        strand_aware: bool = True,
        label_columns: str | Sequence[str] | None = None,
        transform: Callable[..., Any] | None = None,
        target_transform: Callable[..., Any] | None = None,
        on_error: str = "raise",
    ) -> None:
        self.genome = genome if isinstance(genome, Genome) else Genome(genome)
        if int(length) < 1:
            raise ValueError(f"IntervalDataset: length={length!r}, expected a positive int")
        self.length = int(length)
        df = read_bed(bed, self.genome, on_error=on_error)
        start, end = df["start"].to_numpy(), df["end"].to_numpy()
        if center == "middle":
            mid = (start + end) // 2
        elif center == "summit":
            if "peak" not in df.columns:
                raise ValueError(
                    "IntervalDataset: center='summit' needs a narrowPeak 'peak' column"
                )
            peak = df["peak"].astype(np.int64).to_numpy()
            mid = np.where(peak >= 0, start + peak, (start + end) // 2)
        else:
            raise ValueError(f"IntervalDataset: center={center!r}, expected 'middle' or 'summit'")
        self.chroms = df["chrom"].to_numpy(dtype=str)
        self.starts = (mid - self.length // 2).astype(np.int64)
        has_strand = strand_aware and "strand" in df.columns
        self.strands = df["strand"].to_numpy(dtype=str) if has_strand else np.full(len(df), "+")
        self.targets = None
        self.classes = None
        if label_columns is not None:
            name = os.fspath(bed) if isinstance(bed, (str, os.PathLike)) else "DataFrame"
            lines = df["line"].to_numpy()

            def where(i: int) -> str:
                return f"IntervalDataset: {name}, line {lines[i]}"

            values = _label_values(df, label_columns, where)
            self.targets, self.classes, missing = _targets(values, False, None)
            if missing.any():
                raise FileFormatError(f"{where(int(np.flatnonzero(missing)[0]))}: missing label")
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> Any:
        target = None if self.targets is None else self.targets[index]
        return self._sample(
            self.chroms[index], int(self.starts[index]), self.strands[index], target
        )


class GenomeWindowSampler(_WindowDataset):
    """Random genome-wide windows with DeepSEA-style multi-label targets.

    Each epoch draws ``num_windows`` windows: a chromosome with probability proportional to
    its length, then a uniform start. Windows overlapping the blacklist, or with more than
    ``max_n_frac`` unknown bases, are redrawn. The draw depends only on ``(seed, epoch)``, so
    it is the same in every worker process and with any number of workers.

    It is a map-style dataset over the pre-drawn windows of the current epoch (``set_epoch``
    redraws; the :class:`~biotorch.data.loader.DataLoader` calls it), and iterating it
    streams those windows (each loader worker takes its share).

    Parameters
    ----------
    genome : Genome or str
        The reference.
    length : int
        Window length in bp.
    num_windows : int
        Windows per epoch.
    blacklist : str, PathLike or DataFrame, optional
        BED of regions no window may overlap.
    max_n_frac : float
        Largest fraction of unknown bases (``N``) allowed in a window.
    target_beds : list or dict of BED paths/DataFrames, optional
        One target per BED (dict keys name them): 1 when its intervals cover at least
        ``min_target_overlap`` of the ``target_bin_size`` bp bin at the window's centre.
    target_bin_size : int
        Centre bin size in bp (200 in DeepSEA).
    min_target_overlap : float
        Fraction of the centre bin that must be covered.
    holdout : dict of split name to chromosome list, optional
        e.g. ``{"validation": ["chr7"], "test": ["chr8", "chr9"]}``; a split not listed
        (usually ``"train"``) gets every other chromosome. Splits must be disjoint.
    split : str, optional
        Which split of ``holdout`` to draw from.
    chromosomes : list of str, optional
        Draw only from these (default: all, or the split's).
    seed : int
        Seed of the draws.
    transform, target_transform : callable, optional
        As in :class:`IntervalDataset`.

    Examples
    --------
    >>> train = GenomeWindowSampler(genome, 1000, 100_000, target_beds=beds,
    ...     holdout={"validation": ["chr7"], "test": ["chr8"]}, split="train")  # doctest: +SKIP
    """

    def __init__(
        self,
        genome: Genome | str | os.PathLike,
        length: int,
        num_windows: int,
        blacklist: Any = None,
        max_n_frac: float = 0.1,
        target_beds: Sequence[Any] | Mapping[str, Any] | None = None,
        target_bin_size: int = 200,
        min_target_overlap: float = 0.5,
        holdout: Mapping[str, Sequence[str]] | None = None,
        split: str | None = None,
        chromosomes: Sequence[str] | None = None,
        seed: int = 0,
        transform: Callable[..., Any] | None = None,
        target_transform: Callable[..., Any] | None = None,
    ) -> None:
        self.genome = genome if isinstance(genome, Genome) else Genome(genome)
        self.length, self.num_windows, self.seed = int(length), int(num_windows), int(seed)
        if self.length < 1 or self.num_windows < 1:
            raise ValueError(
                f"GenomeWindowSampler: length={length!r}, num_windows={num_windows!r}; "
                "expected positive ints"
            )
        if not 0.0 <= max_n_frac <= 1.0:
            raise ValueError(f"GenomeWindowSampler: max_n_frac={max_n_frac!r}, expected in [0, 1]")
        self.max_n_frac = float(max_n_frac)
        self.chromosomes = self._split_chromosomes(holdout, split, chromosomes)
        self.blacklist = None
        if blacklist is not None:
            self.blacklist = _IntervalIndex.from_bed(read_bed(blacklist, self.genome))
        self.target_names: list[str] = []
        self._targets: list[_IntervalIndex] = []
        if target_beds is not None:
            if isinstance(target_beds, Mapping):
                items = list(target_beds.items())
            else:
                items = [(_bed_name(b, i), b) for i, b in enumerate(target_beds)]
            for name, bed in items:
                self.target_names.append(name)
                self._targets.append(_IntervalIndex.from_bed(read_bed(bed, self.genome)))
        self.target_bin_size = int(target_bin_size)
        self.min_target_overlap = float(min_target_overlap)
        self._n_index = _IntervalIndex({c: self.genome.n_runs(c) for c in self.chromosomes})
        self.transform, self.target_transform = transform, target_transform
        self.epoch = 0
        self._drawn: int | None = None

    def _split_chromosomes(
        self,
        holdout: Mapping[str, Sequence[str]] | None,
        split: str | None,
        chromosomes: Sequence[str] | None,
    ) -> list[str]:
        known = self.genome.chromosomes
        for name, chroms in [("chromosomes", chromosomes or [])] + list((holdout or {}).items()):
            unknown = [c for c in chroms if c not in self.genome.chrom_sizes]
            if unknown:
                raise ValueError(
                    f"GenomeWindowSampler: {name} lists {unknown} not in {self.genome.path}"
                )
        chosen = list(chromosomes) if chromosomes is not None else known
        if holdout is not None:
            seen: dict[str, str] = {}
            for name, chroms in holdout.items():
                for c in chroms:
                    if c in seen:
                        raise ValueError(
                            f"GenomeWindowSampler: holdout puts {c!r} in both {seen[c]!r} and "
                            f"{name!r}; splits must be disjoint"
                        )
                    seen[c] = name
            if split is None:
                raise ValueError("GenomeWindowSampler: holdout= needs split= (e.g. 'train')")
            if split in holdout:
                chosen = [c for c in chosen if seen.get(c) == split]
            else:
                chosen = [c for c in chosen if c not in seen]
        elif split is not None:
            raise ValueError(f"GenomeWindowSampler: split={split!r} needs holdout=")
        chosen = [c for c in chosen if self.genome.chrom_sizes[c] >= self.length]
        if not chosen:
            raise ValueError(
                f"GenomeWindowSampler: no chromosome of split={split!r} is at least "
                f"length={self.length} bp"
            )
        return chosen

    def set_epoch(self, epoch: int) -> None:
        """Draw the windows of ``epoch`` on next access."""
        self.epoch = int(epoch)

    def _draw(self) -> None:
        """Draw (or reuse) this epoch's windows: chromosome, start and targets of each."""
        if self._drawn == self.epoch:
            return
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(self.epoch,)))
        spans = np.array([self.genome.chrom_sizes[c] - self.length + 1 for c in self.chromosomes])
        p = spans / spans.sum()
        chrom_idx, starts = [], []
        need, tries = self.num_windows, 0
        while need > 0:
            tries += 1
            if tries > 1000:
                raise RuntimeError(
                    "GenomeWindowSampler: fewer than 1 window in 1000 passes the blacklist and "
                    f"max_n_frac={self.max_n_frac} filters on {self.chromosomes[:5]}"
                )
            n = int(need * 1.25) + 16
            ci = rng.choice(len(self.chromosomes), size=n, p=p)
            st = (rng.random(n) * spans[ci]).astype(np.int64)
            ok = self._acceptable(ci, st)
            chrom_idx.append(ci[ok][:need])
            starts.append(st[ok][:need])
            need -= len(chrom_idx[-1])
        self.window_chrom = np.concatenate(chrom_idx).astype(np.int32)
        self.window_start = np.concatenate(starts)
        self.window_targets = self._compute_targets(self.window_chrom, self.window_start)
        self._drawn = self.epoch

    def _per_chrom(
        self, chrom_idx: np.ndarray, fn: Callable[[str, np.ndarray], np.ndarray], out: np.ndarray
    ) -> np.ndarray:
        """Fill ``out[i]`` with ``fn(chrom, rows)`` for the rows on each chromosome."""
        for k in np.unique(chrom_idx):
            rows = np.flatnonzero(chrom_idx == k)
            out[rows] = fn(self.chromosomes[k], rows)
        return out

    def _acceptable(self, chrom_idx: np.ndarray, starts: np.ndarray) -> np.ndarray:
        ends = starts + self.length
        max_n = self.max_n_frac * self.length

        def ok(chrom: str, rows: np.ndarray) -> np.ndarray:
            good = self._n_index.coverage(chrom, starts[rows], ends[rows]) <= max_n
            if self.blacklist is not None:
                good &= self.blacklist.coverage(chrom, starts[rows], ends[rows]) == 0
            return good

        return self._per_chrom(chrom_idx, ok, np.zeros(len(starts), dtype=bool))

    def _compute_targets(self, chrom_idx: np.ndarray, starts: np.ndarray) -> np.ndarray:
        lo = starts + self.length // 2 - self.target_bin_size // 2
        hi = lo + self.target_bin_size
        need = self.min_target_overlap * self.target_bin_size
        out = np.zeros((len(starts), len(self._targets)), dtype=np.float32)
        for j, index in enumerate(self._targets):

            def hit(chrom: str, rows: np.ndarray, index: _IntervalIndex = index) -> np.ndarray:
                return index.coverage(chrom, lo[rows], hi[rows]) >= need

            out[:, j] = self._per_chrom(chrom_idx, hit, np.zeros(len(starts), dtype=bool))
        return out

    def windows(self) -> Any:
        """This epoch's windows as a DataFrame (``chrom``, ``start``, ``end`` and targets)."""
        import pandas as pd

        self._draw()
        df = pd.DataFrame(
            {
                "chrom": np.asarray(self.chromosomes)[self.window_chrom],
                "start": self.window_start,
                "end": self.window_start + self.length,
            }
        )
        for j, name in enumerate(self.target_names):
            df[name] = self.window_targets[:, j]
        return df

    def __len__(self) -> int:
        return self.num_windows

    def __getitem__(self, index: int) -> Any:
        self._draw()
        target = self.window_targets[index] if self._targets else None
        chrom = self.chromosomes[self.window_chrom[index]]
        return self._sample(chrom, int(self.window_start[index]), "+", target)

    def __iter__(self) -> Iterator[Any]:
        info = get_worker_info()
        shard = range(len(self)) if info is None else range(info.id, len(self), info.num_workers)
        return (self[i] for i in shard)
