"""Checkerboard artifacts of transposed convolution: where they come from and how to measure them.

A transposed convolution with kernel ``k``, stride ``s`` and dilation ``d`` writes input cell ``i``
times tap ``t`` to output position ``i * s + t * d``. :func:`overlap_counts` counts how many
(cell, tap) pairs land on each position; :func:`even_overlap` is the closed-form rule for when
that count is the same everywhere away from the borders. :func:`checkerboard_energy` measures
the periodic pattern in an image through its spectrum.

The second half builds small PyTorch upsampling stacks (transposed convolution, resize then
convolution, sub-pixel convolution with or without ICNR initialisation) whose response to a
constant input shows the pattern. torch and matplotlib are imported inside the functions that
need them, so importing this module needs NumPy alone.
"""
from __future__ import annotations

import math

import numpy as np

from . import shapes
from ._checks import as_int, numeric_array, per_dim
from .frameworks import _import_torch
from .plotting import _pyplot

UPSAMPLING_METHODS = ("transposed", "nearest", "bilinear", "subpixel", "icnr")


# --- Overlap: how many kernel taps land on each output position ---------------------------------

def _rank(*values) -> int:
    lengths = {len(v) for v in values if isinstance(v, (list, tuple))}
    if len(lengths) > 1:
        raise ValueError(f"n, kernel, stride and dilation given per dimension must have the same "
                         f"length, got lengths {sorted(lengths)}")
    return lengths.pop() if lengths else 1


def _overlap_1d(n: int, kernel: int, stride: int, dilation: int) -> np.ndarray:
    # Every (input cell, tap) pair lands at i * stride + t * dilation; count the landings.
    landing = np.arange(n)[:, None] * stride + np.arange(kernel)[None, :] * dilation
    return np.bincount(landing.ravel(), minlength=shapes.full_size(n, kernel, stride, dilation))


def overlap_counts(n, kernel, stride=1, dilation=1) -> np.ndarray:
    """How many kernel taps land on each position of the full (uncropped) output.

    Each argument is an int or one int per spatial dimension; the result has one axis per
    dimension, of length ``(n - 1) * stride + dilation * (kernel - 1) + 1``. It is what a
    transposed convolution of an all-ones input with an all-ones kernel returns. In several
    dimensions the taps form a product, so the count is the outer product of 1-D counts.
    """
    ndim = _rank(n, kernel, stride, dilation)
    ns = per_dim("n", n, ndim, minimum=1)
    ks = per_dim("kernel", kernel, ndim, minimum=1)
    ss = per_dim("stride", stride, ndim, minimum=1)
    ds = per_dim("dilation", dilation, ndim, minimum=1)
    counts = np.ones((), dtype=np.int64)
    for args in zip(ns, ks, ss, ds):
        counts = np.multiply.outer(counts, _overlap_1d(*args))
    return counts


def interior_slice(n: int, kernel: int, stride: int = 1, dilation: int = 1) -> slice:
    """The output positions that every tap can reach from some input cell (1-D).

    Position ``o`` gets tap ``t`` from cell ``(o - t * dilation) / stride`` when that is a whole
    number in ``[0, n)``; for every tap to have its chance, ``o`` must lie in
    ``[(kernel - 1) * dilation, (n - 1) * stride]``. Outside that range the border thins the
    count whatever the kernel, so the divisibility rule speaks about this slice only.
    """
    n = as_int("n", n, minimum=1)
    kernel = as_int("kernel", kernel, minimum=1)
    stride = as_int("stride", stride, minimum=1)
    dilation = as_int("dilation", dilation, minimum=1)
    return slice((kernel - 1) * dilation, (n - 1) * stride + 1)


def min_interior_n(kernel: int, stride: int = 1, dilation: int = 1) -> int:
    """Smallest input length whose interior holds a full period (``stride`` positions)."""
    kernel = as_int("kernel", kernel, minimum=1)
    stride = as_int("stride", stride, minimum=1)
    dilation = as_int("dilation", dilation, minimum=1)
    return -(-(kernel - 1) * dilation // stride) + 2


def interior_overlap(kernel: int, stride: int = 1, dilation: int = 1) -> np.ndarray:
    """The interior counts over one period, read off :func:`overlap_counts` (1-D, length stride)."""
    n = min_interior_n(kernel, stride, dilation)
    inner = _overlap_1d(n, kernel, stride, dilation)[interior_slice(n, kernel, stride, dilation)]
    return inner[:as_int("stride", stride)]


def even_overlap(kernel: int, stride: int = 1, dilation: int = 1) -> bool:
    """The rule: the interior overlap is even exactly when ``stride`` divides ``kernel``
    (and ``stride`` shares no factor with ``dilation``).

    Why: tap ``t`` lands on the positions with remainder ``t * dilation mod stride``. With
    ``gcd(stride, dilation) = 1`` the taps cycle through all ``stride`` remainders in turn, so
    each remainder gets ``kernel / stride`` taps when that is whole and the counts differ by one
    otherwise. With a common factor some remainders get no tap at all.
    """
    kernel = as_int("kernel", kernel, minimum=1)
    stride = as_int("stride", stride, minimum=1)
    dilation = as_int("dilation", dilation, minimum=1)
    return kernel % stride == 0 and math.gcd(stride, dilation) == 1


# --- The artifact measure -----------------------------------------------------------------------

def checkerboard_energy(image, period: int = 2) -> float:
    """Fraction of an image's spectral energy at the non-zero multiples of ``1 / period``.

    Those frequencies hold exactly the part of the image that repeats every ``period`` pixels
    in both directions (less its mean), which is what a stride-``period`` checkerboard is. The
    denominator is the whole energy, mean (DC) included, so the result lies in ``[0, 1]``: 0 for
    a constant image, 1 for a zero-mean pattern of period ``period``, ``a**2 / (c**2 + a**2)``
    for a pattern of amplitude ``a`` on a level ``c``. The image is cut at the bottom and right
    to a multiple of ``period``; an all-zero image gives 0.
    """
    image = numeric_array("image", image)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {image.shape}")
    period = as_int("period", period, minimum=1)
    h, w = (size - size % period for size in image.shape)
    if h == 0 or w == 0:
        raise ValueError(f"image of shape {image.shape} is smaller than period={period} along "
                         f"some axis; it must hold at least one period")
    power = np.abs(np.fft.fft2(image[:h, :w].astype(np.float64))) ** 2
    total = power.sum()
    if total == 0:
        return 0.0
    # Frequency index u is u / h cycles per pixel: the multiples of 1/period are u = m * h/period.
    periodic = power[::h // period, ::w // period].sum() - power[0, 0]
    return float(max(periodic / total, 0.0))  # round-off must not print as -0.0


# --- Upsampling stacks in PyTorch ---------------------------------------------------------------

def same_size_padding(kernel: int, stride: int) -> tuple[int, int]:
    """``(padding, output_padding)`` that make a transposed convolution give exactly ``n * stride``.

    PyTorch gives ``(n - 1) * s - 2 * p + k + op``; setting that to ``n * s`` needs
    ``2 * p - op = k - s``: the smallest ``p >= 0`` with ``0 <= op < s``. With stride 1 that
    needs an odd kernel (``op`` must be 0).
    """
    kernel = as_int("kernel", kernel, minimum=1)
    stride = as_int("stride", stride, minimum=1)
    padding = max(-(-(kernel - stride) // 2), 0)
    output_padding = 2 * padding - (kernel - stride)
    if output_padding >= stride:
        raise ValueError(f"kernel={kernel} with stride={stride} cannot give exactly n * stride: "
                         f"2 * padding - output_padding must equal kernel - stride, which with "
                         f"stride 1 needs an odd kernel")
    return padding, output_padding


def icnr_(weight, stride: int, init=None):
    """ICNR initialisation, in place, of a sub-pixel convolution's weight (Aitken et al., 2017).

    ``weight`` has shape ``(C * stride**2, C_in, k, k)``, and ``PixelShuffle(stride)`` sends
    output channel ``c * stride**2 + r`` to sub-pixel ``r`` of channel ``c``. Filling all
    ``stride**2`` channels of each ``c`` with one kernel makes every sub-pixel equal at the
    start: the layer then equals a convolution followed by nearest-neighbour resize, which
    has no checkerboard. Training may then move the copies apart.
    """
    torch = _import_torch()
    stride = as_int("stride", stride, minimum=1)
    groups = stride * stride
    if weight.shape[0] % groups:
        raise ValueError(f"weight.shape[0]={weight.shape[0]} must be a multiple of "
                         f"stride**2={groups} for a sub-pixel convolution with stride={stride}")
    base = torch.empty((weight.shape[0] // groups, *weight.shape[1:]), dtype=weight.dtype)
    (init or (lambda t: torch.nn.init.kaiming_uniform_(t, a=math.sqrt(5))))(base)
    with torch.no_grad():
        weight.copy_(base.repeat_interleave(groups, dim=0))
    return weight


def subpixel_as_transposed(weight, stride: int):
    """Rewrite a sub-pixel convolution as a transposed convolution: ``(kernel, padding)``.

    ``weight`` is the convolution's ``(C_out * stride**2, C_in, k, k)`` weight (odd ``k``,
    padding ``k // 2``, no bias), followed by ``PixelShuffle(stride)``. Sub-pixel ``(a, b)`` of
    output cell ``(i, j)`` is input ``i + u - k // 2`` times tap ``u``; in a transposed
    convolution with stride ``stride`` the same input reaches it through tap
    ``stride * (k - 1 - u) + a``. The result is a ``(C_in, C_out, k * stride, k * stride)``
    kernel, a size divisible by the stride, with padding ``stride * (k // 2)``.
    """
    weight = numeric_array("weight", weight)
    stride = as_int("stride", stride, minimum=1)
    if weight.ndim != 4 or weight.shape[2] != weight.shape[3] or weight.shape[2] % 2 == 0:
        raise ValueError(f"weight must be (C_out * stride**2, C_in, k, k) with odd k, got shape "
                         f"{weight.shape}")
    if weight.shape[0] % (stride * stride):
        raise ValueError(f"weight.shape[0]={weight.shape[0]} must be a multiple of "
                         f"stride**2={stride * stride}")
    c_in, k = weight.shape[1], weight.shape[2]
    c_out = weight.shape[0] // (stride * stride)
    # Axes (c, a, b, ci, u, v) -> (ci, c, u', a, v', b) with u' = k - 1 - u, then merge u' with a.
    w = weight.reshape(c_out, stride, stride, c_in, k, k)[..., ::-1, ::-1]
    kernel = w.transpose(3, 0, 4, 1, 5, 2).reshape(c_in, c_out, k * stride, k * stride)
    return np.ascontiguousarray(kernel), stride * (k // 2)


def upsampling_layer(method: str, in_channels: int, out_channels: int, *, kernel: int = 3,
                     stride: int = 2):
    """One layer that makes the image ``stride`` times larger, by one of five methods.

    ``'transposed'``: ``ConvTranspose2d`` padded to give exactly ``n * stride``.
    ``'nearest'`` / ``'bilinear'``: resize, then a ``kernel``-sized convolution (odd kernel).
    ``'subpixel'``: a convolution to ``out_channels * stride**2`` channels, then ``PixelShuffle``.
    ``'icnr'``: the same, with ICNR initialisation (:func:`icnr_`) of weight and bias.
    """
    torch = _import_torch()
    nn = torch.nn
    if method not in UPSAMPLING_METHODS:
        raise ValueError(f"method must be one of {UPSAMPLING_METHODS}, got {method!r}")
    kernel = as_int("kernel", kernel, minimum=1)
    stride = as_int("stride", stride, minimum=1)
    if method == "transposed":
        padding, output_padding = same_size_padding(kernel, stride)
        return nn.ConvTranspose2d(in_channels, out_channels, kernel, stride=stride,
                                  padding=padding, output_padding=output_padding)
    if kernel % 2 == 0:
        raise ValueError(f"kernel must be odd for method={method!r} (so 'same' padding is "
                         f"symmetric), got kernel={kernel}")
    if method in ("nearest", "bilinear"):
        return nn.Sequential(nn.Upsample(scale_factor=stride, mode=method),
                             nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2))
    conv = nn.Conv2d(in_channels, out_channels * stride * stride, kernel, padding=kernel // 2)
    if method == "icnr":
        icnr_(conv.weight, stride)
        with torch.no_grad():
            conv.bias.copy_(conv.bias[::stride * stride].repeat_interleave(stride * stride))
    return nn.Sequential(conv, nn.PixelShuffle(stride))


def upsampling_stack(method: str, *, layers: int = 3, channels: int = 8, kernel: int = 3,
                     stride: int = 2, seed: int = 0, constant_weights: bool = False):
    """``layers`` upsampling layers with ReLU between them, ``channels`` wide, one channel out.

    Weights are PyTorch's default random initialisation drawn after ``torch.manual_seed(seed)``,
    or, with ``constant_weights=True``, every weight ``1 / fan_in`` and no bias: then the output
    of a constant input is the product of the layers' overlap counts, nothing else.
    """
    torch = _import_torch()
    nn = torch.nn
    layers = as_int("layers", layers, minimum=1)
    torch.manual_seed(seed)
    parts = []
    for i in range(layers):
        out = 1 if i == layers - 1 else channels
        parts.append(upsampling_layer(method, channels, out, kernel=kernel, stride=stride))
        if i < layers - 1:
            parts.append(nn.ReLU())
    stack = nn.Sequential(*parts)
    if constant_weights:
        with torch.no_grad():
            for module in stack.modules():
                if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                    module.weight.fill_(1.0 / (channels * kernel * kernel))
                    module.bias.zero_()
    return stack


def constant_response(stack, size: int = 8, channels: int = 8) -> np.ndarray:
    """The stack's output (2-D NumPy array) for an all-ones input of ``size`` x ``size`` pixels."""
    torch = _import_torch()
    x = torch.ones(1, channels, size, size)
    with torch.no_grad():
        return stack(x)[0, 0].numpy()


# --- Figures ------------------------------------------------------------------------------------

def plot_overlap_maps(pairs, n: int = 4, dilation: int = 1, dpi: int = 80):
    """Heatmaps of the 2-D overlap counts, one panel per ``(kernel, stride)`` pair, numbers shown."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(pairs), figsize=(3.2 * len(pairs), 3.4), dpi=dpi)
    for ax, (k, s) in zip(np.atleast_1d(axes), pairs):
        counts = overlap_counts((n, n), (k, k), (s, s), (dilation, dilation))
        ax.imshow(counts, cmap="viridis", vmin=0)
        for (r, c), value in np.ndenumerate(counts):
            ax.text(c, r, str(value), ha="center", va="center", fontsize=6,
                    color="white" if value < counts.max() / 2 else "black")
        verdict = "even" if even_overlap(k, s, dilation) else "uneven"
        ax.set_title(f"k={k}, s={s}: {verdict}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def plot_images(images, titles, *, ncols: int | None = None, cmap: str = "gray", dpi: int = 80):
    """A grid of 2-D images with titles, each scaled to its own range."""
    plt = _pyplot()
    ncols = ncols or len(images)
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.4 * ncols, 2.9 * nrows), dpi=dpi,
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, title in zip(axes.ravel(), images, titles):
        ax.imshow(image, cmap=cmap, interpolation="nearest")
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
