"""Keras 3 on each of its backends (TensorFlow, JAX, PyTorch), one process per backend.

Keras reads ``KERAS_BACKEND`` once, when it is first imported, so one Python process runs one
backend. :class:`KerasBackend` starts a worker, ``python -m tconv_utils.keras_backends BACKEND``,
and runs transposed convolutions there, taking and returning NumPy arrays with the layouts of
:mod:`tconv_utils.frameworks`: ``x`` is ``(N, C_in, *spatial)`` and ``w`` is PyTorch's
``(C_in, C_out, *kernel)``. A worker starts once and serves many calls, so a comparison pays
each backend's start-up once. Requests and answers travel as pickles over the worker's stdin and
stdout; whatever the frameworks print goes to a log that an error report quotes.

Each worker runs its backend at that framework's defaults, as a reader's would: TensorFlow with
the kernels the machine and ``TF_ENABLE_ONEDNN_OPTS`` choose (only its oneDNN kernels compute a
dilation above 1; see :func:`tconv_utils.frameworks.tf_dilated`), and JAX on the CPU.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import tempfile

import numpy as np

from ._checks import numeric_array

BACKENDS = ("tensorflow", "jax", "torch")


class BackendError(Exception):
    """A refusal by Keras or its backend, carried back from the worker as a type name and a
    message (framework exceptions need not unpickle in a process without that framework)."""

    def __init__(self, backend: str, kind: str, message: str):
        super().__init__(f"{backend}: {kind}: {message}")
        self.backend, self.kind, self.message = backend, kind, message

    def __reduce__(self):
        return type(self), (self.backend, self.kind, self.message)


class KerasBackend:
    """A worker process that runs Keras on one backend; use it as a context manager.

    >>> with KerasBackend("jax") as worker:          # doctest: +SKIP
    ...     y = worker.conv_transpose(x, w, stride=2, padding="same")
    """

    def __init__(self, backend: str):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.backend = backend
        self._process = None
        self._log = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self) -> "KerasBackend":
        if self._process is None:
            # The reader's environment passes through (TensorFlow keeps its default kernels);
            # JAX is kept on the CPU, so that it neither searches for accelerators nor says so.
            env = dict(os.environ, KERAS_BACKEND=self.backend, JAX_PLATFORMS="cpu")
            self._log = tempfile.TemporaryFile()
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__, self.backend], env=env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log)
        return self

    def close(self) -> None:
        if self._process is not None:
            self._process.stdin.close()  # the worker's loop ends at end of input
            self._process.wait(timeout=60)
            self._process.stdout.close()
            self._process = None
            self._log.close()

    def _call(self, name: str, *args):
        if self._process is None:
            raise RuntimeError("KerasBackend is not started: use it in a `with` block")
        try:
            pickle.dump((name, args), self._process.stdin)
            self._process.stdin.flush()
            status, value = pickle.load(self._process.stdout)
        except (EOFError, BrokenPipeError) as err:
            self._log.seek(0)
            tail = self._log.read().decode(errors="replace")[-3000:]
            raise RuntimeError(f"the {self.backend} worker stopped; its log ends with:\n{tail}") from err
        if status == "error":
            raise value
        return value

    def versions(self) -> dict:
        """``{"backend": name, "keras": version, name: the framework's version}``, as the worker
        reports them."""
        return self._call("versions")

    def conv_transpose(self, x, w, bias=None, *, stride=1, padding="valid", output_padding=None,
                       dilation=1) -> np.ndarray:
        """Keras ``Conv{1,2,3}DTranspose`` with PyTorch-layout ``w``, run in the worker, in float32.

        Arguments as :func:`tconv_utils.frameworks.keras_conv_transpose`. A refusal by Keras or
        its backend is raised here as :class:`BackendError`, with its type's name and message.
        """
        x = np.asarray(numeric_array("x", x), np.float32)
        w = np.asarray(numeric_array("w", w), np.float32)
        if x.ndim != w.ndim:
            raise ValueError(f"x and w must have the same number of dims, got {x.shape} and {w.shape}")
        if bias is not None:
            bias = np.asarray(numeric_array("bias", bias), np.float32)
        options = dict(stride=stride, padding=padding, output_padding=output_padding,
                       dilation=dilation)
        return self._call("conv_transpose", x, w, bias, options)


def compare_backends(cases, backends=BACKENDS) -> dict:
    """Run every case on every backend, one worker per backend, started once.

    ``cases`` is a list of dicts with the arguments of :meth:`KerasBackend.conv_transpose`
    (``x``, ``w``, optionally ``bias``, ``stride``, ``padding``, ``output_padding``,
    ``dilation``). Returns ``{"versions": {backend: ...}, "outputs": {backend: [array or the
    BackendError raised, one per case]}}``.
    """
    cases = list(cases)
    result = {"versions": {}, "outputs": {}}
    with contextlib.ExitStack() as stack:
        # All workers start at once, so that their start-ups overlap.
        workers = {b: stack.enter_context(KerasBackend(b)) for b in backends}
        for backend, worker in workers.items():
            result["versions"][backend] = worker.versions()
            outputs = []
            for case in cases:
                try:
                    outputs.append(worker.conv_transpose(**case))
                except BackendError as err:  # a refusal is a result to compare
                    outputs.append(err)
            result["outputs"][backend] = outputs
    return result


# --------------------------------------------------------------------------------------------
# The worker: python -m tconv_utils.keras_backends BACKEND (KERAS_BACKEND set by the parent)
# --------------------------------------------------------------------------------------------

def _versions(keras) -> dict:
    import importlib

    backend = keras.backend.backend()
    return {"backend": backend, "keras": keras.__version__,
            backend: importlib.import_module(backend).__version__}


def _conv_transpose(keras, x, w, bias, options) -> np.ndarray:
    from .frameworks import keras_kernel_from_torch

    nd = w.ndim - 2
    cls = {1: keras.layers.Conv1DTranspose, 2: keras.layers.Conv2DTranspose,
           3: keras.layers.Conv3DTranspose}[nd]
    # Zeros, not Keras' random initializer: on JAX that would compile a random-number program
    # for every new kernel shape (seconds each), and set_weights replaces the values anyway.
    layer = cls(filters=w.shape[1], kernel_size=w.shape[2:], strides=options["stride"],
                padding=options["padding"], output_padding=options["output_padding"],
                dilation_rate=options["dilation"], use_bias=bias is not None,
                kernel_initializer="zeros", bias_initializer="zeros")
    layer.build((None,) + (None,) * nd + (w.shape[0],))
    layer.set_weights([keras_kernel_from_torch(w)] + ([] if bias is None else [bias]))
    y = keras.ops.convert_to_numpy(layer(np.moveaxis(x, 1, -1)))  # channels-last in and out
    return np.ascontiguousarray(np.moveaxis(y, -1, 1))


def _serve(backend: str) -> None:
    # The answers go to the original stdout; anything a framework prints goes to the log (fd 2).
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    # This file runs as __main__ here; errors must pickle as the importable module's class.
    from .keras_backends import BackendError as error_class
    from .frameworks import import_keras

    keras = import_keras()
    if keras.backend.backend() != backend:  # pragma: no cover - a keras.json could override it
        raise RuntimeError(f"Keras started with backend {keras.backend.backend()!r}, not {backend!r}")
    handlers = {"versions": _versions, "conv_transpose": _conv_transpose}
    while True:
        try:
            name, args = pickle.load(requests)
        except EOFError:
            return
        try:
            answer = ("ok", handlers[name](keras, *args))
        except Exception as err:  # noqa: BLE001 - every refusal goes back to the caller
            answer = ("error", error_class(backend, type(err).__name__, str(err)))
        pickle.dump(answer, answers)
        answers.flush()


if __name__ == "__main__":
    _serve(sys.argv[1])
