import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biotorch.data import (
    DNA,
    PROTEIN,
    RNA,
    RaggedArray,
    decode,
    encode,
    one_hot,
    reverse_complement,
)

dna_text = st.text(alphabet="ACGTNacgtn", max_size=60)
iupac_text = st.text(alphabet="ACGTNRYSWKMBDHVacgtnryswkmbdhv", max_size=60)


def test_encode_single_hand_checked():
    tokens = encode("ACGTNacgtn")
    assert tokens.dtype == np.int8 and tokens.ndim == 1
    assert tokens.tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]
    assert encode("ACGU", RNA).tolist() == [0, 1, 2, 3]
    assert encode("ACDY", PROTEIN).tolist() == [0, 1, 2, 19]
    assert encode("").shape == (0,)


def test_encode_input_types():
    from Bio.Seq import Seq
    from Bio.SeqRecord import SeqRecord

    expected = [0, 1, 2, 3]
    for seq in ["ACGT", b"ACGT", bytearray(b"ACGT"), np.frombuffer(b"ACGT", np.uint8), Seq("ACGT")]:
        assert encode(seq).tolist() == expected
    assert encode(SeqRecord(Seq("ACGT"), id="r")).tolist() == expected
    batch = encode([SeqRecord(Seq("AC"), id="a"), Seq("GT"), b"TT", "aa"])
    assert batch.tolist() == [[0, 1], [2, 3], [3, 3], [0, 0]]
    assert encode(iter(["AC", "GT"])).shape == (2, 2)
    uint8_batch = np.frombuffer(b"ACGTTTTT", np.uint8).reshape(2, 4)
    assert encode(uint8_batch).tolist() == [[0, 1, 2, 3], [3, 3, 3, 3]]


def test_encode_batch_shapes():
    assert encode(["ACG", "TTT"]).shape == (2, 3)
    assert encode([]).shape == (0, 0)
    ragged = encode(["ACG", "T", ""])
    assert isinstance(ragged, RaggedArray)
    assert ragged.offsets.tolist() == [0, 3, 4, 4]
    assert ragged.lengths.tolist() == [3, 1, 0]
    assert ragged[1].tolist() == [3] and ragged[-1].size == 0
    assert [r.tolist() for r in ragged] == [[0, 1, 2], [3], []]
    with pytest.raises(IndexError, match="index 3 out of range for 3 rows"):
        ragged[3]
    with pytest.raises(TypeError, match="expected an int"):
        ragged[[0, 1]]
    with pytest.raises(ValueError, match="offsets"):
        RaggedArray(np.zeros(3), [0, 2])


def test_soft_mask():
    tokens, mask = encode("ACgtN", return_soft_mask=True)
    assert tokens.tolist() == [0, 1, 2, 3, 4]
    assert mask.tolist() == [False, False, True, True, False]
    tokens, mask = encode(["Ac", "g"], return_soft_mask=True)
    assert isinstance(mask, RaggedArray) and mask.data.tolist() == [False, True, True]


def test_iupac_policies():
    assert encode("ACR").tolist() == [0, 1, 4]
    assert encode("ACR", iupac="fractional").tolist() == [0, 1, DNA.token_of("R")]
    with pytest.raises(ValueError, match="IUPAC ambiguity code 'r' at position 2"):
        encode("ACr", iupac="error")
    assert encode("ACN", iupac="error").tolist() == [0, 1, 4]
    with pytest.raises(ValueError, match="iupac='x' is not a policy"):
        encode("A", iupac="x")


def test_errors_name_sequence_position_character():
    with pytest.raises(ValueError, match=r"sequence 1: invalid character 'J' at position 2"):
        encode(["ACGT", "ACJT"])
    with pytest.raises(ValueError, match=r"sequence 2: IUPAC ambiguity code 'Y' at position 0"):
        encode(["A", "C", "Y"], iupac="error")
    with pytest.raises(ValueError, match=r"invalid character '-' at position 1"):
        encode("A-C")
    with pytest.raises(ValueError, match=r"sequence 1: invalid character 'é' at position 1"):
        encode(["AC", "Aé"])
    with pytest.raises(ValueError, match=r"invalid character 'U'"):
        encode("ACGU", DNA)
    with pytest.raises(TypeError, match="1-D uint8 array"):
        encode([np.zeros(3, np.int64)])
    with pytest.raises(TypeError, match="expected a sequence"):
        encode(12)


def test_decode():
    assert decode(encode("acgtn")) == "ACGTN"
    assert decode(encode(["AC", "GT"])) == ["AC", "GT"]
    assert decode(encode(["ACG", "T"])) == ["ACG", "T"]
    padded = np.array([[0, 1, 5], [5, 5, 3]], np.int8)
    assert decode(padded) == ["AC", "T"]
    assert decode([np.array([0, 1]), np.array([2])]) == ["AC", "G"]
    assert decode(encode("MKVX", PROTEIN), PROTEIN) == "MKVX"
    with pytest.raises(ValueError, match="token 16 at flat position 1"):
        decode(np.array([0, 16]))
    with pytest.raises(ValueError, match="token -1"):
        decode(np.array([0, -1], np.int8))


@given(dna_text)
def test_decode_encode_roundtrip(s):
    assert decode(encode(s)) == s.upper()


@given(iupac_text)
def test_decode_encode_roundtrip_fractional(s):
    assert decode(encode(s, iupac="fractional")) == s.upper()


def test_one_hot_hand_checked():
    x = one_hot(encode("ACGTN"))
    assert x.shape == (4, 5) and x.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_array_equal(x, np.concatenate([np.eye(4), np.zeros((4, 1))], axis=1))
    x = one_hot(encode("N"), n_value=0.25)
    np.testing.assert_array_equal(x[:, 0], [0.25] * 4)
    x = one_hot(encode("RA", iupac="fractional"), dtype=np.float64)
    np.testing.assert_array_equal(x[:, 0], [0.5, 0, 0.5, 0])
    assert x.dtype == np.float64
    assert one_hot(encode("MKV", PROTEIN), PROTEIN).shape == (20, 3)


@given(st.lists(iupac_text, min_size=1, max_size=4), st.sampled_from([0.0, 0.25]))
@settings(max_examples=50)
def test_one_hot_matches_table_gather(seqs, n_value):
    tokens = encode(seqs, iupac="fractional")
    tokens = tokens.data if isinstance(tokens, RaggedArray) else tokens
    expected = DNA.one_hot_table(n_value).astype(np.float32)[tokens]
    np.testing.assert_array_equal(one_hot(tokens, n_value=n_value, channels_last=True), expected)
    np.testing.assert_array_equal(one_hot(tokens, n_value=n_value), np.moveaxis(expected, -1, -2))


def test_one_hot_batch_and_padding():
    tokens = np.array([[0, 4, 5], [3, 2, 1]], np.int8)
    x = one_hot(tokens, n_value=0.25)
    assert x.shape == (2, 4, 3)
    np.testing.assert_array_equal(x[0, :, 1], [0.25] * 4)
    np.testing.assert_array_equal(x[0, :, 2], [0] * 4)
    assert one_hot(tokens, channels_last=True).shape == (2, 3, 4)
    assert one_hot(tokens.astype(np.int64)).shape == (2, 4, 3)


def test_one_hot_bad_input():
    with pytest.raises(ValueError, match="token 16 .* not a DNA token"):
        one_hot(np.array([0, 16], np.int8))
    with pytest.raises(TypeError, match="expected an integer array"):
        one_hot(np.zeros(3))
    with pytest.raises(TypeError, match="expected an integer array"):
        one_hot([0, 1])
    with pytest.raises(ValueError, match="0-d"):
        one_hot(np.int8(1))


def test_reverse_complement_text():
    assert reverse_complement("ACGTN") == "NACGT"
    assert reverse_complement("aacR") == "Ygtt"
    assert reverse_complement(b"AAC") == b"GTT"
    assert reverse_complement(["AC", "GG"]) == ["GT", "CC"]
    assert reverse_complement("ACGU", RNA) == "ACGU"
    with pytest.raises(ValueError, match="invalid character 'J' at position 1"):
        reverse_complement("AJ")
    with pytest.raises(ValueError, match="PROTEIN has no complement"):
        reverse_complement("ACD", PROTEIN)


def test_reverse_complement_tokens_and_one_hot_agree():
    tokens = encode(["AACGTN", "RYGGCA"], iupac="fractional")
    rc = reverse_complement(tokens)
    assert decode(rc) == ["NACGTT", "TGCCRY"]
    np.testing.assert_array_equal(reverse_complement(one_hot(tokens)), one_hot(rc))
    cl = one_hot(tokens, channels_last=True)
    np.testing.assert_array_equal(
        reverse_complement(cl, channels_last=True), one_hot(rc, channels_last=True)
    )


def test_reverse_complement_padding_aware():
    tokens = np.array([[0, 0, 1, 5, 5], [2, 3, 3, 3, 1]], np.int8)
    rc = reverse_complement(tokens, lengths=[3, 5])
    assert rc.tolist() == [[2, 3, 3, 5, 5], [2, 0, 0, 0, 1]]
    left = np.array([[5, 5, 0, 0, 1]], np.int8)
    assert reverse_complement(left, lengths=[3], side="left").tolist() == [[5, 5, 2, 3, 3]]
    np.testing.assert_array_equal(reverse_complement(one_hot(tokens), lengths=[3, 5]), one_hot(rc))
    with pytest.raises(ValueError, match="lengths has 1 entries"):
        reverse_complement(tokens, lengths=[3])
    with pytest.raises(ValueError, match="lengths must lie in"):
        reverse_complement(tokens, lengths=[3, 6])
    with pytest.raises(ValueError, match="expected 4 channels"):
        reverse_complement(np.zeros((3, 5)))


@given(iupac_text)
def test_reverse_complement_is_an_involution(s):
    assert reverse_complement(reverse_complement(s)) == s
    tokens = encode(s, iupac="fractional")
    np.testing.assert_array_equal(reverse_complement(reverse_complement(tokens)), tokens)
    x = one_hot(tokens, n_value=0.25)
    np.testing.assert_array_equal(reverse_complement(reverse_complement(x)), x)
    assert decode(reverse_complement(tokens)) == reverse_complement(s).upper()


@given(st.lists(dna_text, min_size=1, max_size=5), st.sampled_from(["right", "left"]))
@settings(max_examples=50)
def test_padded_reverse_complement_is_an_involution(seqs, side):
    from biotorch.data import pad_sequences

    tokens, lengths, _ = pad_sequences([encode(s) for s in seqs], side=side)
    rc = reverse_complement(tokens, lengths=lengths, side=side)
    assert decode(rc) == [reverse_complement(s).upper() for s in seqs]
    np.testing.assert_array_equal(reverse_complement(rc, lengths=lengths, side=side), tokens)


def test_import_biotorch_data_does_not_import_heavy_modules():
    import subprocess
    import sys

    code = (
        "import sys, biotorch.data.encoding, biotorch.data.transforms, biotorch.data.samplers; "
        "print([m for m in ('Bio', 'cupy', 'pandas', 'pyfaidx', 'torch') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.gpu
def test_one_hot_and_reverse_complement_on_cupy():
    import cupy

    tokens = encode(["ACGTNR", "TTGCAN"], iupac="fractional")
    gpu = cupy.asarray(tokens)
    for n_value in (0.0, 0.25):
        np.testing.assert_array_equal(
            one_hot(gpu, n_value=n_value).get(), one_hot(tokens, n_value=n_value)
        )
    np.testing.assert_array_equal(reverse_complement(gpu).get(), reverse_complement(tokens))
    x = one_hot(gpu)
    np.testing.assert_array_equal(reverse_complement(x).get(), one_hot(reverse_complement(tokens)))
    np.testing.assert_array_equal(
        reverse_complement(gpu, lengths=[3, 6]).get(), reverse_complement(tokens, lengths=[3, 6])
    )
    assert decode(gpu) == ["ACGTNR", "TTGCAN"]
