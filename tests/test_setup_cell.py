"""Every notebook opens with the setup cell the sync script writes, and that cell works on a
machine without tconv_utils (as on Colab)."""
import ast
import importlib.util
import os
import subprocess
import sys
import venv
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("sync_setup_cell",
                                              ROOT / "book" / "_tools" / "sync_setup_cell.py")
sync_setup_cell = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sync_setup_cell)
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# What Colab ships, besides the standard library; notebooks import nothing else but tconv_utils.
COLAB = {"numpy", "torch", "tensorflow", "keras", "matplotlib", "scipy", "sklearn", "IPython",
         "tqdm", "tconv_utils"}


def test_every_notebook_has_the_current_setup_cell():
    assert NOTEBOOKS
    assert sync_setup_cell.sync(NOTEBOOKS, write=False) == []


def test_setup_cell_installs_from_the_configured_repository():
    source = sync_setup_cell.setup_source()
    assert "git+" + sync_setup_cell.repository_url() in source
    assert 'os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"' in source


def test_notebooks_import_only_what_colab_ships():
    allowed = COLAB | set(sys.stdlib_module_names)
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for node in ast.walk(ast.parse(cell.source)):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
                for name in names:
                    assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_setup_cell_installs_tconv_utils_into_a_fresh_environment(tmp_path):
    """Run the cell in a new virtual environment that lacks tconv_utils, installing from this
    checkout instead of the repository URL, then import the package there."""
    env_dir = tmp_path / "colab-like"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    check = [str(python), "-c", "import importlib.util as u; print(u.find_spec('tconv_utils'))"]
    # cwd: away from the checkout, whose tconv_utils/ folder `python -c` would find.
    assert subprocess.run(check, capture_output=True, text=True, cwd=tmp_path).stdout.strip() == "None"

    env = dict(os.environ, TCONV_UTILS_SOURCE=str(ROOT), PIP_DISABLE_PIP_VERSION_CHECK="1")
    run = subprocess.run([str(python), "-c", sync_setup_cell.setup_source()], env=env,
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    # Every module imports with NumPy alone: frameworks and matplotlib load inside functions.
    use = subprocess.run([str(python), "-c", "import importlib, pkgutil, tconv_utils; "
                          "[importlib.import_module('tconv_utils.' + m.name) "
                          " for m in pkgutil.iter_modules(tconv_utils.__path__)]; "
                          "print(tconv_utils.trans_conv([[0, 1], [2, 3]], [[4, 1], [2, 3]]).tolist())"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert use.returncode == 0, use.stderr[-3000:]
    assert use.stdout.strip() == "[[0.0, 4.0, 1.0], [8.0, 16.0, 6.0], [4.0, 12.0, 9.0]]"
