"""Convolution as a matrix ``C``, and transposed convolution as its transpose ``C.T``.

Convolution is linear in its input, so for a fixed kernel it is a matrix: ``C @ vec(x)`` equals
``vec(conv(x))``, ``vec`` flattening in C order. Row ``o`` of ``C`` holds the kernel taps that
output cell ``o`` reads; column ``i`` holds where input cell ``i`` is written. Reading the
columns is the scatter view of transposed convolution, so ``C.T @ vec(y)`` equals
``vec(conv_transpose(y))`` with the same stride, padding and dilation.

The matrix is built from index arithmetic alone, one ``(row, column, tap)`` triple per kernel
tap that lands inside the input, so it does not depend on :mod:`tconv_utils.reference`, which
the tests compare it with. Dense NumPy by default; ``sparse=True`` returns a SciPy CSR matrix
(SciPy imported only then). Meant for small sizes: the dense matrix has
``prod(out_shape) * prod(in_shape)`` entries.
"""
from __future__ import annotations

import math

import numpy as np

from . import shapes
from ._checks import numeric_array, per_dim
from .reference import _padding_pairs


def _spatial_args(ndim, stride, padding, dilation):
    """Per spatial dim: stride, dilation and (before, after) padding, checked."""
    return (per_dim("stride", stride, ndim, minimum=1),
            per_dim("dilation", dilation, ndim, minimum=1),
            _padding_pairs(padding, ndim))


def conv_output_shape(input_shape, kernel_shape, *, stride=1, padding=0, dilation=1):
    """Spatial output shape of the convolution that :func:`conv_matrix` represents."""
    input_shape, kernel_shape = tuple(input_shape), tuple(kernel_shape)
    ndim = len(input_shape)
    stride, dilation, pairs = _spatial_args(ndim, stride, padding, dilation)
    return tuple(shapes.conv_output_size(n, k, s, pair, d)
                 for n, k, s, pair, d in zip(input_shape, kernel_shape, stride, pairs, dilation))


def conv_matrix(w, input_shape, *, stride=1, padding=0, dilation=1, sparse=False):
    """The matrix ``C`` with ``C @ x.ravel() == conv(x).ravel()`` for inputs of ``input_shape``.

    ``w`` is either a bare kernel (``w.ndim == len(input_shape)``, one channel in and out) or a
    convolution weight ``(C_out, C_in, *kernel)`` with ``input_shape = (C_in, *spatial)``.
    ``stride``, ``dilation``: an int or one per spatial dim; ``padding``: an int, one per
    spatial dim, or one ``(before, after)`` pair per spatial dim (zeros around the input).
    ``C`` has shape ``(prod(out), prod(in))`` where out is ``(C_out, *out_spatial)``, or the
    output spatial shape alone for a bare kernel.
    """
    w = numeric_array("w", w)
    input_shape = tuple(int(v) for v in input_shape)
    if w.ndim == len(input_shape):
        w4 = w.reshape((1, 1) + w.shape)
        in_full = (1,) + input_shape
    elif w.ndim == len(input_shape) + 1:
        w4, in_full = w, input_shape
        if w.shape[1] != input_shape[0]:
            raise ValueError(f"w.shape[1] (C_in={w.shape[1]}) must equal input_shape[0] "
                             f"({input_shape[0]}) for w of layout (C_out, C_in, *kernel)")
    else:
        raise ValueError(f"w must be a bare kernel with {len(input_shape)} dims or a weight "
                         f"(C_out, C_in, *kernel) with {len(input_shape) + 1} dims for "
                         f"input_shape={input_shape}, got w.shape={w.shape}")
    spatial, kernel = in_full[1:], w4.shape[2:]
    if not 1 <= len(spatial) <= 3 or 0 in in_full or 0 in w4.shape:
        raise ValueError(f"input_shape needs 1-3 non-empty spatial dims, got {input_shape} "
                         f"with w.shape={w.shape}")
    ndim = len(spatial)
    stride, dilation, pairs = _spatial_args(ndim, stride, padding, dilation)
    out_spatial = conv_output_shape(spatial, kernel, stride=stride, padding=pairs,
                                    dilation=dilation)
    c_out, c_in = w4.shape[:2]

    rows, cols, vals = [], [], []
    out_pos = np.indices(out_spatial).reshape(ndim, -1)  # every output cell, one column each
    for tap in np.ndindex(*kernel):
        # Input coordinate read by each output cell through this tap (padding shifts it).
        src = np.stack([out_pos[i] * stride[i] + tap[i] * dilation[i] - pairs[i][0]
                        for i in range(ndim)])
        inside = np.all((src >= 0) & (src < np.array(spatial)[:, None]), axis=0)
        o_flat = np.ravel_multi_index(tuple(out_pos[:, inside]), out_spatial)
        i_flat = np.ravel_multi_index(tuple(src[:, inside]), spatial)
        for co in range(c_out):
            for ci in range(c_in):
                rows.append(co * math.prod(out_spatial) + o_flat)
                cols.append(ci * math.prod(spatial) + i_flat)
                vals.append(np.full(o_flat.size, w4[(co, ci) + tap]))
    shape = (c_out * math.prod(out_spatial), c_in * math.prod(spatial))
    rows, cols = np.concatenate(rows).astype(np.intp), np.concatenate(cols).astype(np.intp)
    vals = np.concatenate(vals).astype(np.result_type(w.dtype, np.float32))
    if sparse:
        try:
            import scipy.sparse
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("sparse=True needs SciPy: pip install scipy") from err
        return scipy.sparse.csr_matrix((vals, (rows, cols)), shape=shape)
    C = np.zeros(shape, dtype=vals.dtype)
    np.add.at(C, (rows, cols), vals)  # add: no two taps share a cell, but stay safe
    return C


def transpose_output_padding(input_shape, kernel_shape, *, stride=1, padding=0, dilation=1):
    """``output_padding`` (per spatial dim) that makes the transposed convolution give back
    ``input_shape``: the cells the forward convolution dropped, ``(n + pad - k) % stride``.
    With it, ``conv_transpose(y, ...)`` and ``C.T @ y.ravel()`` have the same size."""
    input_shape, kernel_shape = tuple(input_shape), tuple(kernel_shape)
    ndim = len(input_shape)
    stride, dilation, pairs = _spatial_args(ndim, stride, padding, dilation)
    out = conv_output_shape(input_shape, kernel_shape, stride=stride, padding=pairs,
                            dilation=dilation)
    # The input size minus what the transposed convolution scatters back over it.
    return tuple(n + b + a - shapes.full_size(m, k, s, d)
                 for n, m, k, s, d, (b, a) in zip(input_shape, out, kernel_shape, stride,
                                                  dilation, pairs))
