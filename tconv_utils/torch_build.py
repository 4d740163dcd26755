"""Build the PyTorch module that a translation asks for: a ``nn.ConvTranspose{1,2,3}d`` with
given weights, followed by a ``porting.Crop`` only where the window needs one; and check that a
module handed to a bridge is a transposed convolution it can translate.

The translations (:func:`tconv_utils.shapes.torch_args_for_window`) give, per spatial dim,
PyTorch's ``padding`` and ``output_padding`` and the cells still to cut at each end
(:class:`tconv_utils.shapes.TorchArgs`); the JAX/Flax and ONNX bridges share this builder.
"""
from __future__ import annotations

import numpy as np

from ._checks import numeric_array


def conv_transpose_module(weight, bias, *, stride, dilation, groups: int = 1, args):
    """``nn.ConvTranspose{1,2,3}d`` holding ``weight`` ``(C_in, C_out / groups, *k)`` and
    ``bias``, with one :class:`~tconv_utils.shapes.TorchArgs` per spatial dim in ``args``; wrapped
    as ``Sequential(conv, Crop)`` when any of them has a crop left."""
    from .frameworks import _import_torch
    from .porting import Crop

    torch = _import_torch()
    weight = np.array(numeric_array("weight", weight), np.float32)  # a writable copy for torch
    nd = weight.ndim - 2
    if nd not in (1, 2, 3) or len(args) != nd:
        raise ValueError(f"weight must be (C_in, C_out / groups, *kernel) with 1-3 kernel dims and "
                         f"args one TorchArgs per kernel dim, got {weight.shape} and {len(args)}")
    cls = {1: torch.nn.ConvTranspose1d, 2: torch.nn.ConvTranspose2d, 3: torch.nn.ConvTranspose3d}[nd]
    conv = cls(weight.shape[0], weight.shape[1] * groups, weight.shape[2:], stride=tuple(stride),
               padding=tuple(a.padding for a in args),
               output_padding=tuple(a.output_padding for a in args), dilation=tuple(dilation),
               groups=groups, bias=bias is not None)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(weight))
        if bias is not None:
            conv.bias.copy_(torch.from_numpy(np.array(numeric_array("bias", bias), np.float32)))
    if all(a.exact for a in args):
        return conv
    return torch.nn.Sequential(conv, Crop([a.crop_before for a in args],
                                          [a.crop_after for a in args]))


def checked_conv_transpose(module, padding_mode_refusal: str):
    """``module`` itself, after checking that it is a ``nn.ConvTranspose{1,2,3}d`` (else
    ``TypeError``) that pads with zeros (else ``ValueError`` naming its ``padding_mode`` and
    saying ``padding_mode_refusal``, why the target cannot express another)."""
    from .frameworks import _import_torch

    nn = _import_torch().nn
    if not isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        raise TypeError(f"module must be an nn.ConvTranspose1d/2d/3d, got {type(module).__name__}")
    if module.padding_mode != "zeros":
        raise ValueError(f"{type(module).__name__}(padding_mode={module.padding_mode!r}): "
                         f"{padding_mode_refusal}")
    return module
