"""ONNX ``ConvTranspose``: built by hand or exported from PyTorch, run by ONNX Runtime, and
translated back to PyTorch.

ONNX keeps PyTorch's layouts (input ``(N, C, *spatial)``, weight ``(C_in, C_out / group, *k)``)
and, with explicit ``pads``, PyTorch's meaning: cells cropped from the full scatter, one count per
end, so an ONNX node can crop asymmetrically where PyTorch cannot. ``auto_pad`` and
``output_shape`` derive the pads from a target size, by the rule in the operator's spec
(:func:`tconv_utils.shapes.onnx_window`). onnx, onnxruntime and torch are imported inside the
functions, so importing this module needs NumPy alone.
"""
from __future__ import annotations

import numpy as np

from . import shapes
from ._checks import numeric_array
from .torch_build import checked_conv_transpose, conv_transpose_module

# The opset torch.onnx.export writes in torch 2.13; hand-built models use the same.
OPSET = 20


def _import_onnx():
    try:
        import onnx
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("this function needs ONNX: pip install onnx onnxruntime") from err
    return onnx


def conv_transpose_model(w, bias=None, *, strides=None, pads=None, auto_pad: str = "NOTSET",
                         output_padding=None, output_shape=None, dilations=None, group: int = 1,
                         spatial_shape=None):
    """A one-node ONNX model: ``y = ConvTranspose(x, W[, B])`` with ``w`` and ``bias`` stored
    as initializers.

    ``w`` is ``(C_in, C_out / group, *k)``. The attributes are ONNX's own, lists with one entry
    per spatial dim (``pads``: all begins, then all ends); ``None`` leaves one out, so the
    runtime uses its default. ``spatial_shape`` fixes the input's spatial size in the graph
    (default: any size).
    """
    onnx = _import_onnx()
    from onnx import TensorProto, helper, numpy_helper

    w = np.asarray(numeric_array("w", w), np.float32)
    nd = w.ndim - 2
    if nd not in (1, 2, 3):
        raise ValueError(f"w must be (C_in, C_out / group, *kernel) with 1-3 kernel dims, got {w.shape}")
    if auto_pad not in shapes.ONNX_AUTO_PADS:
        raise ValueError(f"auto_pad must be one of {shapes.ONNX_AUTO_PADS}, got {auto_pad!r}")
    attributes = dict(kernel_shape=list(w.shape[2:]), group=int(group), auto_pad=auto_pad)
    for name, value, length in [("strides", strides, nd), ("pads", pads, 2 * nd),
                                ("output_padding", output_padding, nd),
                                ("output_shape", output_shape, nd), ("dilations", dilations, nd)]:
        if value is not None:
            value = [int(v) for v in value]
            if len(value) != length:
                raise ValueError(f"{name} must have {length} entries for {nd} spatial dim(s), "
                                 f"got {value}")
            attributes[name] = value
    inputs = ["x", "W"]
    initializers = [numpy_helper.from_array(w, "W")]
    if bias is not None:
        inputs.append("B")
        initializers.append(numpy_helper.from_array(
            np.asarray(numeric_array("bias", bias), np.float32), "B"))
    spatial = list(spatial_shape) if spatial_shape is not None else [f"d{i}" for i in range(nd)]
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", w.shape[0], *spatial])
    y_info = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * (nd + 2))
    node = helper.make_node("ConvTranspose", inputs, ["y"], **attributes)
    graph = helper.make_graph([node], "conv_transpose", [x_info], [y_info], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(model)
    return model


def run(model, x) -> np.ndarray:
    """Run an ONNX model with one input on ``x`` with ONNX Runtime (CPU), in float32.

    The session logs errors only: its warnings are C++ lines on stderr that a notebook would
    store, and each refusal still arrives as an exception.
    """
    try:
        import onnxruntime
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("this function needs ONNX Runtime: pip install onnxruntime") from err
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4
    session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return session.run(None, {name: np.asarray(numeric_array("x", x), np.float32)})[0]


def export(module, x):
    """``torch.onnx.export`` of ``module`` (in inference mode) on example input ``x``: the
    ``ModelProto``.

    The exporter is torch's default, built on ``torch.export`` (it needs the onnxscript
    package). The example input's sizes are fixed in the graph. Its progress notes are turned
    off; its notice that torchvision's operators are skipped is kept off the log.
    """
    import logging
    import warnings

    from .frameworks import _import_torch

    torch = _import_torch()
    quiet = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    was_training = module.training
    try:
        module.eval()
        with warnings.catch_warnings():
            # torch.export's own use of a name that torch deprecated (torch 2.13), not ours
            warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
            program = torch.onnx.export(module, (torch.as_tensor(np.asarray(x, np.float32)),),
                                        dynamo=True, verbose=False)
    finally:
        quiet.setLevel(level)
        module.train(was_training)
    return program.model_proto


def conv_transpose_nodes(model) -> list[dict]:
    """The attributes of each ``ConvTranspose`` node of ``model``, with ONNX's defaults filled
    in, and its weight and bias (NumPy) where they are initializers of the graph."""
    from onnx import helper, numpy_helper

    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    nodes = []
    for node in model.graph.node:
        if node.op_type != "ConvTranspose":
            continue
        found = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        w = weights.get(node.input[1])
        nd = None if w is None else w.ndim - 2
        auto_pad = found.get("auto_pad", b"NOTSET")
        entry = {
            "auto_pad": auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad,
            "group": int(found.get("group", 1)),
            "kernel_shape": list(found.get("kernel_shape", [] if w is None else w.shape[2:])),
            "strides": list(found.get("strides", [1] * (nd or 0))),
            "pads": list(found.get("pads", [0] * 2 * (nd or 0))),
            "output_padding": list(found.get("output_padding", [0] * (nd or 0))),
            "dilations": list(found.get("dilations", [1] * (nd or 0))),
            "output_shape": list(found["output_shape"]) if "output_shape" in found else None,
            "weight": w,
            "bias": weights.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None,
        }
        nodes.append(entry)
    return nodes


# --------------------------------------------------------------------------------------------
# PyTorch <-> ONNX
# --------------------------------------------------------------------------------------------

def onnx_from_torch(module, spatial_shape=None):
    """A one-node ONNX model, built by hand, that computes what ``nn.ConvTranspose{1,2,3}d``
    computes: its weights, ``strides``, ``dilations``, ``group``, and ``pads = padding`` at both
    ends with its ``output_padding``, the attributes ``torch.onnx.export`` writes.

    ONNX Runtime refuses ``output_padding >= stride``, which PyTorch allows when the dilation is
    larger. The same window then comes from asymmetric pads: PyTorch keeps
    ``full[p : F - p + op]``, which is pads ``(p, p - op + q)`` with ``output_padding = q``, and
    the smallest ``q >= 0`` with ``p - op + q >= 0`` serves. Raises ``ValueError`` where even that
    ``q`` is not below the stride (PyTorch appends more zeros than ONNX can), and for a
    ``padding_mode`` other than ``'zeros'``.
    """
    checked_conv_transpose(module, "ONNX's ConvTranspose pads with zeros only")
    name = type(module).__name__
    begins, ends, output_padding = [], [], []
    for i, (p, op, s) in enumerate(zip(module.padding, module.output_padding, module.stride)):
        q = op if op < s else max(0, op - p)
        if q >= s:
            raise ValueError(
                f"{name}(padding={module.padding}, output_padding={module.output_padding}, "
                f"stride={module.stride}): along spatial dim {i} it appends {op - p} zero(s) after "
                f"the full result; ONNX appends them only through output_padding, which ONNX "
                f"Runtime refuses at or above the stride (the forward convolution of that output "
                f"size would not give back the input size)")
        begins.append(p)
        ends.append(p - op + q)
        output_padding.append(q)
    bias = None if module.bias is None else module.bias.detach().cpu().numpy()
    return conv_transpose_model(module.weight.detach().cpu().numpy(), bias,
                                strides=module.stride, pads=begins + ends,
                                output_padding=output_padding, dilations=module.dilation,
                                group=module.groups, spatial_shape=spatial_shape)


def torch_args_from_onnx(node: dict, spatial_shape) -> tuple[shapes.TorchArgs, ...]:
    """PyTorch ``padding``/``output_padding`` (and any crop still needed), one
    :class:`~tconv_utils.shapes.TorchArgs` per spatial dim, for one ``ConvTranspose`` node as
    :func:`conv_transpose_nodes` lists it, on inputs of spatial size ``spatial_shape``.

    With ``output_shape`` the pads depend on the input size, so the answer holds for that size
    only. ONNX pads may crop more at one end than the other; PyTorch then needs a crop. Raises
    ``ValueError`` naming the dim and the reason where PyTorch cannot keep the window at all.
    """
    kernel = node["kernel_shape"]
    nd = len(kernel)
    spatial_shape = tuple(spatial_shape)
    if len(spatial_shape) != nd:
        raise ValueError(f"spatial_shape must have {nd} entries, got {spatial_shape}")
    args = []
    for i in range(nd):
        k, s, d = kernel[i], node["strides"][i], node["dilations"][i]
        n = spatial_shape[i]
        out_shape = None if node["output_shape"] is None else node["output_shape"][i]
        try:
            start, size = shapes.onnx_window(n, k, s, (node["pads"][i], node["pads"][nd + i]),
                                             node["output_padding"][i], d, node["auto_pad"],
                                             out_shape)
            tail = shapes.full_size(n, k, s, d) - start - size
            args.append(shapes.torch_args_for_window(start, tail, s, d))
        except ValueError as err:
            raise ValueError(f"ONNX ConvTranspose (auto_pad={node['auto_pad']!r}, pads="
                             f"{node['pads']}, output_padding={node['output_padding']}, "
                             f"output_shape={node['output_shape']}) along spatial dim {i}: "
                             f"{err}") from None
    return tuple(args)


def torch_from_onnx(model, spatial_shape):
    """A PyTorch module that computes what the one ``ConvTranspose`` node of ``model`` computes
    on inputs of spatial size ``spatial_shape``: an ``nn.ConvTranspose{1,2,3}d``, followed by a
    ``Crop`` where the pads crop more at one end than PyTorch can. The weights must be
    initializers. Refusals as :func:`torch_args_from_onnx`."""
    nodes = conv_transpose_nodes(model)
    if len(nodes) != 1 or nodes[0]["weight"] is None:
        raise ValueError(f"model must hold exactly one ConvTranspose node with its weight as an "
                         f"initializer, found {len(nodes)} node(s)")
    node = nodes[0]
    return conv_transpose_module(node["weight"], node["bias"], stride=node["strides"],
                                 dilation=node["dilations"], groups=node["group"],
                                 args=torch_args_from_onnx(node, spatial_shape))
