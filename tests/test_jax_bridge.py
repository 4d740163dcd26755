"""The JAX and Flax bridges (tests/jax_bridge_checks.py), run in a pytest process of their own.

In `make test` a pytest-xdist worker runs one test module after another in one process, so JAX
would compile beside whatever the earlier modules loaded (TensorFlow, Keras, ONNX Runtime). A
child process keeps JAX's state its own, and turns a crash into a failure of this test with its
output instead of an INTERNALERROR that names no test.

XLA's CPU compiler has also aborted the process (SIGABRT while compiling a
``conv_general_dilated``) in three of six full runs of the suite on a two-core machine, twice in
a fresh process, and once on both tries in a row. It is not the example: a fixed sequence of
examples crashed once and passed once, and the crashing configuration passes on its own. Two
measures: XLA compiles with one code-generation thread (a race there is the likeliest cause;
unproven), and a run killed by a signal, and only that, is run again, up to three runs in all,
each crash reported as a warning with the start of its output. A failed assertion fails at once.
"""
import os
import subprocess
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
           "-o", "addopts=", "-q", "-ra", "tests/jax_bridge_checks.py"]


ATTEMPTS = 3
XLA_FLAGS = "--xla_cpu_parallel_codegen_split_count=1"


def run_checks():
    flags = f"{os.environ.get('XLA_FLAGS', '')} {XLA_FLAGS}".strip()
    return subprocess.run(COMMAND, capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, XLA_FLAGS=flags))


def report(run):
    return (f"exit status {run.returncode}\n--- stdout (end)\n{run.stdout[-4000:]}\n"
            f"--- stderr (start)\n{run.stderr[:3000]}\n--- stderr (end)\n{run.stderr[-2000:]}")


def test_jax_and_flax_bridges_in_a_fresh_process():
    run = run_checks()
    for _ in range(ATTEMPTS - 1):
        if run.returncode >= 0:  # exited: passed, or a check failed
            break
        warnings.warn(f"the JAX checks crashed (signal {-run.returncode}) and were run again:\n"
                      f"{report(run)}")
        run = run_checks()
    assert run.returncode == 0, report(run)
    assert " passed" in run.stdout.splitlines()[-1] and "skipped" not in run.stdout, run.stdout
