"""Shuffles that keep a sequence's composition: background sequences for negatives and for
attribution baselines."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["dinucleotide_shuffle"]


def dinucleotide_shuffle(tokens: Any, rng: np.random.Generator | None = None) -> np.ndarray:
    """A uniformly random sequence with exactly the dinucleotide counts, and the first and last
    token, of ``tokens`` (Altschul & Erickson 1985), drawn as a random Eulerian walk.

    ``tokens`` is a 1-D integer array (``biotorch.data.encode``); every token, N included, is a
    symbol like any other. ``rng`` is a ``numpy.random.Generator`` (a fresh one if None).
    Sequences shorter than 3 come back as a copy.

    For each token but the last one, a random outgoing edge is chosen to be used last; these
    must form a tree pointing to the last token (drawn again otherwise). The other edges leave
    each token in random order, and walking from the first token uses every edge once.
    """
    seq = np.asarray(tokens)
    if seq.ndim != 1 or seq.dtype.kind not in "iu":
        raise ValueError(
            f"dinucleotide_shuffle: tokens must be a 1-D integer array, got shape {seq.shape} "
            f"and dtype {seq.dtype}"
        )
    rng = np.random.default_rng() if rng is None else rng
    if len(seq) < 3:
        return seq.copy()
    src, dst = seq[:-1], seq[1:]
    last = int(seq[-1])
    letters = np.unique(seq).tolist()
    out_edges = {v: dst[src == v] for v in letters}
    while True:
        last_edge = {v: int(rng.integers(len(out_edges[v]))) for v in letters if v != last}
        if _leads_to(last, last_edge, out_edges):
            break
    order = {}
    for v, edges in out_edges.items():
        if v in last_edge:
            rest = np.delete(edges, last_edge[v])
            order[v] = np.append(rng.permutation(rest), edges[last_edge[v]])
        else:
            order[v] = rng.permutation(edges)
    used = dict.fromkeys(letters, 0)
    out = np.empty_like(seq)
    out[0] = u = int(seq[0])
    for i in range(1, len(seq)):
        nxt = int(order[u][used[u]])
        used[u] += 1
        out[i] = u = nxt
    return out


def _leads_to(last: int, last_edge: dict, out_edges: dict) -> bool:
    """Whether following each token's chosen last edge reaches ``last`` without a cycle."""
    for v in last_edge:
        seen, u = set(), v
        while u != last:
            if u in seen:
                return False
            seen.add(u)
            u = int(out_edges[u][last_edge[u]])
    return True
