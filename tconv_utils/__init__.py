"""Helpers shared by the chapters of the transposed-convolution book.

Importing the package needs only NumPy; the framework bridges import torch or TensorFlow inside
the functions that use them.
"""
from .reference import (conv, conv_transpose, conv_transpose1d, conv_transpose2d,
                        conv_transpose3d, trans_conv)
from .shapes import keras_output_size, torch_output_size

__all__ = ["conv", "conv_transpose", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "trans_conv", "keras_output_size", "torch_output_size"]
__version__ = "0.1.0"
