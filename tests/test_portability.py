"""The portability pass: every notebook's stored outputs must also hold on a CPU with fewer vector
instructions than this one, so that a reader's laptop or another CI runner sees the same page.

Each notebook is re-run under nbval in a child pytest whose environment caps, through each
library's documented switch, the instructions the numeric libraries dispatch to: PyTorch's own
kernels (``ATEN_CPU_CAPABILITY``), oneDNN, which runs PyTorch's larger convolutions
(``ONEDNN_MAX_CPU_ISA``; TensorFlow's oneDNN reads it too, unchecked here), MKL, PyTorch's BLAS (``MKL_ENABLE_INSTRUCTIONS``, effective on Intel
CPUs only) and NumPy (``NPY_DISABLE_CPU_FEATURES``, which in NumPy 2.4 accepts only its dispatch
targets: ``X86_V4`` is the AVX-512 group, and names such as ``AVX512F`` are ignored with a
warning). ``OPENBLAS_*`` variables are left as the machine sets them: some machines set them so
that OpenBLAS computes correctly.
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# AVX2 is what most laptops and cloud runners of the last ten years have.
AVX2 = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
}
# A further restriction to run by hand (PORTABILITY=sse41): SSE4.1/4.2, the floor of every
# library here (NumPy's baseline is x86-64-v2).
SSE41 = {
    "ATEN_CPU_CAPABILITY": "default",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
    "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
}
RESTRICTION = {"avx2": AVX2, "sse41": SSE41}[os.environ.get("PORTABILITY", "avx2")]


def restricted_env():
    env = dict(os.environ)
    env.update(RESTRICTION)
    return env


PROBE = """
import json, torch
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
    # Large enough that PyTorch hands the convolution to oneDNN (small ones use its own kernels).
    torch.nn.functional.conv2d(torch.ones(2, 16, 32, 32), torch.ones(16, 16, 3, 3))
print(json.dumps({"aten": torch.backends.cpu.get_cpu_capability(),
                  "numpy": [t for t in __cpu_dispatch__ if __cpu_features__[t]]}))
"""


def test_the_restriction_reaches_every_library():
    # A switch with a misspelt name or value is silently ignored: check what each library uses.
    run = subprocess.run([sys.executable, "-c", PROBE], env=restricted_env(), capture_output=True,
                         text=True, cwd=ROOT, check=True)
    used = json.loads(run.stdout.strip().splitlines()[-1])
    onednn = [line for line in run.stdout.splitlines() if ",cpu,isa:" in line]
    if RESTRICTION is AVX2:
        assert used["aten"] in ("AVX2", "DEFAULT")  # DEFAULT on a CPU without AVX2
        assert not {"X86_V4", "AVX512_ICL", "AVX512_SPR"} & set(used["numpy"])
        assert onednn and "AVX-512" not in onednn[0] and "AMX" not in onednn[0]
    else:
        assert used["aten"] == "DEFAULT" and used["numpy"] == []
        assert onednn and "SSE4.1" in onednn[0]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_hold_with_fewer_vector_instructions(notebook):
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
               "-o", "addopts=", "-q", "--nbval", "--nbval-current-env",
               "--nbval-sanitize-with", "tests/nbval_sanitize.cfg",
               str(notebook.relative_to(ROOT))]
    run = subprocess.run(command, env=restricted_env(), capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, f"{notebook.name} differs with {RESTRICTION}:\n{run.stdout[-6000:]}"


def test_workers_keep_notebooks_and_shared_fixtures_together():
    spec = importlib.util.spec_from_file_location("book_conftest", ROOT / "tests" / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    scope = conftest.scope_of
    # A notebook's cells share one kernel and must run in order on one worker.
    assert scope("notebooks/08_x.ipynb::Cell 0") == scope("notebooks/08_x.ipynb::Cell 7")
    assert scope("notebooks/08_x.ipynb::Cell 0") != scope("notebooks/09_y.ipynb::Cell 0")
    # The book and browser tests share the built site: one worker builds it once. Other test
    # modules spread over the workers.
    assert scope("tests/test_book.py::test_a") == scope("tests/test_browser.py::test_b[intro]")
    assert scope("tests/test_shapes.py::test_a") == "tests/test_shapes.py"
    assert scope("tests/test_shapes.py::test_a") != scope("tests/test_reference.py::test_a")
    # Each notebook of this pass runs alone, so the pass spreads over both workers.
    assert (scope("tests/test_portability.py::test_stored[01_a]")
            != scope("tests/test_portability.py::test_stored[02_b]"))
