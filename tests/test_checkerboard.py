"""Overlap counts, the divisibility rule, the artifact measure and the upsampling layers."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_budget import examples

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


@examples(60)
@given(n=small, k=small, s=small, d=st.integers(1, 4))
def test_overlap_counts_match_brute_force_1d(n, k, s, d):
    np.testing.assert_array_equal(cb.overlap_counts(n, k, s, d), brute_force_overlap(n, k, s, d))


@examples(30)
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


@pytest.mark.parametrize("k", range(1, 8))
@pytest.mark.parametrize("s", range(1, 5))
@pytest.mark.parametrize("d", range(1, 4))
def test_min_interior_n_holds_a_whole_period_with_at_most_one_cell_to_spare(k, s, d):
    # The shortest such input is one cell shorter when s == 1 or (k - 1) * d % s == 1; callers
    # only need a length whose interior holds a period.
    def interior(n):
        return len(range(n * s + d * k)[cb.interior_slice(n, k, s, d)]) if n >= 1 else 0

    n = cb.min_interior_n(k, s, d)
    assert interior(n) >= s and interior(n - 2) < s
    assert (interior(n - 1) >= s) == (s == 1 or (k - 1) * d % s == 1)


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


# Zero, or a value whose square is a normal float64. Below about 1e-154 the square underflows:
# the expected a**2 / (c**2 + a**2) reads 0 while the measure, whose FFT sums 64 pixels
# before squaring, still sees the pattern (and rightly reports it).
magnitude = st.one_of(st.just(0.0), st.floats(1e-100, 5), st.floats(-5, -1e-100))


@examples(40)
@given(level=magnitude, amplitude=magnitude, shift=st.integers(0, 7))
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
    with pytest.raises(ValueError, match="same length"):
        cb.overlap_counts((4, 4), 3, 2, (1, 1, 1))
    with pytest.raises(ValueError, match="method"):
        cb.upsampling_layer("deconv", 2, 2)
    with pytest.raises(ValueError, match="kernel must be odd"):
        cb.upsampling_layer("nearest", 2, 2, kernel=4)
    with pytest.raises(ValueError, match=r"weight.shape\[0\]=6 must be a multiple of stride\*\*2=4"):
        cb.icnr_(torch.zeros(6, 1, 3, 3), 2)


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
    with torch.no_grad():  # one channel out of the last layer, and any odd kernel keeps n * s
        assert stack(torch.ones(1, 4, 5, 5)).shape == (1, 1, 20, 20)
        wide = cb.upsampling_stack(method, layers=1, channels=2, kernel=5)
        assert wide(torch.ones(1, 2, 5, 5)).shape == (1, 1, 10, 10)


@pytest.mark.parametrize("kernel", [3, 4])
def test_constant_weight_stacks_give_the_path_counts(kernel):
    # Weights 1 / (channels * k * k), no bias: each layer scales by 1 / k**2, so the output of an
    # all-ones input is the 2-D path count (outer product of the 1-D one) over k**(2 * layers).
    stack = cb.upsampling_stack("transposed", kernel=kernel, constant_weights=True)
    layer = (kernel, 2, *cb.same_size_padding(kernel, 2))
    paths = cb.path_counts(8, [layer] * 3)
    np.testing.assert_allclose(cb.constant_response(stack) * kernel ** 6, np.outer(paths, paths),
                               atol=1e-4)
    centre = cb.constant_response(stack)[16:48, 16:48]
    if kernel == 4:  # 2 divides 4: even overlap, flat centre
        assert cb.checkerboard_amplitude(centre, 8) < 1e-9
    else:            # uneven overlap: a pattern
        assert cb.checkerboard_amplitude(centre, 8) > 0.1 * centre.mean()


@pytest.mark.parametrize("method", ["nearest", "bilinear", "icnr"])
def test_resize_and_icnr_stacks_have_a_flat_centre(method):
    for seed in range(3):
        image = cb.constant_response(cb.upsampling_stack(method, seed=seed))
        assert cb.checkerboard_amplitude(image[16:48, 16:48], 8) < 1e-6 * np.abs(image).max()


@examples(15)
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


def test_overlap_maps_write_each_count_and_the_verdict():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = [(3, 2), (4, 2), (5, 3)]
    fig = cb.plot_overlap_maps(pairs, n=3)
    for ax, (k, s) in zip(fig.axes, pairs):
        counts = cb.overlap_counts((3, 3), (k, k), (s, s))
        drawn = np.zeros_like(counts)
        for t in ax.texts:  # text (column, row) at each cell's centre
            c, r = (int(round(v)) for v in t.get_position())
            drawn[r, c] = int(t.get_text())
        assert len(ax.texts) == counts.size
        np.testing.assert_array_equal(drawn, counts)
        np.testing.assert_array_equal(ax.images[0].get_array(), counts)
        verdict = "even" if k % s == 0 else "uneven"
        assert ax.get_title() == f"k={k}, s={s}: {verdict}"
    plt.close(fig)


def test_plot_images_shows_each_image_under_its_title():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = [np.full((4, 4), v) for v in range(5)]
    fig = cb.plot_images(images, [f"image {v}" for v in range(5)], ncols=2)
    assert len(fig.axes) == 6  # 3 rows of 2; the sixth panel stays empty
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in shown] == [f"image {v}" for v in range(5)]
    for ax, image in zip(shown, images):
        np.testing.assert_array_equal(ax.images[0].get_array(), image)
    plt.close(fig)


# --- The amplitude measure ------------------------------------------------------------------------

def plane(h, w, slope_rows, slope_cols):
    return np.add.outer(slope_rows * np.arange(h), slope_cols * np.arange(w))


@examples(40)
@given(level=st.floats(-100, 100), amplitude=st.floats(-5, 5), slopes=st.tuples(
    st.floats(-1, 1), st.floats(-1, 1)), shift=st.integers(0, 3))
def test_amplitude_of_a_checkerboard_on_a_plane_is_its_amplitude(level, amplitude, slopes, shift):
    # The truth is known: +/- amplitude around any level, on any tilted plane.
    image = level + plane(12, 16, *slopes) + amplitude * np.roll(checker(12, 16), shift, axis=1)
    scale = 1 + abs(level) + 16 * (abs(slopes[0]) + abs(slopes[1]))
    assert cb.checkerboard_amplitude(image, 2) == pytest.approx(abs(amplitude), abs=1e-9 * scale)
    # Without the pattern the measure is zero, whatever the level and the plane.
    assert cb.checkerboard_amplitude(image - amplitude * np.roll(checker(12, 16), shift, axis=1),
                                     2) == pytest.approx(0.0, abs=1e-9 * scale)


def test_amplitude_is_the_rms_of_any_tile_and_does_not_care_about_the_level():
    rng = np.random.default_rng(0)
    tile = rng.standard_normal((4, 4))
    for level in (0.0, 1.0, 100.0):
        image = level + np.tile(tile, (3, 5))
        np.testing.assert_allclose(cb.periodic_component(image, 4), tile - tile.mean(),
                                   atol=1e-9)
        assert cb.checkerboard_amplitude(image, 4) == pytest.approx(tile.std(), rel=1e-9)
    # A tile placed at an offset comes back rolled by that offset: phases are absolute.
    np.testing.assert_allclose(cb.periodic_component(np.roll(np.tile(tile, (3, 3)), 1, axis=0), 4),
                               np.roll(tile - tile.mean(), 1, axis=0), atol=1e-9)


def test_energy_share_falls_with_the_level_while_the_amplitude_stays():
    # The flaw of a share of energy: the same pattern reads smaller on a brighter image.
    pattern = 0.1 * checker(16, 16)
    energies = [cb.checkerboard_energy(level + pattern, 2) for level in (0.1, 1.0, 10.0)]
    amplitudes = [cb.checkerboard_amplitude(level + pattern, 2) for level in (0.1, 1.0, 10.0)]
    assert energies[0] > 10 * energies[1] > 100 * energies[2]
    np.testing.assert_allclose(amplitudes, 0.1, rtol=1e-9)


def test_amplitude_ignores_other_periods_and_smooth_trends_only_with_a_degree():
    # A cosine of period 3 has no component of period 4 (sides a multiple of 12).
    wave = np.cos(2 * np.pi * np.arange(24) / 3)[None, :] * np.ones((24, 1))
    assert cb.checkerboard_amplitude(wave, 4, degree=0) < 1e-12
    # Phase means alone read a ramp's step between columns as a pattern; the plane removes it.
    ramp = plane(16, 16, 0.0, 0.5)
    assert cb.checkerboard_amplitude(ramp, 2, degree=0) == pytest.approx(0.25)
    assert cb.checkerboard_amplitude(ramp, 2, degree=1) < 1e-9
    # Quadratic shading needs degree 2.
    bowl = plane(16, 16, 0.1, 0.0) ** 2 + 0.05 * checker(16, 16)
    assert cb.checkerboard_amplitude(bowl, 2, degree=2) == pytest.approx(0.05, rel=1e-6)


def test_noise_adds_what_the_docstring_says():
    rng = np.random.default_rng(1)
    h = w = 64
    values = [cb.checkerboard_amplitude(rng.standard_normal((h, w)), 2, degree=0) ** 2
              for _ in range(200)]
    assert np.mean(values) == pytest.approx((2 ** 2 - 1) / (h * w), rel=0.2)


@pytest.mark.parametrize("bad, kwargs, error, match", [
    (np.ones(4), {}, ValueError, "image"),
    (np.ones((1, 4)), {}, ValueError, "image"),
    (np.ones((4, 4), dtype=complex), {}, TypeError, "image"),
    (np.ones((2, 8)), {}, ValueError, "two periods"),
    (np.ones((4, 4)), {"degree": -1}, ValueError, "degree"),
    (np.ones((4, 4)), {"period": 0}, ValueError, "period"),
])
def test_amplitude_rejects_bad_input(bad, kwargs, error, match):
    with pytest.raises(error, match=match):
        cb.checkerboard_amplitude(bad, **{"period": 2, **kwargs})


# --- Paths through a stack, phases, and rewriting the fixes as transposed convolutions ----------

def brute_force_paths(n, layers):
    # Enumerate every (input cell, tap of each layer) and follow it to its output position.
    counts = {}
    def walk(position, depth):
        if depth == len(layers):
            counts[position] = counts.get(position, 0) + 1
            return
        k, s = layers[depth]
        for t in range(k):
            walk(position * s + t, depth + 1)
    for i in range(n):
        walk(i, 0)
    size = n
    for k, s in layers:
        size = (size - 1) * s + k
    return np.array([counts.get(o, 0) for o in range(size)])


@examples(40)
@given(n=st.integers(1, 4), layers=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 3)),
                                             min_size=1, max_size=3))
def test_path_counts_count_the_paths(n, layers):
    np.testing.assert_array_equal(cb.path_counts(n, layers), brute_force_paths(n, layers))
    if len(layers) == 1:
        np.testing.assert_array_equal(cb.path_counts(n, layers), cb.overlap_counts(n, *layers[0]))


def test_path_counts_crop_as_pytorch_does():
    full = cb.path_counts(6, [(3, 2), (3, 2)])
    once = cb.path_counts(6, [(3, 2, 1, 1)])
    assert len(once) == 12 and np.array_equal(once, cb.overlap_counts(6, 3, 2)[1:13])
    assert np.array_equal(cb.path_counts(6, [(3, 2), (3, 2, 0, 0)]), full)
    with pytest.raises(ValueError, match=r"layers\[0\]"):
        cb.path_counts(4, [(3,)])


@pytest.mark.parametrize("k, s", [(3, 2), (4, 2), (5, 3), (6, 3), (4, 4)])
def test_phase_sums_are_the_flat_response_of_one_layer(k, s):
    torch.manual_seed(k * 10 + s)
    layer = torch.nn.ConvTranspose2d(3, 2, k, stride=s, bias=False)
    with torch.no_grad():
        out = layer(torch.ones(1, 3, 8, 8))[0].numpy()
    sums = cb.phase_sums(layer.weight.detach().numpy(), s)
    n = 8
    inner = slice(k - 1, (n - 1) * s + 1)
    for o_r in range(inner.start, inner.stop):
        for o_c in range(inner.start, inner.stop):
            np.testing.assert_allclose(out[:, o_r, o_c], sums[:, o_r % s, o_c % s], rtol=1e-5,
                                       atol=1e-5)
    # Equal weights: the phase sums are the interior overlap counts (which start at position
    # k - 1, so at phase (k - 1) % s).
    ones = cb.phase_sums(np.ones((1, 1, k, k)), s)[0]
    order = (k - 1 + np.arange(s)) % s
    np.testing.assert_array_equal(ones[np.ix_(order, order)],
                                  np.outer(cb.interior_overlap(k, s), cb.interior_overlap(k, s)))


@examples(20)
@given(s=st.integers(1, 3), k=st.sampled_from([1, 3, 5]), c_in=st.integers(1, 3),
       c_out=st.integers(1, 3), n=st.integers(1, 5))
def test_resize_convolution_is_a_transposed_convolution_with_tied_phases(s, k, c_in, c_out, n):
    rng = np.random.default_rng(s * 100 + k * 10 + n)
    weight = rng.standard_normal((c_out, c_in, k, k)).astype(np.float32)
    x = rng.standard_normal((2, c_in, n, n)).astype(np.float32)
    resized = torch.nn.functional.interpolate(torch.from_numpy(x), scale_factor=s, mode="nearest")
    expected = torch.nn.functional.conv2d(resized, torch.from_numpy(weight), padding=k // 2)
    kernel, padding = cb.resize_conv_as_transposed(weight, s)
    assert kernel.shape == (c_in, c_out, k + s - 1, k + s - 1) and padding == k // 2
    np.testing.assert_allclose(conv_transpose(x, kernel, stride=s, padding=padding),
                               expected.numpy(), rtol=1e-4, atol=1e-4)
    sums = cb.phase_sums(kernel, s)
    np.testing.assert_allclose(sums, np.broadcast_to(weight.sum(axis=(1, 2, 3))[:, None, None],
                                                     sums.shape), rtol=1e-4, atol=1e-4)


def test_rewrites_reject_even_kernels_and_bad_phases():
    with pytest.raises(ValueError, match="odd k"):
        cb.resize_conv_as_transposed(np.ones((1, 1, 2, 2)), 2)
    with pytest.raises(ValueError, match="weight"):
        cb.phase_sums(np.ones((3, 3)), 2)


def test_random_response_is_seeded():
    stack = cb.upsampling_stack("nearest", layers=1, channels=2, seed=0)
    a = cb.random_response(stack, size=4, channels=2, seed=1)
    assert a.shape == (8, 8)
    np.testing.assert_array_equal(a, cb.random_response(stack, size=4, channels=2, seed=1))
    assert not np.array_equal(a, cb.random_response(stack, size=4, channels=2, seed=2))


def test_plot_spread_draws_one_row_per_label():
    import matplotlib
    matplotlib.use("Agg")
    fig = cb.plot_spread({"a": [1, 2, 3], "b": [0.5]}, xlabel="x")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    # Row "a": three dots, the mean bar at 2 and one standard deviation (1) either side.
    xs = [tuple(line.get_xdata()) for line in ax.lines[:3]]
    assert xs == [(1, 2, 3), (1.0, 3.0), (2.0, 2.0)]


@pytest.mark.parametrize("method, kernel", [("strided", 3), ("strided", 4), ("pool", 3)])
def test_downsampling_stacks_shrink_by_the_product_of_strides(method, kernel):
    stack = cb.downsampling_stack(method, kernel=kernel, seed=0)
    assert stack(torch.zeros(1, 1, 32, 32)).shape == (1, 1, 4, 4)
    with pytest.raises(ValueError, match="method"):
        cb.downsampling_stack("dilated")


# --- What the phase sums say about flat inputs, per channel and per channel pair ----------------

def interior_of(weight, x, stride):
    """Transposed convolution of ``x`` (C_in, n, n), its interior (the positions every tap reaches)."""
    n, k = x.shape[-1], weight.shape[-1]
    out = conv_transpose(x[None], weight, stride=stride)[0]
    return out[:, k - 1:(n - 1) * stride + 1, k - 1:(n - 1) * stride + 1]


def test_phase_sums_per_input_channel_add_up_to_the_summed_ones():
    weight = np.random.default_rng(0).standard_normal((3, 2, 5, 5))
    per_pair = cb.phase_sums(weight, 2, per_input_channel=True)
    assert per_pair.shape == (3, 2, 2, 2)
    np.testing.assert_allclose(per_pair.sum(axis=0), cb.phase_sums(weight, 2))
    np.testing.assert_allclose(per_pair[1, 0, 1, 0], weight[1, 0, 1::2, 0::2].sum())


def test_equal_summed_phase_sums_flatten_only_channel_equal_inputs():
    # Two input channels, one output, k = 2, s = 2: every summed phase sum is 1, but the
    # channels' own sums are not tied (channel 0 puts 1 on phase (0, 0), channel 1 the rest).
    weight = np.zeros((2, 1, 2, 2))
    weight[0, 0, 0, 0] = 1.0
    weight[1, 0] = [[0.0, 1.0], [1.0, 1.0]]
    np.testing.assert_array_equal(cb.phase_sums(weight, 2), np.ones((1, 2, 2)))
    equal = interior_of(weight, np.full((2, 4, 4), 2.5), 2)
    np.testing.assert_allclose(equal, 2.5)                       # channels equal: flat
    unequal = interior_of(weight, np.stack([np.full((4, 4), 1.0), np.full((4, 4), 3.0)]), 2)
    assert set(np.unique(unequal).tolist()) == {1.0, 3.0}         # channels 1 and 3: a pattern
    # The interior starts at full position 1: its phase (1, 1) is tap phase (0, 0), channel 0's.
    np.testing.assert_array_equal(unequal[0, :2, :2], [[3.0, 3.0], [3.0, 1.0]])


@examples(20)
@given(k=st.integers(2, 6), s=st.integers(2, 3), seed=st.integers(0, 99))
def test_pairwise_tied_phase_sums_flatten_every_flat_input(k, s, seed):
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((3, 2, k, k))
    # Tie each (input, output) pair: shift each phase so that its sum is the pair's mean.
    sums = cb.phase_sums(weight, s, per_input_channel=True)
    for a in range(s):
        for b in range(s):
            taps = weight[:, :, a::s, b::s]
            if taps.size:
                shift = (sums.mean(axis=(2, 3)) - sums[:, :, a, b]) / (taps.shape[2] * taps.shape[3])
                weight[:, :, a::s, b::s] += shift[:, :, None, None]
    if k < s:  # some phases have no tap at all and sum to 0: nothing can tie them
        return
    per_pair = cb.phase_sums(weight, s, per_input_channel=True)
    np.testing.assert_allclose(per_pair, per_pair[..., :1, :1] + 0 * per_pair, atol=1e-12)
    x = rng.random(3)[:, None, None] * np.ones((3, 6, 6))        # a different level per channel
    inner = interior_of(weight, x, s)
    np.testing.assert_allclose(inner, inner[:, :1, :1] + 0 * inner, atol=1e-12)


def test_phase_sums_are_the_kernel_response_at_multiples_of_one_over_s():
    # The DFT of the s x s phase sums is the kernel's frequency response at (m/s, n/s): equal
    # sums <=> no response at the non-zero multiples of 1/s, the multirate filter's condition.
    rng = np.random.default_rng(3)
    for k, s in [(3, 2), (4, 2), (5, 3), (6, 3)]:
        kernel = rng.standard_normal((k, k))
        t = np.arange(k)
        response = np.array([[np.sum(kernel * np.exp(-2j * np.pi * (m * t[:, None] + n * t[None, :]) / s))
                              for n in range(s)] for m in range(s)])
        np.testing.assert_allclose(np.fft.fft2(cb.phase_sums(kernel[None, None], s)[0]), response,
                                   atol=1e-12)


# --- Scope of the amplitude, its contrast, and the two energy shares ------------------------------

def test_amplitude_counts_periodic_texture_and_noise():
    stripes = 0.15 * (np.arange(32) % 2 * 2.0 - 1.0)[None, :] * np.ones((32, 1))
    assert cb.checkerboard_amplitude(stripes, 2) == pytest.approx(0.15)   # texture, not artifact
    assert cb.checkerboard_amplitude(stripes, 8) == pytest.approx(0.15)   # period 2 divides 8
    # Degree 0: the square root of the spectral energy at non-zero multiples of 1/p, over H * W.
    image = np.random.default_rng(0).random((32, 32))
    power = np.abs(np.fft.fft2(image)) ** 2
    periodic = power[::4, ::4].sum() - power[0, 0]
    assert cb.checkerboard_amplitude(image, 8, degree=0) == pytest.approx(np.sqrt(periodic) / 1024)


def test_contrast_without_pattern_leaves_out_the_pattern_only():
    smooth = plane(16, 16, 0.03, -0.02) + np.cos(np.arange(16) * 2 * np.pi / 16)[None, :]
    pattern = 0.4 * checker(16, 16)
    assert cb.contrast_without_pattern(smooth + pattern, 2) == pytest.approx(
        cb.contrast_without_pattern(smooth, 2), rel=1e-9)
    assert cb.contrast_without_pattern(7.0 + pattern, 2) < 1e-12            # nothing else
    # The plain standard deviation would count the pattern in the scale.
    assert np.std(smooth + pattern) > 1.1 * cb.contrast_without_pattern(smooth + pattern, 2)


def test_energy_without_the_mean_is_the_squared_amplitude_over_the_variance():
    rng = np.random.default_rng(2)
    image = np.tile(rng.standard_normal((4, 4)), (4, 4)) + 0.5 * rng.standard_normal((16, 16))
    shares = [cb.checkerboard_energy(level + image, 4, include_mean=False) for level in (0, 1, 10)]
    np.testing.assert_allclose(shares, cb.checkerboard_amplitude(image, 4, degree=0) ** 2
                               / image.var(), rtol=1e-9)
    assert cb.checkerboard_energy(np.full((8, 8), 3.0), 2, include_mean=False) == 0.0
    assert cb.checkerboard_energy(5.0 + checker(8, 8), 2, include_mean=False) == pytest.approx(1.0)


# --- ICNR's bias, and resize-convolution with bilinear interpolation ------------------------------

def test_icnr_needs_the_bias_tied_too():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(8, 32, 3, padding=1)
    layer = torch.nn.Sequential(conv, torch.nn.PixelShuffle(2))
    ones = torch.ones(1, 8, 8, 8)
    cb.icnr_(conv.weight, 2)                                   # weight only: bias still random
    with torch.no_grad():
        out = layer(ones)[0].numpy()
    assert min(cb.checkerboard_amplitude(c[2:14, 2:14], 2) for c in out) > 1e-3
    cb.icnr_(conv.weight, 2, bias=conv.bias)
    with torch.no_grad():
        out = layer(ones)[0].numpy()
    assert max(cb.checkerboard_amplitude(c[2:14, 2:14], 2) for c in out) < 1e-6
    with pytest.raises(ValueError, match="bias"):
        cb.icnr_(conv.weight, 2, bias=torch.zeros(3))


@pytest.mark.parametrize("s", [1, 2, 3, 4])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_bilinear_resize_convolution_is_a_transposed_convolution_inside(s, k):
    rng = np.random.default_rng(10 * s + k)
    weight = rng.standard_normal((2, 3, k, k))
    x = rng.standard_normal((1, 3, 10, 10))
    resized = torch.nn.functional.interpolate(torch.from_numpy(x), scale_factor=s,
                                              mode="bilinear", align_corners=False)
    expected = torch.nn.functional.conv2d(resized, torch.from_numpy(weight), padding=k // 2).numpy()
    kernel, padding = cb.resize_conv_as_transposed(weight, s, mode="bilinear")
    assert kernel.shape[-1] == k + 2 * s - 1 - (s % 2)   # even s: 2s taps; odd s: 2s - 1
    got = conv_transpose(x, kernel, stride=s, padding=padding)
    inside = (..., slice(s + k // 2, -(s + k // 2)), slice(s + k // 2, -(s + k // 2)))
    np.testing.assert_allclose(got[inside], expected[inside], atol=1e-10)
    sums = cb.phase_sums(kernel, s, per_input_channel=True)
    np.testing.assert_allclose(sums, np.broadcast_to(weight.sum(axis=(2, 3)).T[:, :, None, None],
                                                     sums.shape), atol=1e-10)
    with pytest.raises(ValueError, match="mode"):
        cb.resize_conv_as_transposed(weight, s, mode="bicubic")


@pytest.mark.parametrize("shape, period, degree", [((12, 16), 2, 1), ((12, 15), 4, 2),
                                                   ((9, 9), 3, 0), ((16, 8), 2, 3)])
def test_periodic_component_is_the_joint_least_squares_fit(shape, period, degree):
    # The library fits in two steps (phase means first); the same fit in one step, with a column
    # per phase and per polynomial term, must give the same tile.
    rng = np.random.default_rng(sum(shape) + period + degree)
    image = rng.standard_normal(shape) + plane(*shape, 0.3, -0.2) ** 2
    h, w = (size - size % period for size in shape)
    rows, cols = np.indices((h, w))
    phases = [((rows % period == a) & (cols % period == b)).ravel()
              for a in range(period) for b in range(period)]
    y, x = 2.0 * rows / (h - 1) - 1.0, 2.0 * cols / (w - 1) - 1.0
    terms = [(y ** p * x ** (d - p)).ravel() for d in range(1, degree + 1) for p in range(d + 1)]
    design = np.column_stack([*phases, *terms]).astype(float)
    coefficients, *_ = np.linalg.lstsq(design, image[:h, :w].ravel(), rcond=None)
    tile = coefficients[:period * period].reshape(period, period)
    np.testing.assert_allclose(cb.periodic_component(image, period, degree=degree),
                               tile - tile.mean(), atol=1e-9)
