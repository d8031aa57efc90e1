"""Generate a small synthetic genome (5 chromosomes, 4.1 Mb) with peaks of 4 factors.

The genome is built in layers:

1. background: first-order Markov DNA with human dinucleotide frequencies, its GC content set
   per isochore-like segment (~100 kb, GC ~ N(0.41, 0.04));
2. interspersed repeats: 5'-truncated, mutated copies of three random "families" (an Alu-like
   300 bp, an L1-like 2 kb and an old MIR-like 260 bp consensus) and microsatellites, on either
   strand, soft-masked (lowercase), ~25 % of the sequence;
3. gaps and satellites: 10 kb of N at each chromosome end, a 30-60 kb N "centromere" flanked
   by 15-30 kb arrays of a 171 bp satellite monomer (lowercase), and a few small N gaps;
4. factor sites: JASPAR sites of CTCF, FOS::JUN, GATA1 and FOXA1 planted in unique
   (uppercase) sequence away from gaps. Most are bound (a narrowPeak whose summit is the site
   centre +- a few bp, signal growing with the site's log-odds score); some are unbound decoys;
   a share of GATA1 sites sit 30-150 bp from a FOS::JUN site (co-bound enhancers). Each factor
   also gets motif-less peaks (weaker) and artefact peaks inside the blacklisted regions (the
   satellite arrays and two high-signal regions per chromosome).

    python datasets/genome/make.py [--out DIR]
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import dsgen  # noqa: E402

SEED = 20240504
CHROMS = {"chr1": 1_200_000, "chr2": 1_000_000, "chr3": 800_000, "chr4": 600_000, "chr5": 500_000}
HOLDOUT = {"validation": ["chr4"], "test": ["chr5"]}
FACTORS = ["CTCF", "FOS::JUN", "GATA1", "FOXA1"]
SITES_PER_MB = 300  # bound sites per factor
P_UNBOUND, P_NO_MOTIF, P_COBOUND = 0.25, 0.15, 0.3
BLOCK = 2000  # Markov rows are this long
# repeat family: consensus length, GC, divergence, copies per Mb, shortest fragment
FAMILIES = {"alu": (300, 0.52, 0.10, 600, 250), "l1": (2000, 0.38, 0.15, 100, 200)}
FAMILIES["mir"] = (260, 0.45, 0.25, 150, 80)
MICROSATELLITES = ["CA", "A", "GGAAT", "TTAGGG", "AAAT"]
SATELLITE = 171


def background(rng: np.random.Generator, length: int) -> np.ndarray:
    """Markov DNA whose GC content changes between isochore-like segments."""
    n_blocks = -(-length // BLOCK)
    seg_gc = np.clip(rng.normal(dsgen.HUMAN_GC, 0.04, n_blocks), 0.33, 0.55)
    new_segment = rng.random(n_blocks) < BLOCK / 100_000  # a new segment every ~100 kb
    gc = seg_gc[np.maximum.accumulate(np.where(new_segment, np.arange(n_blocks), 0))]
    return dsgen.markov_background(rng, n_blocks, BLOCK, gc).ravel()[:length]


def mutate(rng: np.random.Generator, seq: np.ndarray, rate: float) -> np.ndarray:
    """``seq`` with each base replaced by a random one with probability ``rate``."""
    out = seq.copy()
    hit = rng.random(len(seq)) < rate
    out[hit] = rng.integers(0, 4, int(hit.sum()))
    return out


def non_overlapping(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Indices (sorted by start) of intervals that overlap no earlier kept one."""
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    reach = np.maximum.accumulate(np.r_[0, e[:-1]])
    return order[s >= reach]


def repeats(rng: np.random.Generator, length: int, consensi: dict) -> list[tuple]:
    """Interspersed repeat and microsatellite copies ``(start, tokens)``, not overlapping."""
    copies = []
    for name, (_, _, div, per_mb, shortest) in FAMILIES.items():
        cons = consensi[name]
        for _ in range(rng.poisson(per_mb * length / 1e6)):
            size = int(rng.integers(shortest, len(cons) + 1))
            frag = mutate(rng, cons[len(cons) - size :], div)  # 5'-truncated
            copies.append(dsgen.revcomp(frag) if rng.random() < 0.5 else frag)
    for _ in range(rng.poisson(200 * length / 1e6)):
        unit = dsgen.encode(str(rng.choice(MICROSATELLITES)))
        copies.append(mutate(rng, np.tile(unit, int(rng.integers(20, 100)) // len(unit)), 0.02))
    starts = rng.integers(0, length - 2000, len(copies))
    ends = starts + np.array([len(c) for c in copies])
    return [(int(starts[i]), copies[i]) for i in non_overlapping(starts, ends)]


def chromosome(rng: np.random.Generator, length: int, consensi: dict) -> dict:
    """One chromosome: tokens, soft-mask, N mask and the blacklisted intervals."""
    seq = background(rng, length)
    soft = np.zeros(length, bool)
    for start, copy in repeats(rng, length, consensi):
        seq[start : start + len(copy)] = copy
        soft[start : start + len(copy)] = True
    n = np.zeros(length, bool)
    n[:10_000] = n[-10_000:] = True
    cen = int(length * rng.uniform(0.3, 0.6))
    cen_end = cen + int(rng.integers(30_000, 60_001))
    n[cen:cen_end] = True
    blacklist = []
    for side in (-1, 1):  # satellite arrays on both sides of the centromere gap
        size = int(rng.integers(15, 31)) * 1000
        lo = cen - size if side < 0 else cen_end
        monomers = [mutate(rng, consensi["satellite"], 0.02) for _ in range(-(-size // SATELLITE))]
        seq[lo : lo + size] = np.concatenate(monomers)[:size]
        soft[lo : lo + size] = True
        blacklist.append((lo - 1000, lo + size + 1000))
    for _ in range(int(rng.integers(2, 5))):
        g = int(rng.integers(20_000, length - 20_000))
        n[g : g + int(rng.integers(50, 3001))] = True
    for _ in range(2):  # high-signal artefact regions in unique sequence
        lo = int(rng.integers(20_000, length - 30_000))
        blacklist.append((lo, lo + int(rng.integers(5, 11)) * 1000))
    return {"seq": seq, "soft": soft, "n": n, "blacklist": sorted(blacklist)}


def free_positions(rng: np.random.Generator, chrom: dict, count: int, width: int) -> np.ndarray:
    """Up to ``count`` random site starts in unique sequence >= 300 bp from gaps and blacklist,
    not overlapping an occupied base (and marking them occupied)."""
    bad = chrom["occupied"] | chrom["soft"]
    near = chrom["n"].copy()
    for lo, hi in chrom["blacklist"]:
        near[max(lo, 0) : hi] = True
    cum = np.r_[0, np.cumsum(near)]
    length = len(near)
    cand = rng.integers(300, length - 300 - width, 3 * count)
    ok = (cum[cand + width + 300] - cum[cand - 300]) == 0
    cum_bad = np.r_[0, np.cumsum(bad)]
    ok &= (cum_bad[cand + width] - cum_bad[cand]) == 0
    cand = cand[ok]
    keep = cand[non_overlapping(cand - 50, cand + width + 50)][:count]
    for s in keep:
        chrom["occupied"][s - 50 : s + width + 50] = True
    return np.sort(keep)


def plant_sites(rng: np.random.Generator, chroms: dict, motifs: dict) -> list[tuple]:
    """Plant every factor's sites; returns ``(chrom, start, end, factor, strand, score, bound)``."""
    sites = []
    for name, chrom in chroms.items():
        mb = len(chrom["seq"]) / 1e6
        for factor in FACTORS:
            motif = motifs[factor]
            n_bound = int(rng.poisson(SITES_PER_MB * mb))
            total = int(round(n_bound / (1 - P_UNBOUND)))
            starts = free_positions(rng, chrom, total, motif.width)
            if factor == "GATA1":  # some next to FOS::JUN sites
                ap1 = [s[1] for s in sites if s[0] == name and s[3] == "FOS::JUN"]
                take = rng.choice(ap1, int(P_COBOUND * len(starts)), replace=False)
                near = take + rng.choice([-1, 1], len(take)) * rng.integers(30, 151, len(take))
                cum = np.r_[0, np.cumsum(chrom["planted"])]
                near = near[cum[near + motif.width] == cum[near]]
                starts = np.sort(np.r_[starts[len(take) :], near])
            drawn, minus = dsgen.sample_stranded(rng, motif, len(starts))
            dsgen.plant(chrom["seq"][None], np.zeros(len(starts), int), starts, drawn)
            span = starts[:, None] + np.arange(motif.width)
            chrom["soft"][span] = False
            chrom["planted"][span] = True
            fwd = np.where(minus[:, None], dsgen.revcomp(drawn), drawn)
            score = motif.log_odds()[np.arange(motif.width), fwd].sum(1)
            bound = rng.random(len(starts)) >= P_UNBOUND
            for s, m, sc, b in zip(starts, minus, score, bound, strict=True):
                sites.append((name, int(s), int(s) + motif.width, factor, "-+"[not m], sc, b))
    return sites


def peak_rows(rng: np.random.Generator, chrom: str, summits: np.ndarray, signal: np.ndarray):
    """narrowPeak fields ``(chrom, start, end, signal, pValue, qValue, summit offset)``."""
    size = CHROMS[chrom]
    left = (80 + rng.exponential(70, len(summits))).astype(int)
    right = (80 + rng.exponential(70, len(summits))).astype(int)
    start, end = np.maximum(summits - left, 0), np.minimum(summits + right, size)
    p = np.maximum(signal * 1.8 + rng.normal(0, 1, len(signal)), 2.0)
    return [
        (chrom, int(a), int(b), float(s), float(pv), float(pv - 1.3), int(m - a))
        for a, b, s, pv, m in zip(start, end, signal, p, summits, strict=True)
    ]


def make_peaks(rng: np.random.Generator, chroms: dict, sites: list, motifs: dict) -> dict:
    """Per factor, narrowPeak rows: bound sites, motif-less peaks and blacklist artefacts."""
    peaks = {f: [] for f in FACTORS}
    for name, chrom in chroms.items():
        for factor in FACTORS:
            mine = [s for s in sites if s[0] == name and s[3] == factor and s[6]]
            centre = np.array([(s[1] + s[2]) // 2 for s in mine])
            best = motifs[factor].log_odds().max(1).sum()
            rel = np.clip(np.array([s[5] for s in mine]) / best, 0, 1)
            signal = 5 + 30 * rel**2 * rng.lognormal(0, 0.3, len(mine))
            summits = centre + np.rint(rng.normal(0, 8, len(mine))).astype(int)
            rows = peak_rows(rng, name, summits, signal)
            n_free = int(round(len(mine) * P_NO_MOTIF / (1 - P_NO_MOTIF)))
            free = free_positions(rng, chrom, n_free, 1)
            rows += peak_rows(rng, name, free, 3 + rng.lognormal(np.log(5), 0.4, len(free)))
            for lo, hi in chrom["blacklist"]:
                k = int(rng.integers(3, 7))
                s = rng.integers(lo + 300, hi - 300, k)
                rows += peak_rows(rng, name, s, rng.uniform(40, 100, k))
            peaks[factor] += sorted(rows, key=lambda r: r[1])
    return peaks


def generate(rng: np.random.Generator) -> dict:
    """Chromosomes, planted sites and peaks."""
    consensi = {
        name: dsgen.markov_background(rng, 1, size, gc)[0]
        for name, (size, gc, *_) in FAMILIES.items()
    }
    consensi["satellite"] = dsgen.markov_background(rng, 1, SATELLITE, 0.38)[0]
    chroms = {}
    for name, length in CHROMS.items():
        chroms[name] = chromosome(rng, length, consensi)
        chroms[name]["occupied"] = np.zeros(length, bool)
        chroms[name]["planted"] = np.zeros(length, bool)
    motifs = dsgen.load_motifs()
    sites = plant_sites(rng, chroms, motifs)
    return {"chroms": chroms, "sites": sites, "peaks": make_peaks(rng, chroms, sites, motifs)}


def fasta_bytes(chroms: dict) -> bytes:
    """The genome as FASTA (60 letters a line), repeats lowercase, gaps N."""
    parts = []
    for name, c in chroms.items():
        letters = np.where(c["soft"], dsgen.LETTERS[c["seq"]] | 0x20, dsgen.LETTERS[c["seq"]])
        text = np.where(c["n"], ord("N"), letters).astype(np.uint8).tobytes()
        lines = [text[i : i + 60] for i in range(0, len(text), 60)]
        parts.append(f">{name}\n".encode() + b"\n".join(lines) + b"\n")
    return b"".join(parts)


def bgzip_bytes(data: bytes) -> bytes:
    """BGZF (block gzip) compression: plain gzip readers see one stream, and pyfaidx (through
    Biopython) can index it for random access."""
    from Bio import bgzf

    class Buffer(io.BytesIO):
        def close(self) -> None:  # keep the bytes readable after the writer closes
            pass

    buf = Buffer()
    with bgzf.BgzfWriter(fileobj=buf, compresslevel=6) as writer:
        # blocks of 0xff00 bytes, as htslib's bgzip writes them: Biopython's 65536-byte
        # blocks make pyfaidx fail on reads that start at a block boundary
        for i in range(0, len(data), 0xFF00):
            writer.write(data[i : i + 0xFF00])
            writer.flush()
    return buf.getvalue()


def bed_text(rows: list[tuple]) -> str:
    return "".join("\t".join(str(x) for x in r) + "\n" for r in rows)


def write(data: dict, out: Path) -> None:
    """genome.fa.gz (BGZF), chrom.sizes, peaks/*.narrowPeak.gz, blacklist.bed, sites.bed.gz,
    holdout.json."""
    chroms = data["chroms"]
    dsgen.write_atomic(out / "genome.fa.gz", bgzip_bytes(fasta_bytes(chroms)))
    sizes = [(name, len(c["seq"])) for name, c in chroms.items()]
    dsgen.write_atomic(out / "chrom.sizes", bed_text(sizes).encode())
    for factor, rows in data["peaks"].items():
        tag = factor.replace("::", "_")
        lines = [
            (
                c,
                a,
                b,
                f"{tag}_peak{i}",
                min(1000, int(s * 20)),
                ".",
                f"{s:.3f}",
                f"{p:.3f}",
                f"{q:.3f}",
                m,
            )
            for i, (c, a, b, s, p, q, m) in enumerate(rows)
        ]
        dsgen.write_gz(out / "peaks" / f"{tag}.narrowPeak.gz", bed_text(lines))
    black = [(name, max(lo, 0), hi) for name, c in chroms.items() for lo, hi in c["blacklist"]]
    dsgen.write_atomic(out / "blacklist.bed", bed_text(black).encode())
    sites = [
        (
            c,
            a,
            b,
            f"{f.replace('::', '_')}:{'bound' if bound else 'unbound'}",
            int(np.clip(round(score * 10), 0, 1000)),
            strand,
        )
        for c, a, b, f, strand, score, bound in data["sites"]
    ]
    dsgen.write_gz(out / "sites.bed.gz", bed_text(sorted(sites, key=lambda r: (r[0], r[1]))))
    text = json.dumps(HOLDOUT, indent=1) + "\n"
    dsgen.write_atomic(out / "holdout.json", text.encode())


def main(argv: list[str] | None = None) -> None:
    dsgen.generator_main(__doc__, __file__, SEED, generate, write, argv)


if __name__ == "__main__":
    main()
