import gzip
import zlib

import numpy as np
import pytest
from genomic_files import damage, write_fasta

from biotorch.data import FileFormatError, Genome, VariantDataset, decode, read_vcf

CHR1 = "ACGTACGTTTGGCCAAACGTACGTACGGATCCAGT"  # 35 bp
CHR2 = "GGGGCCCCAAAATTTT"
HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@pytest.fixture
def genome(tmp_path):
    write_fasta(tmp_path / "g.fa", {"chr1": CHR1, "chr2": CHR2.lower()}, width=10)
    return Genome(tmp_path / "g.fa")


def vcf(tmp_path, body, name="v.vcf"):
    path = tmp_path / name
    text = HEADER + "".join("\t".join(map(str, row)) + "\t.\t.\t.\n" for row in body)
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["v.vcf", "v.vcf.gz"])
def test_read_vcf_rows_per_allele(tmp_path, genome, name):
    path = vcf(tmp_path, [("chr1", 5, "rs1", "A", "g,T"), ("chr2", 3, ".", "GGC", "G")], name)
    df = read_vcf(path, genome)
    assert df[["chrom", "pos", "id", "ref", "alt"]].values.tolist() == [
        ["chr1", 5, "rs1", "A", "G"],
        ["chr1", 5, "rs1", "A", "T"],
        ["chr2", 3, ".", "GGC", "G"],
    ]
    assert df["line"].tolist() == [3, 3, 4] and df["pos"].dtype == np.int64


@pytest.mark.parametrize(
    "row, match",
    [
        (("chr1", 5, ".", "A", "<DEL>"), r"line 3: ALT allele '<DEL>' at chr1:5 is not a seq"),
        (("chr1", 5, ".", "A", "*"), "ALT allele '\\*'"),
        (("chr1", 5, ".", "A", "."), "ALT allele '.'"),
        (("chr1", 5, ".", "C", "T"), r"REF 'C' at chr1:5 does not match the genome \('A'\)"),
        (("chr3", 5, ".", "A", "T"), "chromosome 'chr3' is not in the genome"),
        (("chr2", 15, ".", "TTT", "T"), "runs past the chromosome end \\(16\\)"),
    ],
)
def test_read_vcf_errors_name_file_and_line(tmp_path, genome, row, match):
    path = vcf(tmp_path, [row])
    with pytest.raises(FileFormatError, match=match) as info:
        read_vcf(path, genome)
    assert str(path) in str(info.value)
    with pytest.warns(UserWarning, match="skipped 1 allele"):
        assert len(read_vcf(path, genome, on_error="skip")) == 0


def test_read_vcf_malformed_lines_always_raise(tmp_path):
    path = tmp_path / "bad.vcf"
    path.write_text(HEADER + "chr1\t5\t.\tA\tT\nchr1\tfive\t.\tA\tT\n")
    with pytest.raises(FileFormatError, match="line 4: expected tab-separated CHROM, POS"):
        read_vcf(path, on_error="skip")
    with pytest.raises(ValueError, match="on_error='maybe'"):
        read_vcf(path, on_error="maybe")


def test_read_vcf_position_must_be_ascii_digits(tmp_path):
    path = tmp_path / "sup.vcf"
    path.write_text(HEADER + "\n\nchr1\t\u00b2\t.\tA\tT\n")
    with pytest.raises(FileFormatError, match="line 5: expected tab-separated CHROM, POS"):
        read_vcf(path)
    path.write_bytes(HEADER.encode() + b"chr1\t5\trs\r1\tA\tT\r\n")
    with pytest.raises(FileFormatError, match="line 3: carriage return inside the line"):
        read_vcf(path)
    path.write_bytes(HEADER.encode() + b"chr1\t5\trs1\tA\tT\r\n")
    assert read_vcf(path)["id"].tolist() == ["rs1"]


@pytest.mark.parametrize("how", ["truncated", "corrupt"])
def test_damaged_gzip_vcf(tmp_path, how):
    rng = np.random.default_rng(0)  # random ids: the damage hits compressed data, not a repeat
    rows = [("chr1", i + 1, f"rs{rng.integers(1e9)}", "A", "T") for i in range(3000)]
    path = damage(vcf(tmp_path, rows, "v.vcf.gz"), how)
    with pytest.raises(FileFormatError, match=r"v.vcf.gz, after line \d+: truncated or corrupt"):
        read_vcf(path)
    with pytest.raises(FileFormatError) as info:
        read_vcf(path)
    assert isinstance(info.value.__cause__, (EOFError, zlib.error, gzip.BadGzipFile))


def test_windows_for_substitutions_insertions_and_deletions(tmp_path, genome):
    rows = [
        ("chr1", 11, "snv", "G", "A"),  # CHR1[10] == "G"
        ("chr1", 9, "ins", "T", "TCCC"),
        ("chr1", 9, "del", "TTGG", "T"),
        ("chr1", 2, "edge", "C", "G"),
        ("chr1", 20, "mnv", "TACG", "GGGG"),
    ]
    ds = VariantDataset(vcf(tmp_path, rows), genome, length=10)
    assert len(ds) == 5
    pairs = [tuple(decode(t) for t in ds[i]) for i in range(5)]
    assert pairs[0] == (CHR1[5:15], CHR1[5:10] + "A" + CHR1[11:15])
    assert pairs[1] == (CHR1[3:13], CHR1[3:8] + "TCCC" + CHR1[9:10])
    assert pairs[2] == (CHR1[3:13], CHR1[3:8] + "T" + CHR1[12:16])
    assert pairs[3] == ("NNNNACGTAC", "NNNNAGGTAC")
    assert pairs[4] == (CHR1[14:24], CHR1[14:19] + "GGGG" + CHR1[23:24])
    for ref, alt in (ds[i] for i in range(5)):
        assert ref.dtype == alt.dtype == np.int8 and len(ref) == len(alt) == 10


def test_lowercase_genome_and_table_input(tmp_path, genome):
    df = read_vcf(vcf(tmp_path, [("chr2", 16, ".", "T", "C")]), genome)
    ref, alt = VariantDataset(df, genome, length=4)[0]
    assert (decode(ref), decode(alt)) == ("TTTN", "TTCN")
    with pytest.raises(ValueError, match="length=0, expected a positive int"):
        VariantDataset(df, genome, length=0)
