"""Output-size rules of transposed convolution, per spatial dimension.

Two rule books exist. PyTorch computes the size from its arguments::

    out = (n - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1

Keras (and ``tf.nn.conv_transpose`` under it) works the other way round: it fixes the output
size first (``'valid'`` or ``'same'``) and then places the "full" result of the scatter inside
it, cropping as TensorFlow's SAME convolution pads. :func:`keras_placement` gives that crop, so
that :mod:`tconv_utils.reference` and the framework bridges share one copy of the arithmetic.
"""
from __future__ import annotations

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
    adds cells at the end only, and must be smaller than ``stride`` or ``dilation``.
    """
    stride = as_int("stride", stride, minimum=1)
    dilation = as_int("dilation", dilation, minimum=1)
    padding = as_int("padding", padding, minimum=0)
    output_padding = as_int("output_padding", output_padding, minimum=0)
    if output_padding >= max(stride, dilation):
        raise ValueError(
            f"output_padding must be smaller than stride or dilation, got output_padding="
            f"{output_padding} with stride={stride}, dilation={dilation}")
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
    (``'same'``) or 0 (``'valid'``); it must be smaller than ``stride``.
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
