"""Sequence alphabets: letters in channel order, unknown and PAD tokens, complements, IUPAC codes.

Token layout of an alphabet with ``K`` letters (``K`` one-hot channels):

=========================  =====================================================
token                      meaning
=========================  =====================================================
``0 .. K-1``               the letters, in channel order (``A C G T`` for DNA)
``K``                      unknown (``N`` for DNA/RNA, ``X`` for protein)
``K + 1``                  PAD (padding; one-hot row of zeros)
``K + 2 ..``               ambiguity codes (``R Y S W K M B D H V`` for DNA), only
                           produced by ``encode(..., iupac="fractional")``
=========================  =====================================================

Lowercase letters encode to the same tokens as uppercase ones. Every lookup table (bytes to
tokens, tokens to bytes, complements, one-hot rows) is built once, when the alphabet is made.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["Alphabet", "DNA", "RNA", "PROTEIN", "IUPAC_POLICIES"]

#: Accepted values of the ``iupac=`` argument of :func:`biotorch.data.encode`.
IUPAC_POLICIES = ("n", "fractional", "error")

# Marks in the byte -> token tables: a byte outside the alphabet, and an ambiguity code that the
# "error" policy forbids.
INVALID = -1
FORBIDDEN = -2


def _char(value: str, what: str, name: str) -> str:
    if not isinstance(value, str) or len(value) != 1 or not value.isascii():
        raise ValueError(f"Alphabet {name!r}: {what} {value!r} is not a single ASCII character")
    return value.upper()


class Alphabet:
    """An alphabet of single-letter residues with unknown, PAD and ambiguity tokens.

    Parameters
    ----------
    name : str
        Name used in messages and checkpoints (``"DNA"``).
    letters : str
        The letters in one-hot channel order, e.g. ``"ACGT"``. Case-insensitive.
    unknown : str
        The unknown-residue letter (``"N"``, ``"X"``); it gets token ``len(letters)``.
    ambiguity : mapping of str to str, optional
        Ambiguity codes and the letters each stands for, e.g. ``{"R": "AG"}``. The unknown
        letter stands for every letter and need not be listed.
    complement : mapping of str to str, optional
        Complement of each letter (and ambiguity code); ``None`` for alphabets without strands.
        It must be an involution. The unknown letter is its own complement.

    Examples
    --------
    >>> binary = Alphabet("binary", "01", unknown="?", complement={"0": "1", "1": "0"})
    >>> binary.pad_token, len(binary)
    (3, 2)
    """

    def __init__(
        self,
        name: str,
        letters: str,
        unknown: str = "N",
        ambiguity: Mapping[str, str] | None = None,
        complement: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        if not isinstance(letters, str) or not letters:
            raise ValueError(f"Alphabet {name!r}: letters {letters!r} must be a non-empty string")
        self.letters = "".join(_char(c, "letter", name) for c in letters)
        self.unknown = _char(unknown, "unknown letter", name)
        ambiguity = {
            _char(code, "ambiguity code", name): "".join(
                sorted(set(_char(c, "letter", name) for c in means))
            )
            for code, means in (ambiguity or {}).items()
        }
        ambiguity.pop(self.unknown, None)
        self.ambiguity_codes = "".join(ambiguity)
        symbols = self.letters + self.unknown + self.ambiguity_codes
        if len(set(symbols)) != len(symbols):
            raise ValueError(
                f"Alphabet {name!r}: letters {self.letters!r}, unknown {self.unknown!r} and "
                f"ambiguity codes {self.ambiguity_codes!r} must be distinct (case-insensitive)"
            )
        for code, means in ambiguity.items():
            if not means or not set(means) <= set(self.letters):
                raise ValueError(
                    f"Alphabet {name!r}: ambiguity code {code!r} stands for {means!r}, expected "
                    f"a non-empty subset of the letters {self.letters!r}"
                )
        k = len(self.letters)
        if k + 2 + len(ambiguity) > 127:
            raise ValueError(f"Alphabet {name!r}: too many symbols for int8 tokens")
        self.unknown_token = k
        self.pad_token = k + 1
        self.n_tokens = k + 2 + len(ambiguity)
        # token -> letter; PAD decodes to no letter (decode drops it)
        self._token_symbols = self.letters + self.unknown + "\0" + self.ambiguity_codes
        self._decode = np.frombuffer(self._token_symbols.encode("ascii"), dtype=np.uint8).copy()
        self._encode = {policy: self._byte_table(policy) for policy in IUPAC_POLICIES}
        lower = np.zeros(256, dtype=np.uint8)
        lower[[ord(c.lower()) for c in symbols if c.lower() != c]] = 1
        self._lower = lower.tobytes()  # bytes.translate table: 1 for lowercase letters
        self._one_hot_rows = self._fractions(ambiguity)
        self.complement = None if complement is None else self._complement_map(complement)
        for table in (self._decode, self._one_hot_rows):
            table.flags.writeable = False

    def _byte_table(self, iupac: str) -> bytes:
        """Byte -> token ``bytes.translate`` table for one IUPAC policy (``INVALID`` outside
        the alphabet)."""
        table = np.full(256, INVALID, dtype=np.int8)
        for token, symbol in enumerate(self._token_symbols):
            if token == self.pad_token:
                continue
            if token > self.pad_token and iupac != "fractional":
                token = self.unknown_token if iupac == "n" else FORBIDDEN
            table[[ord(symbol), ord(symbol.lower())]] = token
        return table.tobytes()

    def _fractions(self, ambiguity: Mapping[str, str]) -> np.ndarray:
        """One-hot rows (n_tokens, K): identity for letters, fractions for ambiguity codes."""
        k = len(self.letters)
        rows = np.zeros((self.n_tokens, k), dtype=np.float64)
        rows[np.arange(k), np.arange(k)] = 1.0
        for i, means in enumerate(ambiguity.values()):
            rows[k + 2 + i, [self.letters.index(c) for c in means]] = 1.0 / len(means)
        return rows

    def _complement_map(self, complement: Mapping[str, str]) -> dict[str, str]:
        comp = {
            _char(a, "complement key", self.name): _char(b, "complement", self.name)
            for a, b in complement.items()
        }
        comp.setdefault(self.unknown, self.unknown)
        needed = self.letters + self.unknown + self.ambiguity_codes
        missing = [c for c in needed if c not in comp]
        if missing:
            raise ValueError(
                f"Alphabet {self.name!r}: complement lacks {''.join(missing)!r}; expected a "
                f"complement for every symbol of {needed!r}"
            )
        bad = [c for c in needed if comp.get(comp[c]) != c]
        if bad:
            raise ValueError(
                f"Alphabet {self.name!r}: complement is not an involution at {''.join(bad)!r}"
            )
        symbols = self._token_symbols
        self._complement_tokens = np.array(
            [t if t == self.pad_token else symbols.index(comp[c]) for t, c in enumerate(symbols)],
            dtype=np.int8,
        )
        self._complement_tokens.flags.writeable = False
        # bytes -> complement bytes, keeping case; 0 marks a byte outside the alphabet
        table = np.zeros(256, dtype=np.uint8)
        for case in (str.upper, str.lower):
            src = case("".join(comp)).encode("ascii")
            dst = case("".join(comp.values())).encode("ascii")
            table[np.frombuffer(src, dtype=np.uint8)] = np.frombuffer(dst, dtype=np.uint8)
        self._complement_bytes = table.tobytes()
        self._channel_complement = np.array([self.letters.index(comp[c]) for c in self.letters])
        return comp

    def __len__(self) -> int:
        """Number of letters, i.e. of one-hot channels."""
        return len(self.letters)

    def __repr__(self) -> str:
        return f"Alphabet({self.name!r}, letters={self.letters!r}, unknown={self.unknown!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Alphabet):
            return NotImplemented
        return (
            self.letters == other.letters
            and self.unknown == other.unknown
            and self.ambiguity == other.ambiguity
            and self.complement == other.complement
        )

    def __hash__(self) -> int:
        return hash((self.letters, self.unknown, self.ambiguity_codes))

    @property
    def ambiguity(self) -> dict[str, frozenset[str]]:
        """IUPAC table: each ambiguity code (and the unknown letter) -> the set of letters."""
        k = len(self.letters)
        table = {
            code: frozenset(self.letters[j] for j in np.flatnonzero(self._one_hot_rows[k + 2 + i]))
            for i, code in enumerate(self.ambiguity_codes)
        }
        table[self.unknown] = frozenset(self.letters)
        return table

    @property
    def has_complement(self) -> bool:
        """Whether the alphabet has strands (a complement table)."""
        return self.complement is not None

    def token_of(self, symbol: str) -> int:
        """Token of one letter, the unknown letter or an ambiguity code (case-insensitive)."""
        symbol = symbol.upper() if isinstance(symbol, str) else symbol
        if (
            not isinstance(symbol, str)
            or len(symbol) != 1
            or symbol == "\0"
            or symbol not in self._token_symbols
        ):
            raise KeyError(
                f"Alphabet {self.name!r}: symbol {symbol!r} is not a letter of "
                f"{self.letters!r}, the unknown letter {self.unknown!r} or an ambiguity code "
                f"of {self.ambiguity_codes!r}"
            )
        return self._token_symbols.index(symbol)

    def one_hot_table(self, n_value: float = 0.0) -> np.ndarray:
        """Rows of the one-hot encoding, shape ``(n_tokens, len(self))``, float64.

        Letters are unit rows, PAD is zeros, the unknown token is ``n_value`` in every channel
        and each ambiguity code spreads 1 evenly over the letters it stands for.
        """
        rows = self._one_hot_rows.copy()
        rows[self.unknown_token] = n_value
        return rows

    def describe(self) -> dict[str, object]:
        """What a checkpoint records about its input encoding (alphabet, channel order, tokens)."""
        return {
            "name": self.name,
            "letters": self.letters,
            "unknown": self.unknown,
            "unknown_token": self.unknown_token,
            "pad_token": self.pad_token,
            "ambiguity": {c: "".join(sorted(s)) for c, s in self.ambiguity.items()},
            "complement": self.complement,
        }

    def _check_policy(self, iupac: str) -> bytes:
        if iupac not in IUPAC_POLICIES:
            raise ValueError(f"iupac={iupac!r} is not a policy; expected one of {IUPAC_POLICIES}")
        return self._encode[iupac]


_DNA_AMBIGUITY = {
    "R": "AG",
    "Y": "CT",
    "S": "CG",
    "W": "AT",
    "K": "GT",
    "M": "AC",
    "B": "CGT",
    "D": "AGT",
    "H": "ACT",
    "V": "ACG",
}
_DNA_COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A", "R": "Y", "Y": "R", "S": "S"}
_DNA_COMPLEMENT.update({"W": "W", "K": "M", "M": "K", "B": "V", "V": "B", "D": "H", "H": "D"})


def _to_rna(mapping: Mapping[str, str]) -> dict[str, str]:
    return {k.replace("T", "U"): v.replace("T", "U") for k, v in mapping.items()}


#: DNA: channels ``A C G T``; tokens A=0 C=1 G=2 T=3 N=4 PAD=5, IUPAC codes from 6.
DNA = Alphabet("DNA", "ACGT", "N", _DNA_AMBIGUITY, _DNA_COMPLEMENT)
#: RNA: channels ``A C G U``; tokens A=0 C=1 G=2 U=3 N=4 PAD=5, IUPAC codes from 6.
RNA = Alphabet("RNA", "ACGU", "N", _to_rna(_DNA_AMBIGUITY), _to_rna(_DNA_COMPLEMENT))
#: Protein: the 20 amino acids in alphabetical one-letter order, X=20 unknown, PAD=21;
#: B (D/N), Z (E/Q) and J (I/L) ambiguity codes. No complement.
PROTEIN = Alphabet("PROTEIN", "ACDEFGHIKLMNPQRSTVWY", "X", {"B": "DN", "Z": "EQ", "J": "IL"})
