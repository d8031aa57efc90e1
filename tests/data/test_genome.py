import os
import pickle

import numpy as np
import pytest
from genomic_files import damage, random_genome, random_sequences, write_fasta

import biotorch.data.genome as genome_module
from biotorch.data import (
    DNA,
    DataLoader,
    Dataset,
    FileFormatError,
    Genome,
    encode,
    reverse_complement,
)

SIZES = {"chr1": 300, "chr2": 157, "chrM": 16}


@pytest.fixture
def genome(tmp_path):
    seqs = random_genome(1, SIZES)
    write_fasta(tmp_path / "g.fa", {f"{c} some description": s for c, s in seqs.items()}, width=50)
    return Genome(tmp_path / "g.fa"), seqs


def test_sizes_and_fetch_match_slicing(genome):
    g, seqs = genome
    assert g.chrom_sizes == SIZES and g.chromosomes == ["chr1", "chr2", "chrM"]
    rng = np.random.default_rng(0)
    for _ in range(50):
        chrom = str(rng.choice(g.chromosomes))
        start = int(rng.integers(0, SIZES[chrom]))
        end = int(rng.integers(start, SIZES[chrom] + 1))
        assert g.fetch(chrom, start, end) == seqs[chrom][start:end]
        rc = g.fetch(chrom, start, end, strand="-")
        assert rc == reverse_complement(seqs[chrom][start:end])
        tokens = g.fetch_tokens(chrom, start, end, strand="-")
        assert tokens.tolist() == encode(rc).tolist() if rc else tokens.size == 0


def test_padding_past_chromosome_ends(genome):
    g, seqs = genome
    assert g.fetch("chrM", -3, 2) == "NNN" + seqs["chrM"][:2]
    assert g.fetch("chrM", 14, 20) == seqs["chrM"][14:] + "NNNN"
    assert g.fetch("chrM", -2, 18) == "NN" + seqs["chrM"] + "NN"
    assert g.fetch("chrM", 20, 25) == "NNNNN" and g.fetch("chrM", -9, -4) == "NNNNN"
    tokens = g.fetch_tokens("chrM", -2, 18, strand="-")
    assert tokens.tolist() == encode(reverse_complement("NN" + seqs["chrM"] + "NN")).tolist()
    assert g.fetch_one_hot("chrM", -1, 3).shape == (4, 4)
    assert g.fetch_one_hot("chrM", -1, 3)[:, 0].sum() == 0


def test_errors(genome):
    g, _ = genome
    with pytest.raises(ValueError, match=r"chromosome 'chr9' is not in .*g.fa \(it has 'chr1'"):
        g.fetch("chr9", 0, 10)
    with pytest.raises(ValueError, match="start=10 > end=5 on chr1"):
        g.fetch_tokens("chr1", 10, 5)
    with pytest.raises(ValueError, match="strand='x'"):
        g.fetch("chr1", 0, 5, strand="x")


def test_gzip_is_refused_with_a_hint(tmp_path):
    path = write_fasta(tmp_path / "g.fa.gz", {"c": "ACGT"})
    with pytest.raises(FileFormatError, match="gzip files need bgzip compression"):
        Genome(path)


@pytest.mark.parametrize("how", ["truncated", "corrupt"])
def test_damaged_bgzip_names_the_file(tmp_path, how):
    bgzf = pytest.importorskip("Bio.bgzf", reason="Biopython writes the BGZF test file")
    seqs = random_sequences(3, 30, 600)
    text = write_fasta(tmp_path / "plain.fa", seqs, width=60).read_bytes()
    path = tmp_path / "g.fa.gz"
    with bgzf.BgzfWriter(str(path), "wb") as out:  # one block: pyfaidx reads it correctly
        out.write(text)
    assert Genome(path).fetch("s29", 0, 8) == seqs["s29"][:8]
    for index in tmp_path.glob("g.fa.gz.*"):
        index.unlink()
    damage(path, how)
    with pytest.raises(FileFormatError, match=r"g.fa.gz: truncated or corrupt bgzip data"):
        Genome(path)


def test_handle_is_per_process(genome):
    g, seqs = genome
    g.fetch("chr1", 0, 5)
    clone = pickle.loads(pickle.dumps(g))
    assert clone._faidx is None and clone.fetch("chr2", 3, 9) == seqs["chr2"][3:9]
    first = g._handle()
    g._pid = -1  # as if inherited through fork
    assert g._handle() is not first and g.fetch("chr1", 0, 5) == seqs["chr1"][:5]


class Windows(Dataset):
    def __init__(self, g: Genome) -> None:
        self.g = g

    def __len__(self) -> int:
        return 40

    def __getitem__(self, i: int):
        return self.g.fetch_tokens("chr1", 7 * i, 7 * i + 20), os.getpid()


def test_workers_read_the_same_sequences(genome):
    g, _ = genome
    g.fetch("chr1", 0, 1)  # open a handle in the parent before forking
    single = [x.numpy().tolist() for x, _ in DataLoader(Windows(g), batch_size=8)]
    batches = list(DataLoader(Windows(g), batch_size=8, num_workers=2))
    assert [x.numpy().tolist() for x, _ in batches] == single
    assert os.getpid() not in np.concatenate([p.numpy() for _, p in batches])


def test_n_runs(genome, monkeypatch):
    g, seqs = genome
    monkeypatch.setattr(genome_module, "_N_SCAN_CHUNK", 7)  # runs crossing chunk borders
    for chrom, seq in seqs.items():
        is_n = np.frombuffer(seq.upper().encode(), np.uint8) == ord("N")
        starts, ends = g.n_runs(chrom)
        mask = np.zeros(len(seq), bool)
        for a, b in zip(starts, ends, strict=True):
            mask[a:b] = True
        assert (mask == is_n).all() and (starts[1:] > ends[:-1]).all()


def test_alphabet_errors_name_the_region(tmp_path):
    g = Genome(write_fasta(tmp_path / "g.fa", {"c": "ACGTXACGT"}), alphabet=DNA)
    with pytest.raises(ValueError, match=r"c:2-8: encode: invalid character 'X'"):
        g.fetch_tokens("c", 2, 8)
