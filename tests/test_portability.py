"""The portability check: `make test` runs nbval, and every other test, with the numeric
libraries capped at AVX2 (tests/vector_instructions.py), so that the stored outputs must hold on
a CPU with fewer vector instructions than the maintainer's. These tests check that the cap is in
force where nbval's kernels run and that each library obeys it: a switch with a misspelt name or
value is silently ignored.
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import vector_instructions

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, torch
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
    # Large enough that PyTorch hands the convolution to oneDNN (small ones use its own kernels).
    torch.nn.functional.conv2d(torch.ones(2, 16, 32, 32), torch.ones(16, 16, 3, 3))
print(json.dumps({"aten": torch.backends.cpu.get_cpu_capability(),
                  "numpy": [t for t in __cpu_dispatch__ if __cpu_features__[t]]}))
"""


def test_the_cap_is_set_for_this_process_and_its_children():
    # nbval starts each notebook's kernel with this process's environment (jupyter_client).
    for name, value in vector_instructions.restriction().items():
        assert os.environ.get(name) == value, name


def test_each_library_obeys_the_cap():
    # A child of this worker, as a notebook kernel is: it inherits the environment.
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    used = json.loads(run.stdout.strip().splitlines()[-1])
    onednn = [line for line in run.stdout.splitlines() if ",cpu,isa:" in line]
    cap = vector_instructions.restriction()
    if cap is vector_instructions.AVX2:
        assert used["aten"] in ("AVX2", "DEFAULT")  # DEFAULT on a CPU without AVX2
        assert not {"X86_V4", "AVX512_ICL", "AVX512_SPR"} & set(used["numpy"])
        assert onednn and "AVX-512" not in onednn[0] and "AMX" not in onednn[0]
    elif cap is vector_instructions.SSE41:
        assert used["aten"] == "DEFAULT" and used["numpy"] == []
        assert onednn and "SSE4.1" in onednn[0]


def test_an_unknown_level_is_refused(monkeypatch):
    monkeypatch.setenv("PORTABILITY", "avx512")
    try:
        vector_instructions.restriction()
    except ValueError as error:
        assert "PORTABILITY='avx512'" in str(error) and "avx2" in str(error)
    else:
        raise AssertionError("PORTABILITY=avx512 was accepted")


def test_workers_keep_notebooks_together_and_spread_the_browser_pages():
    spec = importlib.util.spec_from_file_location("book_conftest", ROOT / "tests" / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    scope = conftest.scope_of
    # A notebook's cells share one kernel and must run in order on one worker.
    assert scope("notebooks/08_x.ipynb::Cell 0") == scope("notebooks/08_x.ipynb::Cell 7")
    assert scope("notebooks/08_x.ipynb::Cell 0") != scope("notebooks/09_y.ipynb::Cell 0")
    # The PDF tests share one printed book; other test modules spread over the workers.
    assert scope("tests/test_pdf.py::test_a") == scope("tests/test_pdf.py::test_b")
    assert scope("tests/test_shapes.py::test_a") == "tests/test_shapes.py"
    assert scope("tests/test_shapes.py::test_a") != scope("tests/test_reference.py::test_a")
    # Each page of the browser test may go to either worker.
    assert (scope("tests/test_browser.py::test_page[intro]")
            != scope("tests/test_browser.py::test_page[references]"))
