"""Fetch the JASPAR position frequency matrices the generators use into ``motifs.json``.

Needs the ``pyjaspar`` package (``pip install pyjaspar``), which ships the JASPAR SQLite
database, so this works offline. The generators read only ``motifs.json`` (committed), so
regenerating a dataset does not need pyjaspar. JASPAR data are CC BY 4.0: cite
Rauluseviciute et al., "JASPAR 2024", Nucleic Acids Research 52(D1):D174-D182 (2024).

    python datasets/fetch_motifs.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

RELEASE = "JASPAR2024"
#: Matrix IDs (with version) of the motifs used, chosen for well-known factors of distinct
#: families and a mix of widths (10-21 bp).
MATRIX_IDS = [
    "MA0139.1",  # CTCF
    "MA0099.3",  # FOS::JUN (AP-1)
    "MA0035.4",  # GATA1
    "MA0080.4",  # SPI1 (PU.1)
    "MA0148.4",  # FOXA1
    "MA0466.2",  # CEBPB
    "MA0079.3",  # SP1
    "MA0114.4",  # HNF4A
    "MA0106.3",  # TP53
    "MA0138.2",  # REST
]
OUT = Path(__file__).with_name("motifs.json")


def fetch() -> dict:
    """The matrices of :data:`MATRIX_IDS` from pyjaspar's copy of :data:`RELEASE`."""
    from importlib.metadata import version

    from pyjaspar import jaspardb

    db = jaspardb(release=RELEASE)
    motifs = {}
    for matrix_id in MATRIX_IDS:
        m = db.fetch_motif_by_id(matrix_id)
        motifs[m.name] = {
            "matrix_id": m.matrix_id,
            "name": m.name,
            "data_type": m.data_type,
            "species": list(m.species),
            # position frequency matrix: one row per position, columns A, C, G, T
            "counts": [[int(m.counts[b][i]) for b in "ACGT"] for i in range(m.length)],
        }
    return {
        "source": f"{RELEASE} via pyjaspar {version('pyjaspar')}",
        "licence": "CC BY 4.0 (JASPAR, https://jaspar.elixir.no); cite Rauluseviciute et al., "
        "Nucleic Acids Research 52(D1):D174-D182 (2024)",
        "motifs": motifs,
    }


def main() -> None:
    text = json.dumps(fetch(), indent=1)
    # one matrix row per line
    text = re.sub(r"\[\s+([\d\s,]+?)\s+\]", lambda m: "[" + " ".join(m[1].split()) + "]", text)
    OUT.write_text(text + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
