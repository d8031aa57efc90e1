import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biotorch.data import DNA, PROTEIN, KmerTokenizer, Vocab, encode


def test_vocab_specials_and_lookup():
    v = Vocab(["x", "y"])
    assert v.itos == ["<pad>", "<unk>", "<cls>", "<mask>", "x", "y"]
    assert (v.pad_index, v.unk_index, v.cls_index, v.mask_index) == (0, 1, 2, 3)
    assert v["y"] == 5 and v["nope"] == v.unk_index and len(v) == 6
    assert "x" in v and "z" not in v
    assert v.lookup(["x", "z"]).tolist() == [4, 1]
    assert v.lookup_tokens([0, 5]) == ["<pad>", "y"]
    assert v.stoi["x"] == 4


def test_vocab_errors():
    with pytest.raises(ValueError, match="'x' appears more than once"):
        Vocab(["x", "x"])
    with pytest.raises(ValueError, match="must include '<unk>'"):
        Vocab(["x"], specials=["<pad>"])
    with pytest.raises(IndexError, match="index 9 out of range"):
        Vocab(["x"]).lookup_tokens([9])
    with pytest.raises(KeyError, match="no special token '<mask>'"):
        _ = Vocab(["x"], specials=["<unk>"]).mask_index


def test_vocab_builders():
    v = Vocab.from_kmers(2)
    assert len(v) == 4 + 16 and v["AA"] == 4 and v["TT"] == 19 and v["AC"] == 5
    p = Vocab.from_alphabet(PROTEIN)
    assert len(p) == 24 and p["A"] == 4 and p["Y"] == 23


def test_kmer_tokenizer_hand_checked():
    t = KmerTokenizer(3)
    assert t("ACGTN").tolist() == [10, 31, 1]  # ACG, CGT, GTN -> UNK
    assert t.vocab.lookup_tokens(t("ACGTT")) == ["ACG", "CGT", "GTT"]
    assert len(t) == 4 + 64 and t.num_kmers(5) == 3 and t.num_kmers(2) == 0
    assert KmerTokenizer(2, stride=2)("ACGTA").tolist() == [5, 15]  # AC, GT
    assert t("AC").tolist() == []
    assert t("acgt").tolist() == t("ACGT").tolist()


def test_kmer_tokenizer_batches_and_padding():
    t = KmerTokenizer(2)
    padded = np.array([[0, 1, 2, DNA.pad_token], [0, DNA.unknown_token, 1, 1]], np.int8)
    assert t(padded).tolist() == [[5, 10, 0], [1, 1, 9]]
    ragged = t(["ACG", "AC"])
    assert [r.tolist() for r in ragged] == [[5, 10], [5]]


def test_kmer_tokenizer_protein():
    t = KmerTokenizer(1, alphabet=PROTEIN)
    assert t("MKVX").tolist() == [4 + 10, 4 + 8, 4 + 17, 1]
    assert KmerTokenizer(2, alphabet=PROTEIN)("AC").tolist() == [4 + 1]


def test_kmer_tokenizer_errors():
    with pytest.raises(ValueError, match="k=0"):
        KmerTokenizer(0)
    with pytest.raises(ValueError, match="stride=0"):
        KmerTokenizer(2, stride=0)
    with pytest.raises(ValueError, match="too large"):
        KmerTokenizer(40)
    with pytest.raises(ValueError, match="lack '<pad>'"):
        KmerTokenizer(2, specials=["<unk>"])
    with pytest.raises(TypeError, match="expected integers"):
        KmerTokenizer(2)(np.zeros(4))


@given(
    st.text(alphabet="ACGTN", max_size=30),
    st.integers(1, 4),
    st.integers(1, 4),
)
@settings(max_examples=80)
def test_kmer_ids_match_naive_reference(s, k, stride):
    t = KmerTokenizer(k, stride)
    kmers = ["".join(p) for p in itertools.product("ACGT", repeat=k)]
    expected = [
        4 + kmers.index(s[i : i + k]) if "N" not in s[i : i + k] else 1
        for i in range(0, len(s) - k + 1, stride)
    ]
    assert t(encode(s)).tolist() == expected
