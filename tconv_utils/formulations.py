"""Four exact ways to compute a 2-D transposed convolution in PyTorch, and what each one costs.

All four take PyTorch tensors in PyTorch's layouts (``x`` is ``(N, C_in, H, W)``, ``w`` is
``(C_in, C_out // groups, kh, kw)``) and return what ``F.conv_transpose2d`` returns:

``direct``          ``F.conv_transpose2d`` itself (cuDNN / oneDNN pick the algorithm).
``zero_insertion``  put ``stride - 1`` zeros between input cells, pad by ``dilation * (k - 1)
                    - padding``, then an ordinary stride-1 ``conv2d`` with the kernel flipped and
                    its two channel axes swapped. Simple, but most multiplications are by zero.
``gemm_col2im``     one matrix product gives every input cell times every kernel tap (the
                    "columns"), then ``F.fold`` (col2im) adds each column into its place.
``subpixel``        split the output into its ``stride ** 2`` phases; each phase is a stride-1
                    convolution of the input with a sub-kernel (the taps that land on that
                    phase), so one ``conv2d`` with ``C_out * stride ** 2`` output channels computes
                    them all, and ``pixel_shuffle`` interleaves them. Exact for any kernel,
                    stride, padding, output_padding, dilation and groups: a tap that no phase
                    uses is a zero in the sub-kernel.

Every formulation supports stride, dilation, output_padding, groups and symmetric per-dim integer
padding (PyTorch's meaning). ``padding`` as ``(before, after)`` pairs or the Keras strings
``'valid'``/``'same'`` is refused with a ``ValueError``: use ``tconv_utils.conv_transpose`` for those.
Each public function checks its arguments on every call; :func:`bind` checks them once and returns
the bare call, which is what a timing loop should time.

:func:`work` counts the multiply-adds each formulation really executes (zeros included) and the
bytes of the intermediates it writes and reads back, so the chapter can compare them before
timing anything. torch is imported inside the functions (the package needs NumPy alone).
"""
from __future__ import annotations

from . import shapes
from ._checks import as_int, per_dim

FORMULATIONS = ("direct", "zero_insertion", "gemm_col2im", "subpixel")


def _params(x_shape, w_shape, stride, padding, output_padding, dilation, groups):
    """Checked per-dim parameters of ``x`` and ``w`` of these shapes; the rules are PyTorch's."""
    if x_shape is None or w_shape is None or len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"x and w must be 4-D tensors (N, C_in, H, W) and (C_in, C_out // groups,"
                         f" kh, kw), got shapes {tuple(x_shape or ())} and {tuple(w_shape or ())}")
    if isinstance(padding, str) or (isinstance(padding, (list, tuple))
                                    and any(isinstance(p, (list, tuple)) for p in padding)):
        raise ValueError(f"padding must be an int or one int per spatial dim (symmetric crop, as "
                         f"PyTorch), got {padding!r}; use tconv_utils.conv_transpose for "
                         f"(before, after) pairs or 'valid'/'same'")
    stride = per_dim("stride", stride, 2, minimum=1)
    padding = per_dim("padding", padding, 2, minimum=0)
    output_padding = per_dim("output_padding", output_padding, 2, minimum=0)
    dilation = per_dim("dilation", dilation, 2, minimum=1)
    groups = as_int("groups", groups, minimum=1)
    c_in = x_shape[1]
    if w_shape[0] != c_in or c_in % groups:
        raise ValueError(f"w.shape[0] must equal C_in={c_in} and groups={groups} must divide it, "
                         f"got w.shape={tuple(w_shape)}")
    # The size rules (and their errors) are PyTorch's, from tconv_utils.shapes.
    dims = list(zip(x_shape[2:], w_shape[2:], stride, padding, output_padding, dilation))
    full = [shapes.full_size(n, k, s, d) for n, k, s, p, op, d in dims]
    out = [shapes.torch_output_size(n, k, s, p, op, d) for n, k, s, p, op, d in dims]
    return stride, padding, output_padding, dilation, groups, full, out


def _shape(t):
    shape = getattr(t, "shape", None)
    return None if shape is None else tuple(shape)


def _crop(y, padding, out):
    """Keep ``[p, p + out)`` of each spatial dim; past the end are zeros (output_padding)."""
    import torch.nn.functional as F
    (ph, pw), (oh, ow) = padding, out
    pads = (-pw, pw + ow - y.shape[3], -ph, ph + oh - y.shape[2])
    return F.pad(y, pads) if any(pads) else y


def _add_bias(y, bias):
    return y if bias is None else y + bias.reshape(1, -1, 1, 1)


def conv_weight(w, groups=1):
    """Transposed-conv weight ``(C_in, C_out/g, kh, kw)`` as the conv2d weight that undoes it:
    channel axes swapped within each group, kernel flipped in both spatial dims."""
    c_in, cout_g, kh, kw = w.shape
    wg = w.reshape(groups, c_in // groups, cout_g, kh, kw).transpose(1, 2)
    return wg.reshape(groups * cout_g, c_in // groups, kh, kw).flip(-2, -1)


def subpixel_taps(kernel, stride, dilation=1):
    """For one spatial dim: ``taps[r][m]``, the kernel tap that output phase ``r`` applies to the
    input cell ``m`` steps back (``None`` where no tap lands), from ``t * d == m * s + r``."""
    kernel = as_int("kernel", kernel, minimum=1)
    stride = as_int("stride", stride, minimum=1)
    dilation = as_int("dilation", dilation, minimum=1)
    m_count = (kernel - 1) * dilation // stride + 1
    taps = []
    for r in range(stride):
        row = []
        for m in range(m_count):
            t, rem = divmod(m * stride + r, dilation)
            row.append(t if rem == 0 and t < kernel else None)
        taps.append(row)
    return taps


def _subpixel_tables(kernel_hw, stride, dilation):
    """Per spatial dim, :func:`subpixel_taps` with ``k`` (an index into the weight padded by one
    zero) where no tap lands."""
    return [[[k if t is None else t for t in row] for row in subpixel_taps(k, s, d)]
            for k, s, d in zip(kernel_hw, stride, dilation)]


def _subpixel_weight(w, tables, groups):
    """The sub-kernels of all phases, from index tensors ``tables`` (on ``w``'s device)."""
    import torch.nn.functional as F
    c_in, cout_g = w.shape[:2]
    wz = F.pad(w, (0, 1, 0, 1))
    sub = wz[:, :, tables[0][:, :, None, None], tables[1][None, None, :, :]]  # (Cin,Cg,sh,Mh,sw,Mw)
    sh, mh, sw, mw = sub.shape[2:]
    sub = sub.reshape(groups, c_in // groups, cout_g, sh, mh, sw, mw)
    sub = sub.permute(0, 2, 3, 5, 1, 4, 6).reshape(groups * cout_g * sh * sw, c_in // groups,
                                                   mh, mw)
    return sub.flip(-2, -1)


def subpixel_weight(w, stride, dilation=1, groups=1):
    """The conv2d weight ``(C_out * sh * sw, C_in/g, Mh, Mw)`` of all ``sh * sw`` phases, channel
    order ``(c, ry, rx)`` as ``pixel_shuffle`` expects, each sub-kernel flipped."""
    import torch
    stride = per_dim("stride", stride, 2, minimum=1)
    dilation = per_dim("dilation", dilation, 2, minimum=1)
    tables = [torch.tensor(t, device=w.device)
              for t in _subpixel_tables(w.shape[2:], stride, dilation)]
    return _subpixel_weight(w, tables, groups)


# Each _bind_* gets the checked parameters of one shape and returns call(x, w, bias=None): the
# formulation's tensor operations alone, nothing checked or derived per call.

def _bind_direct(x_shape, w_shape, stride, padding, output_padding, dilation, groups, full, out):
    import functools

    import torch.nn.functional as F
    return functools.partial(F.conv_transpose2d, stride=stride, padding=padding,
                             output_padding=output_padding, dilation=dilation, groups=groups)


def _bind_zero_insertion(x_shape, w_shape, stride, padding, output_padding, dilation, groups,
                         full, out):
    import torch
    import torch.nn.functional as F
    n, c, h, wd = x_shape
    (sh, sw), (kh, kw) = stride, w_shape[2:]
    up_shape = (n, c, (h - 1) * sh + 1, (wd - 1) * sw + 1)
    # A border of d*(k-1) zeros makes every kernel position that touches an input cell
    # appear; padding crops it back (negative F.pad crops), output_padding adds at the end.
    eh, ew = dilation[0] * (kh - 1), dilation[1] * (kw - 1)
    pads = (ew - padding[1], ew - padding[1] + output_padding[1],
            eh - padding[0], eh - padding[0] + output_padding[0])

    def call(x, w, bias=None):
        if sh > 1 or sw > 1:
            up = x.new_zeros(up_shape)
            if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
                up = up.contiguous(memory_format=torch.channels_last)
            up[:, :, ::sh, ::sw] = x
        else:
            up = x
        y = F.conv2d(F.pad(up, pads), conv_weight(w, groups), None, dilation=dilation,
                     groups=groups)
        return _add_bias(y, bias)
    return call


def _bind_gemm_col2im(x_shape, w_shape, stride, padding, output_padding, dilation, groups, full,
                      out):
    import torch
    import torch.nn.functional as F
    n, c_in, h, wd = x_shape
    _, cout_g, kh, kw = w_shape

    def call(x, w, bias=None):
        xg = x.reshape(n, groups, c_in // groups, h * wd)
        wg = w.reshape(groups, c_in // groups, cout_g * kh * kw).transpose(1, 2)
        cols = torch.matmul(wg, xg).reshape(n, groups * cout_g * kh * kw, h * wd)
        y = F.fold(cols, tuple(full), (kh, kw), dilation=dilation, stride=stride)
        return _add_bias(_crop(y, padding, out), bias)
    return call


def _bind_subpixel(x_shape, w_shape, stride, padding, output_padding, dilation, groups, full,
                   out):
    import torch
    import torch.nn.functional as F
    tables = _subpixel_tables(w_shape[2:], stride, dilation)
    mh, mw = len(tables[0][0]), len(tables[1][0])
    (sh, sw), c_out = stride, w_shape[1] * groups
    on_device = {}  # the index tensors, made once per device

    def call(x, w, bias=None):
        idx = on_device.get(w.device)
        if idx is None:
            idx = on_device[w.device] = [torch.tensor(t, device=w.device) for t in tables]
        y = F.conv2d(x, _subpixel_weight(w, idx, groups), None, padding=(mh - 1, mw - 1),
                     groups=groups)
        if sh == sw:
            y = F.pixel_shuffle(y, sh)
        else:  # pixel_shuffle takes one factor; the same interleave written out
            n, _, qh, qw = y.shape
            y = y.reshape(n, c_out, sh, sw, qh, qw).permute(0, 1, 4, 2, 5, 3)
            y = y.reshape(n, c_out, qh * sh, qw * sw)
        return _add_bias(_crop(y, padding, out), bias)
    return call


_BINDERS = {"direct": _bind_direct, "zero_insertion": _bind_zero_insertion,
            "gemm_col2im": _bind_gemm_col2im, "subpixel": _bind_subpixel}


def bind(formulation, x_shape, w_shape, *, stride=1, padding=0, output_padding=0, dilation=1,
         groups=1):
    """Check the arguments once and return ``call(x, w, bias=None)``, which runs ``formulation``
    on tensors of shapes ``x_shape`` and ``w_shape`` with nothing checked per call (``direct``:
    ``F.conv_transpose2d`` itself). A timing loop calls it, so it times the formulation and not
    Python's argument checks; the four public functions below are ``bind(...)(x, w, bias)``."""
    if formulation not in _BINDERS:
        raise ValueError(f"formulation must be one of {FORMULATIONS}, got {formulation!r}")
    x_shape = None if x_shape is None else tuple(x_shape)
    w_shape = None if w_shape is None else tuple(w_shape)
    checked = _params(x_shape, w_shape, stride, padding, output_padding, dilation, groups)
    return _BINDERS[formulation](x_shape, w_shape, *checked)


def direct(x, w, bias=None, *, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """``F.conv_transpose2d``: the library call, the reference for the others."""
    return bind("direct", _shape(x), _shape(w), stride=stride, padding=padding,
                output_padding=output_padding, dilation=dilation, groups=groups)(x, w, bias)


def zero_insertion(x, w, bias=None, *, stride=1, padding=0, output_padding=0, dilation=1,
                   groups=1):
    """Zeros between input cells, padding, then a stride-1 ``conv2d`` with :func:`conv_weight`."""
    return bind("zero_insertion", _shape(x), _shape(w), stride=stride, padding=padding,
                output_padding=output_padding, dilation=dilation, groups=groups)(x, w, bias)


def gemm_col2im(x, w, bias=None, *, stride=1, padding=0, output_padding=0, dilation=1,
                groups=1):
    """One GEMM (every input cell times every tap), then ``F.fold`` adds the columns in place."""
    return bind("gemm_col2im", _shape(x), _shape(w), stride=stride, padding=padding,
                output_padding=output_padding, dilation=dilation, groups=groups)(x, w, bias)


def subpixel(x, w, bias=None, *, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """``stride ** 2`` stride-1 convolutions (one conv2d), ``pixel_shuffle``, then the crop."""
    return bind("subpixel", _shape(x), _shape(w), stride=stride, padding=padding,
                output_padding=output_padding, dilation=dilation, groups=groups)(x, w, bias)


def work(x_shape, w_shape, *, stride=1, padding=0, output_padding=0, dilation=1, groups=1,
         itemsize=4, formulation="direct"):
    """What ``formulation`` executes on these shapes, as a dict:

    ``flops``        2 x the multiply-adds it performs, multiplications by inserted zeros included;
    ``useful_flops`` 2 x the multiply-adds of the operation itself (every input cell times every
                     tap), the same for all formulations;
    ``bytes``        the operation's compulsory traffic: read x and w once, write y once;
    ``extra_bytes``  intermediates the formulation writes and reads back (each counted twice).
    """
    n, c_in, h, wd = (as_int(f"x_shape[{i}]", v, minimum=1) for i, v in enumerate(x_shape))
    _, cout_g, kh, kw = (as_int(f"w_shape[{i}]", v, minimum=1) for i, v in enumerate(w_shape))
    stride = per_dim("stride", stride, 2, minimum=1)
    padding = per_dim("padding", padding, 2, minimum=0)
    output_padding = per_dim("output_padding", output_padding, 2, minimum=0)
    dilation = per_dim("dilation", dilation, 2, minimum=1)
    groups = as_int("groups", groups, minimum=1)
    c_out, cin_g = cout_g * groups, c_in // groups
    # The output size is PyTorch's rule, from tconv_utils.shapes (which also checks it).
    oh, ow = (shapes.torch_output_size(m, k, s, p, op, d) for m, k, s, p, op, d in
              zip((h, wd), (kh, kw), stride, padding, output_padding, dilation))
    useful = 2 * n * c_in * h * wd * cout_g * kh * kw
    compulsory = itemsize * (n * c_in * h * wd + c_in * cout_g * kh * kw + n * c_out * oh * ow)
    if formulation in ("direct", "compile", "compile_reduce_overhead", "keras"):
        flops, extra = useful, 0
    elif formulation == "zero_insertion":
        # The zero-inserted, bordered input: a stride-1 convolution of it with the dilated
        # kernel gives the output, so it is the output plus the kernel's extent less one.
        ph, pw = (o + shapes.effective_kernel(k, d) - 1
                  for o, k, d in zip((oh, ow), (kh, kw), dilation))
        flops = 2 * n * oh * ow * c_out * cin_g * kh * kw
        extra = 2 * itemsize * n * c_in * ph * pw
    elif formulation in ("gemm_col2im", "numpy"):
        flops = useful
        extra = 2 * itemsize * n * c_out * kh * kw * h * wd
    elif formulation == "subpixel":
        mh, mw = ((k - 1) * d // s + 1 for k, d, s in zip((kh, kw), dilation, stride))
        qh, qw = h + mh - 1, wd + mw - 1
        flops = 2 * n * qh * qw * c_out * stride[0] * stride[1] * cin_g * mh * mw
        # conv output written and read by pixel_shuffle, its copy written and read by the crop
        extra = 4 * itemsize * n * c_out * stride[0] * stride[1] * qh * qw
    else:
        raise ValueError(f"formulation must be one of {FORMULATIONS} or compile, "
                         f"compile_reduce_overhead, numpy, keras; got {formulation!r}")
    return {"flops": int(flops), "useful_flops": int(useful), "bytes": int(compulsory),
            "extra_bytes": int(extra)}


def arithmetic_intensity(counts) -> float:
    """Useful FLOPs per compulsory byte: where the operation sits on a roofline plot."""
    return counts["useful_flops"] / counts["bytes"]


__all__ = ["FORMULATIONS", "bind", "direct", "zero_insertion", "gemm_col2im", "subpixel",
           "conv_weight", "subpixel_taps", "subpixel_weight", "work", "arithmetic_intensity"]
