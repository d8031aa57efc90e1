"""The embedded datasets in ``datasets/``: committed files parse with ``biotorch.data``, have the
documented sizes, splits and label balance, and their generators reproduce them.

Reproduction runs every generator in full into ``tmp_path`` (each takes under 10 s here) and
compares the *decompressed* bytes of every file with the committed ones: gzip output itself
can differ between zlib builds, the content may not.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from biotorch.data import (
    FastaDataset,
    Genome,
    GenomeWindowSampler,
    SequenceTableDataset,
    read_bed,
    read_fasta,
)

DATASETS = Path(__file__).resolve().parents[1] / "datasets"
sys.path.insert(0, str(DATASETS))
import dsgen  # noqa: E402

NAMES = ["binding", "regulatory", "varlen", "genome"]


def committed_files(name: str) -> list[Path]:
    """The generated files of a dataset (everything but scripts, datasheet and baseline)."""
    skip = {".py", ".md"}
    return sorted(
        p
        for p in (DATASETS / name).rglob("*")
        if p.is_file()
        and p.suffix not in skip
        and p.name != "baseline.json"
        and "__pycache__" not in p.parts
        and not p.name.endswith((".fai", ".gzi"))
    )


def content(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def test_total_size_within_budget():
    total = sum(p.stat().st_size for n in NAMES for p in committed_files(n))
    assert 0 < total <= 20 * 2**20


@pytest.mark.parametrize("name", NAMES)
def test_generator_reproduces_committed_files(name, tmp_path):
    subprocess.run(
        [sys.executable, str(DATASETS / name / "make.py"), "--out", str(tmp_path)], check=True
    )
    mine = committed_files(name)
    made = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert [p.relative_to(DATASETS / name) for p in mine] == [p.relative_to(tmp_path) for p in made]
    for a, b in zip(mine, made, strict=True):
        assert content(a) == content(b), f"{a} differs from its regeneration"


def test_motifs_match_jaspar():
    pytest.importorskip("pyjaspar")
    sys.path.insert(0, str(DATASETS))
    import fetch_motifs

    assert (
        fetch_motifs.fetch()["motifs"]
        == json.loads((DATASETS / "motifs.json").read_text())["motifs"]
    )


# --------------------------------------------------------------------------- binding


def splits(name: str) -> dict:
    return json.loads((DATASETS / name / "splits.json").read_text())


@pytest.mark.parametrize("split,pairs", [("train", 4000), ("validation", 500), ("test", 500)])
def test_binding_split(split, pairs):
    files = {c: DATASETS / "binding" / f for c, f in splits("binding")[split].items()}
    assert list(files) == ["neg", "pos"]
    ds = FastaDataset(files)
    assert len(ds) == 2 * pairs
    assert (ds.lengths == 101).all()
    np.testing.assert_array_equal(np.bincount(ds.targets), [pairs, pairs])
    # each negative is a dinucleotide shuffle of the positive it names
    pos = {r.id: r for r in read_fasta(files["pos"])}
    for neg in read_fasta(files["neg"]):
        source = pos[neg.description.split("shuffle_of=")[1]]
        a, b = (dsgen.encode(r.sequence) for r in (source, neg))
        np.testing.assert_array_equal(dsgen.dinucleotide_counts(a), dsgen.dinucleotide_counts(b))


def test_binding_sites_are_ctcf_sites():
    motif = dsgen.load_motifs()["CTCF"]
    lo = motif.log_odds()
    scores = []
    for r in read_fasta(DATASETS / "binding" / "test_pos.fa.gz"):
        seq = dsgen.encode(r.sequence)
        for site in r.description.split("sites=")[1].split(","):
            start, strand = int(site[:-1]), site[-1]
            s = seq[start : start + motif.width]
            s = dsgen.revcomp(s) if strand == "-" else s
            scores.append(lo[np.arange(motif.width), s].sum())
    assert len(scores) >= 500 and np.median(scores) > 0.6 * lo.max(1).sum()


# --------------------------------------------------------------------------- regulatory


@pytest.mark.parametrize("split,size", [("train", 16000), ("validation", 2000), ("test", 2000)])
def test_regulatory_split(split, size):
    targets = json.loads((DATASETS / "regulatory" / "targets.json").read_text())
    assert list(targets) == [f"target_{j}" for j in range(12)]
    ds = SequenceTableDataset(
        DATASETS / "regulatory" / f"{split}.csv.gz", label_columns=list(targets), id_column="id"
    )
    assert len(ds) == size and (ds.lengths == 600).all()
    y = np.asarray(ds.targets)
    assert y.shape == (size, 12) and set(np.unique(y)) == {0.0, 1.0}
    rates = y.mean(0)
    assert ((rates > 0.03) & (rates < 0.35)).all(), rates
    if split == "train":
        base = json.loads((DATASETS / "regulatory" / "baseline.json").read_text())["test_auroc"]
        documented = [base[f"target_{j}"]["train_positive_rate"] for j in range(12)]
        np.testing.assert_allclose(rates, documented, atol=1e-4)


# --------------------------------------------------------------------------- varlen


@pytest.mark.parametrize("split,size", [("train", 8000), ("validation", 1000), ("test", 1000)])
def test_varlen_split(split, size):
    files = {c: DATASETS / "varlen" / f for c, f in splits("varlen")[split].items()}
    ds = FastaDataset(files)
    assert len(ds) == size
    assert ds.lengths.min() >= 50 and ds.lengths.max() <= 2000
    assert abs(np.mean(ds.targets) - 0.5) < 0.05
    if split == "train":
        assert 330 < np.median(ds.lengths) < 480 and ds.lengths.max() > 1500


# --------------------------------------------------------------------------- genome


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    """The BGZF genome, copied so that pyfaidx's index files land outside the repository."""
    tmp = tmp_path_factory.mktemp("genome")
    shutil.copy(DATASETS / "genome" / "genome.fa.gz", tmp)
    return Genome(tmp / "genome.fa.gz")


def test_genome_loads(genome):
    sizes = dict(
        line.split("\t")
        for line in (DATASETS / "genome" / "chrom.sizes").read_text().split("\n")
        if line
    )
    assert genome.chrom_sizes == {c: int(s) for c, s in sizes.items()}
    assert list(sizes) == ["chr1", "chr2", "chr3", "chr4", "chr5"]
    text = genome.fetch("chr1", 0, genome.chrom_sizes["chr1"])
    assert text[:10_000] == "N" * 10_000  # telomere gap
    letters = np.frombuffer(text.encode(), np.uint8)
    assert 0.15 < (letters >= ord("a")).mean() < 0.45  # soft-masked repeats
    starts, ends = genome.n_runs("chr1")
    assert len(starts) >= 4
    with gzip.open(DATASETS / "genome" / "genome.fa.gz", "rt") as fh:  # plain gzip reads it too
        assert fh.readline() == ">chr1\n"


def test_genome_peaks_and_sites(genome):
    motifs = dsgen.load_motifs()
    for factor in ["CTCF", "FOS::JUN", "GATA1", "FOXA1"]:
        tag = factor.replace("::", "_")
        peaks = read_bed(DATASETS / "genome" / "peaks" / f"{tag}.narrowPeak.gz", genome)
        assert len(peaks) > 1000 and set(peaks.chrom) == set(genome.chromosomes)
        assert ((peaks.peak >= 0) & (peaks.peak < peaks.end - peaks.start)).all()
    sites = read_bed(DATASETS / "genome" / "sites.bed.gz", genome)
    bound = sites[sites.name == "CTCF:bound"].head(200)
    lo = motifs["CTCF"].log_odds()
    score = [
        lo[np.arange(len(lo)), genome.fetch_tokens(r.chrom, r.start, r.end, r.strand)].sum()
        for r in bound.itertuples()
    ]
    assert np.median(score) > 0.6 * lo.max(1).sum()
    assert len(read_bed(DATASETS / "genome" / "blacklist.bed", genome)) >= 10


def test_genome_window_sampler_holdout(genome):
    holdout = json.loads((DATASETS / "genome" / "holdout.json").read_text())
    assert holdout == {"validation": ["chr4"], "test": ["chr5"]}
    beds = sorted((DATASETS / "genome" / "peaks").glob("*.narrowPeak.gz"))
    sampler = GenomeWindowSampler(
        genome,
        1000,
        500,
        blacklist=DATASETS / "genome" / "blacklist.bed",
        target_beds=beds,
        holdout=holdout,
        split="test",
        seed=0,
    )
    assert set(sampler.windows().chrom) == {"chr5"}
    x, y = sampler[0]
    assert len(x) == 1000 and np.asarray(y).shape == (4,)
    assert 0.02 < np.asarray(sampler.windows().iloc[:, 3:]).mean() < 0.3
