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
# What Colab ships, besides the standard library; notebooks import nothing else but tconv_utils
# and what their setup cell installs.
COLAB = {"numpy", "torch", "tensorflow", "keras", "matplotlib", "pandas", "scipy", "sklearn",
         "IPython", "tqdm", "jax", "flax", "tconv_utils"}


def test_every_notebook_has_the_current_setup_cell():
    assert NOTEBOOKS
    assert sync_setup_cell.sync(NOTEBOOKS, write=False) == []


def test_setup_cell_installs_from_the_configured_repository():
    source = sync_setup_cell.setup_source()
    assert "git+" + sync_setup_cell.repository_url() in source


def test_setup_cell_follows_the_title_and_is_folded_away():
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# "), path.name
        assert cells[1].source.startswith(sync_setup_cell.MARKER), path.name
        assert "hide-input" in cells[1].metadata.get("tags", []), path.name


def test_setup_cell_keeps_tensorflows_default_kernels():
    # TF_ENABLE_ONEDNN_OPTS=0 would switch TensorFlow to other CPU kernels (which refuse
    # dilation > 1): the stored outputs must come from the kernels a reader runs.
    for tensorflow in (False, True):
        assert "TF_ENABLE_ONEDNN_OPTS" not in sync_setup_cell.setup_source(tensorflow=tensorflow)
    assert "import_keras()" in sync_setup_cell.setup_source(tensorflow=True)


def test_setup_cell_displays_nothing():
    # A bare expression as the last line would store its repr, such as the path of the module
    # on the machine that executed the notebook, and nbval would compare it elsewhere.
    for tensorflow in (False, True):
        for jax_onnx in (False, True):
            source = sync_setup_cell.setup_source(tensorflow=tensorflow, jax_onnx=jax_onnx)
            last = ast.parse(source).body[-1]
            assert not isinstance(last, ast.Expr), ast.dump(last)


def test_notebooks_import_only_what_colab_ships_or_their_setup_cell_installs():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        installed = set(sync_setup_cell.JAX_ONNX_PACKAGES) if sync_setup_cell.uses_jax_or_onnx(nb) else set()
        allowed = COLAB | set(sys.stdlib_module_names) | installed
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for node in ast.walk(ast.parse(cell.source)):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
                for name in names:
                    assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_jax_onnx_block_installs_only_what_is_missing_at_the_pinned_versions():
    source = sync_setup_cell.setup_source(jax_onnx=True)
    block = source[source.index("# JAX and Flax ship with Colab"):]
    requirements = (ROOT / "requirements.txt").read_text().splitlines()
    for pins in sync_setup_cell.jax_onnx_pins().values():
        assert all(pin in requirements for pin in pins)
    # Run the block with JAX and Flax present and the ONNX packages missing, as on Colab.
    calls = []
    present = {"jax", "flax"}

    class FakeUtil:
        @staticmethod
        def find_spec(name):
            return object() if name in present else None

    namespace = {"importlib": type("importlib", (), {"util": FakeUtil}), "sys": sys,
                 "subprocess": type("subprocess", (), {"run": lambda cmd, check: calls.append(cmd)})}
    exec(block, namespace)
    assert len(calls) == 1 and calls[0][:4] == [sys.executable, "-m", "pip", "install"]
    pins = sync_setup_cell.pinned()
    assert calls[0][5:] == [pins["onnx"], pins["onnxruntime"], pins["onnxscript"]]
    present |= {"onnx", "onnxruntime", "onnxscript"}
    calls.clear()
    exec(block, namespace)
    assert calls == []  # nothing missing: nothing installed


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


def test_keras_imports_without_writing_to_stderr():
    """The setup cell's quiet import: TensorFlow's start-up notice goes to os.devnull, nothing
    else is changed (the oneDNN option is not set)."""
    code = ("from tconv_utils.frameworks import import_keras; import os; import_keras(); "
            "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=ROOT)
    assert run.returncode == 0 and run.stdout.strip() == "None", run.stderr
    assert run.stderr == ""
