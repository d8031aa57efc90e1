"""What the recipes share: running ``examples/train_fasta.py`` (as a separate process, with its
command line) and ``run_cli`` of ``examples/example_utils.py`` (bad input in one line). The
recipes import it as a sibling module (``python examples/recipes/NAME.py`` puts
``examples/recipes/`` on ``sys.path``)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent
TRAIN_FASTA = EXAMPLES / "train_fasta.py"


def train_fasta(argv: list[str], output_dir: Path) -> dict:
    """Run ``train_fasta.py ARGV --output-dir OUTPUT_DIR`` (its report goes to this process's
    stdout/stderr) and return its ``metrics.json``; a failed run ends the recipe with its exit
    status (train_fasta has said why)."""
    command = [sys.executable, str(TRAIN_FASTA), *argv, "--output-dir", str(output_dir)]
    done = subprocess.run(command)
    if done.returncode != 0:
        raise SystemExit(done.returncode)
    return json.loads((Path(output_dir) / "metrics.json").read_text())


def _example_utils():
    """``examples/example_utils.py``, loaded from its file (sys.path stays as it is)."""
    spec = importlib.util.spec_from_file_location("example_utils", EXAMPLES / "example_utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_cli = _example_utils().run_cli
