"""Helpers shared by the chapters of the transposed-convolution book.

Importing the package needs only NumPy; the framework bridges import torch or TensorFlow inside
the functions that use them. The names below load their module on first use (PEP 562), so that
``python -m tconv_utils.shapes`` runs the module once, as __main__, without a warning.
"""
import importlib

_EXPORTS = {
    "conv": "reference", "conv_transpose": "reference", "conv_transpose1d": "reference",
    "conv_transpose2d": "reference", "conv_transpose3d": "reference", "trans_conv": "reference",
    "keras_output_size": "shapes", "torch_output_size": "shapes",
}
__all__ = list(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
