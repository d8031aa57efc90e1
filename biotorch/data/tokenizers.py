"""Vocabularies with special tokens, and k-mer tokenisation of DNA/RNA/protein tokens."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from biotorch.data.alphabets import DNA, Alphabet
from biotorch.data.encoding import RaggedArray, encode

__all__ = ["Vocab", "KmerTokenizer", "SPECIALS"]

#: Default special tokens, in index order: PAD=0, UNK=1, CLS=2, MASK=3.
SPECIALS = ("<pad>", "<unk>", "<cls>", "<mask>")


class Vocab:
    """A string <-> index vocabulary whose first entries are special tokens (torchtext-style).

    Parameters
    ----------
    tokens : iterable of str
        The ordinary tokens, in index order after the specials. Must be distinct.
    specials : sequence of str
        Special tokens placed first; must contain ``"<unk>"``, the index of unknown strings.

    Examples
    --------
    >>> v = Vocab.from_kmers(2)
    >>> len(v), v["<pad>"], v["AC"], v["NN"] == v.unk_index
    (20, 0, 5, True)
    """

    def __init__(self, tokens: Iterable[str], specials: Sequence[str] = SPECIALS) -> None:
        self.itos: list[str] = list(specials) + list(tokens)
        self.stoi: dict[str, int] = {s: i for i, s in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            dup = next(s for s in self.itos if self.itos.count(s) > 1)
            raise ValueError(f"Vocab: token {dup!r} appears more than once; expected distinct")
        if "<unk>" not in self.stoi:
            raise ValueError(f"Vocab: specials {tuple(specials)!r} must include '<unk>'")
        self.specials = tuple(specials)

    @classmethod
    def from_kmers(cls, k: int, alphabet: Alphabet = DNA, specials: Sequence[str] = SPECIALS):
        """All ``len(alphabet) ** k`` k-mers in lexicographic (base-``len(alphabet)``) order."""
        _check_k(k, alphabet)
        kmers = ("".join(p) for p in itertools.product(alphabet.letters, repeat=k))
        return cls(kmers, specials)

    @classmethod
    def from_alphabet(cls, alphabet: Alphabet, specials: Sequence[str] = SPECIALS) -> Vocab:
        """One entry per letter of ``alphabet`` (e.g. the 20 amino acids), in channel order."""
        return cls(alphabet.letters, specials)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        """Index of ``token``; unknown strings map to ``unk_index``."""
        return self.stoi.get(token, self.unk_index)

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, specials={self.specials!r})"

    def _special(self, name: str) -> int:
        if name not in self.stoi:
            raise KeyError(f"Vocab: no special token {name!r} among {self.specials!r}")
        return self.stoi[name]

    @property
    def pad_index(self) -> int:
        return self._special("<pad>")

    @property
    def unk_index(self) -> int:
        return self._special("<unk>")

    @property
    def cls_index(self) -> int:
        return self._special("<cls>")

    @property
    def mask_index(self) -> int:
        return self._special("<mask>")

    def lookup(self, tokens: Iterable[str]) -> np.ndarray:
        """Indices of many tokens (unknown ones -> ``unk_index``), as ``int64``."""
        return np.array([self[t] for t in tokens], dtype=np.int64)

    def lookup_tokens(self, indices: Iterable[int]) -> list[str]:
        """Tokens at ``indices``; raises ``IndexError`` naming an index out of range."""
        out = []
        for i in np.asarray(indices, dtype=np.int64).ravel().tolist():
            if not 0 <= i < len(self):
                raise IndexError(f"Vocab: index {i} out of range for a vocab of size {len(self)}")
            out.append(self.itos[i])
        return out


def _check_k(k: int, alphabet: Alphabet) -> None:
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"KmerTokenizer: k={k!r}, expected a positive integer")
    if len(alphabet) ** k >= 2**62:
        raise ValueError(f"KmerTokenizer: k={k} is too large for int64 k-mer ids")


class KmerTokenizer:
    """Split tokens into k-mers and give each the index of a :class:`Vocab` of all k-mers.

    Ids follow :meth:`Vocab.from_kmers`: the specials come first (PAD=0, UNK=1, CLS=2, MASK=3
    by default), then k-mer ``s`` gets ``len(specials) + base-K value of s``. A k-mer that
    contains PAD gets the PAD id; one that contains N or an ambiguity code gets the UNK id.
    Computed with ``k`` vectorised passes (no loop over positions).

    Parameters
    ----------
    k : int
        k-mer length.
    stride : int
        Step between k-mer starts: 1 for overlapping k-mers, ``k`` for non-overlapping ones.
    alphabet : Alphabet
        Alphabet of the input (``DNA``, ``RNA``, ``PROTEIN`` ...).
    specials : sequence of str
        Special tokens of the vocabulary; must include ``"<pad>"`` and ``"<unk>"``.

    Examples
    --------
    >>> KmerTokenizer(3)("ACGTN")   # ACG, CGT, GTN
    array([10, 31,  1])
    """

    def __init__(
        self,
        k: int,
        stride: int = 1,
        alphabet: Alphabet = DNA,
        specials: Sequence[str] = SPECIALS,
    ) -> None:
        _check_k(k, alphabet)
        if not isinstance(stride, (int, np.integer)) or stride < 1:
            raise ValueError(f"KmerTokenizer: stride={stride!r}, expected a positive integer")
        self.k = int(k)
        self.stride = int(stride)
        self.alphabet = alphabet
        self.specials = tuple(specials)
        for name in ("<pad>", "<unk>"):
            if name not in self.specials:
                raise ValueError(f"KmerTokenizer: specials {self.specials!r} lack {name!r}")
        self.pad_index = self.specials.index("<pad>")
        self.unk_index = self.specials.index("<unk>")
        self._vocab: Vocab | None = None

    @property
    def vocab(self) -> Vocab:
        """The :class:`Vocab` of the ids (built on first use: it has ``K ** k`` entries)."""
        if self._vocab is None:
            self._vocab = Vocab.from_kmers(self.k, self.alphabet, self.specials)
        return self._vocab

    def __len__(self) -> int:
        """Vocabulary size: specials plus ``len(alphabet) ** k``."""
        return len(self.specials) + len(self.alphabet) ** self.k

    def __repr__(self) -> str:
        return f"KmerTokenizer(k={self.k}, stride={self.stride}, alphabet={self.alphabet.name})"

    def num_kmers(self, length: int) -> int:
        """Number of k-mers taken from a sequence of ``length`` tokens."""
        return 0 if length < self.k else (length - self.k) // self.stride + 1

    def __call__(self, seqs: Any) -> Any:
        """K-mer ids of text or tokens.

        Parameters
        ----------
        seqs : str, bytes, int token array ``(..., length)``, RaggedArray, or list of these
            Text is encoded with ``encode(seqs, self.alphabet)`` first.

        Returns
        -------
        int64 array ``(..., num_kmers)`` for one sequence or an equal-length batch; a list of
        1-D arrays for a ragged batch.
        """
        if isinstance(seqs, (str, bytes, bytearray)) or (
            isinstance(seqs, list) and seqs and isinstance(seqs[0], (str, bytes))
        ):
            seqs = encode(seqs, self.alphabet)
        if isinstance(seqs, (RaggedArray, list, tuple)):
            return [self._ids(np.asarray(s)) for s in seqs]
        return self._ids(np.asarray(seqs))

    def _ids(self, tokens: np.ndarray) -> np.ndarray:
        if tokens.dtype.kind not in "iu":
            raise TypeError(f"KmerTokenizer: tokens have dtype {tokens.dtype}, expected integers")
        n = self.num_kmers(tokens.shape[-1])
        base = len(self.alphabet)
        ids = np.zeros(tokens.shape[:-1] + (n,), dtype=np.int64)
        unknown = np.zeros(ids.shape, dtype=bool)
        padded = np.zeros(ids.shape, dtype=bool)
        span = (n - 1) * self.stride + 1
        for j in range(self.k):
            column = tokens[..., j : j + span : self.stride].astype(np.int64)
            ids = ids * base + column
            unknown |= (column < 0) | (column >= base)
            padded |= column == self.alphabet.pad_token
        ids += len(self.specials)
        ids[unknown] = self.unk_index
        ids[padded] = self.pad_index
        return ids
