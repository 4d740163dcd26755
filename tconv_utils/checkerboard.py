"""Checkerboard artifacts of transposed convolution: where they come from and how to measure them.

A transposed convolution with kernel ``k``, stride ``s`` and dilation ``d`` writes input cell ``i``
times tap ``t`` to output position ``i * s + t * d``. :func:`overlap_counts` counts how many
(cell, tap) pairs land on each position; :func:`even_overlap` is the closed-form rule for when
that count is the same everywhere away from the borders; :func:`path_counts` composes the counts
through a stack; :func:`phase_sums` says what each output phase adds up on a flat input.
:func:`checkerboard_amplitude` measures the part of an image that repeats with the period, in the
image's own units, and :func:`contrast_without_pattern` the contrast left when that part is
removed: the scale against which to read it. :func:`checkerboard_energy`, a share of spectral
energy, is kept to show how the choice of denominator changes what a share says.

The second half builds small PyTorch upsampling stacks (transposed convolution, resize then
convolution, sub-pixel convolution with or without ICNR initialisation), rewrites resize-conv and
sub-pixel convolution as transposed convolutions, and feeds the stacks flat and textured inputs.
torch and matplotlib are imported inside the functions that need them, so importing this module
needs NumPy alone.
"""
from __future__ import annotations

import math

import numpy as np

from . import shapes
from ._checks import as_int, numeric_array, per_dim
from .frameworks import _import_torch
from .plotting import _pyplot
from .reference import conv_transpose

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


def path_counts(n: int, layers) -> np.ndarray:
    """How many paths lead from the ``n`` input cells to each output position of a 1-D stack.

    ``layers`` lists each transposed convolution as ``(kernel, stride)`` or ``(kernel, stride,
    padding, output_padding)``, first layer first. One layer's count is :func:`overlap_counts`
    (cropped as PyTorch crops); through a stack the counts compose: a position of layer 2 adds
    up the counts of the layer-1 positions its taps come from, which is a transposed convolution
    of the layer-1 counts with an all-ones kernel. Each path is one choice of (input cell, tap of
    layer 1, tap of layer 2, ...). An all-ones input through layers whose weights are all ones
    gives exactly these numbers.
    """
    counts = np.ones(as_int("n", n, minimum=1), dtype=np.float64)
    for index, layer in enumerate(layers):
        if not 2 <= len(layer) <= 4:
            raise ValueError(f"layers[{index}] must be (kernel, stride) or (kernel, stride, "
                             f"padding, output_padding), got {layer!r}")
        kernel, stride, padding, output_padding = (*layer, 0, 0)[:4]
        kernel = as_int(f"layers[{index}] kernel", kernel, minimum=1)
        counts = conv_transpose(counts[None, None], np.ones((1, 1, kernel)), stride=stride,
                                padding=padding, output_padding=output_padding)[0, 0]
    return np.rint(counts).astype(np.int64)


def phase_sums(weight, stride: int, *, per_input_channel: bool = False) -> np.ndarray:
    """What each output phase of a transposed convolution adds up on a flat input.

    ``weight`` is a ``ConvTranspose2d`` weight ``(C_in, C_out, kH, kW)``. Away from the borders,
    the output pixels whose full (uncropped) position has remainders ``(a, b)`` modulo
    ``stride`` are each fed by the taps of one *tap phase*, ``weight[:, :, a::stride,
    b::stride]``; with ``padding`` p, output pixel ``o`` sits at full position ``o + p``. Returns
    the sums of those taps, indexed by tap phase: shape ``(C_out, stride, stride)``, summed over
    the input channels, or, with ``per_input_channel=True``, ``(C_in, C_out, stride, stride)``.

    Two rules follow (without bias; a transposed convolution's bias is one number per output
    channel, so it cannot make a pattern). On an all-ones input, or any flat input whose
    channels all hold the same value, every pixel of a phase equals its summed phase sum, so the
    interior is flat exactly when, for each output channel, the ``stride**2`` summed sums are
    equal. On a flat input whose channels hold different values ``x_c``, each phase gives
    ``sum_c x_c * S[c, out, phase]``: the interior is flat for every such input exactly when,
    for each (input, output) channel pair, the ``stride**2`` sums are equal.
    """
    weight = numeric_array("weight", weight)
    stride = as_int("stride", stride, minimum=1)
    if weight.ndim != 4:
        raise ValueError(f"weight must be (C_in, C_out, kH, kW), got shape {weight.shape}")
    sums = np.zeros((*weight.shape[:2], stride, stride))
    for a in range(stride):
        for b in range(stride):
            sums[:, :, a, b] = weight[:, :, a::stride, b::stride].sum(axis=(2, 3))
    return sums if per_input_channel else sums.sum(axis=0)


# --- The artifact measure -----------------------------------------------------------------------

def _period_crop(image, period):
    """The image as a float64 2-D array cut at the bottom and right to a multiple of ``period``."""
    image = numeric_array("image", image)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {image.shape}")
    period = as_int("period", period, minimum=1)
    h, w = (size - size % period for size in image.shape)
    if h == 0 or w == 0:
        raise ValueError(f"image of shape {image.shape} is smaller than period={period} along "
                         f"some axis; it must hold at least one period")
    return image[:h, :w].astype(np.float64), period


def periodic_component(image, period: int = 2, *, degree: int = 1) -> np.ndarray:
    """The part of an image that repeats every ``period`` pixels in both directions, less its mean.

    The image is modelled, by least squares, as a polynomial surface of total degree ``degree``
    (0: a constant level; 1: a plane) plus a ``period`` x ``period`` tile repeated over it. The
    result is that tile, shifted to zero mean: ``result[a, b]`` belongs to every pixel ``(i, j)``
    with ``i % period == a`` and ``j % period == b``. With ``degree=0`` the tile is simply the
    mean of each of those phases. The image is cut at the bottom and right to a multiple of
    ``period``.
    """
    image, period = _period_crop(image, period)
    degree = as_int("degree", degree, minimum=0)
    h, w = image.shape
    if degree and min(h, w) < 2 * period:
        raise ValueError(f"image of shape {image.shape} holds fewer than two periods "
                         f"(period={period}) along some axis, so a trend of degree={degree} "
                         f"cannot be told from the pattern; pass degree=0 or a larger image")
    rows, cols = np.indices((h, w))
    # Polynomial terms of degree 1..degree (the constant is already in the span of the phases);
    # coordinates scaled to [-1, 1] keep the least-squares problem well conditioned.
    y, x = 2.0 * rows / max(h - 1, 1) - 1.0, 2.0 * cols / max(w - 1, 1) - 1.0
    terms = np.array([y ** p * x ** (d - p) for d in range(1, degree + 1) for p in range(d + 1)])
    # Least squares on phases and terms together, in two small steps (Frisch-Waugh): take each
    # phase's mean out of the image and of every term, fit the terms to what is left, and the
    # tile is then the phase means of the image less the fitted surface.
    image_left = image - _tile_over(_phase_means(image, period), image.shape)
    if len(terms):
        terms_left = terms - _tile_over(_phase_means(terms, period), image.shape)
        coefficients, *_ = np.linalg.lstsq(terms_left.reshape(len(terms), -1).T,
                                           image_left.ravel(), rcond=None)
        image = image - np.tensordot(coefficients, terms, axes=1)
    tile = _phase_means(image, period)
    return tile - tile.mean()


def _phase_means(images, period: int) -> np.ndarray:
    """Mean of each phase ``(i % period, j % period)`` over the last two axes (multiples of period)."""
    h, w = images.shape[-2:]
    blocks = images.reshape(*images.shape[:-2], h // period, period, w // period, period)
    return blocks.mean(axis=(-4, -2))


def _tile_over(tiles, shape) -> np.ndarray:
    """``period`` x ``period`` tiles (over the last two axes) laid over an image of ``shape``."""
    period = tiles.shape[-1]
    reps = (shape[0] // period, shape[1] // period)
    return np.tile(tiles, (1,) * (tiles.ndim - 2) + reps)


def checkerboard_amplitude(image, period: int = 2, *, degree: int = 1) -> float:
    """Amplitude of the part of an image that repeats every ``period`` pixels, in its own units.

    It is the root mean square of :func:`periodic_component` over the image: a checkerboard
    that alternates between ``c + a`` and ``c - a`` gives ``|a|`` whatever the level ``c`` (and,
    with ``degree >= 1``, whatever plane it sits on); an image with no component of that period
    gives 0. With ``degree=0`` it is exactly the spectral energy at the non-zero multiples of
    ``1 / period``, square-rooted and divided by the pixel count ``H * W``.

    It measures periodic content, not only artifacts: a texture with the period (stripes one
    pixel wide, for ``period=2``) counts in full, and noise of standard deviation ``sigma``
    adds about ``sigma**2 * (period**2 - 1) / (H * W)`` to the square of the result. On the
    response to a flat input, where the image itself has no such content, it is the artifact.
    Divide by :func:`contrast_without_pattern` of a textured response for a number without units.
    """
    return float(np.sqrt(np.mean(periodic_component(image, period, degree=degree) ** 2)))


def contrast_without_pattern(image, period: int = 2, *, degree: int = 1) -> float:
    """Standard deviation of an image once its period-``period`` component is removed.

    The image (cut to a multiple of ``period``) minus :func:`periodic_component` laid over it:
    the contrast that is not the pattern. Use it as the scale for :func:`checkerboard_amplitude`
    of the same network's response to a flat input; the plain standard deviation of a
    network's textured response would count the network's own pattern in the scale as well.
    """
    cropped, period = _period_crop(image, period)
    tile = periodic_component(cropped, period, degree=degree)
    return float((cropped - _tile_over(tile, cropped.shape)).std())


def checkerboard_energy(image, period: int = 2, *, include_mean: bool = True) -> float:
    """Fraction of an image's spectral energy at the non-zero multiples of ``1 / period``.

    Those frequencies hold exactly the part of the image that repeats every ``period`` pixels
    in both directions (less its mean). With ``include_mean=True`` the denominator is the whole
    energy, mean (DC) included: 0 for a constant image, 1 for a zero-mean pattern of period
    ``period``, ``a**2 / (c**2 + a**2)`` for a pattern of amplitude ``a`` on a level ``c``, so
    it falls as the level rises. With ``include_mean=False`` the mean is left out of the
    denominator too: the result is ``checkerboard_amplitude(image, period, degree=0)**2`` over
    the image's variance, independent of the level, and 1 for any image that is all pattern.
    The image is cut at the bottom and right to a multiple of ``period``; an image with no
    energy to share gives 0.
    """
    image, period = _period_crop(image, period)
    h, w = image.shape
    power = np.abs(np.fft.fft2(image)) ** 2
    total = power.sum() - (0.0 if include_mean else power[0, 0])
    if total <= 1e-24 * power.sum():  # nothing but round-off (a constant image, mean left out)
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


def icnr_(weight, stride: int, init=None, *, bias=None):
    """ICNR initialisation, in place, of a sub-pixel convolution's weight (Aitken et al., 2017).

    ``weight`` has shape ``(C * stride**2, C_in, k, k)``, and ``PixelShuffle(stride)`` sends
    output channel ``c * stride**2 + r`` to sub-pixel ``r`` of channel ``c``. Filling all
    ``stride**2`` channels of each ``c`` with one kernel ties the weights of the sub-pixels.
    A sub-pixel convolution's bias is one number per sub-pixel, so it must be tied too: pass
    the layer's ``bias`` and the first of each group of ``stride**2`` entries is copied to the
    rest. With both tied every sub-pixel is equal at the start, and the layer equals a
    convolution followed by nearest-neighbour resize, which has no checkerboard; with the
    weight alone, a random bias still draws one. Training may then move the copies apart.
    """
    torch = _import_torch()
    stride = as_int("stride", stride, minimum=1)
    groups = stride * stride
    if weight.shape[0] % groups:
        raise ValueError(f"weight.shape[0]={weight.shape[0]} must be a multiple of "
                         f"stride**2={groups} for a sub-pixel convolution with stride={stride}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"bias must have shape ({weight.shape[0]},), one entry per output "
                         f"channel of the weight, got {tuple(bias.shape)}")
    base = torch.empty((weight.shape[0] // groups, *weight.shape[1:]), dtype=weight.dtype)
    (init or (lambda t: torch.nn.init.kaiming_uniform_(t, a=math.sqrt(5))))(base)
    with torch.no_grad():
        weight.copy_(base.repeat_interleave(groups, dim=0))
        if bias is not None:
            bias.copy_(bias[::groups].repeat_interleave(groups))
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


def _resize_taps(stride: int, mode: str) -> tuple[np.ndarray, int]:
    """A resize by ``stride`` as a 1-D transposed convolution: ``(taps, padding)``.

    Nearest: input cell ``i`` is copied to outputs ``i * s .. i * s + s - 1``: ``s`` taps of 1.
    Bilinear (``align_corners=False``): output ``o`` reads the input at ``(o + 0.5) / s - 0.5``
    and weights cell ``i`` by ``1 - |that - i|`` where positive, away from the borders.
    """
    if mode == "nearest":
        return np.ones(stride), 0
    offsets = np.arange(-stride, 2 * stride)            # o - i * s, wide enough for any s
    taps = np.maximum(0.0, 1.0 - np.abs((offsets + 0.5) / stride - 0.5))
    used = np.flatnonzero(taps)
    return taps[used[0]:used[-1] + 1], int(-offsets[used[0]])


def resize_conv_as_transposed(weight, stride: int, mode: str = "nearest"):
    """Rewrite resize then convolution as one transposed convolution: ``(kernel, padding)``.

    ``weight`` is the ``Conv2d`` weight ``(C_out, C_in, k, k)`` (odd ``k``, padding ``k // 2``,
    no bias) that follows ``Upsample(scale_factor=stride, mode=mode)``. A resize is itself a
    transposed convolution with stride ``stride`` (nearest: ``stride`` taps of 1; bilinear:
    the ``1 - |distance|`` weights of its neighbours), and a stride-1 convolution after it
    widens its kernel by ``k - 1``: the result's kernel is the resize kernel convolved with the
    flipped ``weight``, ``(C_in, C_out, K, K)``.

    ``'nearest'``: ``K = k + stride - 1``, padding ``k // 2``, exact everywhere. Each phase of
    the kernel holds every tap of ``weight`` exactly once, so all phases add up to the same
    sum: the phases are tied. ``'bilinear'`` (``align_corners=False``): ``K = k + 2 * stride - 1``
    for even ``stride`` (``k + 2 * stride - 2`` for odd), exact away from the borders only,
    where PyTorch clamps the coordinates it reads. Its phases are tied as well: each phase of
    the bilinear taps adds up to 1.
    """
    weight = numeric_array("weight", weight)
    stride = as_int("stride", stride, minimum=1)
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"mode must be 'nearest' or 'bilinear', got {mode!r}")
    if weight.ndim != 4 or weight.shape[2] != weight.shape[3] or weight.shape[2] % 2 == 0:
        raise ValueError(f"weight must be (C_out, C_in, k, k) with odd k, got shape "
                         f"{weight.shape}")
    k = weight.shape[2]
    taps, resize_padding = _resize_taps(stride, mode)
    flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    size = len(taps) + k - 1
    kernel = np.zeros((*flipped.shape[:2], size, size), dtype=np.result_type(flipped, taps))
    for r, tap_r in enumerate(taps):
        for c, tap_c in enumerate(taps):
            kernel[:, :, r:r + k, c:c + k] += tap_r * tap_c * flipped
    return kernel.astype(weight.dtype), resize_padding + k // 2


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
        icnr_(conv.weight, stride, bias=conv.bias)
    return nn.Sequential(conv, nn.PixelShuffle(stride))


def upsampling_stack(method: str, *, layers: int = 3, channels: int = 8, kernel: int = 3,
                     stride: int = 2, seed: int = 0, constant_weights: bool = False):
    """``layers`` upsampling layers with ReLU between them, ``channels`` wide, one channel out.

    Weights are PyTorch's default random initialisation drawn after ``torch.manual_seed(seed)``,
    or, with ``constant_weights=True``, every weight ``1 / (channels * kernel**2)`` and no
    bias: then the output of an all-ones input counts the paths from the input to each pixel
    (:func:`path_counts`, the outer product of the 1-D counts in 2-D), scaled by
    ``kernel**(-2 * layers)``, and nothing else.
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


def downsampling_stack(method: str, *, layers: int = 3, channels: int = 8, kernel: int = 3,
                       stride: int = 2, seed: int = 0):
    """A small discriminator-like stack that makes the image ``stride**layers`` times smaller.

    ``'strided'``: ``layers`` convolutions with ``kernel`` and ``stride`` (padding
    ``(kernel - 1) // 2``), ReLU after each. ``'pool'``: a 3x3 convolution with stride 1, then
    ``AvgPool2d(stride)``, then ReLU. A 1x1 convolution to one channel closes both. One channel
    in; weights are PyTorch's default initialisation drawn after ``torch.manual_seed(seed)``.
    """
    torch = _import_torch()
    nn = torch.nn
    if method not in ("strided", "pool"):
        raise ValueError(f"method must be 'strided' or 'pool', got {method!r}")
    layers = as_int("layers", layers, minimum=1)
    kernel = as_int("kernel", kernel, minimum=1)
    stride = as_int("stride", stride, minimum=1)
    torch.manual_seed(seed)
    parts, c_in = [], 1
    for _ in range(layers):
        if method == "strided":
            parts.append(nn.Conv2d(c_in, channels, kernel, stride=stride, padding=(kernel - 1) // 2))
        else:
            parts += [nn.Conv2d(c_in, channels, 3, padding=1), nn.AvgPool2d(stride)]
        parts.append(nn.ReLU())
        c_in = channels
    parts.append(nn.Conv2d(channels, 1, 1))
    return nn.Sequential(*parts)


def constant_response(stack, size: int = 8, channels: int = 8) -> np.ndarray:
    """The stack's output (2-D NumPy array) for an all-ones input of ``size`` x ``size`` pixels."""
    torch = _import_torch()
    x = torch.ones(1, channels, size, size)
    with torch.no_grad():
        return stack(x)[0, 0].numpy()


def random_response(stack, size: int = 8, channels: int = 8, seed: int = 0) -> np.ndarray:
    """The stack's output (2-D NumPy array) for an input of uniform random pixels in [0, 1].

    A scale against which to read the amplitude of the pattern the stack adds to a flat input
    is :func:`contrast_without_pattern` of this output, not its plain standard deviation: the
    input's mean is 0.5, so an untied stack draws its pattern here as well.
    """
    torch = _import_torch()
    generator = torch.Generator().manual_seed(as_int("seed", seed, minimum=0))
    x = torch.rand(1, channels, size, size, generator=generator)
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


def plot_spread(values: dict, *, xlabel: str, title: str | None = None, dpi: int = 80):
    """One row per entry of ``values`` (label -> numbers): every number as a dot, the mean as a
    bar and one standard deviation either side as a line, so spreads can be compared by eye."""
    plt = _pyplot()
    labels = list(values)
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(labels) + 1.1), dpi=dpi)
    for row, label in enumerate(labels):
        data = np.asarray(values[label], dtype=float)
        mean, std = data.mean(), data.std(ddof=1) if len(data) > 1 else 0.0
        ax.plot(data, np.full(len(data), row), "o", color="tab:blue", alpha=0.6, markersize=5)
        ax.plot([mean - std, mean + std], [row, row], color="black", linewidth=1.5)
        ax.plot([mean, mean], [row - 0.25, row + 0.25], color="black", linewidth=2.5)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
