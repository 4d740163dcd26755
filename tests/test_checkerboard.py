"""Overlap counts, the divisibility rule, the artifact measure and the upsampling layers."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tconv_utils import checkerboard as cb
from tconv_utils.reference import conv_transpose
from tconv_utils.shapes import torch_output_size


def brute_force_overlap(n, k, s, d):
    # Walk every output position and ask every (cell, tap) pair whether it lands there.
    size = (n - 1) * s + d * (k - 1) + 1
    counts = np.zeros(size, dtype=int)
    for o in range(size):
        for i in range(n):
            for t in range(k):
                if i * s + t * d == o:
                    counts[o] += 1
    return counts


small = st.integers(1, 6)


@settings(max_examples=60, deadline=None)
@given(n=small, k=small, s=small, d=st.integers(1, 4))
def test_overlap_counts_match_brute_force_1d(n, k, s, d):
    np.testing.assert_array_equal(cb.overlap_counts(n, k, s, d), brute_force_overlap(n, k, s, d))


@settings(max_examples=30, deadline=None)
@given(n=st.tuples(small, small), k=st.tuples(small, small), s=st.tuples(small, small),
       d=st.tuples(st.integers(1, 3), st.integers(1, 3)))
def test_overlap_counts_2d_is_transposed_conv_of_ones(n, k, s, d):
    # The count is what an all-ones input times an all-ones kernel gives.
    ones = conv_transpose(np.ones((1, 1, *n)), np.ones((1, 1, *k)), stride=s, dilation=d)[0, 0]
    np.testing.assert_array_equal(cb.overlap_counts(n, k, s, d), ones)
    rows = brute_force_overlap(n[0], k[0], s[0], d[0])
    cols = brute_force_overlap(n[1], k[1], s[1], d[1])
    np.testing.assert_array_equal(cb.overlap_counts(n, k, s, d), np.outer(rows, cols))


@pytest.mark.parametrize("k", range(1, 9))
@pytest.mark.parametrize("s", range(1, 5))
@pytest.mark.parametrize("d", range(1, 4))
def test_divisibility_rule_matches_the_counter(k, s, d):
    # Read the interior off the brute-force count for an input long enough to hold periods.
    n = cb.min_interior_n(k, s, d) + 3
    inner = brute_force_overlap(n, k, s, d)[cb.interior_slice(n, k, s, d)]
    assert len(inner) >= s
    assert np.array_equal(inner, np.resize(inner[:s], len(inner))), "interior must repeat"
    is_even = len(set(inner.tolist())) == 1
    assert cb.even_overlap(k, s, d) == is_even
    assert is_even == (k % s == 0 and math.gcd(s, d) == 1)
    np.testing.assert_array_equal(cb.interior_overlap(k, s, d), inner[:s])


def test_every_tap_reaches_the_interior_and_nothing_more():
    n, k, s = 5, 3, 2
    inner = cb.overlap_counts(n, k, s)[cb.interior_slice(n, k, s)]
    assert inner.sum() == brute_force_overlap(n, k, s, 1)[2:9].sum()
    assert inner.max() <= -(-k // s) and inner.min() >= k // s


def checker(h, w):
    return np.indices((h, w)).sum(axis=0) % 2 * 2.0 - 1.0  # +1/-1 alternating


def test_measure_is_one_for_a_pure_checkerboard_and_zero_for_a_constant():
    assert cb.checkerboard_energy(checker(16, 12), 2) == pytest.approx(1.0)
    assert cb.checkerboard_energy(np.full((16, 16), 3.0), 2) == 0.0
    assert cb.checkerboard_energy(np.zeros((8, 8)), 2) == 0.0


@settings(max_examples=40, deadline=None)
@given(level=st.floats(-5, 5), amplitude=st.floats(-5, 5), shift=st.integers(0, 7))
def test_measure_of_a_checkerboard_on_a_level(level, amplitude, shift):
    image = np.roll(level + amplitude * checker(8, 8), shift, axis=1)
    total = level ** 2 + amplitude ** 2
    expected = amplitude ** 2 / total if total > 0 else 0.0
    assert cb.checkerboard_energy(image, 2) == pytest.approx(expected, abs=1e-9)


def test_measure_sees_any_pattern_of_the_period_and_ignores_other_frequencies():
    rng = np.random.default_rng(0)
    tile = rng.standard_normal((4, 4))
    tile -= tile.mean()
    assert cb.checkerboard_energy(np.tile(tile, (5, 3)), 4) == pytest.approx(1.0)
    # A cosine of period 3 has no energy at multiples of 1/4 (image size a multiple of 12).
    wave = np.cos(2 * np.pi * np.arange(24) / 3)[None, :] * np.ones((24, 1))
    assert cb.checkerboard_energy(wave, 4) == pytest.approx(0.0, abs=1e-12)
    # White noise puts about (p**2 - 1) / (H * W) of its energy there, not more.
    noise = rng.standard_normal((64, 64))
    assert cb.checkerboard_energy(noise, 2) < 0.01


@pytest.mark.parametrize("bad, error", [(np.ones(4), ValueError), (np.ones((1, 4)), ValueError),
                                        (np.ones((4, 4), dtype=complex), TypeError)])
def test_measure_rejects_bad_images(bad, error):
    with pytest.raises(error, match="image"):
        cb.checkerboard_energy(bad, 2)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="stride"):
        cb.overlap_counts(4, 3, 0)
    with pytest.raises(ValueError, match="same length"):
        cb.overlap_counts((4, 4), (3, 3, 3), 2)
    with pytest.raises(ValueError, match="method"):
        cb.upsampling_layer("deconv", 2, 2)
    with pytest.raises(ValueError, match="kernel must be odd"):
        cb.upsampling_layer("nearest", 2, 2, kernel=4)


@pytest.mark.parametrize("k", range(1, 8))
@pytest.mark.parametrize("s", range(1, 5))
def test_same_size_padding_gives_n_times_stride(k, s):
    if s == 1 and k % 2 == 0:
        with pytest.raises(ValueError, match="odd kernel"):
            cb.same_size_padding(k, s)
        return
    padding, output_padding = cb.same_size_padding(k, s)
    for n in (1, 3, 5):
        assert torch_output_size(n, k, s, padding, output_padding) == n * s


def test_icnr_layer_equals_conv_then_nearest_resize():
    torch.manual_seed(0)
    layer = cb.upsampling_layer("icnr", 3, 2, kernel=3, stride=2)
    conv = layer[0]
    x = torch.randn(2, 3, 5, 5)
    base_w, base_b = conv.weight[::4], conv.bias[::4]
    expected = torch.nn.functional.interpolate(
        torch.nn.functional.conv2d(x, base_w, base_b, padding=1), scale_factor=2, mode="nearest")
    with torch.no_grad():
        torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", cb.UPSAMPLING_METHODS)
def test_stacks_upsample_by_the_product_of_strides(method):
    stack = cb.upsampling_stack(method, layers=2, channels=4, seed=1)
    assert cb.constant_response(stack, size=5, channels=4).shape == (20, 20)


def test_constant_weight_stacks_follow_the_overlap_rule():
    def centre_energy(kernel):
        stack = cb.upsampling_stack("transposed", kernel=kernel, constant_weights=True)
        return cb.checkerboard_energy(cb.constant_response(stack)[16:48, 16:48], 8)

    assert centre_energy(4) < 1e-12  # 2 divides 4: even overlap, flat centre
    assert centre_energy(3) > 0.1   # uneven overlap: a pattern


@pytest.mark.parametrize("method", ["nearest", "bilinear", "icnr"])
def test_resize_and_icnr_stacks_have_a_flat_centre(method):
    for seed in range(3):
        image = cb.constant_response(cb.upsampling_stack(method, seed=seed))
        assert cb.checkerboard_energy(image[16:48, 16:48], 8) < 1e-10


@settings(max_examples=15, deadline=None)
@given(s=st.integers(1, 3), k=st.sampled_from([1, 3, 5]), c_in=st.integers(1, 3),
       c_out=st.integers(1, 3), n=st.integers(1, 5))
def test_subpixel_convolution_is_a_transposed_convolution(s, k, c_in, c_out, n):
    rng = np.random.default_rng(s * 100 + k * 10 + n)
    weight = rng.standard_normal((c_out * s * s, c_in, k, k)).astype(np.float32)
    x = rng.standard_normal((2, c_in, n, n)).astype(np.float32)
    subpixel = torch.nn.functional.pixel_shuffle(
        torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(weight), padding=k // 2),
        s).numpy()
    kernel, padding = cb.subpixel_as_transposed(weight, s)
    assert kernel.shape == (c_in, c_out, k * s, k * s) and (k * s) % s == 0
    np.testing.assert_allclose(conv_transpose(x, kernel, stride=s, padding=padding), subpixel,
                               rtol=1e-4, atol=1e-4)
