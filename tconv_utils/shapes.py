"""Output-size rules of transposed convolution, per spatial dimension.

Two rule books exist. PyTorch computes the size from its arguments::

    out = (n - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1

Keras (and ``tf.nn.conv_transpose`` under it) works the other way round: it fixes the output
size first (``'valid'`` or ``'same'``) and then places the "full" result of the scatter inside
it, cropping as TensorFlow's SAME convolution pads. :func:`keras_placement` gives that crop, so
that :mod:`tconv_utils.reference` and the framework bridges share one copy of the arithmetic.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from ._checks import as_int

PADDING_MODES = ("valid", "same")


def effective_kernel(kernel: int, dilation: int = 1) -> int:
    """Extent of a dilated kernel: ``dilation * (kernel - 1) + 1``."""
    kernel = as_int("kernel", kernel, minimum=1)
    dilation = as_int("dilation", dilation, minimum=1)
    return dilation * (kernel - 1) + 1


def full_size(n: int, kernel: int, stride: int = 1, dilation: int = 1) -> int:
    """Size of the uncropped scatter: every input cell times the whole kernel."""
    n = as_int("n", n, minimum=1)
    stride = as_int("stride", stride, minimum=1)
    return (n - 1) * stride + effective_kernel(kernel, dilation)


def torch_output_size(n: int, kernel: int, stride: int = 1, padding: int = 0,
                      output_padding: int = 0, dilation: int = 1) -> int:
    """PyTorch's ``ConvTranspose`` output size along one dimension.

    ``padding`` crops that many cells from both ends of the full result; ``output_padding``
    adds cells at the end only, and must be smaller than ``max(stride, dilation)``.
    """
    stride = as_int("stride", stride, minimum=1)
    dilation = as_int("dilation", dilation, minimum=1)
    padding = as_int("padding", padding, minimum=0)
    output_padding = as_int("output_padding", output_padding, minimum=0)
    limit = max(stride, dilation)
    if output_padding >= limit:
        raise ValueError(
            f"output_padding must be smaller than max(stride, dilation) = {limit}, got "
            f"output_padding={output_padding} with stride={stride}, dilation={dilation}")
    out = full_size(n, kernel, stride, dilation) - 2 * padding + output_padding
    if out < 1:
        raise ValueError(
            f"padding={padding} crops away the whole output (size {out}) for n={n}, "
            f"kernel={kernel}, stride={stride}, dilation={dilation}; padding must leave at least 1")
    return out


def _mode(padding) -> str:
    if not isinstance(padding, str):
        raise TypeError(f"padding must be 'valid' or 'same', got {padding!r}")
    mode = padding.lower()
    if mode not in PADDING_MODES:
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    return mode


def keras_output_size(n: int, kernel: int, stride: int = 1, padding: str = "valid",
                      output_padding: int | None = None, dilation: int = 1) -> int:
    """Keras ``Conv*DTranspose`` output size along one dimension.

    With ``output_padding=None`` (the Keras default) ``'same'`` gives ``n * stride`` and
    ``'valid'`` gives ``n * stride + max(k - stride, 0)``, ``k`` the dilated kernel extent.
    With an integer ``output_padding`` Keras uses PyTorch's formula with padding ``k // 2``
    (``'same'``) or 0 (``'valid'``); it must be smaller than ``stride``. A size below 1 raises
    ``ValueError``, as in PyTorch (Keras returns an empty output on TensorFlow's oneDNN kernels
    and raises an error on its others).
    """
    mode = _mode(padding)
    n = as_int("n", n, minimum=1)
    stride = as_int("stride", stride, minimum=1)
    k = effective_kernel(kernel, dilation)
    if output_padding is None:
        return n * stride if mode == "same" else n * stride + max(k - stride, 0)
    output_padding = as_int("output_padding", output_padding, minimum=0)
    if output_padding >= stride:
        raise ValueError(
            f"output_padding must be smaller than stride in Keras, got output_padding="
            f"{output_padding} with stride={stride}")
    pad = k // 2 if mode == "same" else 0
    out = (n - 1) * stride + k - 2 * pad + output_padding
    if out < 1:
        raise ValueError(f"output size {out} < 1 for n={n}, kernel={kernel}, stride={stride}, "
                         f"padding={padding!r}, output_padding={output_padding}")
    return out


def keras_placement(n: int, kernel: int, stride: int = 1, padding: str = "valid",
                    output_padding: int | None = None, dilation: int = 1) -> tuple[int, int]:
    """Where Keras/TF cuts its output from the full scatter: ``(start, size)``.

    The output is ``full[start : start + size]``, with zeros appended where it runs past the
    end of ``full``. TensorFlow crops as its SAME convolution pads: the total
    ``(n - 1) * stride + k - size`` (never negative) splits with the smaller half *before*.
    It refuses sizes whose forward convolution would not give back ``n``; so does this.
    """
    mode = _mode(padding)
    size = keras_output_size(n, kernel, stride, padding, output_padding, dilation)
    k = effective_kernel(kernel, dilation)
    if mode == "same":
        start = max((n - 1) * stride + k - size, 0) // 2
        back = -(-size // stride)  # ceil: the size SAME convolution would give back
    else:
        start = 0
        back = -(-(size - k + 1) // stride) if size >= k else 0
    if back != n:
        raise ValueError(
            f"output_padding={output_padding} gives output size {size}, but TensorFlow needs "
            f"a size whose {mode!r} convolution with stride {stride} gives back n={n} "
            f"(it gives {back}); choose another output_padding")
    return start, size


# --------------------------------------------------------------------------------------------
# The forward convolution and the many-to-one problem
# --------------------------------------------------------------------------------------------

def _numeric_padding(padding) -> tuple[int, int]:
    """A numeric padding (int, or one ``(before, after)`` pair) as a pair of ints."""
    if isinstance(padding, (tuple, list)):
        if len(padding) != 2:
            raise ValueError(f"padding as a pair must be (before, after), got {padding!r}")
        return (as_int("padding[0]", padding[0], minimum=0),
                as_int("padding[1]", padding[1], minimum=0))
    p = as_int("padding", padding, minimum=0)
    return p, p


def conv_output_size(n: int, kernel: int, stride: int = 1, padding=0, dilation: int = 1) -> int:
    """Output size of the *forward* convolution along one dimension.

    ``padding`` is an int or a ``(before, after)`` pair of zeros added around the input
    (PyTorch), or ``'valid'``/``'same'`` (TensorFlow: ``'same'`` gives ``ceil(n / stride)``).
    """
    n = as_int("n", n, minimum=1)
    stride = as_int("stride", stride, minimum=1)
    k = effective_kernel(kernel, dilation)
    if isinstance(padding, str):
        if _mode(padding) == "same":
            return -(-n // stride)
        before = after = 0
    else:
        before, after = _numeric_padding(padding)
    room = n + before + after - k
    if room < 0:
        raise ValueError(f"the dilated kernel (extent {k}) is larger than the padded input "
                         f"{n + before + after} (n={n}, padding={padding!r}): kernel extent {k} "
                         f"= dilation * (kernel - 1) + 1 must fit in it")
    return room // stride + 1


def tf_conv_padding(n: int, kernel: int, stride: int = 1, padding: str = "valid",
                    dilation: int = 1) -> tuple[int, int]:
    """The zeros ``(before, after)`` that TensorFlow's forward convolution adds around ``n`` cells.

    ``'valid'`` adds none. ``'same'`` adds what an output of ``ceil(n / stride)`` cells needs,
    the smaller half before: the split by which Keras' ``'same'`` transposed convolution crops.
    """
    mode = _mode(padding)
    n = as_int("n", n, minimum=1)
    stride = as_int("stride", stride, minimum=1)
    if mode == "valid":
        return 0, 0
    total = max((-(-n // stride) - 1) * stride + effective_kernel(kernel, dilation) - n, 0)
    return total // 2, total - total // 2


def conv_input_sizes(m: int, kernel: int, stride: int = 1, padding=0,
                     dilation: int = 1) -> list[int]:
    """Every input size that the forward convolution maps to ``m`` (the many-to-one problem).

    The convolution rounds down, so ``stride`` consecutive sizes share one output size; a
    transposed convolution of an ``m``-cell input must be told which of them to produce.
    """
    m = as_int("m", m, minimum=1)
    stride = as_int("stride", stride, minimum=1)
    k = effective_kernel(kernel, dilation)
    if isinstance(padding, str):
        lowest = (m - 1) * stride + (1 if _mode(padding) == "same" else k)
    else:
        before, after = _numeric_padding(padding)
        lowest = (m - 1) * stride + k - before - after
    return [n for n in range(lowest, lowest + stride) if n >= 1]


def output_padding_choices(n: int, kernel: int, stride: int = 1, padding=0,
                           dilation: int = 1) -> dict[int, int | None]:
    """For a transposed convolution of an ``n``-cell input: ``{output size: output_padding}``.

    The keys are the sizes whose forward convolution gives back ``n``. With a numeric
    (PyTorch) ``padding`` the value is PyTorch's ``output_padding``; with ``'valid'``/``'same'``
    it is Keras' ``output_padding``, or ``None`` where only Keras' default reaches that size
    (``'same'`` with an even kernel extent and size ``n * stride``).
    """
    n = as_int("n", n, minimum=1)
    k = effective_kernel(kernel, dilation)
    sizes = conv_input_sizes(n, kernel, stride, padding, dilation)
    if isinstance(padding, str):
        crop = 2 * (k // 2) if _mode(padding) == "same" else 0
    else:
        before, after = _numeric_padding(padding)
        if before != after:
            raise ValueError(f"PyTorch's output_padding needs a symmetric padding, got {padding!r}")
        crop = 2 * before
    base = (n - 1) * stride + k - crop  # the size with output_padding = 0
    choices = {}
    for size in sizes:
        op = size - base
        if 0 <= op < stride:
            choices[size] = op
        elif isinstance(padding, str) and size == keras_output_size(n, kernel, stride, padding,
                                                                       None, dilation):
            choices[size] = None
    return choices


def tf_output_shapes(n: int, kernel: int, stride: int = 1, padding: str = "valid",
                     dilation: int = 1) -> list[int]:
    """The sizes ``tf.nn.conv_transpose`` accepts as ``output_shape`` for an ``n``-cell input.

    TensorFlow checks that the forward convolution of ``output_shape`` gives back ``n`` and
    raises an error for other sizes, with one exception: its oneDNN CPU kernels (see
    :func:`tconv_utils.frameworks.tf_dilated` for when they run) also accept, for a single input
    cell (``n = 1``) with ``'valid'``, the sizes strictly between ``max(k - stride, 0)`` and
    ``k`` (``k`` the kernel extent), and return the first cells of the full scatter; its other
    kernels refuse them (measured with TensorFlow 2.21). Those sizes are not listed here, and
    :func:`tf_placement` refuses them.
    """
    _mode(padding)
    return conv_input_sizes(as_int("n", n, minimum=1), kernel, stride, padding, dilation)


def tf_placement(n: int, kernel: int, stride: int, padding: str, size: int,
                 dilation: int = 1) -> tuple[int, int]:
    """Where ``tf.nn.conv_transpose`` with ``output_shape=size`` cuts the full scatter.

    Returns ``(start, size)``: the output is ``full[start : start + size]`` with zeros past
    the end of ``full``, as :func:`keras_placement`, for any accepted ``output_shape``.
    """
    mode = _mode(padding)
    size = as_int("size", size, minimum=1)
    accepted = tf_output_shapes(n, kernel, stride, padding, dilation)
    if size not in accepted:
        raise ValueError(f"output_shape size {size} is refused by TensorFlow for n={n}, "
                         f"kernel={kernel}, stride={stride}, padding={padding!r}: its forward "
                         f"convolution must give back n; accepted sizes are {accepted}")
    # The crop at the start is the padding the forward convolution of `size` cells adds there.
    return tf_conv_padding(size, kernel, stride, mode, dilation)[0], size


# --------------------------------------------------------------------------------------------
# Equivalent arguments between PyTorch and Keras
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TorchArgs:
    """PyTorch ``padding`` and ``output_padding``, then ``crop_before``/``crop_after`` cells
    cut from the PyTorch output (both 0 when PyTorch alone matches)."""
    padding: int
    output_padding: int
    crop_before: int = 0
    crop_after: int = 0

    @property
    def exact(self) -> bool:
        return self.crop_before == 0 and self.crop_after == 0


@dataclass(frozen=True)
class KerasArgs:
    """Keras ``padding`` and ``output_padding`` (``None``: Keras' default), then
    ``crop_before``/``crop_after`` cells cut from the Keras output."""
    padding: str
    output_padding: int | None
    crop_before: int = 0
    crop_after: int = 0

    @property
    def exact(self) -> bool:
        return self.crop_before == 0 and self.crop_after == 0


def torch_window(n, kernel, stride, padding, output_padding, dilation):
    """PyTorch's output as ``(start, size)`` inside the full scatter (zeros past its end)."""
    size = torch_output_size(n, kernel, stride, padding, output_padding, dilation)
    return padding, size


def keras_refusal(stride, dilation):
    """Raise where Keras refuses the combination: stride > 1 together with dilation > 1."""
    if stride > 1 and dilation > 1:
        raise ValueError(f"Keras refuses strides > 1 together with dilation_rate > 1, got "
                         f"stride={stride}, dilation={dilation}")


def torch_args_for_keras(n: int, kernel: int, stride: int = 1, padding: str = "valid",
                         output_padding: int | None = None, dilation: int = 1) -> TorchArgs:
    """PyTorch arguments (plus a crop, only where needed) equal to a Keras configuration.

    Keras' output is ``full[start : start + size]`` (:func:`keras_placement`); PyTorch's is
    ``full[p : F - p + output_padding]`` with ``F`` the full size. The largest ``p`` that does
    not pass ``start`` leaves the smallest crop; it is zero whenever PyTorch alone can match.
    """
    stride = as_int("stride", stride, minimum=1)
    dilation = as_int("dilation", dilation, minimum=1)
    keras_refusal(stride, dilation)
    start, size = keras_placement(n, kernel, stride, padding, output_padding, dilation)
    tail = full_size(n, kernel, stride, dilation) - start - size
    return torch_args_for_window(start, tail, stride, dilation)  # never refuses a Keras window


def keras_args_for_torch(n: int, kernel: int, stride: int = 1, padding: int = 0,
                         output_padding: int = 0, dilation: int = 1) -> KerasArgs | None:
    """Keras arguments (plus a crop, only where needed) equal to a PyTorch configuration.

    Returns ``None`` where no Keras layer covers PyTorch's output: Keras refuses stride > 1
    with dilation > 1, and its ``output_padding`` must stay below ``stride``.
    """
    stride = as_int("stride", stride, minimum=1)
    dilation = as_int("dilation", dilation, minimum=1)
    t_start, t_size = torch_window(n, kernel, stride, padding, output_padding, dilation)
    if stride > 1 and dilation > 1:
        return None
    best = None
    for mode in PADDING_MODES:
        for op in (None, *range(stride)):
            try:
                start, size = keras_placement(n, kernel, stride, mode, op, dilation)
            except ValueError:
                continue  # TensorFlow refuses this output_padding for this n
            before, after = t_start - start, start + size - t_start - t_size
            if before < 0 or after < 0:
                continue
            if best is None or before + after < best.crop_before + best.crop_after:
                best = KerasArgs(mode, op, before, after)
    return best


def no_keras_equivalent_reason(n: int, kernel: int, stride: int = 1, padding: int = 0,
                               output_padding: int = 0, dilation: int = 1) -> str | None:
    """Why :func:`keras_args_for_torch` finds no Keras layer for a PyTorch configuration, in
    one sentence; ``None`` where it finds one.

    Either Keras refuses the stride and dilation together, or PyTorch appends more zeros after
    the full result than Keras can: Keras' ``'valid'`` keeps the full result from its first
    cell, so only the end can fall short, and Keras appends at most ``stride - 1`` zeros
    (``'valid'`` with ``output_padding = stride - 1``).
    """
    if keras_args_for_torch(n, kernel, stride, padding, output_padding, dilation) is not None:
        return None
    if stride > 1 and dilation > 1:
        return (f"Keras refuses strides > 1 together with dilation_rate > 1 (stride={stride}, "
                f"dilation={dilation})")
    start, size = torch_window(n, kernel, stride, padding, output_padding, dilation)
    appended = start + size - full_size(n, kernel, stride, dilation)
    return (f"PyTorch appends {appended} zero(s) after the full result; Keras appends at most "
            f"stride - 1 = {stride - 1}")


# --------------------------------------------------------------------------------------------
# JAX/Flax and ONNX: their padding arguments as windows of the full scatter
# --------------------------------------------------------------------------------------------

LAX_PADDING_MODES = ("SAME", "VALID")
ONNX_AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


def apply_windows(full, windows):
    """Cut ``(start, size)`` windows (one per trailing spatial dim) from an array of full scatters:
    ``full[..., start:start + size, ...]``, with zeros wherever a window runs outside ``full``.

    This is how every framework's output relates to the uncropped result (``padding=0`` in
    PyTorch): :func:`keras_placement`, :func:`torch_window`, :func:`lax_window` and
    :func:`onnx_window` give the windows.
    """
    import numpy as np

    full = np.asarray(full)
    nd = len(windows)
    if full.ndim < nd:
        raise ValueError(f"full has {full.ndim} dims, fewer than the {nd} windows")
    out = np.zeros(full.shape[:full.ndim - nd] + tuple(size for _, size in windows), full.dtype)
    src, dst = [Ellipsis], [Ellipsis]
    for (start, size), length in zip(windows, full.shape[full.ndim - nd:]):
        lo, hi = max(start, 0), min(start + size, length)
        if hi <= lo:
            return out  # the window misses the full result: all zeros
        src.append(slice(lo, hi))
        dst.append(slice(lo - start, hi - start))
    out[tuple(dst)] = full[tuple(src)]
    return out


def torch_args_for_window(start: int, tail: int, stride: int = 1, dilation: int = 1) -> TorchArgs:
    """PyTorch arguments (plus a crop, only where needed) that keep ``full[start : F - tail]``
    of the full scatter (``F`` cells; ``tail < 0``: ``-tail`` zeros appended).

    PyTorch keeps ``full[p : F - p + output_padding]`` with ``output_padding < max(stride,
    dilation)``. The largest ``p`` that does not pass ``start`` leaves the smallest crop; it is
    zero whenever PyTorch alone can match. Raises ``ValueError`` with the reason where no crop
    helps: zeros in front of the full result, or more zeros after it than ``output_padding``
    can append.
    """
    limit = max(stride, dilation)  # PyTorch's bound on output_padding
    if start < 0:
        raise ValueError(f"the window starts {-start} cell(s) before the full result (zeros in "
                         f"front); PyTorch's padding and output_padding cannot put any there")
    for p in range(start, -1, -1):
        op = max(0, p - tail)
        if op < limit:
            return TorchArgs(p, op, start - p, op - p + tail)
    raise ValueError(f"the window appends {-tail} zero(s) after the full result; PyTorch appends "
                     f"at most output_padding < max(stride, dilation) = {limit}")


def lax_padding(kernel: int, stride: int = 1, padding="VALID", dilation: int = 1) -> tuple[int, int]:
    """The zeros ``(low, high)`` that ``jax.lax.conv_transpose`` adds around its input, after
    putting ``stride - 1`` zeros between the input cells; Flax's ``ConvTranspose`` passes its
    ``padding`` to it unchanged.

    ``'SAME'`` and ``'VALID'`` become pairs by JAX's rule (``_conv_transpose_padding``); a
    ``(low, high)`` pair is used as given, negative values cropping. This is not PyTorch's
    ``padding``: there, larger values crop more; here, larger values keep more.
    """
    stride = as_int("stride", stride, minimum=1)
    k = effective_kernel(kernel, dilation)
    if isinstance(padding, str):
        if padding not in LAX_PADDING_MODES:
            raise ValueError(f"padding must be 'SAME', 'VALID' (JAX spells them in capitals) or "
                             f"a (low, high) pair, got {padding!r}")
        if padding == "SAME":
            total = k + stride - 2
            low = k - 1 if stride > k - 1 else -(-total // 2)
        else:
            total = k + stride - 2 + max(k - stride, 0)
            low = k - 1
        return low, total - low
    if not isinstance(padding, (tuple, list)) or len(padding) != 2:
        raise ValueError(f"padding must be 'SAME', 'VALID' or a (low, high) pair, got {padding!r}")
    return as_int("padding[0]", padding[0]), as_int("padding[1]", padding[1])


def lax_window(n: int, kernel: int, stride: int = 1, padding="VALID",
               dilation: int = 1) -> tuple[int, int]:
    """Where ``jax.lax.conv_transpose`` (and Flax's ``ConvTranspose``) cut the full scatter.

    Returns ``(start, size)``: the output is ``full[start : start + size]``, with zeros wherever
    that runs outside ``full`` (a negative ``start`` puts zeros in front). With padding
    ``(low, high)`` from :func:`lax_padding`, ``start = k - 1 - low`` and the output has
    ``(n - 1) * stride + 1 + low + high - k + 1`` cells, ``k`` the dilated kernel extent.
    """
    n = as_int("n", n, minimum=1)
    low, high = lax_padding(kernel, stride, padding, dilation)
    k = effective_kernel(kernel, dilation)
    size = (n - 1) * stride + 1 + low + high - k + 1
    if size < 1:
        raise ValueError(f"padding {padding!r} leaves no output (size {size}) for n={n}, "
                         f"kernel={kernel}, stride={stride}, dilation={dilation}")
    return k - 1 - low, size


def onnx_window(n: int, kernel: int, stride: int = 1, pads=(0, 0), output_padding: int = 0,
                dilation: int = 1, auto_pad: str = "NOTSET",
                output_shape: int | None = None) -> tuple[int, int]:
    """Where ONNX ``ConvTranspose`` cuts the full scatter, by the rule its operator spec states.

    The full scatter, followed by ``output_padding`` zeros, loses ``pads = (begin, end)`` cells at
    its two ends. ``auto_pad='VALID'`` means pads ``(0, 0)``. With ``output_shape`` or
    ``auto_pad='SAME_UPPER'/'SAME_LOWER'`` (whose output has ``n * stride`` cells) the pads are
    derived: ``total = full + output_padding - size`` splits with the smaller half at the
    *begin* for ``SAME_UPPER`` and at the *end* otherwise. Returns ``(start, size)`` as
    :func:`keras_placement` does.

    A negative ``total`` (more cells asked for than the scatter plus ``output_padding`` has:
    for ``SAME``, where ``dilation * (kernel - 1) + 1 + output_padding < stride``) is refused.
    The spec's pads must be non-negative and its halving of a negative total can round either
    way, so it does not say where the extra cells go, and implementations differ: ONNX
    Runtime's CPU provider clamps the total at zero (a ``SAME`` output then has the scatter's
    size, not ``n * stride``), ONNX's reference implementation halves it rounding down.
    """
    n = as_int("n", n, minimum=1)
    stride = as_int("stride", stride, minimum=1)
    output_padding = as_int("output_padding", output_padding, minimum=0)
    if auto_pad not in ONNX_AUTO_PADS:
        raise ValueError(f"auto_pad must be one of {ONNX_AUTO_PADS}, got {auto_pad!r}")
    full = full_size(n, kernel, stride, dilation) + output_padding
    if output_shape is not None or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        size = (as_int("output_shape", output_shape, minimum=1) if output_shape is not None
                else n * stride)
        total = full - size
        if total < 0:
            raise ValueError(f"output size {size} is larger than the scatter plus output_padding "
                             f"({full}): the ONNX spec gives no non-negative pads for it, so it "
                             f"does not say where the {-total} extra cell(s) go, and runtimes "
                             f"differ (n={n}, kernel={kernel}, stride={stride}, "
                             f"dilation={dilation}, auto_pad={auto_pad!r})")
        begin = total // 2 if auto_pad == "SAME_UPPER" else total - total // 2
        return begin, size
    begin, end = (0, 0) if auto_pad == "VALID" else (
        as_int("pads[begin]", pads[0], minimum=0), as_int("pads[end]", pads[1], minimum=0))
    size = full - begin - end
    if size < 1:
        raise ValueError(f"pads {tuple(pads)} crop away the whole output (size {size}) for n={n}, "
                         f"kernel={kernel}, stride={stride}, dilation={dilation}")
    return begin, size


# --------------------------------------------------------------------------------------------
# Command line: python -m tconv_utils.shapes --input 4 --kernel 3 --stride 2 --padding same
# --------------------------------------------------------------------------------------------

def _fmt_sizes(choices: dict) -> str:
    return ", ".join(f"{size} (output_padding={op})" for size, op in choices.items())


def describe(n: int, kernel: int, stride: int = 1, padding="valid", output_padding=None,
             dilation: int = 1) -> str:
    """The command's report: output size under each framework's rule, and the equivalent
    arguments in the other framework. Raises ``ValueError`` for impossible configurations."""
    full = full_size(n, kernel, stride, dilation)
    lines = []
    if isinstance(padding, str):
        mode = _mode(padding)
        keras_refusal(stride, dilation)
        start, size = keras_placement(n, kernel, stride, mode, output_padding, dilation)
        default = " (Keras default)" if output_padding is None else ""
        lines += [
            f"Keras Conv*DTranspose(kernel_size={kernel}, strides={stride}, padding='{mode}', "
            f"output_padding={output_padding}{default}, dilation_rate={dilation}) on {n} cells",
            f"  Keras output size: {size} = full scatter ({full}) cells {start}..{start + size - 1}"
            + (" with zeros past its end" if start + size > full else ""),
            f"  tf.nn.conv_transpose accepts output_shape sizes: "
            f"{', '.join(map(str, tf_output_shapes(n, kernel, stride, mode, dilation)))}",
            f"  Keras output_padding per size: {_fmt_sizes(output_padding_choices(n, kernel, stride, mode, dilation))}",
        ]
        t = torch_args_for_keras(n, kernel, stride, mode, output_padding, dilation)
        t_size = torch_output_size(n, kernel, stride, t.padding, t.output_padding, dilation)
        crop = ("exact, no crop" if t.exact else
                f"then crop {t.crop_before} before and {t.crop_after} after -> {size}")
        lines.append(f"PyTorch equivalent: ConvTranspose(kernel_size={kernel}, stride={stride}, "
                     f"padding={t.padding}, output_padding={t.output_padding}, "
                     f"dilation={dilation}) gives {t_size}; {crop}")
        return "\n".join(lines)
    p = as_int("padding", padding, minimum=0)
    op = 0 if output_padding is None else output_padding
    size = torch_output_size(n, kernel, stride, p, op, dilation)
    lines += [
        f"PyTorch ConvTranspose(kernel_size={kernel}, stride={stride}, padding={p}, "
        f"output_padding={op}, dilation={dilation}) on {n} cells",
        f"  PyTorch output size: {size} = ({n} - 1) * {stride} - 2 * {p} + {dilation} * "
        f"({kernel} - 1) + {op} + 1",
        f"  sizes a convolution maps back to {n}: "
        f"{_fmt_sizes(output_padding_choices(n, kernel, stride, p, dilation))}",
    ]
    keras = keras_args_for_torch(n, kernel, stride, p, op, dilation)
    if keras is None:
        lines.append(f"Keras equivalent: none ("
                     f"{no_keras_equivalent_reason(n, kernel, stride, p, op, dilation)})")
    else:
        k_size = keras_placement(n, kernel, stride, keras.padding, keras.output_padding,
                                 dilation)[1]
        crop = ("exact, no crop" if keras.exact else
                f"then crop {keras.crop_before} before and {keras.crop_after} after -> {size}")
        lines.append(f"Keras equivalent: Conv*DTranspose(kernel_size={kernel}, strides={stride}, "
                     f"padding='{keras.padding}', output_padding={keras.output_padding}, "
                     f"dilation_rate={dilation}) gives {k_size}; {crop}")
    return "\n".join(lines)


def _padding_arg(text: str):
    if text.lower() in PADDING_MODES:
        return text.lower()
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be 'valid', 'same' or a non-negative integer, got {text!r}") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tconv_utils.shapes",
        description="Output size of a transposed convolution under PyTorch's and Keras' rules, "
                    "and the equivalent arguments in the other framework.")
    parser.add_argument("--input", type=int, required=True, help="input size along one dim")
    parser.add_argument("--kernel", type=int, required=True, help="kernel size")
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--padding", type=_padding_arg, default="valid",
                        help="'valid' or 'same' (Keras/TF), or an integer (PyTorch)")
    parser.add_argument("--output-padding", type=int, default=None)
    parser.add_argument("--dilation", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        print(describe(args.input, args.kernel, args.stride, args.padding,
                       args.output_padding, args.dilation))
    except (ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
