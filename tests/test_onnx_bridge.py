"""ONNX ConvTranspose run by ONNX Runtime against the NumPy reference, the ONNX spec's padding
rule (shapes.onnx_window), and the translations from and to PyTorch (tconv_utils.onnx_bridge)."""
import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis_budget import examples

from bridge_helpers import (TOL, geometries, some_torch_layer_matches, torch_configs, torch_module,
                            torch_run)
from tconv_utils import conv_transpose, onnx_bridge, shapes

EXAMPLES = 200


def ort_refuses(model, x):
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument

    try:
        onnx_bridge.run(model, x)
    except (Fail, InvalidArgument):
        return True
    return False


def some_onnx_node_matches(w, x, stride, padding, output_padding, dilation):
    """Brute force, for a 1-D PyTorch layer: do any ONNX pads, output_padding or output_shape
    (with any auto_pad) give its output?"""
    module = torch_module(dict(w=w, bias=None, stride=(stride,), padding=(padding,),
                               output_padding=(output_padding,), dilation=(dilation,), groups=1))
    expected = torch_run(module, x)
    full = shapes.full_size(x.shape[2], w.shape[2], stride, dilation)
    options = [dict(pads=[b, e], output_padding=[q]) for b in range(full) for e in range(full)
               for q in range(stride)]
    options += [dict(output_shape=[size], output_padding=[q], auto_pad=mode)
                for size in range(1, full + stride) for q in range(stride)
                for mode in ("NOTSET", "SAME_UPPER")]
    for option in options:
        model = onnx_bridge.conv_transpose_model(w, strides=[stride], dilations=[dilation], **option)
        if ort_refuses(model, x):
            continue
        got = onnx_bridge.run(model, x)
        if got.shape == expected.shape and np.allclose(got, expected, **TOL):
            return True
    return False


@examples(EXAMPLES)
@given(torch_configs())
def test_onnx_node_from_torch_matches_the_reference_or_is_refused(cfg):
    x, w, bias = cfg["x"], cfg["w"], cfg["bias"]
    expected = conv_transpose(x, w, bias, stride=cfg["stride"], padding=cfg["padding"],
                              output_padding=cfg["output_padding"], dilation=cfg["dilation"],
                              groups=cfg["groups"])
    module = torch_module(cfg)
    try:
        model = onnx_bridge.onnx_from_torch(module)
    except ValueError as err:
        assert "appends" in str(err) and "ONNX Runtime refuses" in str(err)
        # Brute force along a refused dim, as a 1-D layer with that dim's arguments.
        i = next(i for i, (p, op, s) in enumerate(zip(cfg["padding"], cfg["output_padding"],
                                                      cfg["stride"])) if op - p >= s)
        w1 = np.take(w[:1, :1], 0, axis=3 - i) if w.ndim == 4 else w[:1, :1]
        x1 = np.take(x[:1, :1], 0, axis=3 - i) if x.ndim == 4 else x[:1, :1]
        assert not some_onnx_node_matches(w1, x1, cfg["stride"][i], cfg["padding"][i],
                                          cfg["output_padding"][i], cfg["dilation"][i])
        return
    got = onnx_bridge.run(model, x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, **TOL)
    back = onnx_bridge.torch_from_onnx(model, x.shape[2:])
    np.testing.assert_allclose(torch_run(back, x), expected, **TOL)


@st.composite
def onnx_configs(draw):
    """ONNX's own attributes: explicit (asymmetric) pads, VALID, SAME_UPPER/LOWER, output_shape."""
    kernel, stride, dilation, size = draw(geometries())
    group = draw(st.sampled_from([1, 1, 2]))
    output_padding = tuple(draw(st.integers(0, s - 1)) for s in stride)
    fulls = [shapes.full_size(n, k, s, d) + op
             for n, k, s, d, op in zip(size, kernel, stride, dilation, output_padding)]
    auto_pad = draw(st.sampled_from(["NOTSET", "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"]))
    pads = output_shape = None
    if auto_pad == "NOTSET" and draw(st.booleans()):
        output_shape = [draw(st.integers(1, f)) for f in fulls]
    elif auto_pad == "NOTSET":
        begins = [draw(st.integers(0, f - 1)) for f in fulls]
        ends = [draw(st.integers(0, f - 1 - b)) for f, b in zip(fulls, begins)]
        pads = begins + ends
    if auto_pad.startswith("SAME"):
        # A SAME output larger than the scatter: the spec does not say where the extra cells go
        # (test_onnx_runtime_and_the_spec_differ_where_same_asks_for_more_than_the_scatter).
        assume(all(n * s <= f for n, s, f in zip(size, stride, fulls)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    c_in, c_out = group * draw(st.integers(1, 2)), group * draw(st.integers(1, 2))
    w = rng.standard_normal((c_in, c_out // group, *kernel)).astype(np.float32)
    bias = rng.standard_normal(c_out).astype(np.float32) if draw(st.booleans()) else None
    x = rng.standard_normal((1, c_in, *size)).astype(np.float32)
    return dict(x=x, w=w, bias=bias, strides=stride, dilations=dilation, group=group,
                output_padding=output_padding, auto_pad=auto_pad, pads=pads,
                output_shape=output_shape)


@examples(EXAMPLES)
@given(onnx_configs())
def test_onnx_runtime_keeps_the_window_the_spec_states_and_torch_follows(cfg):
    x, w = cfg["x"], cfg["w"]
    nd = w.ndim - 2
    model = onnx_bridge.conv_transpose_model(
        w, cfg["bias"], strides=cfg["strides"], pads=cfg["pads"], auto_pad=cfg["auto_pad"],
        output_padding=cfg["output_padding"], output_shape=cfg["output_shape"],
        dilations=cfg["dilations"], group=cfg["group"])
    got = onnx_bridge.run(model, x)
    pads = cfg["pads"] or [0] * 2 * nd
    windows = [shapes.onnx_window(x.shape[2 + i], w.shape[2 + i], cfg["strides"][i],
                                  (pads[i], pads[nd + i]), cfg["output_padding"][i],
                                  cfg["dilations"][i], cfg["auto_pad"],
                                  None if cfg["output_shape"] is None else cfg["output_shape"][i])
               for i in range(nd)]
    bias = 0 if cfg["bias"] is None else cfg["bias"].reshape((1, -1) + (1,) * nd)
    full = conv_transpose(x, w, stride=cfg["strides"], dilation=cfg["dilations"],
                          groups=cfg["group"])
    expected = shapes.apply_windows(full, windows) + bias  # the bias reaches every output cell
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, **TOL)
    # Every such node ports to PyTorch, with a crop where the pads are more asymmetric than
    # output_padding makes up for, and only there.
    back = onnx_bridge.torch_from_onnx(model, x.shape[2:])
    np.testing.assert_allclose(torch_run(back, x), got, **TOL)
    # A crop only where no PyTorch layer alone matches. The brute force runs ungrouped layers
    # and compares positions through values, so it needs a nonzero cell (zeros match anywhere).
    if isinstance(back, torch.nn.Sequential) and cfg["group"] == 1 and np.any(got - bias):
        assert not some_torch_layer_matches(x, w, cfg["strides"], cfg["dilations"], got - bias,
                                            crop=False)


@pytest.mark.parametrize("module", [
    torch.nn.ConvTranspose2d(2, 4, 3, stride=2, padding=1, output_padding=1),
    torch.nn.ConvTranspose2d(4, 2, (4, 3), stride=(2, 1), padding=(1, 0), groups=2, bias=False),
    torch.nn.ConvTranspose1d(2, 3, 3, stride=3, padding=2, output_padding=2, dilation=2),
], ids=["k3s2p1op1", "groups", "dilated-1d"])
def test_torch_onnx_export_writes_the_attributes_of_the_hand_built_node(module):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, module.in_channels) + (5,) * len(module.kernel_size)).astype(np.float32)
    exported = onnx_bridge.export(module, x)
    assert [o.version for o in exported.opset_import if o.domain == ""] == [onnx_bridge.OPSET]
    ours, theirs = (onnx_bridge.conv_transpose_nodes(m)[0]
                    for m in (onnx_bridge.onnx_from_torch(module), exported))
    for name in ("auto_pad", "group", "kernel_shape", "strides", "pads", "output_padding",
                 "dilations", "output_shape"):
        assert ours[name] == theirs[name], name
    np.testing.assert_allclose(onnx_bridge.run(exported, x), torch_run(module, x), **TOL)


def test_same_upper_crops_the_odd_cell_at_the_end_and_same_lower_at_the_start():
    # The spec: SAME_UPPER puts the smaller half of the crop at the start. ONNX Runtime before
    # 1.13 had the two swapped (onnxruntime PR #12537); this version follows the spec.
    x = np.zeros((1, 1, 3), np.float32)
    x[0, 0, 0] = 1.0
    w = np.array([[[1.0, 2.0, 3.0]]], np.float32)  # full scatter: 1 2 3 0 0 0 0 (7 cells)
    upper, lower = (onnx_bridge.run(onnx_bridge.conv_transpose_model(w, strides=[2], auto_pad=m), x)
                    for m in ("SAME_UPPER", "SAME_LOWER"))
    np.testing.assert_array_equal(upper[0, 0], [1, 2, 3, 0, 0, 0])  # cropped: 0 before, 1 after
    np.testing.assert_array_equal(lower[0, 0], [2, 3, 0, 0, 0, 0])  # cropped: 1 before, 0 after
    assert shapes.onnx_window(3, 3, 2, auto_pad="SAME_UPPER") == (0, 6)
    assert shapes.onnx_window(3, 3, 2, auto_pad="SAME_LOWER") == (1, 6)


def test_onnx_runtime_and_the_spec_differ_where_same_asks_for_more_than_the_scatter():
    # Kernel 2 < stride 3: SAME asks for n * stride = 6 cells, one more than the scatter's 5.
    # ONNX Runtime (CPU) clamps the total crop at zero and returns the 5-cell scatter; ONNX's
    # reference implementation gives 6 cells, halving the total -1 rounding down: SAME_UPPER
    # puts the extra zero in front, SAME_LOWER at the end (where Keras' 'same' puts it).
    from onnx.reference import ReferenceEvaluator

    x = np.array([[[1.0, 10.0]]], np.float32)
    w = np.array([[[1.0, 2.0]]], np.float32)
    for mode, reference in [("SAME_UPPER", [0, 1, 2, 0, 10, 20]), ("SAME_LOWER", [1, 2, 0, 10, 20, 0])]:
        model = onnx_bridge.conv_transpose_model(w, strides=[3], auto_pad=mode)
        np.testing.assert_array_equal(onnx_bridge.run(model, x)[0, 0], [1, 2, 0, 10, 20])
        np.testing.assert_array_equal(ReferenceEvaluator(model).run(None, {"x": x})[0][0, 0], reference)
        with pytest.raises(ValueError, match="does not say where"):
            shapes.onnx_window(2, 2, 3, auto_pad=mode)
        with pytest.raises(ValueError, match="does not say where"):
            onnx_bridge.torch_from_onnx(model, (2,))


def test_wrong_inputs_are_named():
    w = np.ones((1, 1, 3), np.float32)
    with pytest.raises(ValueError, match="auto_pad"):
        onnx_bridge.conv_transpose_model(w, auto_pad="SAME")
    with pytest.raises(ValueError, match="pads must have 2 entries"):
        onnx_bridge.conv_transpose_model(w, pads=[1])
    with pytest.raises(TypeError, match="ConvTranspose"):
        onnx_bridge.onnx_from_torch(torch.nn.Conv1d(1, 1, 3))
    with pytest.raises(ValueError, match="spatial_shape"):
        onnx_bridge.torch_from_onnx(onnx_bridge.conv_transpose_model(w), (3, 3))
    with pytest.raises(ValueError, match="crop away"):
        shapes.onnx_window(1, 3, 1, pads=(2, 1))
    for stride in (1, 2):
        with pytest.raises(ValueError, match="output_padding"):
            onnx_bridge.onnx_from_torch(torch.nn.ConvTranspose1d(1, 1, 3, stride=stride, dilation=3,
                                                                 output_padding=stride))


def test_both_bridges_refuse_a_padding_mode_other_than_zeros_by_name():
    from tconv_utils import jax_bridge

    module = torch.nn.ConvTranspose2d(1, 1, 3)
    module.padding_mode = "reflect"  # PyTorch's constructor refuses it; an edited module may not
    with pytest.raises(ValueError, match="padding_mode='reflect'.*zeros only"):
        onnx_bridge.onnx_from_torch(module)
    # Refused before Flax is imported: no JAX program compiles in this process.
    with pytest.raises(ValueError, match="padding_mode='reflect'.*only padding_mode='zeros'"):
        jax_bridge.flax_from_torch(module)
    with pytest.raises(TypeError, match="nn.ConvTranspose1d/2d/3d, got Conv2d"):
        onnx_bridge.onnx_from_torch(torch.nn.Conv2d(1, 1, 3))
