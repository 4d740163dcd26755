"""Transposed convolution in JAX (``jax.lax``) and Flax, translated from and to PyTorch.

JAX differs from PyTorch in three ways, each handled here:

- **The kernel.** ``lax.conv_transpose`` with ``transpose_kernel=False`` (its default, and
  Flax's) correlates the stride-dilated input with the kernel as given, which is PyTorch's
  transposed convolution with the kernel *flipped* in every spatial dim; its kernel layout is
  ``(*k, C_in, C_out)``. ``transpose_kernel=True`` flips it back and reads ``(*k, C_out, C_in)``,
  Keras' layout. :func:`jax_kernel_from_torch` and :func:`torch_weight_from_jax` convert.
- **The padding.** A ``(low, high)`` pair counts zeros *added* around the stride-dilated input,
  where PyTorch's ``padding`` counts cells *cropped*: PyTorch ``p`` is JAX ``k - 1 - p``
  (``k`` the dilated kernel extent). The arithmetic is :func:`tconv_utils.shapes.lax_window`.
- **Groups.** ``lax.conv_transpose`` and Flax's ``ConvTranspose`` have no groups argument. A
  grouped layer is one ungrouped layer whose kernel is block-diagonal in the channels
  (:func:`block_diagonal_weight`); :func:`flax_from_torch` gives Flax that kernel with a ``mask``
  of the same blocks, so the zeros between groups stay zero in training, at ``groups`` times the
  multiply-adds. ``lax.conv_general_dilated`` with ``lhs_dilation`` (the zero-insertion view)
  has ``feature_group_count``, so :func:`lax_lhs_dilated_conv` runs the grouped layer as such.

Arrays cross the bridge as NumPy, channels-first like the rest of the library. jax and flax are
imported inside the functions, so importing this module needs NumPy alone.
"""
from __future__ import annotations

import numpy as np

from . import shapes
from ._checks import as_int, numeric_array, per_dim
from .torch_build import checked_conv_transpose, conv_transpose_module

_FLAX_APIS = ("linen", "nnx")


def _import_jax():
    try:
        import jax
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("this function needs JAX: pip install jax") from err
    return jax


# --------------------------------------------------------------------------------------------
# Kernels and padding
# --------------------------------------------------------------------------------------------

def _spatial_axes(ndim):
    return tuple(range(2, ndim))


def jax_kernel_from_torch(w, *, transpose_kernel: bool = False) -> np.ndarray:
    """PyTorch weight ``(C_in, C_out, *k)`` as the kernel ``lax.conv_transpose`` and Flax expect.

    ``transpose_kernel=False``: ``(*k, C_in, C_out)``, flipped in every spatial dim.
    ``transpose_kernel=True``: ``(*k, C_out, C_in)``, not flipped (Keras' layout).
    """
    w = numeric_array("w", w)
    if w.ndim < 3:
        raise ValueError(f"w must be (C_in, C_out, *kernel) with 1-3 kernel dims, got {w.shape}")
    spatial = _spatial_axes(w.ndim)
    if transpose_kernel:
        return np.ascontiguousarray(np.transpose(w, spatial + (1, 0)))
    # copy(): a flipped view of a size-1 axis keeps a negative stride that torch refuses
    return np.transpose(np.flip(w, spatial), spatial + (0, 1)).copy()


def torch_weight_from_jax(kernel, *, transpose_kernel: bool = False) -> np.ndarray:
    """The inverse of :func:`jax_kernel_from_torch`: a PyTorch weight ``(C_in, C_out, *k)``."""
    kernel = numeric_array("kernel", kernel)
    if kernel.ndim < 3:
        raise ValueError(f"kernel must be (*kernel, C, C) with 1-3 kernel dims, got {kernel.shape}")
    nd = kernel.ndim - 2
    if transpose_kernel:
        return np.ascontiguousarray(np.transpose(kernel, (nd + 1, nd) + tuple(range(nd))))
    w = np.transpose(kernel, (nd, nd + 1) + tuple(range(nd)))
    return np.flip(w, _spatial_axes(w.ndim)).copy()


def block_diagonal_weight(w, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """A grouped PyTorch weight ``(C_in, C_out / groups, *k)`` as the weight of one ungrouped
    layer, ``(C_in, C_out, *k)``: group ``g``'s input channels reach only its output channels,
    so the weight is block-diagonal in the channels. Returns ``(weight, mask)``, the mask 1 on
    the blocks and 0 elsewhere. The ungrouped layer computes the same output."""
    w = numeric_array("w", w)
    if w.ndim < 3:
        raise ValueError(f"w must be (C_in, C_out / groups, *kernel) with 1-3 kernel dims, got {w.shape}")
    c_in, cout_g = w.shape[:2]
    groups = as_int("groups", groups, minimum=1)
    if c_in % groups:
        raise ValueError(f"groups={groups} must divide C_in={c_in}")
    cin_g = c_in // groups
    weight = np.zeros((c_in, cout_g * groups) + w.shape[2:], np.float32)
    mask = np.zeros_like(weight)
    for g in range(groups):
        rows, cols = slice(g * cin_g, (g + 1) * cin_g), slice(g * cout_g, (g + 1) * cout_g)
        weight[rows, cols] = w[rows]
        mask[rows, cols] = 1.0
    return weight, mask


def lax_padding_from_torch(kernel_size, stride=1, padding=0, output_padding=0,
                           dilation=1) -> tuple[tuple[int, int], ...]:
    """``(low, high)`` per spatial dim for ``lax.conv_transpose`` (or Flax) that keep PyTorch's
    window: ``low = k - 1 - padding`` and ``high = low + output_padding``, ``k`` the dilated
    kernel extent. Every PyTorch configuration has one (negative values crop)."""
    kernel_size = tuple(kernel_size) if isinstance(kernel_size, (tuple, list)) else (kernel_size,)
    nd = len(kernel_size)
    stride, padding, output_padding, dilation = (
        per_dim(name, value, nd, minimum=m) for name, value, m in
        [("stride", stride, 1), ("padding", padding, 0), ("output_padding", output_padding, 0),
         ("dilation", dilation, 1)])
    pairs = []
    for k, s, p, op, d in zip(kernel_size, stride, padding, output_padding, dilation):
        shapes.torch_output_size(1, k, s, 0, op, d)  # PyTorch's own check of output_padding
        low = shapes.effective_kernel(k, d) - 1 - p
        pairs.append((low, low + op))
    return tuple(pairs)


def torch_padding_from_lax(kernel_size, stride=1, padding="VALID",
                           dilation=1) -> tuple[shapes.TorchArgs, ...]:
    """PyTorch ``padding``/``output_padding`` (and any crop still needed), one
    :class:`~tconv_utils.shapes.TorchArgs` per spatial dim, for a ``lax.conv_transpose``/Flax
    ``padding``: ``'SAME'``, ``'VALID'`` or one ``(low, high)`` pair per spatial dim.

    The window does not depend on the input size: it starts at ``k - 1 - low`` and leaves
    ``k - 1 - high`` cells of the full scatter at the end. Raises ``ValueError`` naming the dim
    and the reason where PyTorch cannot keep it even with a crop: zeros in front
    (``low > k - 1``) or more zeros at the end than ``output_padding`` appends.
    """
    kernel_size = tuple(kernel_size) if isinstance(kernel_size, (tuple, list)) else (kernel_size,)
    nd = len(kernel_size)
    stride = per_dim("stride", stride, nd, minimum=1)
    dilation = per_dim("dilation", dilation, nd, minimum=1)
    if isinstance(padding, str):
        padding = [padding] * nd
    elif len(padding) != nd:
        raise ValueError(f"padding must be 'SAME', 'VALID' or {nd} (low, high) pairs, got {padding!r}")
    args = []
    for i, (k, s, pad, d) in enumerate(zip(kernel_size, stride, padding, dilation)):
        low, high = shapes.lax_padding(k, s, pad, d)
        extent = shapes.effective_kernel(k, d)
        try:
            args.append(shapes.torch_args_for_window(extent - 1 - low, extent - 1 - high, s, d))
        except ValueError as err:
            raise ValueError(f"JAX padding {pad!r} (low={low}, high={high}) with kernel {k}, "
                             f"stride {s}, dilation {d}, along spatial dim {i}: {err}") from None
    return tuple(args)


# --------------------------------------------------------------------------------------------
# Running JAX on NumPy arrays
# --------------------------------------------------------------------------------------------

def _to_numpy_channels_first(y) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(np.asarray(y, np.float32), -1, 1))


def _channels_last(x) -> np.ndarray:
    return np.moveaxis(np.asarray(numeric_array("x", x), np.float32), 1, -1)


def lax_conv_transpose(x, kernel, bias=None, *, stride=1, padding="VALID", dilation=1,
                       transpose_kernel: bool = False) -> np.ndarray:
    """``jax.lax.conv_transpose`` with JAX's own arguments, on channels-first NumPy input.

    ``x`` is ``(N, C_in, *spatial)``; ``kernel`` is in JAX's layout for ``transpose_kernel``
    (see :func:`jax_kernel_from_torch`); ``padding`` means what JAX says (``'SAME'``,
    ``'VALID'`` or ``(low, high)`` pairs). Returns ``(N, C_out, *spatial)`` in float32.
    """
    jax = _import_jax()
    x = _channels_last(x)
    kernel = np.asarray(numeric_array("kernel", kernel), np.float32)
    nd = x.ndim - 2
    if kernel.ndim != x.ndim:
        raise ValueError(f"x and kernel must have the same number of dims, got {x.ndim} and "
                         f"{kernel.ndim}")
    pad = padding if isinstance(padding, str) else [tuple(p) for p in padding]
    y = jax.lax.conv_transpose(x, kernel, per_dim("stride", stride, nd, minimum=1), pad,
                               rhs_dilation=per_dim("dilation", dilation, nd, minimum=1),
                               transpose_kernel=transpose_kernel,
                               precision=jax.lax.Precision.HIGHEST)
    if bias is not None:
        y = y + np.asarray(numeric_array("bias", bias), np.float32)
    return _to_numpy_channels_first(y)


def lax_lhs_dilated_conv(x, w, bias=None, *, stride=1, padding=0, output_padding=0, dilation=1,
                         groups=1) -> np.ndarray:
    """PyTorch's ``conv_transpose`` (its arguments and layouts) computed by
    ``jax.lax.conv_general_dilated`` with ``lhs_dilation=stride``: zeros inserted between the
    input cells, ``(low, high)`` zeros around them, then an ordinary convolution with the kernel
    flipped and its channel axes swapped. ``groups`` maps to ``feature_group_count``."""
    jax = _import_jax()
    x = np.asarray(numeric_array("x", x), np.float32)
    w = np.asarray(numeric_array("w", w), np.float32)
    nd = x.ndim - 2
    if nd not in (1, 2, 3) or w.ndim != x.ndim:
        raise ValueError(f"x must be (N, C_in, *spatial) and w (C_in, C_out // groups, *kernel) "
                         f"with 1-3 spatial dims, got {x.shape} and {w.shape}")
    c_in, cout_g = w.shape[:2]
    if groups < 1 or c_in % groups or x.shape[1] != c_in:
        raise ValueError(f"groups={groups} must divide C_in={c_in}, and x must have C_in "
                         f"channels (got {x.shape[1]})")
    pads = lax_padding_from_torch(w.shape[2:], stride, padding, output_padding, dilation)
    # (C_in, C_out/g, *k) -> forward-convolution kernel (C_out, C_in/g, *k), flipped.
    fwd = w.reshape(groups, c_in // groups, cout_g, *w.shape[2:]).swapaxes(1, 2)
    fwd = np.flip(fwd.reshape(groups * cout_g, c_in // groups, *w.shape[2:]), _spatial_axes(w.ndim))
    y = jax.lax.conv_general_dilated(
        x, fwd.copy(), window_strides=(1,) * nd, padding=pads,
        lhs_dilation=per_dim("stride", stride, nd, minimum=1),
        rhs_dilation=per_dim("dilation", dilation, nd, minimum=1),
        feature_group_count=groups, precision=jax.lax.Precision.HIGHEST)
    y = np.asarray(y, np.float32)
    if bias is not None:
        y = y + np.asarray(numeric_array("bias", bias), np.float32).reshape((1, -1) + (1,) * nd)
    return np.ascontiguousarray(y)


# --------------------------------------------------------------------------------------------
# Flax ConvTranspose (linen and nnx) <-> PyTorch nn.ConvTranspose
# --------------------------------------------------------------------------------------------

def flax_from_torch(module, *, api: str = "nnx", transpose_kernel: bool = False):
    """A Flax ``ConvTranspose`` that computes what a PyTorch ``nn.ConvTranspose{1,2,3}d`` computes.

    ``api='nnx'`` returns a ``flax.nnx.ConvTranspose`` holding the weights; ``api='linen'``
    returns ``(flax.linen.ConvTranspose, variables)`` for ``layer.apply(variables, x)``. Both
    take channels-last input. The padding is explicit ``(low, high)`` pairs (from
    :func:`lax_padding_from_torch`); ``transpose_kernel`` picks the kernel convention; the
    precision is ``'highest'`` (full float32 on accelerators that would round to TF32).

    Flax has no ``groups``: a grouped layer becomes one ungrouped ``ConvTranspose`` with the
    block-diagonal kernel of :func:`block_diagonal_weight` and that kernel's ``mask``, which Flax
    multiplies into the kernel at every call, so the zeros between groups also stay zero in
    training. Raises ``ValueError`` for a ``padding_mode`` other than ``'zeros'``.
    """
    if api not in _FLAX_APIS:
        raise ValueError(f"api must be one of {_FLAX_APIS}, got {api!r}")
    conv = checked_conv_transpose(module, "only padding_mode='zeros' can be expressed")
    weight, mask = conv.weight.detach().cpu().numpy(), None
    if conv.groups > 1:
        weight, mask = block_diagonal_weight(weight, conv.groups)
        mask = jax_kernel_from_torch(mask, transpose_kernel=transpose_kernel)
    kernel = jax_kernel_from_torch(weight, transpose_kernel=transpose_kernel)
    bias = None if conv.bias is None else conv.bias.detach().cpu().numpy().astype(np.float32)
    options = dict(kernel_size=tuple(conv.kernel_size), strides=tuple(conv.stride),
                   padding=lax_padding_from_torch(conv.kernel_size, conv.stride, conv.padding,
                                                  conv.output_padding, conv.dilation),
                   kernel_dilation=tuple(conv.dilation), use_bias=bias is not None, mask=mask,
                   transpose_kernel=transpose_kernel, precision="highest")
    if api == "linen":
        import flax.linen

        layer = flax.linen.ConvTranspose(features=conv.out_channels, **options)
        params = {"kernel": kernel.astype(np.float32)}
        if bias is not None:
            params["bias"] = bias
        return layer, {"params": params}
    from flax import nnx

    # Zeros initialisers: the weights are replaced at once, and a random initialiser would
    # compile a random-number program for every new kernel shape.
    layer = nnx.ConvTranspose(conv.in_channels, conv.out_channels, rngs=nnx.Rngs(0),
                              kernel_init=nnx.initializers.zeros_init(),
                              bias_init=nnx.initializers.zeros_init(), **options)
    layer.kernel[...] = kernel.astype(np.float32)
    if bias is not None:
        layer.bias[...] = bias
    return layer


def _flax_config(layer, variables):
    """Kernel, bias and arguments of a Flax ConvTranspose (linen with variables, or nnx)."""
    import flax.linen
    from flax import nnx

    if isinstance(layer, nnx.ConvTranspose):
        if variables is not None:
            raise ValueError("an nnx.ConvTranspose holds its weights: pass no variables")
        kernel = np.asarray(layer.kernel[...])
        bias = None if layer.bias is None else np.asarray(layer.bias[...])
    elif isinstance(layer, flax.linen.ConvTranspose):
        if variables is None:
            raise ValueError("a linen.ConvTranspose needs its variables ({'params': ...})")
        params = variables["params"]
        kernel = np.asarray(params["kernel"])
        bias = np.asarray(params["bias"]) if layer.use_bias else None
    else:
        raise TypeError(f"layer must be a flax.nnx.ConvTranspose or flax.linen.ConvTranspose, got "
                        f"{type(layer).__name__}")
    if layer.mask is not None:
        kernel = kernel * np.asarray(layer.mask)  # what Flax multiplies before the convolution
    nd = kernel.ndim - 2
    broadcast = lambda v: (1,) * nd if v is None else (  # noqa: E731 - Flax's own rule
        (v,) * nd if isinstance(v, int) else tuple(v))
    return kernel, bias, broadcast(layer.strides), layer.padding, broadcast(layer.kernel_dilation), \
        layer.transpose_kernel


def torch_from_flax(layer, variables=None):
    """A PyTorch ``nn.ConvTranspose{1,2,3}d`` that computes what a Flax ``ConvTranspose`` computes.

    ``layer`` is an ``nnx.ConvTranspose``, or a ``linen.ConvTranspose`` with its ``variables``.
    Where PyTorch's symmetric crop cannot keep Flax's window (``'SAME'`` with kernel 3 and
    stride 2, say) the result is ``Sequential(ConvTranspose, Crop)``. A layer with a ``mask``
    (a grouped layer from :func:`flax_from_torch`, say) comes back as one ungrouped layer
    holding the masked kernel, which computes the same. Raises ``ValueError``
    naming the reason where PyTorch cannot: ``padding='CIRCULAR'`` (Flax wraps the output
    around; PyTorch's transposed convolutions pad with zeros only), or a window that starts
    before the full scatter or appends more zeros than ``output_padding`` can.
    """
    from flax.linen.linear import canonicalize_padding

    kernel, bias, strides, padding, dilation, transpose_kernel = _flax_config(layer, variables)
    nd = kernel.ndim - 2
    padding = canonicalize_padding(padding, nd)
    if padding == "CIRCULAR":
        raise ValueError("Flax ConvTranspose(padding='CIRCULAR') wraps the output around "
                         "periodically; PyTorch's transposed convolutions pad with zeros only "
                         "(padding_mode='zeros'), so no nn.ConvTranspose computes it")
    if isinstance(padding, str) and padding not in shapes.LAX_PADDING_MODES:
        raise ValueError(f"padding {padding!r} is not one Flax's ConvTranspose passes to "
                         f"lax.conv_transpose ('SAME', 'VALID', 'CIRCULAR' or pairs)")
    args = torch_padding_from_lax(kernel.shape[:nd], strides, padding, dilation)
    w = torch_weight_from_jax(kernel, transpose_kernel=transpose_kernel)
    return conv_transpose_module(w, bias, stride=strides, dilation=dilation, args=args)


def flax_call(layer, x, variables=None) -> np.ndarray:
    """Call a Flax layer (nnx, or linen with ``variables``) on channels-first NumPy input;
    the result comes back channels-first, in float32."""
    xl = _channels_last(x)
    y = layer(xl) if variables is None else layer.apply(variables, xl)
    return _to_numpy_channels_first(y)
