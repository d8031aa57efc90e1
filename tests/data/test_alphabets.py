import numpy as np
import pytest

from biotorch.data import DNA, PROTEIN, RNA, Alphabet


def test_token_layout_of_builtins():
    assert DNA.letters == "ACGT" and len(DNA) == 4
    assert (DNA.unknown, DNA.unknown_token, DNA.pad_token) == ("N", 4, 5)
    assert RNA.letters == "ACGU" and RNA.pad_token == 5
    assert PROTEIN.letters == "ACDEFGHIKLMNPQRSTVWY" == "".join(sorted(PROTEIN.letters))
    assert (PROTEIN.unknown, PROTEIN.unknown_token, PROTEIN.pad_token) == ("X", 20, 21)
    assert [DNA.token_of(c) for c in "acgtn"] == [0, 1, 2, 3, 4]


def test_iupac_table_and_complement():
    assert DNA.ambiguity["R"] == {"A", "G"}
    assert DNA.ambiguity["N"] == set("ACGT")
    assert DNA.ambiguity["B"] == set("CGT")
    assert RNA.ambiguity["Y"] == {"C", "U"}
    assert PROTEIN.ambiguity["J"] == {"I", "L"}
    assert DNA.complement["A"] == "T" and DNA.complement["R"] == "Y" and DNA.complement["N"] == "N"
    assert RNA.complement["A"] == "U"
    assert not PROTEIN.has_complement


def test_one_hot_table_rows():
    table = DNA.one_hot_table(0.25)
    np.testing.assert_array_equal(table[:4], np.eye(4))
    np.testing.assert_array_equal(table[DNA.unknown_token], [0.25] * 4)
    np.testing.assert_array_equal(table[DNA.pad_token], [0] * 4)
    np.testing.assert_allclose(table[DNA.token_of("R")], [0.5, 0, 0.5, 0])
    np.testing.assert_allclose(table.sum(1)[DNA.token_of("B") :], 1.0)


def test_user_defined_alphabet():
    binary = Alphabet("binary", "01", unknown="?", complement={"0": "1", "1": "0"})
    assert (binary.unknown_token, binary.pad_token, binary.n_tokens) == (2, 3, 4)
    assert binary.complement == {"0": "1", "1": "0", "?": "?"}
    assert binary == Alphabet("binary", "01", unknown="?", complement={"0": "1", "1": "0"})
    assert binary != DNA
    assert DNA.describe()["letters"] == "ACGT"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"letters": "AAC"}, "must be distinct"),
        ({"letters": ""}, "non-empty"),
        ({"letters": "AC", "unknown": "NN"}, "single ASCII"),
        ({"letters": "AC", "ambiguity": {"R": "AG"}}, "subset of the letters"),
        ({"letters": "AC", "complement": {"A": "C"}}, "complement lacks 'C'"),
        ({"letters": "ACG", "complement": {"A": "C", "C": "G", "G": "A"}}, "not an involution"),
    ],
)
def test_bad_alphabets(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Alphabet("bad", **kwargs)


def test_token_of_unknown_symbol():
    with pytest.raises(KeyError, match="symbol 'Z'"):
        DNA.token_of("Z")
