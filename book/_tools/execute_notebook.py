"""Execute notebooks in place, in a fresh kernel each, the way `make execute` stores outputs.

`jupyter execute` stores each burst of printed text as its own output, so one cell's stdout can
land in several pieces, split wherever the kernel happened to flush (on a busy machine, even in
the middle of a print). This runs nbclient itself with ``coalesce_streams=True``: each cell
keeps one stdout (and one stderr) output, the same on every run.

    python book/_tools/execute_notebook.py notebooks/02_manual_loop.ipynb [more.ipynb ...]
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path, timeout: int = 1200) -> None:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, coalesce_streams=True,
                   resources={"metadata": {"path": str(path.parent.absolute())}}).execute()
    nbformat.write(nb, path)


def main(argv=None) -> int:
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    if not paths:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    for path in paths:
        print(f"executing {path}", flush=True)
        execute(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
