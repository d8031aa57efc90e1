import itertools
from collections import Counter

import numpy as np
import pytest

from biotorch.data import decode, dinucleotide_shuffle, encode


def counts(seq, symbols):
    seq = np.asarray(seq, dtype=np.int64)
    return np.bincount(seq[:-1] * symbols + seq[1:], minlength=symbols * symbols)


@pytest.mark.parametrize("length", [1, 2, 3, 10, 101, 1000])
@pytest.mark.parametrize("letters", [1, 2, 4, 5])
def test_dinucleotide_shuffle_preserves_counts_and_ends(length, letters):
    rng = np.random.default_rng(length * 10 + letters)
    for _ in range(20):
        seq = rng.integers(0, letters, length).astype(np.uint8)
        out = dinucleotide_shuffle(seq, rng)
        assert out.dtype == seq.dtype and len(out) == len(seq)
        np.testing.assert_array_equal(counts(out, letters), counts(seq, letters))
        assert out[0] == seq[0] and out[-1] == seq[-1]


def test_dinucleotide_shuffle_shuffles_is_seeded_and_reaches_every_walk():
    seq = np.random.default_rng(0).integers(0, 4, 200).astype(np.uint8)
    a = dinucleotide_shuffle(seq, np.random.default_rng(1))
    b = dinucleotide_shuffle(seq, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert (a != seq).mean() > 0.5
    # every sequence with ACAGACGA's dinucleotides and ends (found by brute force) occurs, about
    # equally often (the shuffle is uniform over Eulerian walks)
    text = "ACAGACGA"
    walks = {
        t
        for t in map("".join, itertools.permutations(text))
        if t[0] == t[-1] == "A" and dinucleotides(t) == dinucleotides(text)
    }
    rng = np.random.default_rng(2)
    seen = Counter(decode(dinucleotide_shuffle(encode(text), rng)) for _ in range(600))
    assert len(walks) == 6 and set(seen) == walks
    assert min(seen.values()) > 60


def dinucleotides(text):
    return Counter(text[i : i + 2] for i in range(len(text) - 1))


def test_dinucleotide_shuffle_rejects_text_and_2d():
    with pytest.raises(ValueError, match="1-D integer array"):
        dinucleotide_shuffle(np.zeros((2, 5), np.int8))
    with pytest.raises(ValueError, match="1-D integer array"):
        dinucleotide_shuffle(np.array(list("ACGT")))
