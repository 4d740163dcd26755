"""The framework bridges, and the reference against Keras for 'valid' and 'same'."""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_budget import examples

from tconv_utils import conv_transpose, keras_output_size, torch_output_size
from bridge_helpers import keras_unless_refused, tf_onednn_on
from tconv_utils import frameworks, shapes

SEED_INPUT = np.arange(1, 65, dtype=np.float32).reshape(1, 4, 4, 4)[..., :3]  # the seed's (1, 4, 4, 3)


def test_seed_input_is_the_articles_tensor():
    # The seed writes rows [1, 2, 3], [5, 6, 7], ...: the integers 1..64 without every fourth.
    assert SEED_INPUT.shape == (1, 4, 4, 3)
    np.testing.assert_array_equal(SEED_INPUT[0, 0, 1], [5, 6, 7])
    np.testing.assert_array_equal(SEED_INPUT[0, 3, 3], [61, 62, 63])


@pytest.mark.parametrize("padding, shape", [("valid", (1, 9, 9, 1)), ("same", (1, 8, 8, 1))])
def test_seed_keras_examples_give_the_seeds_shapes(padding, shape):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 1, 3, 3)).astype(np.float32)
    x = np.moveaxis(SEED_INPUT, -1, 1)
    y = frameworks.keras_conv_transpose(x, w, stride=2, padding=padding)
    assert np.moveaxis(y, 1, -1).shape == shape
    np.testing.assert_allclose(y, conv_transpose(x, w, stride=2, padding=padding), rtol=1e-5,
                               atol=1e-5 * np.abs(y).max())
    assert keras_output_size(4, 3, 2, padding) == shape[1]


def test_import_keras_keeps_tensorflows_start_up_notice_off_stderr():
    # A fresh process (this one has Keras loaded already): nothing reaches stderr while Keras
    # loads, and stderr works again afterwards.
    assert frameworks.import_keras().__name__ == "keras"
    code = ("import sys; from tconv_utils.frameworks import import_keras; "
            "print(import_keras().__name__, 'tensorflow' in sys.modules); "
            "print('stderr works', file=sys.stderr)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert (run.returncode, run.stdout, run.stderr) == (0, "keras True\n", "stderr works\n")


def test_layout_converters_are_inverse_and_do_not_flip():
    w = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)  # (in, out, kh, kw)
    k = frameworks.keras_kernel_from_torch(w)
    assert k.shape == (4, 5, 3, 2)
    assert k[1, 2, 0, 1] == w[1, 0, 1, 2]          # same tap, no flip
    np.testing.assert_array_equal(frameworks.torch_weight_from_keras(k), w)
    w1 = np.arange(6.0).reshape(1, 2, 3)
    np.testing.assert_array_equal(frameworks.torch_weight_from_keras(
        frameworks.keras_kernel_from_torch(w1)), w1)
    with pytest.raises(ValueError, match="kernel"):
        frameworks.torch_weight_from_keras(np.ones((3, 3)))


def test_torch_bridge_runs_the_functional_and_the_output_size_form():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 5, 4))
    w = rng.standard_normal((3, 2, 3, 3))
    b = rng.standard_normal(2)
    y = frameworks.torch_conv_transpose(x, w, b, stride=2, padding=1, output_padding=1)
    assert y.dtype == np.float32 and y.shape == (2, 2, 10, 8)
    np.testing.assert_allclose(y, conv_transpose(x, w, b, stride=2, padding=1, output_padding=1),
                               rtol=1e-5, atol=1e-5)
    # output_size= chooses output_padding: 9 rows needs 0, 10 needs 1.
    y9 = frameworks.torch_conv_transpose(x, w, b, stride=2, padding=1, output_size=(9, 8))
    assert y9.shape == (2, 2, 9, 8)
    np.testing.assert_allclose(y9, y[:, :, :9], rtol=1e-5, atol=1e-5)


def test_torch_bridge_output_size_form_keeps_groups():
    # The output_size= form builds a module: it must have groups * (C_out // groups) output
    # channels, split its input channels into groups, and keep the weight and bias as given.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 3, 5))
    w = rng.standard_normal((4, 3, 3, 2))  # groups=2: two groups of 2 inputs, 3 outputs each
    b = rng.standard_normal(6)
    kw = dict(stride=2, padding=1, dilation=(1, 2), groups=2)
    y = frameworks.torch_conv_transpose(x, w, b, output_size=(6, 9), **kw)
    assert y.shape == (2, 6, 6, 9)
    np.testing.assert_allclose(y, conv_transpose(x, w, b, output_padding=(1, 0), **kw),
                               rtol=1e-5, atol=1e-5)
    plain = frameworks.torch_conv_transpose(x, w, output_size=(5, 10), **kw)  # and without a bias
    assert plain.shape == (2, 6, 5, 10)
    np.testing.assert_allclose(plain, conv_transpose(x, w, output_padding=(0, 1), **kw), rtol=1e-5,
                               atol=1e-5)


def test_output_size_rules_for_the_seed():
    assert torch_output_size(2, 2) == 3               # Example 1: O_h = (2 - 1) * 1 + 2 - 0
    assert torch_output_size(4, 3, stride=2) == 9     # Keras 'valid' on the seed input
    assert torch_output_size(4, 3, stride=2, padding=1, output_padding=1) == 8
    assert keras_output_size(4, 3, 2, "same", output_padding=1) == 8
    assert shapes.keras_placement(4, 3, 2, "same") == (0, 8)   # crop 0 before, 1 after
    assert shapes.keras_placement(4, 5, 2, "same") == (1, 8)


@st.composite
def keras_cases(draw):
    kernel = draw(st.integers(1, 5))
    stride = draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["valid", "same"]))
    output_padding = draw(st.one_of(st.none(), st.integers(0, stride - 1)))
    n = draw(st.integers(1, 4))
    # Keras refuses dilation_rate > 1 with strides > 1; at stride 1 TensorFlow's oneDNN kernels
    # compute it and its others refuse it (both checked below).
    dilation = draw(st.integers(1, 3)) if stride == 1 else 1
    return dict(kernel=kernel, stride=stride, dilation=dilation, padding=padding,
                output_padding=output_padding, n=n, m=draw(st.integers(1, 4)),
                cin=draw(st.integers(1, 3)), cout=draw(st.integers(1, 3)),
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2**31 - 1)))


def _no_cell_left(n, case):
    """True where Keras' output size along a dim of n cells would be below 1."""
    try:
        keras_output_size(n, case["kernel"], case["stride"], case["padding"],
                          case["output_padding"], case["dilation"])
    except ValueError as err:
        return "< 1" in str(err)
    return False


@examples(200)
@given(keras_cases())
def test_conv_transpose_matches_keras(case):
    """Same numbers as Keras, or the same refusal (TF refuses some output_padding values)."""
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((1, case["cin"], case["n"], case["m"])).astype(np.float32)
    w = rng.standard_normal((case["cin"], case["cout"], case["kernel"], case["kernel"]))
    w = w.astype(np.float32)
    b = rng.standard_normal(case["cout"]).astype(np.float32) if case["bias"] else None
    kwargs = {k: case[k] for k in ("stride", "padding", "output_padding", "dilation")}
    try:
        ours = conv_transpose(x, w, b, **kwargs)
    except ValueError as err:
        assert "output_padding" in str(err)
        if any(_no_cell_left(size, case) for size in (case["n"], case["m"])) and tf_onednn_on():
            # The library refuses as PyTorch does; TensorFlow's oneDNN kernels return an empty
            # output instead, whatever the other dim (its other kernels raise).
            assert frameworks.keras_conv_transpose(x, w, b, **kwargs).size == 0
        else:
            with pytest.raises(Exception):  # Keras: ValueError; TensorFlow: an OpError
                frameworks.keras_conv_transpose(x, w, b, **kwargs)
        return
    ref = keras_unless_refused(lambda: frameworks.keras_conv_transpose(x, w, b, **kwargs),
                               case["dilation"])
    if ref is None:
        return
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(ref).max()))
