"""JAX (lax.conv_transpose, lax.conv_general_dilated) and Flax (linen, nnx) against the NumPy
reference, and the translations from and to PyTorch (tconv_utils.jax_bridge).

Not part of `make test` (the name does not start with test_): `make test-jax` runs this file in a
pytest process of its own. XLA's CPU compiler (jaxlib 0.10.2) aborts the process with SIGABRT
while compiling a ``conv_general_dilated`` in some runs and not others: on all three tries of one
clean-clone `make test`, never in several runs in the maintainer's checkout, and not on the
configuration it died on when that runs alone. A check that kills CI at random cannot gate it.

Every JAX call compiles a small XLA program for its shapes (tens of milliseconds), so the shapes
stay small and each hypothesis example runs all the bridges of one translation at once.
"""
import os
import subprocess
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # before jax is first imported: no accelerator search

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_budget import examples

from bridge_helpers import (TOL, geometries, some_torch_layer_matches, torch_configs, torch_module,
                            torch_run)
from tconv_utils import conv_transpose, jax_bridge, shapes
from tconv_utils.torch_build import conv_transpose_module

EXAMPLES = 200


@examples(EXAMPLES)
@given(torch_configs())
def test_every_jax_bridge_from_torch_matches_the_reference(cfg):
    x, w, bias = cfg["x"], cfg["w"], cfg["bias"]
    args = {k: cfg[k] for k in ("stride", "padding", "output_padding", "dilation")}
    expected = conv_transpose(x, w, bias, groups=cfg["groups"], **args)

    # lax.conv_general_dilated with lhs_dilation: every configuration, groups included.
    got = jax_bridge.lax_lhs_dilated_conv(x, w, bias, groups=cfg["groups"], **args)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, **TOL)

    for name, y in run_bridges(cfg).items():
        np.testing.assert_allclose(y, expected, **TOL, err_msg=name)


def run_bridges(cfg):
    """Every JAX and Flax bridge, and the ports back to PyTorch. lax.conv_transpose has no
    groups (it runs ungrouped layers only); Flax gets a grouped layer as one masked layer."""
    x, w, bias = cfg["x"], cfg["w"], cfg["bias"]
    args = {k: cfg[k] for k in ("stride", "padding", "output_padding", "dilation")}
    module = torch_module(cfg)
    out = {}
    if cfg["groups"] == 1:
        pads = jax_bridge.lax_padding_from_torch(w.shape[2:], **args)
        for transpose_kernel in (False, True):
            kernel = jax_bridge.jax_kernel_from_torch(w, transpose_kernel=transpose_kernel)
            out[f"lax.conv_transpose({transpose_kernel})"] = jax_bridge.lax_conv_transpose(
                x, kernel, bias, stride=cfg["stride"], padding=pads, dilation=cfg["dilation"],
                transpose_kernel=transpose_kernel)
    # Flax: linen with JAX's default kernel convention, nnx with Keras'.
    layer, variables = jax_bridge.flax_from_torch(module, api="linen")
    out["linen"] = jax_bridge.flax_call(layer, x, variables)
    back = jax_bridge.torch_from_flax(layer, variables)
    assert isinstance(back, type(module))  # a PyTorch layer comes back as one layer, no crop
    out["torch from linen"] = torch_run(back, x)
    nnx_layer = jax_bridge.flax_from_torch(module, api="nnx", transpose_kernel=True)
    out["nnx"] = jax_bridge.flax_call(nnx_layer, x)
    back = jax_bridge.torch_from_flax(nnx_layer)
    assert (back.padding, back.output_padding) == (module.padding, module.output_padding)
    out["torch from nnx"] = torch_run(back, x)
    return out


@st.composite
def lax_configs(draw):
    """JAX's own arguments: 'SAME', 'VALID' or (low, high) pairs, negative ones included."""
    kernel, stride, dilation, size = draw(geometries())
    kind = draw(st.sampled_from(["SAME", "VALID", "pairs"]))
    if kind == "pairs":
        padding = []
        for n, k, s, d in zip(size, kernel, stride, dilation):
            extent = shapes.effective_kernel(k, d)
            low = draw(st.integers(-2, extent + 1))
            # at least one output cell: (n - 1) * s + 1 + low + high - extent + 1 >= 1
            high = draw(st.integers(max(-2, extent - 1 - (n - 1) * s - low), extent + 2))
            padding.append((low, high))
        padding = tuple(padding)
    else:
        padding = kind
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    w = rng.standard_normal((c_in, c_out, *kernel)).astype(np.float32)
    x = rng.standard_normal((1, c_in, *size)).astype(np.float32)
    return dict(x=x, w=w, stride=stride, padding=padding, dilation=dilation)


@examples(EXAMPLES)
@given(lax_configs())
def test_lax_padding_means_the_window_shapes_states_and_ports_to_torch_or_is_refused(cfg):
    x, w = cfg["x"], cfg["w"]
    stride, padding, dilation = cfg["stride"], cfg["padding"], cfg["dilation"]
    kernel_size = w.shape[2:]
    got = jax_bridge.lax_conv_transpose(x, jax_bridge.jax_kernel_from_torch(w), stride=stride,
                                        padding=padding, dilation=dilation)
    pads = [padding] * len(kernel_size) if isinstance(padding, str) else padding
    windows = [shapes.lax_window(n, k, s, p, d)
               for n, k, s, p, d in zip(x.shape[2:], kernel_size, stride, pads, dilation)]
    full = conv_transpose(x, w, stride=stride, dilation=dilation)
    np.testing.assert_allclose(got, shapes.apply_windows(full, windows), **TOL)
    # An all-zero window (it misses the scatter's taps) matches zeros anywhere: the brute-force
    # searches below compare positions through values, so they need a nonzero cell.
    informative = bool(np.any(got))
    try:
        args = jax_bridge.torch_padding_from_lax(kernel_size, stride, padding, dilation)
    except ValueError as err:
        assert "PyTorch" in str(err) and "spatial dim" in str(err)
        assert not (informative and some_torch_layer_matches(x, w, stride, dilation, got, crop=True))
        return
    module = conv_transpose_module(w, None, stride=stride, dilation=dilation, args=args)
    np.testing.assert_allclose(torch_run(module, x), got, **TOL)
    if not all(a.exact for a in args):  # a crop only where no PyTorch layer alone matches
        assert not (informative and some_torch_layer_matches(x, w, stride, dilation, got,
                                                             crop=False))


def test_lax_conv_transpose_does_not_flip_the_kernel_unless_asked():
    # jax #14337: the default correlates with the kernel as given, so a kernel that is not
    # symmetric gives PyTorch's result for the flipped kernel.
    x = np.zeros((1, 1, 3), np.float32)
    x[0, 0, 0] = 1.0  # an impulse: the output shows the kernel itself
    w = np.array([[[1.0, 2.0, 3.0]]], np.float32)  # (C_in, C_out, k)
    as_is = jax_bridge.lax_conv_transpose(x, np.moveaxis(w, (0, 1), (-2, -1)), padding="VALID")
    flipped = jax_bridge.lax_conv_transpose(x, np.moveaxis(w, (0, 1), (-1, -2)), padding="VALID",
                                            transpose_kernel=True)
    np.testing.assert_array_equal(as_is[0, 0, :3], [3, 2, 1])
    np.testing.assert_array_equal(flipped[0, 0, :3], [1, 2, 3])


def test_a_grouped_layer_ports_to_flax_with_a_mask_that_keeps_its_zeros_in_training():
    from flax import nnx

    torch.manual_seed(0)
    module = torch.nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, groups=2)
    layer = jax_bridge.flax_from_torch(module)
    # (k, C_in, C_out): input channels 0-1 reach outputs 0-2 only, channels 2-3 outputs 3-5.
    np.testing.assert_array_equal(layer.mask[1], np.kron(np.eye(2), np.ones((2, 3))))
    x = np.random.default_rng(0).standard_normal((1, 5, 4)).astype(np.float32)  # (N, L, C)
    grads = nnx.grad(lambda m, x: (m(x) ** 2).sum())(layer, x)
    kernel_grad = np.asarray(grads["kernel"][...])
    assert np.all(kernel_grad[layer.mask == 0] == 0) and np.all(kernel_grad[layer.mask == 1] != 0)
    with pytest.raises(ValueError, match="groups=3 must divide C_in=4"):
        jax_bridge.block_diagonal_weight(np.ones((4, 1, 3)), 3)


def test_kernel_converters_are_inverse():
    w = np.arange(2 * 3 * 2 * 4, dtype=np.float32).reshape(2, 3, 2, 4)
    for transpose_kernel in (False, True):
        k = jax_bridge.jax_kernel_from_torch(w, transpose_kernel=transpose_kernel)
        assert k.shape == ((2, 4, 3, 2) if transpose_kernel else (2, 4, 2, 3))
        np.testing.assert_array_equal(
            jax_bridge.torch_weight_from_jax(k, transpose_kernel=transpose_kernel), w)
    assert jax_bridge.jax_kernel_from_torch(w)[0, 0, 1, 2] == w[1, 2, 1, 3]  # flipped tap


def test_flax_same_and_valid_are_keras_windows_and_circular_is_refused():
    from flax import nnx

    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 5)).astype(np.float32)
    for padding in ("SAME", "VALID"):
        layer = nnx.ConvTranspose(2, 1, 3, strides=2, padding=padding, use_bias=False,
                                  rngs=nnx.Rngs(0))
        w = jax_bridge.torch_weight_from_jax(np.asarray(layer.kernel[...]))
        expected = conv_transpose(x, w, stride=2, padding=padding.lower())  # Keras' meaning
        np.testing.assert_allclose(jax_bridge.flax_call(layer, x), expected, **TOL)
        back = jax_bridge.torch_from_flax(layer)
        # 'SAME' with kernel 3, stride 2 drops one cell at the end only: PyTorch needs a crop.
        names = [type(m).__name__ for m in back] if padding == "SAME" else [type(back).__name__]
        assert names == (["ConvTranspose1d", "Crop"] if padding == "SAME" else ["ConvTranspose1d"])
        np.testing.assert_allclose(torch_run(back, x), expected, **TOL)
    circular = nnx.ConvTranspose(2, 1, 3, strides=2, padding="CIRCULAR", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="CIRCULAR.*zeros only"):
        jax_bridge.torch_from_flax(circular)


def test_wrong_inputs_are_named():
    import flax.linen

    with pytest.raises(ValueError, match="api"):
        jax_bridge.flax_from_torch(torch.nn.ConvTranspose1d(1, 1, 3), api="haiku")
    with pytest.raises(TypeError, match="ConvTranspose"):
        jax_bridge.flax_from_torch(torch.nn.Conv1d(1, 1, 3))
    with pytest.raises(ValueError, match="variables"):
        jax_bridge.torch_from_flax(flax.linen.ConvTranspose(1, (3,)))
    with pytest.raises(TypeError, match="flax"):
        jax_bridge.torch_from_flax(torch.nn.ConvTranspose1d(1, 1, 3))
    with pytest.raises(ValueError, match="capitals"):
        jax_bridge.torch_padding_from_lax(3, 2, "same")
    with pytest.raises(ValueError, match="zeros in front"):
        jax_bridge.torch_padding_from_lax(3, 2, [(3, 2)])
    with pytest.raises(ValueError, match="output_padding"):
        jax_bridge.lax_padding_from_torch(3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="groups=2 must divide"):
        jax_bridge.lax_lhs_dilated_conv(np.ones((1, 3, 4)), np.ones((3, 1, 2)), groups=2)


def test_importing_the_bridges_needs_numpy_only():
    code = ("import sys, tconv_utils.jax_bridge, tconv_utils.onnx_bridge, "
            "tconv_utils.keras_backends; print(sorted(m for m in ('torch', 'jax', 'flax', 'onnx', "
            "'onnxruntime', 'keras', 'tensorflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
