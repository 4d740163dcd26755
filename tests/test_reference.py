"""The NumPy reference against the seed's numbers, the definition loop and PyTorch."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_budget import examples

from tconv_utils import (conv, conv_transpose, conv_transpose1d, conv_transpose2d,
                         conv_transpose3d, trans_conv)

SEED_X = np.array([[0.0, 1.0], [2.0, 3.0]])
SEED_K = np.array([[4.0, 1.0], [2.0, 3.0]])
SEED_Y = np.array([[0, 4, 1], [8, 16, 6], [4, 12, 9]])
TORCH_TRANSPOSED = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def test_trans_conv_reproduces_the_seed():
    np.testing.assert_array_equal(trans_conv(SEED_X, SEED_K), SEED_Y)


def test_trans_conv_scatters_each_input_cell_times_the_kernel():
    # A one-hot input copies the kernel to that cell's offset and nowhere else.
    x = np.zeros((3, 2))
    x[2, 1] = 1.0
    k = np.arange(6.0).reshape(2, 3)
    y = trans_conv(x, k)
    assert y.shape == (4, 4)
    np.testing.assert_array_equal(y[2:4, 1:4], k)
    assert y.sum() == k.sum()


def test_conv_transpose_agrees_with_the_loop_on_the_seed():
    y = conv_transpose2d(SEED_X[None, None], SEED_K[None, None])
    np.testing.assert_array_equal(y[0, 0], SEED_Y)


def test_stride_two_spreads_the_seed_example():
    y = conv_transpose2d(SEED_X[None, None], SEED_K[None, None], stride=2)
    expected = np.zeros((4, 4))
    for i in range(2):
        for j in range(2):
            expected[2 * i:2 * i + 2, 2 * j:2 * j + 2] += SEED_X[i, j] * SEED_K
    np.testing.assert_array_equal(y[0, 0], expected)


def test_integer_inputs_give_float64_and_float32_stays_float32():
    assert conv_transpose2d(np.ones((1, 1, 2, 2), int), np.ones((1, 1, 2, 2), int)).dtype == np.float64
    x32 = np.ones((1, 1, 2, 2), np.float32)
    assert conv_transpose2d(x32, x32).dtype == np.float32


@pytest.mark.parametrize("fn", [conv_transpose, conv])
def test_result_dtype_is_the_widest_operand_and_at_least_float32(fn):
    x32, w32, b32 = (np.ones(shape, np.float32) for shape in [(1, 1, 3, 3), (1, 1, 2, 2), (1,)])
    cases = [((x32, w32, None), np.float32), ((x32, w32, b32), np.float32),
             ((x32, w32.astype(np.float64), None), np.float64),
             ((x32.astype(np.float64), w32, b32), np.float64),
             ((x32, w32, b32.astype(np.float64)), np.float64),
             ((x32.astype(np.int64), w32.astype(np.int64), None), np.float64)]
    for (x, w, b), dtype in cases:
        assert fn(x, w, b).dtype == dtype, (x.dtype, w.dtype, None if b is None else b.dtype)


def test_conv_adds_one_bias_per_output_channel():
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), np.arange(3.0)
    np.testing.assert_allclose(conv(x, w, b, stride=2), conv(x, w, stride=2)
                               + b[None, :, None, None])


def test_fixed_rank_variants_check_the_rank():
    x = np.ones((1, 1, 3, 3))
    w = np.ones((1, 1, 2, 2))
    np.testing.assert_array_equal(conv_transpose2d(x, w), conv_transpose(x, w))
    assert conv_transpose1d(np.ones((1, 1, 3)), np.ones((1, 1, 2))).shape == (1, 1, 4)
    assert conv_transpose3d(np.ones((1, 1, 2, 2, 2)), np.ones((1, 1, 2, 2, 2))).shape == (1, 1, 3, 3, 3)
    with pytest.raises(ValueError, match="x must have 3 dims"):
        conv_transpose1d(x, w)


def test_keras_same_and_pytorch_padding_agree_in_shape_not_in_values():
    """Kernel 3, stride 2: Keras 'same' crops 0 before and 1 after; PyTorch's padding=1,
    output_padding=1 crops 1 before. Same shape, values shifted by one cell."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 4, 4))
    w = rng.standard_normal((2, 3, 3, 3))
    full = conv_transpose2d(x, w, stride=2)                       # 9 x 9
    keras_same = conv_transpose2d(x, w, stride=2, padding="same")
    torch_style = conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)
    assert keras_same.shape == torch_style.shape == (1, 3, 8, 8)
    np.testing.assert_allclose(keras_same, full[..., 0:8, 0:8])    # 0 before, 1 after
    np.testing.assert_allclose(torch_style[..., :8 - 1, :8 - 1], full[..., 1:8, 1:8])
    assert not np.allclose(keras_same, torch_style)
    # The asymmetric (before, after) pairs say the same as 'same'.
    np.testing.assert_allclose(conv_transpose2d(x, w, stride=2, padding=((0, 1), (0, 1))),
                               keras_same)


def test_same_with_kernel_smaller_than_stride_appends_zeros():
    x = np.ones((1, 1, 3))
    w = np.ones((1, 1, 2))
    y = conv_transpose1d(x, w, stride=3, padding="same")
    np.testing.assert_array_equal(y[0, 0], [1, 1, 0, 1, 1, 0, 1, 1, 0])


def test_bias_is_added_everywhere_including_output_padding():
    x = np.zeros((1, 1, 2, 2))
    w = np.ones((1, 2, 2, 2))
    y = conv_transpose2d(x, w, np.array([1.5, -2.0]), stride=2, output_padding=1)
    assert y.shape == (1, 2, 5, 5)
    np.testing.assert_array_equal(y[0, 0], 1.5)
    np.testing.assert_array_equal(y[0, 1], -2.0)


def test_large_layer_matches_torch():
    # A real layer size (DCGAN-like) in float32: the vectorised path must stay exact.
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 64, 8, 8), dtype=np.float32)
    w = rng.standard_normal((64, 32, 4, 4), dtype=np.float32)
    ours = conv_transpose2d(x, w, stride=2, padding=1)
    ref = F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), stride=2, padding=1).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@st.composite
def transposed_cases(draw):
    nd = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    cin = groups * draw(st.integers(1, 2))
    cout_g = draw(st.integers(1, 2))
    n = draw(st.integers(0, 2))  # a batch of 0 too: PyTorch returns an empty output
    max_side = {1: 6, 2: 4, 3: 3}[nd]
    spatial = tuple(draw(st.integers(1, max_side)) for _ in range(nd))
    kernel = tuple(draw(st.integers(1, 4 if nd < 3 else 3)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    padding = []
    for m, k, s, d, op in zip(spatial, kernel, stride, dilation, output_padding):
        full = (m - 1) * s + d * (k - 1) + 1 + op
        padding.append(draw(st.integers(0, (full - 1) // 2)))
    bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**31 - 1))
    return dict(n=n, cin=cin, cout_g=cout_g, groups=groups, spatial=spatial, kernel=kernel,
                stride=stride, padding=tuple(padding), output_padding=output_padding,
                dilation=dilation, bias=bias, seed=seed)


@examples(300)
@given(transposed_cases())
def test_conv_transpose_matches_torch(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["n"], case["cin"], *case["spatial"]))
    w = rng.standard_normal((case["cin"], case["cout_g"], *case["kernel"]))
    b = rng.standard_normal(case["cout_g"] * case["groups"]) if case["bias"] else None
    kwargs = {k: case[k] for k in ("stride", "padding", "output_padding", "dilation", "groups")}
    ours = conv_transpose(x, w, b, **kwargs)
    fn = TORCH_TRANSPOSED[len(case["spatial"])]
    ref = fn(torch.from_numpy(x), torch.from_numpy(w), None if b is None else torch.from_numpy(b),
             **kwargs).numpy()
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-10,
                               atol=1e-10 * max(1.0, np.abs(ref).max(initial=0)))


@examples(100)
@given(transposed_cases())
def test_conv_matches_torch_and_is_the_adjoint(case):
    rng = np.random.default_rng(case["seed"])
    nd = len(case["spatial"])
    g = case["groups"]
    # Input of the forward convolution: big enough for the dilated kernel after padding.
    size = tuple(max(m, d * (k - 1) + 1) for m, k, d in zip(case["spatial"], case["kernel"],
                                                           case["dilation"]))
    x = rng.standard_normal((case["n"], case["cin"], *size))
    w = rng.standard_normal((case["cout_g"] * g, case["cin"] // g, *case["kernel"]))
    kwargs = {k: case[k] for k in ("stride", "padding", "dilation", "groups")}
    y = conv(x, w, **kwargs)
    ref = TORCH_CONV[nd](torch.from_numpy(x), torch.from_numpy(w), **kwargs).numpy()
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-10,
                               atol=1e-10 * max(1.0, np.abs(ref).max(initial=0)))
    # <conv(x), v> == <x, conv_transpose(v)>, with output_padding recovering x's size.
    v = rng.standard_normal(y.shape)
    op = tuple((m + 2 * p - d * (k - 1) - 1) % s for m, p, d, k, s in zip(
        size, case["padding"], case["dilation"], case["kernel"], case["stride"]))
    # The conv weight (C_out, C_in/g, k) read as a transposed weight has C_out inputs.
    back = conv_transpose(v, w, output_padding=op, **kwargs)
    assert back.shape == x.shape
    lhs, rhs = np.vdot(y, v), np.vdot(x, back)
    assert abs(lhs - rhs) <= 1e-9 * max(1.0, abs(lhs))


def test_the_package_lists_the_names_it_loads_on_first_use():
    import tconv_utils

    assert set(tconv_utils.__all__) <= set(dir(tconv_utils))
    assert tconv_utils.conv_transpose is conv_transpose
    with pytest.raises(AttributeError, match="no attribute 'deconv'"):
        tconv_utils.deconv


@pytest.mark.parametrize("x_shape, w_shape, kwargs", [
    ((0, 2, 3, 3), (2, 4, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((0, 4, 5), (4, 3, 2), dict(stride=3, dilation=2, groups=2)),
    ((0, 1, 2, 3, 2), (1, 2, 2, 2, 2), dict(padding=(0, 1, 0))),
])
def test_an_empty_batch_gives_the_empty_output_torch_gives(x_shape, w_shape, kwargs):
    x, w = np.ones(x_shape), np.ones(w_shape)
    bias = np.ones(w_shape[1] * kwargs.get("groups", 1))
    ours = conv_transpose(x, w, bias, **kwargs)
    ref = TORCH_TRANSPOSED[len(x_shape) - 2](torch.from_numpy(x), torch.from_numpy(w),
                                             torch.from_numpy(bias), **kwargs)
    assert ours.shape == tuple(ref.shape) and ours.size == 0 and ours.dtype == np.float64
    # The same layer on one sample has that shape past the batch dim.
    assert conv_transpose(np.ones((1, *x_shape[1:])), w, bias, **kwargs).shape[1:] == ours.shape[1:]


@pytest.mark.parametrize("x_shape, w_shape, words", [
    ((1, 2, 0, 3), (2, 4, 3, 3), ["x", "spatial", "(1, 2, 0, 3)", "PyTorch refuses"]),
    ((2, 2, 4, 0), (2, 4, 3, 3), ["x", "spatial", "(2, 2, 4, 0)", "PyTorch refuses"]),
    ((1, 0, 3, 3), (0, 4, 3, 3), ["x", "input channel", "PyTorch refuses"]),
    ((1, 2, 3, 3), (2, 0, 3, 3), ["w", "non-empty", "(2, 0, 3, 3)", "PyTorch refuses"]),
    ((1, 2, 3, 3), (2, 4, 0, 3), ["w", "non-empty", "(2, 4, 0, 3)", "PyTorch refuses"]),
])
def test_every_other_empty_dim_is_refused_as_torch_refuses_it(x_shape, w_shape, words):
    x, w = np.ones(x_shape), np.ones(w_shape)
    with pytest.raises(RuntimeError):
        F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w))
    with pytest.raises(ValueError) as err:
        conv_transpose(x, w)
    assert all(word in str(err.value) for word in words), str(err.value)
