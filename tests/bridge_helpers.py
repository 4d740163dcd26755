"""Hypothesis strategies and helpers that the bridge tests share: random PyTorch transposed
convolutions with small shapes, the brute-force search behind every refusal, and Keras runs that
TensorFlow may refuse for their dilation."""
import itertools

import numpy as np
import torch
from hypothesis import strategies as st

from tconv_utils import frameworks, shapes

TOL = dict(rtol=1e-5, atol=1e-5)


def tf_onednn_on() -> bool:
    """Whether TensorFlow runs its oneDNN kernels in this process (the machine's default or
    TF_ENABLE_ONEDNN_OPTS). tf.test has no public question for it; TensorFlow's own test
    utilities ask this function."""
    frameworks.import_keras()
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


def keras_unless_refused(run, dilation):
    """``run()`` (a Keras call), or None where TensorFlow refuses its dilation; asserts that it
    refuses exactly when the dilation is above 1 and TensorFlow's oneDNN kernels are off."""
    y = frameworks.tf_dilated(run)
    assert (y is None) == (int(np.max(dilation)) > 1 and not tf_onednn_on())
    return y


def torch_run(module, x):
    with torch.no_grad():
        return module(torch.as_tensor(x)).numpy()


@st.composite
def geometries(draw):
    """``(kernel, stride, dilation, input size)``, one entry per spatial dim (1 or 2 dims), small
    enough that every JAX call compiles fast."""
    nd = draw(st.sampled_from([1, 2]))
    return tuple(tuple(draw(st.integers(1, top)) for _ in range(nd)) for top in (4, 3, 2, 4))


@st.composite
def torch_configs(draw):
    """A PyTorch transposed convolution (1-D or 2-D) with small shapes and random weights."""
    kernel, stride, dilation, size = draw(geometries())
    groups = draw(st.sampled_from([1, 1, 2]))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    padding = []
    for n, k, s, op, d in zip(size, kernel, stride, output_padding, dilation):
        # any padding that leaves at least one cell, up to one past the dilated kernel
        most = min(shapes.effective_kernel(k, d), (shapes.full_size(n, k, s, d) + op - 1) // 2)
        padding.append(draw(st.integers(0, most)))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    w = rng.standard_normal((c_in, c_out // groups, *kernel)).astype(np.float32)
    bias = rng.standard_normal(c_out).astype(np.float32) if draw(st.booleans()) else None
    x = rng.standard_normal((1, c_in, *size)).astype(np.float32)
    return dict(x=x, w=w, bias=bias, stride=stride, padding=tuple(padding),
                output_padding=output_padding, dilation=dilation, groups=groups)


def torch_module(cfg):
    w, groups = cfg["w"], cfg["groups"]
    cls = {3: torch.nn.ConvTranspose1d, 4: torch.nn.ConvTranspose2d}[w.ndim]
    module = cls(w.shape[0], w.shape[1] * groups, w.shape[2:], stride=cfg["stride"],
                 padding=cfg["padding"], output_padding=cfg["output_padding"],
                 dilation=cfg["dilation"], groups=groups, bias=cfg["bias"] is not None)
    with torch.no_grad():
        module.weight.copy_(torch.as_tensor(w))
        if cfg["bias"] is not None:
            module.bias.copy_(torch.as_tensor(cfg["bias"]))
    return module


def some_torch_layer_matches(x, w, stride, dilation, expected, crop):
    """Brute force: does any PyTorch padding/output_padding give ``expected`` (with ``crop``:
    as some window of its output)?"""
    nd = w.ndim - 2
    fn = {1: torch.nn.functional.conv_transpose1d, 2: torch.nn.functional.conv_transpose2d}[nd]
    candidates = [[(p, op) for p in range(shapes.effective_kernel(k, d) + 1)
                   for op in range(max(s, d))]
                  for k, s, d in zip(w.shape[2:], stride, dilation)]
    for choice in itertools.product(*candidates):
        padding, output_padding = zip(*choice)
        try:
            with torch.no_grad():
                got = fn(torch.as_tensor(x), torch.as_tensor(w), stride=stride, padding=padding,
                         output_padding=output_padding, dilation=dilation).numpy()
        except RuntimeError:  # PyTorch refuses (output smaller than one cell)
            continue
        offsets = [range(g - e + 1) if crop else [0] if g == e else []
                   for g, e in zip(got.shape[2:], expected.shape[2:])]
        for start in itertools.product(*offsets):
            window = got[(Ellipsis,) + tuple(slice(a, a + e) for a, e in
                                             zip(start, expected.shape[2:]))]
            if np.allclose(window, expected, **TOL):
                return True
    return False
