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
from dataclasses import dataclass

import numpy as np

from . import shapes
from ._checks import as_int, per_dim
from .frameworks import (_import_torch, import_keras, keras_conv_transpose,
                         keras_kernel_from_torch, tf_dilated, torch_conv_transpose,
                         torch_weight_from_keras)

# Input lengths at which a layer's crop is measured. The crop of a Keras layer does not depend on
# the input length (checked for every layer ported); a fixed PyTorch module relies on that.
_PROBE_LENGTHS = (1, 2, 3, 4, 5, 8)

__all__ = ["keras_crop_as_torch", "keras_expressible_pairs", "torch_from_keras", "keras_from_torch",
           "compare_in_both", "comparison_table", "Comparison",
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
    answer for every length, so this asks at several and raises if the answers differ, or if
    some length is refused (the message names the first refused length).
    """
    found, refused = set(), []
    for n in _PROBE_LENGTHS:
        try:
            found.add(shapes.torch_args_for_keras(n, kernel, stride, padding, output_padding,
                                                  dilation))
        except ValueError as err:
            refused.append((n, str(err)))
    if refused:
        n, reason = refused[0]
        if len({r for _, r in refused}) == 1 and not found:
            raise ValueError(reason)  # the same refusal at every length: the arguments alone
        raise ValueError(f"a PyTorch module must work for every input length; at n={n}: "
                         f"{reason}")
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
    keras = import_keras()
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
    keras = import_keras()
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
# One configuration, run in both frameworks.
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    """One configuration of :func:`compare_in_both`: what each framework ran, and whether the
    check held. ``size`` is the library's output size (``None`` where its rule refuses).
    ``keras_dilated`` says that the check ran Keras with a dilation above 1, which only
    TensorFlow's oneDNN kernels compute (:func:`tconv_utils.frameworks.tf_dilated`);
    ``tf_refused_dilation`` that its other kernels refused it, so that the row checked that
    refusal instead of numbers."""
    kernel: int
    stride: int
    dilation: int
    padding: int | str
    output_padding: int | None
    size: int | None
    torch: str
    keras: str
    outcome: str
    agree: bool
    keras_dilated: bool = False
    tf_refused_dilation: bool = False


def _refusals():
    """What the frameworks raise to refuse a configuration: Keras ValueError, PyTorch
    RuntimeError, TensorFlow an OpError (AbortedError from its oneDNN kernels,
    InvalidArgumentError from its others)."""
    tf = import_keras() and __import__("tensorflow")
    return ValueError, RuntimeError, tf.errors.OpError


def _refuses(run) -> bool:
    """True where a framework call raises a refusal or returns an empty output."""
    try:
        return run().size == 0  # TensorFlow's oneDNN kernels return nothing for a size below 1
    except _refusals():
        return True


def _crop_2d(y, before, after):
    return y[..., before:y.shape[-2] - after, before:y.shape[-1] - after]


def _keras_covers(x, w, wanted, stride, dilation):
    """Whether some Keras layer's output holds ``wanted`` as a window (run, not computed);
    ``None`` where TensorFlow's kernels refuse the dilation, so that no Keras layer runs."""
    found, refused, ran = False, 0, 0
    for mode in shapes.PADDING_MODES:
        for op in (None, *range(stride)):
            try:
                y = tf_dilated(lambda: keras_conv_transpose(x, w, stride=stride, padding=mode,
                                                            output_padding=op, dilation=dilation))
            except _refusals():
                continue
            if y is None:
                refused += 1
                continue
            ran += 1
            extra = y.shape[-1] - wanted.shape[-1]
            found |= any(np.array_equal(_crop_2d(y, b, extra - b), wanted) for b in range(extra + 1))
    if refused and ran:
        raise RuntimeError(f"TensorFlow computed {ran} Keras layers with dilation {dilation} and "
                           f"refused {refused}: one set of kernels does one or the other")
    return None if refused else found


def compare_in_both(n: int, kernel: int, stride: int = 1, padding: int | str = 0,
                    output_padding: int | None = None, dilation: int = 1, *,
                    seed: int = 0) -> Comparison:
    """Run one configuration in its own framework and its equivalent in the other, and compare.

    ``padding`` an int is a PyTorch ``ConvTranspose2d`` configuration (``output_padding=None``
    meaning 0); ``'valid'``/``'same'`` a Keras ``Conv2DTranspose`` one. The input is ``n x n``,
    one channel, with small random integers (so that float32 sums are exact), and so is the
    ``kernel x kernel`` weight. The outcome is one of

    - ``'same numbers'``: the row's framework gives the library's output size, and the other
      framework, with the arguments and crop from :mod:`tconv_utils.shapes`, the same numbers;
    - ``'no Keras layer'``: a PyTorch configuration that no Keras layer reproduces; Keras
      refuses the same stride and dilation, or (stride 1) no Keras output contains PyTorch's;
    - ``'refused'``: the library's rule and the row's own framework both refuse it.

    ``agree`` is False where a framework contradicts the library. The other framework's column
    is ``'-'`` where it has nothing to run. Where TensorFlow's kernels refuse a dilation above 1
    (``tf_refused_dilation``), ``agree`` says that the refusal is that one, and the outcome is
    the one TensorFlow's oneDNN kernels give.
    """
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, (1, 1, n, n)).astype(np.float32)
    w = rng.integers(-3, 4, (1, 1, kernel, kernel)).astype(np.float32)
    given_torch = not isinstance(padding, str)
    op = (0 if output_padding is None else output_padding) if given_torch else output_padding
    config = dict(kernel=kernel, stride=stride, dilation=dilation, padding=padding,
                  output_padding=op)

    def run_torch(p, o):
        return torch_conv_transpose(x, w, stride=stride, padding=p, output_padding=o,
                                    dilation=dilation)

    def run_keras(mode, o):  # None where TensorFlow's kernels refuse the dilation
        return tf_dilated(lambda: keras_conv_transpose(x, w, stride=stride, padding=mode,
                                                       output_padding=o, dilation=dilation))

    try:
        if given_torch:
            size = shapes.torch_output_size(n, kernel, stride, padding, op, dilation)
        else:
            shapes.keras_refusal(stride, dilation)
            size = shapes.keras_placement(n, kernel, stride, padding, op, dilation)[1]
    except ValueError:
        own_refuses = _refuses(lambda: run_torch(padding, op) if given_torch
                               else keras_conv_transpose(x, w, stride=stride, padding=padding,
                                                         output_padding=op, dilation=dilation))
        return Comparison(**config, size=None, torch="refuses" if given_torch else "-",
                          keras="-" if given_torch else "refuses", outcome="refused",
                          agree=own_refuses)

    dilated = dict(keras_dilated=dilation > 1)
    if given_torch:
        mine = run_torch(padding, op)
        other = shapes.keras_args_for_torch(n, kernel, stride, padding, op, dilation)
        if other is None:
            if stride > 1 and dilation > 1:  # Keras itself refuses, before TensorFlow runs
                agree, dilated = _refuses(lambda: keras_conv_transpose(
                    x, w, stride=stride, padding="valid", dilation=dilation)), {}
            else:
                covered = _keras_covers(x, w, mine, stride, dilation)
                agree = covered is not True
                dilated["tf_refused_dilation"] = covered is None
            return Comparison(**config, size=size, torch="given", keras="none",
                              outcome="no Keras layer", agree=agree and mine.shape[-1] == size,
                              **dilated)
        theirs = run_keras(other.padding, other.output_padding)
        described = f"{other.padding!r}, op={other.output_padding}"
    else:
        mine = run_keras(padding, op)
        other = shapes.torch_args_for_keras(n, kernel, stride, padding, op, dilation)
        theirs = run_torch(other.padding, other.output_padding)
        described = f"p={other.padding}, op={other.output_padding}"
    if not other.exact:
        described += f", crop ({other.crop_before}, {other.crop_after})"
    columns = dict(torch="given" if given_torch else described,
                   keras=described if given_torch else "given")
    if mine is None or theirs is None:  # the Keras side, refused for its dilation
        return Comparison(**config, size=size, **columns, outcome="same numbers",
                          agree=dilation > 1, keras_dilated=True, tf_refused_dilation=True)
    theirs = _crop_2d(theirs, other.crop_before, other.crop_after)
    agree = mine.shape[-2:] == (size, size) and np.array_equal(mine, theirs)
    return Comparison(**config, size=size, **columns,
                      outcome="same numbers" if agree else "different numbers", agree=agree,
                      **dilated)


# The note under a table with rows that ran Keras with a dilation above 1.
_DILATED_NOTE = ("* Keras with a dilation above 1: computed by TensorFlow's oneDNN kernels; its "
                 "other kernels\n  refuse it, and the row then checks that refusal.")


def comparison_table(rows) -> str:
    """The rows of :func:`compare_in_both` as a fixed-width text table, one line each.

    A row that ran Keras with a dilation above 1 carries a ``*`` after its outcome, explained in
    a note under the table; the table reads the same whichever TensorFlow kernels ran.
    """
    rows = list(rows)
    lines = [f"{'k':>2} {'s':>2} {'d':>2} {'padding':>8} {'op':>4} {'size':>5}  "
             f"{'PyTorch':<23} {'Keras':<30} outcome"]
    for r in rows:
        size = "-" if r.size is None else r.size
        lines.append(f"{r.kernel:>2} {r.stride:>2} {r.dilation:>2} {r.padding!r:>8} "
                     f"{r.output_padding!s:>4} {size!s:>5}  {r.torch:<23} {r.keras:<30} "
                     f"{r.outcome}{'*' if r.keras_dilated else ''}")
    if any(r.keras_dilated for r in rows):
        lines.append(_DILATED_NOTE)
    return "\n".join(lines)


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
