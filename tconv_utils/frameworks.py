"""Bridges to PyTorch and Keras/TensorFlow that take and return NumPy arrays.

Both bridges take the PyTorch layouts of the rest of the library, ``x`` as ``(N, C_in,
*spatial)`` and ``w`` as ``(C_in, C_out // groups, *kernel)``, and convert for Keras, whose
input is channels-last and whose transposed-convolution kernel is ``(*kernel, C_out, C_in)``.
The two kernels hold the same numbers in a different axis order: no flip is involved.

torch and tensorflow are imported inside the functions, so that importing ``tconv_utils``
needs NumPy alone and a missing framework is named when it is needed.
"""
from __future__ import annotations

import os
import sys

import numpy as np

from ._checks import numeric_array


def _import_torch():
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("this function needs PyTorch: pip install torch") from err
    return torch


def import_keras():
    """Import Keras (and TensorFlow beneath it) with its start-up log kept off stderr; return it.

    While it loads, TensorFlow's C++ runtime writes a notice ("oneDNN custom operations are on
    ...") straight to file descriptor 2, before any Python setting can stop it, so a notebook
    would store it as an error stream. The descriptor points at os.devnull for the import only.
    Unlike ``TF_ENABLE_ONEDNN_OPTS=0``, this leaves the choice of TensorFlow's kernels to the
    reader's machine and settings (see :func:`tf_dilated` for what that choice changes).
    """
    # TensorFlow's later C++ log lines (INFO and WARNING) stay quiet; a reader's own choice wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "keras" not in sys.modules:
        sys.stderr.flush()
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            import keras  # noqa: F401
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("this function needs Keras (pip install tensorflow)") from err
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
    return sys.modules["keras"]


# TensorFlow computes a transposed convolution with a dilation above 1 (the same op is the input
# gradient of a dilated convolution) only in its oneDNN CPU kernels. Those are on by default in
# its x86-64 Windows builds and, on Linux, on CPUs with AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX
# instructions (tensorflow/core/util/port.cc); TF_ENABLE_ONEDNN_OPTS=1 or 0 turns them on or off.
# TensorFlow's other CPU kernels refuse such a dilation with this error:
_TF_DILATION_REFUSAL = ("InvalidArgumentError", "dilation rates larger than 1")


def tf_refused_dilation(err) -> bool:
    """Whether ``err`` is TensorFlow's refusal of a dilation above 1 by its non-oneDNN kernels.

    ``err`` is the exception, or a :class:`tconv_utils.keras_backends.BackendError` that carries
    its type's name and message back from a worker process.
    """
    kind = getattr(err, "kind", type(err).__name__)
    message = getattr(err, "message", str(err))
    return kind == _TF_DILATION_REFUSAL[0] and _TF_DILATION_REFUSAL[1] in message


def tf_dilated(run):
    """``run()``, or ``None`` where TensorFlow refuses it for a dilation above 1.

    ``run`` calls Keras or TensorFlow with a dilation above 1. TensorFlow's oneDNN kernels
    compute it; its other CPU kernels raise ``InvalidArgumentError`` ("... do not yet support
    dilation rates larger than 1"), which becomes ``None`` (:func:`tf_refused_dilation`). Which
    kernels run depends on the machine and on ``TF_ENABLE_ONEDNN_OPTS``, so a check that runs a
    dilated layer in Keras asserts both outcomes: the numbers where it computes, the refusal
    where it does not. Every other error propagates.
    """
    try:
        return run()
    except Exception as err:
        if tf_refused_dilation(err):
            return None
        raise


def keras_kernel_from_torch(w) -> np.ndarray:
    """PyTorch transposed-conv weight ``(C_in, C_out, *k)`` as a Keras kernel ``(*k, C_out, C_in)``."""
    w = numeric_array("w", w)
    if w.ndim < 3:
        raise ValueError(f"w must be (C_in, C_out, *kernel) with 1-3 kernel dims, got {w.shape}")
    return np.ascontiguousarray(np.transpose(w, tuple(range(2, w.ndim)) + (1, 0)))


def torch_weight_from_keras(kernel) -> np.ndarray:
    """Keras transposed-conv kernel ``(*k, C_out, C_in)`` as a PyTorch weight ``(C_in, C_out, *k)``."""
    kernel = numeric_array("kernel", kernel)
    if kernel.ndim < 3:
        raise ValueError(f"kernel must be (*kernel, C_out, C_in) with 1-3 kernel dims, "
                         f"got {kernel.shape}")
    nd = kernel.ndim - 2
    return np.ascontiguousarray(np.transpose(kernel, (nd + 1, nd) + tuple(range(nd))))


def torch_conv_transpose(x, w, bias=None, *, stride=1, padding=0, output_padding=0,
                         dilation=1, groups=1, output_size=None) -> np.ndarray:
    """Run ``torch.nn.functional.conv_transpose{1,2,3}d`` on NumPy arrays, in float32."""
    torch = _import_torch()
    import torch.nn.functional as F

    x = numeric_array("x", x)
    fn = {3: F.conv_transpose1d, 4: F.conv_transpose2d, 5: F.conv_transpose3d}.get(x.ndim)
    if fn is None:
        raise ValueError(f"x must have 3, 4 or 5 dims (N, C, *spatial), got shape {x.shape}")
    tx = torch.as_tensor(np.asarray(x, np.float32))
    tw = torch.as_tensor(np.asarray(numeric_array("w", w), np.float32))
    tb = None if bias is None else torch.as_tensor(np.asarray(numeric_array("bias", bias), np.float32))
    with torch.no_grad():
        if output_size is not None:
            # Only the module form accepts output_size=; it picks output_padding from it.
            module = {3: torch.nn.ConvTranspose1d, 4: torch.nn.ConvTranspose2d,
                      5: torch.nn.ConvTranspose3d}[x.ndim](
                tw.shape[0], tw.shape[1] * groups, tuple(tw.shape[2:]), stride=stride,
                padding=padding, dilation=dilation, groups=groups, bias=tb is not None)
            module.weight.copy_(tw)
            if tb is not None:
                module.bias.copy_(tb)
            return module(tx, output_size=list(output_size)).numpy()
        return fn(tx, tw, tb, stride=stride, padding=padding, output_padding=output_padding,
                  dilation=dilation, groups=groups).numpy()


def keras_layer(w, bias=None, *, stride=1, padding="valid", output_padding=None, dilation=1):
    """A built Keras ``Conv{1,2,3}DTranspose`` holding the PyTorch-layout weight ``w``."""
    keras = import_keras()
    w = numeric_array("w", w)
    nd = w.ndim - 2
    if nd not in (1, 2, 3):
        raise ValueError(f"w must be (C_in, C_out, *kernel) with 1-3 kernel dims, got {w.shape}")
    cls = {1: keras.layers.Conv1DTranspose, 2: keras.layers.Conv2DTranspose,
           3: keras.layers.Conv3DTranspose}[nd]
    layer = cls(filters=w.shape[1], kernel_size=w.shape[2:], strides=stride, padding=padding,
                output_padding=output_padding, dilation_rate=dilation, use_bias=bias is not None)
    layer.build((None,) + (None,) * nd + (w.shape[0],))
    weights = [keras_kernel_from_torch(w).astype(np.float32)]
    if bias is not None:
        weights.append(np.asarray(numeric_array("bias", bias), np.float32))
    layer.set_weights(weights)
    return layer


def keras_conv_transpose(x, w, bias=None, *, stride=1, padding="valid", output_padding=None,
                         dilation=1) -> np.ndarray:
    """Run Keras ``Conv{1,2,3}DTranspose`` on channels-first NumPy input, in float32.

    ``x`` is ``(N, C_in, *spatial)`` and ``w`` is PyTorch's ``(C_in, C_out, *kernel)``; the
    result comes back channels-first, so it compares directly with :func:`torch_conv_transpose`.
    """
    x = numeric_array("x", x)
    if x.ndim != np.ndim(w):
        raise ValueError(f"x and w must have the same number of dims, got {x.shape} and "
                         f"{np.shape(w)}")
    layer = keras_layer(w, bias, stride=stride, padding=padding, output_padding=output_padding,
                        dilation=dilation)
    return keras_call(layer, x)


def keras_call(layer, x) -> np.ndarray:
    """Call a channels-last Keras layer on channels-first NumPy input ``(N, C, *spatial)``;
    the result comes back channels-first, in float32."""
    channels_last = np.moveaxis(np.asarray(numeric_array("x", x), np.float32), 1, -1)
    y = np.asarray(layer(channels_last))
    return np.ascontiguousarray(np.moveaxis(y, -1, 1))
