"""The JAX and Flax bridges (tests/jax_bridge_checks.py), run in a pytest process of their own.

In `make test` a pytest-xdist worker runs one test module after another in one process, so JAX
would compile beside whatever the earlier modules loaded (TensorFlow, Keras, ONNX Runtime). That
process once died in XLA's compiler with a C++ abort, which took the worker and the whole run down
with an INTERNALERROR and no test named; the same checks pass in a fresh process. A child process
keeps JAX's state its own and turns any such crash into a failure of this test with its output.
"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_jax_and_flax_bridges_in_a_fresh_process():
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
               "-o", "addopts=", "-q", "-ra", "tests/jax_bridge_checks.py"]
    run = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, (f"exit status {run.returncode}\n{run.stdout[-6000:]}\n"
                                 f"{run.stderr[-3000:]}")
    assert " passed" in run.stdout.splitlines()[-1] and "skipped" not in run.stdout, run.stdout
