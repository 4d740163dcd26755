"""Write or check the setup cell that every notebook runs first.

The cell sits right after the title cell, its code folded away on the website (tag
``hide-input``). Where ``tconv_utils`` is missing (as on Colab) it installs it with pip from the
repository URL in ``_config.yml``, so that URL lives in one place; ``TCONV_UTILS_SOURCE``
overrides the install source (the tests point it at a local checkout). In notebooks that use
TensorFlow it also imports Keras once with TensorFlow's start-up log kept off the stored outputs.
In notebooks that use JAX, Flax or ONNX it installs whichever of those packages is missing (Colab
ships JAX and Flax, not ONNX), at the versions pinned in ``requirements.txt``.

    python book/_tools/sync_setup_cell.py --check   # exit 1 if any notebook's cell has drifted
    python book/_tools/sync_setup_cell.py --write   # rewrite the cell where it has drifted
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[2]
MARKER = "# Setup cell (written by book/_tools/sync_setup_cell.py; edit the script, not the cell)."
TAG = "hide-input"
TEMPLATE = '''{marker}
import importlib.util
import os
import subprocess
import sys

# Where the book's helper library is missing (on Colab, for instance), install it from the
# book's repository; TCONV_UTILS_SOURCE names another source, such as a local checkout.
if importlib.util.find_spec("tconv_utils") is None:
    source = os.environ.get("TCONV_UTILS_SOURCE", "git+{url}")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", source], check=True)'''
TENSORFLOW = '''

# TensorFlow writes a start-up notice to the process's stderr while it loads; import Keras once
# with that stream silenced. Which kernels TensorFlow runs is left at its defaults. (Assigned,
# so that the cell stores no output: the module's repr names a path on this machine.)
from tconv_utils.frameworks import import_keras

keras = import_keras()'''
USES_TENSORFLOW = re.compile(r"^\s*(import|from)\s+(keras|tensorflow)\b", re.MULTILINE)
# Import name -> the requirements that provide it (onnxscript: torch.onnx.export's exporter).
JAX_ONNX_PACKAGES = {"jax": ("jax", "jaxlib"), "flax": ("flax",), "onnx": ("onnx",),
                     "onnxruntime": ("onnxruntime",), "onnxscript": ("onnxscript",)}
JAX_ONNX = '''

# JAX and Flax ship with Colab; ONNX, ONNX Runtime and onnxscript (which torch.onnx.export needs)
# do not. Install whichever of them is missing, at the versions this page was executed with.
pins = {pins}
missing = [pin for module, module_pins in pins.items() if importlib.util.find_spec(module) is None
           for pin in module_pins]
if missing:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing], check=True)'''
USES_JAX_ONNX = re.compile(r"^\s*(import|from)\s+(jax|flax|onnx|onnxruntime)\b", re.MULTILINE)


def repository_url(root: Path = ROOT) -> str:
    config = yaml.safe_load((root / "_config.yml").read_text())
    return config["repository"]["url"]


def pinned(root: Path = ROOT) -> dict[str, str]:
    """``{name: "name==version"}`` for every exact pin in ``requirements.txt``."""
    pins = {}
    for line in (root / "requirements.txt").read_text().splitlines():
        match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)==(\S+)\s*(#.*)?", line)
        if match:
            pins[match[1].lower()] = f"{match[1]}=={match[2]}"
    return pins


def jax_onnx_pins(root: Path = ROOT) -> dict[str, list[str]]:
    """Import name -> the pinned requirements that install it, from ``requirements.txt``."""
    pins = pinned(root)
    return {module: [pins[name] for name in names] for module, names in JAX_ONNX_PACKAGES.items()}


def setup_source(root: Path = ROOT, tensorflow: bool = False, jax_onnx: bool = False) -> str:
    """The setup cell's code; with ``tensorflow``, the lines that import Keras quietly too; with
    ``jax_onnx``, the lines that install whichever of JAX, Flax and ONNX is missing."""
    source = TEMPLATE.format(marker=MARKER, url=repository_url(root))
    if tensorflow:
        source += TENSORFLOW
    if jax_onnx:
        source += JAX_ONNX.format(pins="{\n    " + ",\n    ".join(
            f"{json.dumps(module)}: {json.dumps(pins)}" for module, pins in jax_onnx_pins(root).items()) + ",\n}")
    return source


def _imports(nb, pattern) -> bool:
    return any(pattern.search(c.source) for c in nb.cells
               if c.cell_type == "code" and not c.source.startswith(MARKER))


def uses_tensorflow(nb) -> bool:
    """Whether a code cell other than the setup cell imports keras or tensorflow."""
    return _imports(nb, USES_TENSORFLOW)


def uses_jax_or_onnx(nb) -> bool:
    """Whether a code cell other than the setup cell imports jax, flax, onnx or onnxruntime."""
    return _imports(nb, USES_JAX_ONNX)


def setup_cell_index(nb) -> int:
    """Where the setup cell belongs: right after the title cell."""
    return 1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0


def sync(paths, write: bool, root: Path = ROOT) -> list[str]:
    """Return the notebooks whose setup cell differs from the wanted one (fixed if write)."""
    drifted = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        wanted = setup_source(root, tensorflow=uses_tensorflow(nb), jax_onnx=uses_jax_or_onnx(nb))
        index = setup_cell_index(nb)
        current = [i for i, c in enumerate(nb.cells)
                   if c.cell_type == "code" and c.source.startswith(MARKER)]
        cell = nb.cells[index] if current == [index] else None
        if cell is not None and cell.source == wanted and TAG in cell.metadata.get("tags", []):
            continue
        drifted.append(str(path))
        if not write:
            continue
        old = [nb.cells[i] for i in current]
        for i in reversed(current):
            del nb.cells[i]
        cell = old[0] if old else nbformat.v4.new_code_cell()
        cell.source = wanted
        cell.metadata["tags"] = [TAG] + [t for t in cell.metadata.get("tags", []) if t != TAG]
        nb.cells.insert(setup_cell_index(nb), cell)
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
