import gzip

import numpy as np
import pandas as pd
import pytest
from genomic_files import damage, random_genome, write_bed, write_fasta

from biotorch.data import (
    DataLoader,
    FileFormatError,
    Genome,
    GenomeWindowSampler,
    IntervalDataset,
    decode,
    read_bed,
    reverse_complement,
)

SIZES = {"chr1": 4000, "chr2": 3000, "chr3": 2500, "chr4": 1500, "chrY": 60}


@pytest.fixture
def genome(tmp_path):
    seqs = random_genome(2, SIZES, n_runs=3)
    return Genome(write_fasta(tmp_path / "g.fa", seqs, width=60)), seqs


def test_read_bed_formats(tmp_path, genome):
    g, _ = genome
    bed3 = write_bed(tmp_path / "a.bed", [("chr1", 5, 10), ("chr2", 0, 3)], "track name=x\n#c\n")
    df = read_bed(bed3, g)
    assert list(df.columns) == ["chrom", "start", "end", "line"]
    assert df["line"].tolist() == [3, 4] and df["start"].dtype == np.int64
    peaks = [("chr1", 10, 50, "p1", 900, "+", 5.5, 3.1, -1, 20)]
    narrow = read_bed(write_bed(tmp_path / "x.narrowPeak", peaks))
    assert narrow["peak"].tolist() == [20] and narrow["signalValue"].tolist() == [5.5]
    bed6 = read_bed(write_bed(tmp_path / "b.bed", [("chr1", 1, 2, "n", 0, "-")]))
    assert bed6["strand"].tolist() == ["-"]
    empty = write_bed(tmp_path / "empty.bed", [], "track name=none\n")
    assert len(read_bed(empty, g)) == 0
    assert len(GenomeWindowSampler(g, 100, 10, blacklist=empty).windows()) == 10


@pytest.mark.parametrize(
    "row, match",
    [
        (("chrZ", 1, 5), "line 2: chrZ:1-5: chromosome not in the genome"),
        (("chr1", 9, 5), "line 2: chr1:9-5: end < start"),
        (("chr4", 1400, 1501), "line 2: chr4:1400-1501: ends past the chromosome end"),
        (("chr1", "x", 5), "line 2: start 'x' is not an integer"),
    ],
)
def test_read_bed_errors_and_skip(tmp_path, genome, row, match):
    g, _ = genome
    path = write_bed(tmp_path / "bad.bed", [("chr1", 0, 5), row, ("chr2", 1, 2)])
    with pytest.raises(FileFormatError, match=match) as info:
        read_bed(path, g)
    assert str(path) in str(info.value)
    if row[1] != "x":
        with pytest.warns(UserWarning, match=r"skipped 1 interval\(s\)"):
            df = read_bed(path, g, on_error="skip")
        assert df["line"].tolist() == [1, 3]


def test_interval_dataset_centres_and_strands(tmp_path, genome):
    g, seqs = genome
    rows = [
        ("chr1", 100, 200, "a", 1, "+", 0, 0, 0, 10),
        ("chr2", 50, 61, "b", 0, "-", 0, 0, 0, -1),
        ("chrY", 0, 4, "c", 1, "+", 0, 0, 0, 1),
    ]
    bed = write_bed(tmp_path / "p.narrowPeak", rows)
    mid = IntervalDataset(bed, g, length=10, label_columns="score")
    x, y = mid[0]
    assert decode(x) == seqs["chr1"][145:155].upper() and int(y) == 1
    assert decode(mid[1][0]) == reverse_complement(seqs["chr2"][50:60]).upper()
    assert decode(mid[2][0]) == "NNNNNNNNN"[:3] + seqs["chrY"][:7].upper()
    summit = IntervalDataset(bed, g, length=10, center="summit", strand_aware=False)
    assert decode(summit[0]) == seqs["chr1"][105:115].upper()
    assert decode(summit[1]) == seqs["chr2"][50:60].upper()  # peak -1: middle, + strand
    table = pd.DataFrame({"chrom": ["chr3"], "start": [10], "end": [30], "y1": [1.0], "y2": [0]})
    multi = IntervalDataset(table, g, length=8, label_columns=["y1", "y2"])
    assert multi[0][1].tolist() == [1.0, 0.0]


def test_bed_lines_after_blank_and_header_lines(tmp_path, genome):
    g, _ = genome
    path = tmp_path / "gaps.bed"
    path.write_text("track name=x\n\n#c\nchr1\t0\t5\n\n\nchr2\t1\t2\n  \nchr1\t9\t5\n")
    with pytest.raises(FileFormatError, match=r"gaps.bed, line 9: chr1:9-5: end < start"):
        read_bed(path, g)
    with pytest.warns(UserWarning, match="skipped 1"):
        assert read_bed(path, g, on_error="skip")["line"].tolist() == [4, 7]
    path.write_text("chr1\t0\t5\n\n\nchr1\tfive\t9\n")
    with pytest.raises(FileFormatError, match=r"gaps.bed, line 4: start 'five' is not an integer"):
        read_bed(path)


def test_bed_names_and_quotes_are_verbatim(tmp_path):
    rows = [
        ("NA", 0, 5, "null", 0, "+"),
        ("chr1", 1, 9, '"open', 0, "-"),
        ("nan", 2, 4, "NaN", 0, "."),
    ]
    df = read_bed(write_bed(tmp_path / "odd.bed", rows), {"NA": 10, "chr1": 10, "nan": 10})
    assert df["chrom"].tolist() == ["NA", "chr1", "nan"]
    assert df["name"].tolist() == ["null", '"open', "NaN"] and df["line"].tolist() == [1, 2, 3]
    assert df["strand"].tolist() == ["+", "-", "."]


def test_narrowpeak_numbers_must_be_numbers(tmp_path, genome):
    g, _ = genome
    rows = [("chr1", 10, 50, "p1", 900, "+", 5.5, 3.1, -1, 20), ("chr1", 60, 90, "p2", 1)]
    path = write_bed(tmp_path / "x.narrowPeak", [rows[0], (*rows[1], "+", 2.0, 1, 1, ".")])
    with pytest.raises(FileFormatError, match=r"x.narrowPeak, line 2: peak '.' is not a number"):
        IntervalDataset(path, g, length=10, center="summit")
    path = write_bed(tmp_path / "x.narrowPeak", [rows[0], (*rows[1], "+", "", 1, 1, 3)])
    with pytest.raises(FileFormatError, match=r"line 2: signalValue '' is not a number"):
        read_bed(path)


def test_interval_label_errors_name_the_line(tmp_path, genome):
    g, _ = genome
    rows = [("chr1", 0, 5, "a", 1), ("chr1", 5, 9, "b", "NA"), ("chr1", 0, 9, "c", "oops")]
    path = write_bed(tmp_path / "y.bed", rows[:2], "#header\n")
    with pytest.raises(FileFormatError, match=r"y.bed, line 3: missing label"):
        IntervalDataset(path, g, length=4, label_columns="score")
    table = read_bed(write_bed(tmp_path / "z.bed", [rows[0], rows[2]]))
    with pytest.raises(FileFormatError, match=r"DataFrame, line 2: column 'score': 'oops'"):
        IntervalDataset(table, g, length=4, label_columns=["score"])


@pytest.mark.parametrize("how", ["truncated", "corrupt"])
def test_damaged_gzip_bed(tmp_path, genome, how):
    rows = "".join(f"chr1\t{i}\t{i + 7}\tpeak{i}\n" for i in range(4000))
    path = tmp_path / "a.bed.gz"
    path.write_bytes(gzip.compress(rows.encode()))
    damage(path, how)
    with pytest.raises(FileFormatError, match=r"a.bed.gz, after line \d+: truncated or corrupt"):
        read_bed(path)
    with pytest.raises(FileFormatError, match="truncated or corrupt gzip data"):
        GenomeWindowSampler(genome[0], 100, 10, blacklist=path)


def coverage_fraction(intervals, chrom, lo, hi):
    covered = np.zeros(hi - lo, bool)
    for c, a, b in intervals:
        if c == chrom:
            covered[max(a, lo) - lo : max(min(b, hi) - lo, 0)] = True
    return covered.mean()


def test_window_sampler(tmp_path, genome):
    g, seqs = genome
    blacklist = [("chr1", 1000, 2500), ("chr2", 0, 400)]
    peaks_a = [("chr1", 200, 900), ("chr2", 1000, 1100), ("chr3", 0, 2500)]
    peaks_b = [("chr2", 450, 520), ("chr2", 500, 600)]
    kw = dict(
        blacklist=write_bed(tmp_path / "black.bed", blacklist),
        target_beds={"a": tmp_path / "a.bed", "b": tmp_path / "b.bed"},
        target_bin_size=100,
        min_target_overlap=0.5,
        max_n_frac=0.05,
        holdout={"validation": ["chr3"], "test": ["chr4"]},
        seed=7,
    )
    write_bed(tmp_path / "a.bed", peaks_a)
    write_bed(tmp_path / "b.bed", peaks_b)
    train = GenomeWindowSampler(g, 200, 300, split="train", **kw)
    assert train.chromosomes == ["chr1", "chr2"]  # chrY is shorter than a window
    windows = train.windows()
    assert len(windows) == 300 and set(windows["chrom"]) <= {"chr1", "chr2"}
    for w in windows.itertuples():
        assert w.end <= SIZES[w.chrom]
        assert all(w.chrom != c or w.end <= a or w.start >= b for c, a, b in blacklist)
        assert seqs[w.chrom][w.start : w.end].upper().count("N") <= 0.05 * 200
        lo = w.start + 50
        assert w.a == (coverage_fraction(peaks_a, w.chrom, lo, lo + 100) >= 0.5)
        assert w.b == (coverage_fraction(peaks_b, w.chrom, lo, lo + 100) >= 0.5)
    x, y = train[3]
    w = windows.iloc[3]
    assert decode(x) == seqs[w.chrom][w.start : w.end].upper() and y.tolist() == [w.a, w.b]
    # reproducible per (seed, epoch); a new epoch draws new windows
    assert GenomeWindowSampler(g, 200, 300, split="train", **kw).windows().equals(windows)
    train.set_epoch(1)
    assert not train.windows().equals(windows)
    test = GenomeWindowSampler(g, 200, 50, split="test", **kw)
    assert set(test.windows()["chrom"]) == {"chr4"}


def test_holdouts_must_be_disjoint(genome):
    g, _ = genome
    with pytest.raises(ValueError, match="puts 'chr3' in both 'validation' and 'test'"):
        holdout = {"validation": ["chr3"], "test": ["chr3"]}
        GenomeWindowSampler(g, 100, 5, holdout=holdout, split="train")
    with pytest.raises(ValueError, match=r"lists \['chr9'\]"):
        GenomeWindowSampler(g, 100, 5, holdout={"test": ["chr9"]}, split="train")
    with pytest.raises(ValueError, match="needs split="):
        GenomeWindowSampler(g, 100, 5, holdout={"test": ["chr1"]})


def test_window_sampler_with_workers(genome):
    g, _ = genome
    sampler = GenomeWindowSampler(g, 50, 40, seed=3)
    single = [x.numpy().tolist() for x in DataLoader(sampler, batch_size=8)]
    multi = [x.numpy().tolist() for x in DataLoader(sampler, batch_size=8, num_workers=2)]
    assert multi == single
    streamed = [decode(x) for x in sampler]
    assert streamed == [decode(np.array(r, np.int8)) for b in single for r in b]
