"""Write or check the setup cell that opens every notebook.

The cell quiets TensorFlow's start-up logging and, where ``tconv_utils`` is missing (as on
Colab), installs it with pip from the repository URL in ``_config.yml``, so that URL lives in
one place. ``TCONV_UTILS_SOURCE`` overrides the install source (the tests point it at a local
checkout).

    python book/_tools/sync_setup_cell.py --check   # exit 1 if any notebook's cell has drifted
    python book/_tools/sync_setup_cell.py --write   # rewrite the cell where it has drifted
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[2]
MARKER = "# Setup cell (written by book/_tools/sync_setup_cell.py; edit the script, not the cell)."
TEMPLATE = '''{marker}
# Quiet TensorFlow's start-up logging before anything imports it, and install the book's
# helper library tconv_utils where it is missing (on Colab, for instance).
import importlib.util
import os
import subprocess
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
if importlib.util.find_spec("tconv_utils") is None:
    source = os.environ.get("TCONV_UTILS_SOURCE", "git+{url}")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", source], check=True)'''


def repository_url(root: Path = ROOT) -> str:
    config = yaml.safe_load((root / "_config.yml").read_text())
    return config["repository"]["url"]


def setup_source(root: Path = ROOT) -> str:
    return TEMPLATE.format(marker=MARKER, url=repository_url(root))


def first_code_cell(nb):
    return next((c for c in nb.cells if c.cell_type == "code"), None)


def sync(paths, write: bool, root: Path = ROOT) -> list[str]:
    """Return the notebooks whose first code cell differs from the setup cell (fixed if write)."""
    wanted = setup_source(root)
    drifted = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        cell = first_code_cell(nb)
        if cell is not None and cell.source == wanted:
            continue
        drifted.append(str(path))
        if not write:
            continue
        if cell is not None and cell.source.startswith(MARKER):
            cell.source = wanted
        else:
            index = nb.cells.index(cell) if cell is not None else len(nb.cells)
            nb.cells.insert(index, nbformat.v4.new_code_cell(wanted))
        nbformat.write(nb, path)
    return drifted


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="report drift, change nothing")
    mode.add_argument("--write", action="store_true", help="rewrite drifted setup cells")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="default: every notebook under notebooks/")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    drifted = sync(paths, write=args.write)
    for path in drifted:
        print(("rewrote setup cell: " if args.write else "setup cell differs: ") + path)
    return 1 if drifted and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
