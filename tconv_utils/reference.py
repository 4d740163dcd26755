"""NumPy reference implementations of transposed convolution and of convolution.

``trans_conv`` is the definition written as a loop, for reading. ``conv_transpose`` computes the
same thing for real layer sizes: a matrix product gives every input cell times every kernel tap
at once, then the slice of that product for each tap is added into the output at offset
``tap * dilation`` with step ``stride`` (col2im). Only kernel taps and blocks of output channels
are looped over in Python.

Layouts and semantics follow PyTorch: ``x`` is ``(N, C_in, *spatial)`` and ``w`` is
``(C_in, C_out // groups, *kernel)``; ``conv`` takes ``w`` as ``(C_out, C_in // groups, *kernel)``.
"""
from __future__ import annotations

import math

import numpy as np

from . import shapes
from ._checks import as_int, numeric_array, per_dim


def trans_conv(X, K):
    """The seed's loop: 2-D input, 2-D kernel, stride 1, no padding, one channel.

    Each input cell ``X[i, j]`` scales the whole kernel, and the scaled copy is added into the
    output with its corner at ``(i, j)``.
    """
    X = numeric_array("X", X)
    K = numeric_array("K", K)
    if X.ndim != 2 or K.ndim != 2:
        raise ValueError(f"X and K must be 2-D, got X.ndim={X.ndim} and K.ndim={K.ndim}")
    if 0 in X.shape or 0 in K.shape:
        raise ValueError(f"X and K must be non-empty, got shapes {X.shape} and {K.shape}")
    h, w = K.shape
    Y = np.zeros((X.shape[0] + h - 1, X.shape[1] + w - 1))
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            Y[i:i + h, j:j + w] += X[i, j] * K
    return Y


def _float_dtype(*arrays):
    # Integer inputs compute in float64, float32 stays float32 (as the frameworks do).
    return np.result_type(*(a.dtype for a in arrays), np.float32)


def _check_operands(x, w, bias, groups, *, transposed):
    x = numeric_array("x", x)
    w = numeric_array("w", w)
    if x.ndim not in (3, 4, 5):
        raise ValueError(f"x must have 3, 4 or 5 dims (N, C, *spatial with 1-3 spatial dims), "
                         f"got x.ndim={x.ndim} with shape {x.shape}")
    if w.ndim != x.ndim:
        raise ValueError(f"w must have as many dims as x ({x.ndim}), got w.shape={w.shape}")
    _check_empty(x, w)
    groups = as_int("groups", groups, minimum=1)
    c_in = x.shape[1]
    if c_in % groups:
        raise ValueError(f"groups={groups} must divide the input channels C_in={c_in}")
    if transposed:
        if w.shape[0] != c_in:
            raise ValueError(f"w.shape[0] must equal the input channels of x ({c_in}) for "
                             f"layout (C_in, C_out // groups, *kernel), got w.shape={w.shape}")
        c_out = w.shape[1] * groups
    else:
        if w.shape[1] * groups != c_in:
            raise ValueError(f"w.shape[1] * groups must equal the input channels of x ({c_in}) "
                             f"for layout (C_out, C_in // groups, *kernel), got w.shape={w.shape}"
                             f" with groups={groups}")
        c_out = w.shape[0]
        if c_out % groups:
            raise ValueError(f"groups={groups} must divide the output channels C_out={c_out}")
    if bias is not None:
        bias = numeric_array("bias", bias)
        if bias.shape != (c_out,):
            raise ValueError(f"bias must have shape ({c_out},) (one value per output channel), "
                             f"got {bias.shape}")
    return x, w, bias, groups, c_out


def _check_empty(x, w):
    """An empty batch is fine (the output is empty too); every other empty dim is refused, as
    PyTorch refuses it. In an empty batch PyTorch still computes sizes for a zero-size spatial
    input, some negative (then it fails on a reshape); that case is refused here for any batch."""
    if 0 in x.shape[2:]:
        raise ValueError(f"x must have at least 1 cell along every spatial dim, got x.shape="
                         f"{x.shape}; PyTorch refuses a zero-size spatial input too (only the "
                         f"batch, x.shape[0], may be 0)")
    if x.shape[1] == 0:
        raise ValueError(f"x must have at least 1 input channel, got x.shape={x.shape}; PyTorch "
                         f"refuses zero channels too")
    if 0 in w.shape:
        raise ValueError(f"w must be non-empty (at least 1 channel each way and 1 kernel tap "
                         f"per spatial dim), got w.shape={w.shape}; PyTorch refuses an empty "
                         f"weight too")


def _placement(padding, spatial, kernel, stride, dilation, output_padding):
    """Per spatial dim, ``(start, size)`` of the output inside the full scatter."""
    ndim = len(spatial)
    if isinstance(padding, str):
        if output_padding is not None:
            output_padding = per_dim("output_padding", output_padding, ndim, minimum=0)
        else:
            output_padding = (None,) * ndim
        return [shapes.keras_placement(n, k, s, padding, op, d)
                for n, k, s, op, d in zip(spatial, kernel, stride, output_padding, dilation)]
    output_padding = per_dim("output_padding", 0 if output_padding is None else output_padding,
                             ndim, minimum=0)
    pairs = _padding_pairs(padding, ndim)
    out = []
    for i, ((before, after), n, k, s, op, d) in enumerate(
            zip(pairs, spatial, kernel, stride, output_padding, dilation)):
        if op >= max(s, d):
            raise ValueError(
                f"output_padding must be smaller than max(stride, dilation) = {max(s, d)}, got "
                f"output_padding={op} with stride={s}, dilation={d} (spatial dim {i})")
        size = shapes.full_size(n, k, s, d) - before - after + op
        if size < 1:
            raise ValueError(f"padding={padding!r} crops away the whole output along spatial dim "
                             f"{i} (size {size}); the crop must leave at least 1")
        out.append((before, size))
    return out


def _padding_pairs(padding, ndim):
    """Numeric padding as one ``(before, after)`` pair per spatial dim."""
    if isinstance(padding, (list, tuple)) and any(isinstance(p, (list, tuple)) for p in padding):
        if len(padding) != ndim or not all(isinstance(p, (list, tuple)) and len(p) == 2
                                           for p in padding):
            raise ValueError(f"padding as pairs must be {ndim} (before, after) pairs, one per "
                             f"spatial dim, got {padding!r}")
        return [(as_int(f"padding[{i}][0]", b, minimum=0), as_int(f"padding[{i}][1]", a, minimum=0))
                for i, (b, a) in enumerate(padding)]
    if not isinstance(padding, (list, tuple, int, np.integer)) or isinstance(padding, bool):
        raise TypeError(f"padding must be an int, one int per spatial dim, (before, after) pairs, "
                        f"or 'valid'/'same', got {padding!r}")
    return [(p, p) for p in per_dim("padding", padding, ndim, minimum=0)]


def conv_transpose(x, w, bias=None, *, stride=1, padding=0, output_padding=None, dilation=1,
                   groups=1):
    """Transposed convolution of ``x`` with ``w``, with PyTorch's layouts and semantics.

    ``padding`` may be an int or one int per spatial dim (cropped from both ends, as PyTorch),
    one ``(before, after)`` pair per spatial dim (an asymmetric crop), or ``'valid'``/``'same'``
    with the meaning Keras and TensorFlow give them. ``output_padding`` adds cells at the end of
    each spatial dim; ``None`` means 0 for numeric padding and Keras' default (``'same'`` gives
    ``n * stride``) for the strings.

    Empty inputs are treated as PyTorch treats them: a batch of 0 gives an empty output of the
    shape a non-empty batch would have; an empty spatial dim, channel dim or kernel is refused.
    """
    x, w, bias, groups, c_out = _check_operands(x, w, bias, groups, transposed=True)
    ndim = x.ndim - 2
    stride = per_dim("stride", stride, ndim, minimum=1)
    dilation = per_dim("dilation", dilation, ndim, minimum=1)
    spatial, kernel = x.shape[2:], w.shape[2:]
    placement = _placement(padding, spatial, kernel, stride, dilation, output_padding)

    dtype = _float_dtype(x, w) if bias is None else _float_dtype(x, w, bias)
    n, c_in = x.shape[:2]
    cin_g, cout_g = c_in // groups, c_out // groups
    taps, cells = math.prod(kernel), math.prod(spatial)
    xg = x.astype(dtype, copy=False).reshape(n, groups, cin_g, cells)
    xg = xg.transpose(1, 2, 0, 3).reshape(groups, cin_g, n * cells)
    wg = w.astype(dtype, copy=False).reshape(groups, cin_g, cout_g, taps)

    full = [max(shapes.full_size(m, k, s, d), start + size)
            for m, k, s, d, (start, size) in zip(spatial, kernel, stride, dilation, placement)]
    out_shape = tuple(size for _, size in placement)
    crop = tuple(slice(start, start + size) for start, size in placement)
    scatter = [tuple(slice(t * d, t * d + (m - 1) * s + 1, s)
                     for t, d, m, s in zip(tap, dilation, spatial, stride))
               for tap in np.ndindex(*kernel)]
    out = np.empty((n, c_out, *out_shape), dtype=dtype)
    if n == 0:
        return out  # an empty batch: PyTorch returns the empty output of the same shape
    # Blocks of output channels small enough (about 2 MB of products) that the scatter's
    # reads and writes stay in cache; a larger GEMM would not be faster, a colder scatter is.
    block = max(1, min(cout_g, (1 << 19) // (taps * n * cells)))
    for g in range(groups):
        for c0 in range(0, cout_g, block):
            cb = min(block, cout_g - c0)
            wb = wg[g, :, c0:c0 + cb].reshape(cin_g, cb * taps).T
            cols = np.matmul(wb, xg[g]).reshape(cb, taps, n, *spatial)
            buf = np.zeros((cb, n, *full), dtype=dtype)
            for t, where in enumerate(scatter):
                view = buf[(slice(None), slice(None)) + where]
                np.add(view, cols[:, t], out=view)  # in place: `+=` on a view copies it back
            first = g * cout_g + c0
            out[:, first:first + cb] = buf[(slice(None), slice(None)) + crop].swapaxes(0, 1)
    if bias is not None:
        out += bias.astype(dtype).reshape((1, c_out) + (1,) * ndim)
    return out


def _fixed_rank(ndim):
    def fn(x, w, bias=None, **kwargs):
        x = np.asarray(x)
        if x.ndim != ndim + 2:
            raise ValueError(f"x must have {ndim + 2} dims (N, C, {ndim} spatial) for "
                             f"conv_transpose{ndim}d, got shape {x.shape}")
        return conv_transpose(x, w, bias, **kwargs)
    fn.__name__ = fn.__qualname__ = f"conv_transpose{ndim}d"
    fn.__doc__ = f"{ndim}-D :func:`conv_transpose`: ``x`` must be ``(N, C_in, {ndim} spatial)``."
    return fn


conv_transpose1d = _fixed_rank(1)
conv_transpose2d = _fixed_rank(2)
conv_transpose3d = _fixed_rank(3)


def conv(x, w, bias=None, *, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation (what deep-learning frameworks call convolution), PyTorch semantics.

    ``w`` is ``(C_out, C_in // groups, *kernel)``; ``padding`` is an int, one int per spatial
    dim, or ``(before, after)`` pairs of zeros added around ``x``. With the same stride, padding
    and dilation, :func:`conv_transpose` is the adjoint of this map.
    """
    x, w, bias, groups, c_out = _check_operands(x, w, bias, groups, transposed=False)
    ndim = x.ndim - 2
    stride = per_dim("stride", stride, ndim, minimum=1)
    dilation = per_dim("dilation", dilation, ndim, minimum=1)
    pairs = _padding_pairs(padding, ndim)
    kernel = w.shape[2:]
    dtype = _float_dtype(x, w) if bias is None else _float_dtype(x, w, bias)
    xp = np.pad(x.astype(dtype, copy=False), [(0, 0), (0, 0)] + pairs)
    out_sizes = [shapes.conv_output_size(m, k, s, pair, d)
                 for m, k, s, pair, d in zip(x.shape[2:], kernel, stride, pairs, dilation)]
    n, c_in = x.shape[:2]
    cin_g, cout_g, taps = c_in // groups, c_out // groups, math.prod(kernel)
    # im2col: one strided view per tap, then one GEMM per group.
    cols = np.empty((n, groups, cin_g, taps, *out_sizes), dtype=dtype)
    for t, tap in enumerate(np.ndindex(*kernel)):
        where = tuple(slice(k * d, k * d + (o - 1) * s + 1, s)
                      for k, d, o, s in zip(tap, dilation, out_sizes, stride))
        cols[:, :, :, t] = xp[(slice(None), slice(None)) + where].reshape(
            n, groups, cin_g, *out_sizes)
    cols = cols.reshape(n, groups, cin_g * taps, math.prod(out_sizes))
    wg = w.astype(dtype, copy=False).reshape(groups, cout_g, cin_g * taps)
    out = np.matmul(wg, cols).reshape(n, c_out, *out_sizes)
    if bias is not None:
        out += bias.astype(dtype).reshape((1, c_out) + (1,) * ndim)
    return out
