"""Port transposed-convolution layers, and small decoders built from them, between Keras and PyTorch.

Both frameworks compute the same "full" scatter of every input cell times the kernel; they differ
only in which window of it they keep. PyTorch's ``padding=p`` crops ``p`` cells from *both* ends
and ``output_padding`` appends cells at the end. Keras' ``'same'`` crops as TensorFlow's SAME
convolution pads, with the smaller half *before*, so for kernel 3 and stride 2 it crops 0 cells
before and 1 after, which no symmetric ``padding`` can do. The arithmetic lives in
:mod:`tconv_utils.shapes` (``keras_placement``, ``torch_args_for_keras``); this module turns it
into modules: a PyTorch layer plus, where needed, an extra one-sided crop, and back to Keras.

Layouts: Keras kernels are ``(*kernel, C_out, C_in)``, PyTorch weights ``(C_in, C_out, *kernel)``
(the same numbers, no flip; :mod:`tconv_utils.frameworks` converts them). A ported PyTorch module
takes channels-first input ``(N, C, *spatial)`` where the Keras layer takes channels-last.

torch and keras are imported inside the functions; the two small ``nn.Module`` classes this module
defines (:class:`Crop` and :class:`ChannelsLastReshape`) are created on first use.
"""
from __future__ import annotations

import functools

import numpy as np

from . import shapes
from ._checks import as_int, per_dim
from .frameworks import (_import_keras, _import_torch, keras_kernel_from_torch,
                         torch_weight_from_keras)

# Input lengths at which a layer's crop is measured. The crop of a Keras layer does not depend on
# the input length (checked for every layer ported); a fixed PyTorch module relies on that.
_PROBE_LENGTHS = (1, 2, 3, 4, 5, 8)

__all__ = ["keras_crop_as_torch", "keras_expressible_pairs", "torch_from_keras", "keras_from_torch",
           "torch_from_keras_model", "plot_port_difference", "Crop", "ChannelsLastReshape"]


# --------------------------------------------------------------------------------------------
# The arithmetic: which window of the full scatter each framework keeps.
# --------------------------------------------------------------------------------------------

def _keras_window(kernel, stride, padding, output_padding, dilation):
    """``(start, tail)``: Keras keeps ``full[start : len(full) - tail]`` (``tail < 0``: zeros appended).

    Measured with :func:`shapes.keras_placement` at several input lengths; raises if the window
    moved with the input length, because then no fixed PyTorch module could reproduce it.
    """
    windows = {(start, shapes.full_size(n, kernel, stride, dilation) - start - size)
               for n in _PROBE_LENGTHS
               for start, size in [shapes.keras_placement(n, kernel, stride, padding,
                                                          output_padding, dilation)]}
    return _one_answer(windows, f"the crop of Keras padding={padding!r} with kernel={kernel}, "
                                f"stride={stride}, output_padding={output_padding}, "
                                f"dilation={dilation}")


def keras_crop_as_torch(kernel: int, stride: int = 1, padding: str = "valid",
                        output_padding: int | None = None, dilation: int = 1) -> shapes.TorchArgs:
    """PyTorch arguments (and any extra crop) that reproduce one spatial dim of a Keras layer.

    :func:`shapes.torch_args_for_keras` answers for one input length; a PyTorch module must
    answer for every length, so this asks at several and raises if the answers differ.
    """
    found = {shapes.torch_args_for_keras(n, kernel, stride, padding, output_padding, dilation)
             for n in _PROBE_LENGTHS}
    return _one_answer(found, f"the PyTorch equivalent of Keras padding={padding!r} with "
                              f"kernel={kernel}, stride={stride}, output_padding={output_padding}, "
                              f"dilation={dilation}")


def _one_answer(answers: set, what: str):
    """The one element of ``answers`` (one per probed input length), or a clear error."""
    if len(answers) != 1:
        raise ValueError(f"{what} depends on the input length ({sorted(answers, key=repr)}), "
                         f"so no fixed PyTorch module can reproduce it")
    return answers.pop()


def _torch_window(padding, output_padding, crop_before=0, crop_after=0):
    """``(start, tail)`` of a PyTorch layer followed by a crop, in the terms of :func:`_keras_window`."""
    return padding + crop_before, padding - output_padding + crop_after


# --------------------------------------------------------------------------------------------
# Two small nn.Modules, created on first use so that importing this module needs NumPy only.
# --------------------------------------------------------------------------------------------

@functools.cache
def _module_classes():
    torch = _import_torch()
    nn = torch.nn

    class Crop(nn.Module):
        """Crop ``before[i]`` cells at the start and ``after[i]`` at the end of spatial dim ``i``."""

        def __init__(self, before, after):
            super().__init__()
            if len(before) != len(after):
                raise ValueError(f"before and after must have one entry per spatial dim, got "
                                 f"{before!r} and {after!r}")
            self.before = tuple(as_int("before", b, minimum=0) for b in before)
            self.after = tuple(as_int("after", a, minimum=0) for a in after)

        def forward(self, x):
            index = [slice(None), slice(None)]
            index += [slice(b, x.shape[2 + i] - a)
                      for i, (b, a) in enumerate(zip(self.before, self.after))]
            return x[tuple(index)]

        def extra_repr(self):
            return f"before={self.before}, after={self.after}"

    class ChannelsLastReshape(nn.Module):
        """Keras ``Reshape`` of a flat vector, returned channels-first.

        Keras reads the vector as ``(*spatial, C)``; reshaping it straight to PyTorch's
        ``(C, *spatial)`` would scramble the channels, so reshape as Keras does, then move
        the channel axis.
        """

        def __init__(self, target_shape):
            super().__init__()
            self.target_shape = tuple(int(t) for t in target_shape)

        def forward(self, x):
            return x.reshape(x.shape[0], *self.target_shape).movedim(-1, 1)

        def extra_repr(self):
            return f"target_shape={self.target_shape} (channels-last, returned channels-first)"

    return {"Crop": Crop, "ChannelsLastReshape": ChannelsLastReshape}


def __getattr__(name):
    # `from tconv_utils.porting import Crop` imports torch only at that moment.
    if name in ("Crop", "ChannelsLastReshape"):
        return _module_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------------------------
# One layer: Keras -> PyTorch.
# --------------------------------------------------------------------------------------------

_TRANSPOSED = {"Conv1DTranspose": 1, "Conv2DTranspose": 2, "Conv3DTranspose": 3}


def _torch_activation(name, where):
    """The PyTorch module for a Keras activation name, or None for 'linear'."""
    nn = _import_torch().nn
    table = {"linear": None, "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
             # keras.activations.leaky_relu defaults to slope 0.2 (the LeakyReLU layer to 0.3)
             "leaky_relu": lambda: nn.LeakyReLU(0.2)}
    if name not in table:
        raise ValueError(f"{where}: activation {name!r} has no PyTorch port here; supported: "
                         f"{sorted(table)}")
    return None if table[name] is None else table[name]()


def _activation_name(activation):
    # get_config() names built-in activations by string; anything else is a custom function.
    if not isinstance(activation, str):
        raise ValueError(f"activation {activation!r} is not a built-in Keras activation name")
    return activation


def torch_from_keras(layer):
    """A ``torch.nn.Module`` that computes what a built Keras ``Conv{1,2,3}DTranspose`` computes.

    The module takes channels-first input ``(N, C_in, *spatial)`` of any spatial size and returns
    ``(N, C_out, *spatial_out)``. It is a plain ``nn.ConvTranspose{1,2,3}d`` when PyTorch's
    ``padding`` and ``output_padding`` reproduce Keras' crop, and otherwise an ``nn.Sequential``
    of that layer and a :class:`Crop` (Keras ``'same'`` with an odd ``kernel - stride`` crops
    one cell more at the end than at the start). The layer's activation, if any, follows.
    """
    nd = _TRANSPOSED.get(type(layer).__name__)
    if nd is None:
        raise TypeError(f"layer must be a Keras Conv1DTranspose, Conv2DTranspose or "
                        f"Conv3DTranspose, got {type(layer).__name__}")
    if not layer.built:
        raise ValueError(f"layer {layer.name!r} is not built: call it once or call "
                         f"layer.build(input_shape) so that its weights exist")
    torch = _import_torch()
    nn = torch.nn
    config = layer.get_config()
    kernel, stride = tuple(config["kernel_size"]), tuple(config["strides"])
    dilation = tuple(config["dilation_rate"])
    output_padding = config["output_padding"]
    output_padding = (None,) * nd if output_padding is None else per_dim(
        "output_padding", tuple(output_padding), nd, minimum=0)
    args = [keras_crop_as_torch(k, s, config["padding"], op, d)
            for k, s, op, d in zip(kernel, stride, output_padding, dilation)]

    weights = layer.get_weights()
    weight = torch_weight_from_keras(weights[0])
    conv = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[nd](
        weight.shape[0], weight.shape[1], kernel, stride=stride,
        padding=tuple(a.padding for a in args),
        output_padding=tuple(a.output_padding for a in args), dilation=dilation,
        bias=config["use_bias"])
    with torch.no_grad():
        conv.weight.copy_(torch.as_tensor(weight, dtype=conv.weight.dtype))
        if config["use_bias"]:
            conv.bias.copy_(torch.as_tensor(np.asarray(weights[1]), dtype=conv.bias.dtype))

    parts = [conv]
    if any(a.crop_before or a.crop_after for a in args):
        parts.append(_module_classes()["Crop"]([a.crop_before for a in args],
                                               [a.crop_after for a in args]))
    activation = _torch_activation(_activation_name(config["activation"]), f"layer {layer.name!r}")
    if activation is not None:
        parts.append(activation)
    return parts[0] if len(parts) == 1 else nn.Sequential(*parts)


# --------------------------------------------------------------------------------------------
# One layer: PyTorch -> Keras.
# --------------------------------------------------------------------------------------------

def _unpack_torch(module):
    """``(conv, crop_before, crop_after)`` of a ConvTranspose, or of Sequential(ConvTranspose, Crop)."""
    nn = _import_torch().nn
    convs = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
    if isinstance(module, convs):
        nd = len(module.kernel_size)
        return module, (0,) * nd, (0,) * nd
    crop_cls = _module_classes()["Crop"]
    if (isinstance(module, nn.Sequential) and len(module) == 2 and isinstance(module[0], convs)
            and isinstance(module[1], crop_cls)):
        return module[0], module[1].before, module[1].after
    raise TypeError(f"module must be an nn.ConvTranspose1d/2d/3d (or the Sequential(ConvTranspose, "
                    f"Crop) that torch_from_keras returns), got {type(module).__name__}")


def _keras_spec(conv, crop_before, crop_after):
    """The Keras ``(padding, output_padding)`` that keeps PyTorch's window, or a ValueError."""
    name = type(conv).__name__
    nd = len(conv.kernel_size)
    if conv.groups != 1:
        raise ValueError(f"{name}(groups={conv.groups}): Keras Conv{nd}DTranspose has no groups "
                         f"argument; only groups=1 can be expressed")
    if conv.padding_mode != "zeros":
        raise ValueError(f"{name}(padding_mode={conv.padding_mode!r}): Keras pads transposed "
                         f"convolutions with zeros only; only padding_mode='zeros' can be expressed")
    if isinstance(conv.padding, str):  # pragma: no cover - PyTorch refuses string padding here
        raise ValueError(f"{name}(padding={conv.padding!r}): expected integer padding")
    if max(conv.dilation) > 1 and max(conv.stride) > 1:
        raise ValueError(f"{name}(dilation={conv.dilation}, stride={conv.stride}): Keras refuses "
                         f"dilation_rate > 1 together with strides > 1")
    # Per spatial dim, every Keras (padding, output_padding) that keeps the same window.
    per_dim_options = []
    for i in range(nd):
        k, s, d = conv.kernel_size[i], conv.stride[i], conv.dilation[i]
        want = _torch_window(conv.padding[i], conv.output_padding[i], crop_before[i], crop_after[i])
        options = set()
        for mode in shapes.PADDING_MODES:
            for op in (None, *range(s)):
                try:
                    if _keras_window(k, s, mode, op, d) == want:
                        options.add((mode, op))
                except ValueError:  # TensorFlow refuses this output_padding
                    continue
        if not options:
            raise ValueError(
                f"{name}(kernel_size={conv.kernel_size}, stride={conv.stride}, padding="
                f"{conv.padding}, output_padding={conv.output_padding}, dilation={conv.dilation}"
                f"): along spatial dim {i} it {_describe_window(*want)} of the full result, and no "
                f"Keras padding ('valid'/'same') with any output_padding does that; Keras can "
                f"express padding/output_padding pairs such as "
                f"{keras_expressible_pairs(k, s, d)} for kernel {k}, stride {s}, dilation {d}")
        per_dim_options.append(options)
    # Keras takes one padding string for all dims, and output_padding None for all or for none.
    for mode in shapes.PADDING_MODES:
        if all((mode, None) in o for o in per_dim_options):
            return mode, None
    for mode in shapes.PADDING_MODES:
        ops = [sorted(op for m, op in o if m == mode and op is not None) for o in per_dim_options]
        if all(ops):
            return mode, tuple(o[0] for o in ops)
    raise ValueError(
        f"{name}(padding={conv.padding}, output_padding={conv.output_padding}): each spatial dim "
        f"is expressible alone ({[sorted(o, key=str) for o in per_dim_options]}), but Keras takes "
        f"one padding mode for all dims and output_padding either None for all dims or an int for "
        f"each, and no single choice fits every dim")


def _describe_window(start, tail):
    end = f"drops {tail} at the end" if tail >= 0 else f"appends {-tail} at the end"
    return f"drops {start} cell(s) at the start and {end}"


def keras_expressible_pairs(kernel: int, stride: int = 1, dilation: int = 1) -> list[tuple[int, int]]:
    """The PyTorch ``(padding, output_padding)`` pairs that some Keras layer reproduces exactly.

    One spatial dim, no extra crop: each Keras ``'valid'``/``'same'`` with each legal
    ``output_padding``, translated by :func:`keras_crop_as_torch`, kept where no crop is left.
    """
    pairs = set()
    for mode in shapes.PADDING_MODES:
        for op in (None, *range(stride)):
            try:
                args = keras_crop_as_torch(kernel, stride, mode, op, dilation)
            except ValueError:
                continue
            if not (args.crop_before or args.crop_after):
                pairs.add((args.padding, args.output_padding))
    return sorted(pairs)


def keras_from_torch(module, data_format: str = "channels_last"):
    """A built Keras ``Conv{1,2,3}DTranspose`` that computes what a PyTorch transposed conv computes.

    ``module`` is an ``nn.ConvTranspose{1,2,3}d`` (or the ``Sequential(ConvTranspose, Crop)`` that
    :func:`torch_from_keras` returns). The Keras layer takes ``data_format`` input (channels-last
    by default). Raises ``ValueError`` naming the argument when Keras cannot express the module:
    ``groups > 1``, ``padding_mode`` other than ``'zeros'``, ``dilation > 1`` together with
    ``stride > 1``, or a padding/output_padding whose window neither Keras ``'valid'`` nor
    ``'same'`` (with any legal ``output_padding``) keeps.
    """
    conv, crop_before, crop_after = _unpack_torch(module)
    padding, output_padding = _keras_spec(conv, crop_before, crop_after)
    keras = _import_keras()
    nd = len(conv.kernel_size)
    cls = {1: keras.layers.Conv1DTranspose, 2: keras.layers.Conv2DTranspose,
           3: keras.layers.Conv3DTranspose}[nd]
    layer = cls(filters=conv.out_channels, kernel_size=conv.kernel_size, strides=conv.stride,
                padding=padding, output_padding=output_padding, dilation_rate=conv.dilation,
                use_bias=conv.bias is not None, data_format=data_format)
    in_shape = ((None,) * nd + (conv.in_channels,) if data_format == "channels_last"
                else (conv.in_channels,) + (None,) * nd)
    layer.build((None,) + in_shape)
    weights = [keras_kernel_from_torch(conv.weight.detach().cpu().numpy()).astype(np.float32)]
    if conv.bias is not None:
        weights.append(conv.bias.detach().cpu().numpy().astype(np.float32))
    layer.set_weights(weights)
    return layer


# --------------------------------------------------------------------------------------------
# A whole (sequential) Keras decoder -> PyTorch.
# --------------------------------------------------------------------------------------------

def _torch_batchnorm(layer, spatial_dims):
    """BatchNormalization with Keras' statistics and PyTorch's conventions.

    Keras updates ``moving = m * moving + (1 - m) * batch``; PyTorch ``running = (1 - p) *
    running + p * batch``, so ``p = 1 - m``. Keras' default epsilon is 1e-3, PyTorch's 1e-5: the
    epsilon is copied, never left at PyTorch's default.
    """
    torch = _import_torch()
    nn = torch.nn
    config = layer.get_config()
    rank = spatial_dims + 2
    axis = config["axis"]
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    if axis not in (-1, rank - 1):
        raise ValueError(f"layer {layer.name!r}: BatchNormalization axis={config['axis']} is not "
                         f"the channels-last axis (-1) of its rank-{rank} input; only that is ported")
    if config.get("renorm") or config.get("synchronized"):
        raise ValueError(f"layer {layer.name!r}: renorm/synchronized batch normalisation has no "
                         f"port here")
    channels = layer.moving_mean.shape[0]
    cls = nn.BatchNorm1d if spatial_dims <= 1 else {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[spatial_dims]
    # Rounded so that Keras' 0.9 prints as PyTorch's 0.1, not 0.09999999999999998.
    bn = cls(channels, eps=config["epsilon"], momentum=round(1.0 - config["momentum"], 12))
    def values(variable, default):
        return np.asarray(default if variable is None else variable, np.float32)

    with torch.no_grad():
        # center=False / scale=False: Keras has no beta / gamma; PyTorch's affine layer then
        # holds the constants 0 / 1, which compute the same in inference.
        bn.weight.copy_(torch.as_tensor(values(layer.gamma, np.ones(channels))))
        bn.bias.copy_(torch.as_tensor(values(layer.beta, np.zeros(channels))))
        bn.running_mean.copy_(torch.as_tensor(values(layer.moving_mean, None)))
        bn.running_var.copy_(torch.as_tensor(values(layer.moving_variance, None)))
    return bn


def torch_from_keras_model(model):
    """Port a ``keras.Sequential`` decoder to an ``nn.Sequential`` in inference mode.

    Supported layers: ``Dense``, ``Reshape`` (of a flat vector), ``Conv{1,2,3}DTranspose``,
    ``BatchNormalization`` (channels-last axis), ``ReLU`` (no ``max_value``/``threshold``),
    ``LeakyReLU``, and ``Activation`` with relu, leaky_relu, tanh, sigmoid or linear. Spatial
    tensors are channels-first in the port: feed it ``(N, C, *spatial)`` where Keras takes
    ``(N, *spatial, C)``; flat inputs ``(N, features)`` are the same in both.
    """
    keras = _import_keras()
    torch = _import_torch()
    nn = torch.nn
    if not isinstance(model, keras.Sequential):
        raise TypeError(f"model must be a keras.Sequential, got {type(model).__name__}")
    if not model.built:
        raise ValueError("model is not built: call it once, or give it an Input, first")
    spatial_dims = len(model.input_shape) - 2  # 0 for a flat input
    parts = []
    for layer in model.layers:
        kind = type(layer).__name__
        config = layer.get_config()
        where = f"layer {layer.name!r} ({kind})"
        if kind in _TRANSPOSED:
            if spatial_dims != _TRANSPOSED[kind]:
                raise ValueError(f"{where} needs a {_TRANSPOSED[kind]}-D spatial input, got "
                                 f"{spatial_dims}-D")
            if config["data_format"] != "channels_last":
                raise ValueError(f"{where}: data_format={config['data_format']!r}; the model port "
                                 f"assumes 'channels_last' Keras layers")
            parts.append(torch_from_keras(layer))
        elif kind == "Dense":
            if spatial_dims != 0:
                raise ValueError(f"{where}: Dense on a spatial tensor has no port here")
            kernel, *bias = layer.get_weights()
            linear = nn.Linear(kernel.shape[0], kernel.shape[1], bias=bool(bias))
            with torch.no_grad():
                linear.weight.copy_(torch.as_tensor(kernel.T))  # Keras (in, out), PyTorch (out, in)
                if bias:
                    linear.bias.copy_(torch.as_tensor(bias[0]))
            parts.append(linear)
            act = _torch_activation(_activation_name(config["activation"]), where)
            if act is not None:
                parts.append(act)
        elif kind == "Reshape":
            if spatial_dims != 0:
                raise ValueError(f"{where}: only a Reshape of a flat vector is ported")
            target = tuple(config["target_shape"])
            parts.append(_module_classes()["ChannelsLastReshape"](target))
            spatial_dims = len(target) - 1
        elif kind == "BatchNormalization":
            parts.append(_torch_batchnorm(layer, spatial_dims))
        elif kind == "ReLU":
            if config["max_value"] is not None or config["threshold"] != 0:
                raise ValueError(f"{where}: max_value/threshold have no port here")
            slope = config["negative_slope"]
            parts.append(nn.LeakyReLU(slope) if slope else nn.ReLU())
        elif kind == "LeakyReLU":
            parts.append(nn.LeakyReLU(config["negative_slope"]))
        elif kind == "Activation":
            act = _torch_activation(_activation_name(config["activation"]), where)
            parts.append(act if act is not None else nn.Identity())
        else:
            raise ValueError(f"{where}: no port for this layer type; supported: Dense, Reshape, "
                             f"Conv1D/2D/3DTranspose, BatchNormalization, ReLU, LeakyReLU, "
                             f"Activation")
    return nn.Sequential(*parts).eval()


# --------------------------------------------------------------------------------------------
# The picture of a wrong port.
# --------------------------------------------------------------------------------------------

def plot_port_difference(reference, candidate, *, titles=("Keras", "PyTorch port", "difference"),
                         dpi=80):
    """Three panels: a 2-D reference output, a candidate port's output, and their difference.

    A port that crops the wrong cells shows its error as a shifted copy of the picture in the
    difference panel. Returns the figure; end the cell with ``plt.show()``.
    """
    import matplotlib.pyplot as plt

    reference, candidate = np.asarray(reference), np.asarray(candidate)
    if reference.ndim != 2 or reference.shape != candidate.shape:
        raise ValueError(f"reference and candidate must be 2-D arrays of one shape, got "
                         f"{reference.shape} and {candidate.shape}")
    diff = candidate - reference
    lim = max(float(np.abs(diff).max()), 1e-12)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), dpi=dpi, layout="constrained")
    vmin = min(reference.min(), candidate.min())
    vmax = max(reference.max(), candidate.max())
    for ax, data, title in zip(axes[:2], (reference, candidate), titles[:2]):
        im = ax.imshow(data, cmap="viridis", vmin=vmin, vmax=vmax)
        ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=axes[1], shrink=0.85)  # one scale for both outputs
    im = axes[2].imshow(diff, cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[2].set_title(titles[2], fontsize=10)
    fig.colorbar(im, ax=axes[2], shrink=0.85)
    for ax in axes:
        ax.set_xticks(range(0, reference.shape[1], 2))
        ax.set_yticks(range(0, reference.shape[0], 2))
    return fig
