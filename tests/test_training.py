"""The super-resolution data, decoders, training loop and PSNR of tconv_utils.training."""
import copy

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_budget import examples

from tconv_utils import training as tr


@pytest.fixture(autouse=True)
def restore_torch_settings():
    # set_deterministic changes process-wide settings; give other test files theirs back.
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


@examples(20)
@given(n=st.integers(1, 3), h=st.integers(1, 3), w=st.integers(1, 3), f=st.integers(1, 3))
def test_downsample_is_the_mean_of_each_block(n, h, w, f):
    images = np.random.default_rng(n * 100 + h * 10 + w).random((n, 1, h * f, w * f))
    low = tr.downsample(images, f)
    for i in range(h):
        for j in range(w):
            block = images[:, :, i * f:(i + 1) * f, j * f:(j + 1) * f]
            np.testing.assert_allclose(low[:, :, i, j], block.mean(axis=(2, 3)))


def test_downsample_rejects_sizes_that_do_not_divide():
    with pytest.raises(ValueError, match="factor=2"):
        tr.downsample(np.ones((1, 1, 5, 4)), 2)


def test_digit_pairs():
    low, high, low_test, high_test = tr.digit_pairs()
    assert low.shape == (1500, 1, 4, 4) and high.shape == (1500, 1, 8, 8)
    assert low_test.shape == (297, 1, 4, 4) and high_test.shape == (297, 1, 8, 8)
    assert high.min() == 0.0 and high.max() == 1.0
    np.testing.assert_allclose(low_test, tr.downsample(high_test), rtol=1e-6)
    # The held-out digits are not in the training set.
    train_rows = {row.tobytes() for row in high}
    assert sum(row.tobytes() in train_rows for row in high_test) < 5  # a few digits repeat


def test_decoders_have_equal_parameter_counts_and_double_the_size():
    counts = set()
    for kind in tr.DECODERS:
        model = tr.make_decoder(kind, channels=6)
        assert model(torch.zeros(2, 1, 4, 4)).shape == (2, 1, 8, 8)
        counts.add(tr.parameter_count(model))
    c = 6
    assert counts == {(9 * c + c) + (9 * c * c + c) * 2 + (9 * c + 1)}


def tiny_run(kind):
    tr.set_deterministic(0, threads=1)
    low, high, _, _ = tr.digit_pairs()
    model = tr.make_decoder(kind, channels=8)
    losses = tr.train(model, low[:64], high[:64], epochs=8, batch_size=16, lr=3e-3)
    return model, losses


@pytest.mark.parametrize("kind", tr.DECODERS)
def test_training_lowers_the_loss_and_repeats_exactly(kind):
    model, losses = tiny_run(kind)
    assert len(losses) == 8
    assert losses[-1] < 0.7 * losses[0]
    again, losses_again = tiny_run(kind)
    assert losses == losses_again
    for a, b in zip(model.parameters(), again.parameters()):
        assert torch.equal(a, b)


def test_train_seed_alone_fixes_the_batches():
    # One starting model, copied: the losses may depend on train's seed, never on the global
    # torch seed in force when it is called.
    tr.set_deterministic(0, threads=1)
    high = np.random.default_rng(0).random((24, 1, 8, 8), dtype=np.float32)
    low = tr.downsample(high)
    start = tr.make_decoder("transposed", channels=2)

    def losses(seed, global_seed):
        torch.manual_seed(global_seed)
        return tr.train(copy.deepcopy(start), low, high, epochs=2, batch_size=8, seed=seed)

    first = losses(seed=5, global_seed=0)
    assert losses(seed=5, global_seed=123) == first
    assert losses(seed=6, global_seed=0) != first


def test_predict_is_the_eval_mode_output_clipped_to_the_data_range():
    # A BatchNorm layer tells eval mode (running statistics) from training mode (the batch's).
    model = torch.nn.Sequential(torch.nn.BatchNorm2d(1), torch.nn.Conv2d(1, 1, 1))
    with torch.no_grad():
        model[0].running_mean.fill_(0.5)
        model[1].weight.fill_(2.0)
        model[1].bias.fill_(0.25)
    low = np.linspace(-1, 2, 16, dtype=np.float32).reshape(1, 1, 4, 4)
    expected = np.clip(2 * (low - 0.5) / np.sqrt(1 + 1e-5) + 0.25, 0, 1)
    np.testing.assert_allclose(tr.predict(model.train(), low), expected, rtol=1e-6, atol=1e-6)
    assert not model.training
    assert tr.predict(model, low.astype(np.float64)).dtype == np.float32  # float64 data too
    assert expected.min() == 0 and expected.max() == 1 and ((0 < expected) & (expected < 1)).any()


def test_plot_super_resolution_columns():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    low, high = np.zeros((3, 1, 4, 4)), np.ones((3, 1, 8, 8))
    fig = tr.plot_super_resolution(low, {"ours": high / 2}, high, count=3)
    assert len(fig.axes) == 3 * 3
    assert [ax.get_title() for ax in fig.axes[:3]] == ["input (4x4)", "ours", "target (8x8)"]
    assert fig.axes[4].images[0].get_array().max() == 0.5  # row 1, column "ours"
    for ax in fig.axes:  # every image on the data range, so grey levels compare across panels
        assert (ax.images[0].norm.vmin, ax.images[0].norm.vmax) == (0, 1)
    plt.close(fig)


def test_psnr_known_values():
    target = np.random.default_rng(0).random((3, 1, 8, 8))
    off = target + np.array([0.1, 0.01, 0.5])[:, None, None, None]
    np.testing.assert_allclose(tr.psnr(off, target), [20.0, 40.0, 10 * np.log10(4)])
    assert tr.psnr(target, target)[0] == np.inf
    np.testing.assert_allclose(tr.psnr(2 * off, 2 * target, data_range=2.0), [20.0, 40.0,
                                                                               10 * np.log10(4)])
    with pytest.raises(ValueError, match="same shape"):
        tr.psnr(target, target[:2])


def test_nearest_baseline_repeats_pixels():
    low = np.random.default_rng(1).random((2, 1, 3, 3)).astype(np.float32)
    expected = low.repeat(2, axis=2).repeat(2, axis=3)
    np.testing.assert_array_equal(tr.interpolate(low, 2, "nearest"), expected)


def test_bicubic_baseline_is_torchs_clipped_to_the_data_range():
    # A step from 0 to 1: bicubic interpolation overshoots on both sides of it.
    low = np.repeat([[0.0, 0.0, 1.0, 1.0]], 4, axis=0)[None, None]  # float64 in, float32 out
    raw = torch.nn.functional.interpolate(torch.as_tensor(low, dtype=torch.float32),
                                          scale_factor=2, mode="bicubic", align_corners=False)
    assert raw.min() < 0 and raw.max() > 1
    out = tr.interpolate(low, 2)
    assert out.dtype == np.float32 and out.shape == (1, 1, 8, 8)
    np.testing.assert_array_equal(out, raw.clamp(0, 1).numpy())


def test_set_deterministic_sets_what_it_says():
    tr.set_deterministic(3, threads=1)
    assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()
    first = torch.rand(3)
    tr.set_deterministic(3, threads=1)
    assert torch.equal(first, torch.rand(3))


@pytest.mark.parametrize("kind", tr.DECODERS)
def test_decoders_draw_their_weights_in_the_dtype_asked(kind):
    tr.set_deterministic(0, threads=1)
    model = tr.make_decoder(kind, channels=4, dtype=torch.float64)
    weights = torch.cat([p.detach().ravel() for p in model.parameters()])
    # Drawn in float64, not drawn in float32 and converted: most need more than 24 bits.
    assert weights.dtype == torch.float64
    assert (weights != weights.float().double()).float().mean() > 0.9
    assert torch.get_default_dtype() == torch.float32           # the default is put back
    tr.set_deterministic(0, threads=1)
    assert torch.equal(weights, torch.cat([p.detach().ravel() for p in tr.make_decoder(
        kind, channels=4, dtype=torch.float64).parameters()]))
    assert next(tr.make_decoder(kind, channels=4).parameters()).dtype == torch.float32
    with pytest.raises(TypeError, match="dtype"):
        tr.make_decoder(kind, channels=4, dtype=torch.int64)
    assert torch.get_default_dtype() == torch.float32


def test_train_and_predict_follow_the_model_dtype():
    tr.set_deterministic(0, threads=1)
    low, high, _, _ = tr.digit_pairs()
    model = tr.make_decoder("resize", channels=4, dtype=torch.float64)
    losses = tr.train(model, low[:32], high[:32], epochs=2, batch_size=16)
    assert all(p.dtype == torch.float64 for p in model.parameters()) and len(losses) == 2
    out = tr.predict(model, low[:3])
    assert out.dtype == np.float64 and out.min() >= 0.0 and out.max() <= 1.0
    # Without clipping, values outside [0, 1] stay (a bias pushed below zero shows).
    with torch.no_grad():
        model[-1].bias.fill_(-5.0)
    assert tr.predict(model, low[:3], clip=False).max() < 0.0 == tr.predict(model, low[:3]).max()


def test_mean_std():
    assert tr.mean_std([1.0, 2.0, 3.0], 2) == "2.00 ± 1.00"
    assert tr.mean_std([0.5], 1) == "0.5 ± 0.0"
    with pytest.raises(ValueError, match="at least one"):
        tr.mean_std([], 1)


@examples(25)
@given(n=st.integers(2, 8), m=st.integers(2, 8), shift=st.floats(-2, 2), seed=st.integers(0, 99))
def test_compare_seeds_is_welch_and_the_paired_t_test(n, m, shift, seed):
    from scipy import stats

    rng = np.random.default_rng(seed)
    x, y = rng.normal(shift, 1.0, n), rng.normal(0.0, 0.5, m)
    welch, reference = tr.compare_seeds(x, y), stats.ttest_ind(x, y, equal_var=False)
    interval = reference.confidence_interval(0.95)
    assert welch.difference == pytest.approx(x.mean() - y.mean())
    assert (welch.low, welch.high) == pytest.approx((interval.low, interval.high))
    assert welch.p_value == pytest.approx(reference.pvalue) and welch.df == pytest.approx(reference.df)
    assert welch.detected == (reference.pvalue < 0.05) and not welch.paired
    y = x - rng.normal(shift, 0.3, n)                       # one partner per seed
    paired, reference = tr.compare_seeds(x, y, paired=True), stats.ttest_rel(x, y)
    interval = reference.confidence_interval(0.9)
    assert paired.p_value == pytest.approx(reference.pvalue) and paired.df == n - 1
    ninety = tr.compare_seeds(x, y, paired=True, confidence=0.9)
    assert (ninety.low, ninety.high) == pytest.approx((interval.low, interval.high))
    assert paired.verdict == ("difference detected" if paired.detected else "no difference detected")


def test_compare_seeds_without_any_seed_noise():
    # No variation at all: equal sets are no difference, unequal ones a certain one.
    same = tr.compare_seeds([0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    assert (same.difference, same.low, same.high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert same.verdict == "no difference detected"
    apart = tr.compare_seeds([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    assert (apart.low, apart.high, apart.p_value, apart.detected) == (1.0, 1.0, 0.0, True)
    shifted = tr.compare_seeds([1.0, 2.0, 3.0], [0.5, 1.5, 2.5], paired=True)
    assert (shifted.low, shifted.high, shifted.detected) == (0.5, 0.5, True)
    # 2.4 standard errors apart: a two-standard-error rule would call that real; with three
    # seeds a side (4 degrees of freedom, t = 2.78) it is not resolved.
    close = tr.compare_seeds([10.0, 10.1, 9.9], [9.8, 9.9, 9.7])
    assert close.difference == pytest.approx(0.2) and not close.detected


def test_compare_seeds_and_mean_interval_reject_bad_input():
    with pytest.raises(ValueError, match="at least two"):
        tr.compare_seeds([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="paired"):
        tr.compare_seeds([1.0, 2.0, 3.0], [1.0, 2.0], paired=True)
    with pytest.raises(ValueError, match="confidence"):
        tr.compare_seeds([1.0, 2.0], [1.0, 2.0], confidence=95)
    with pytest.raises(ValueError, match="at least two"):
        tr.mean_interval([3.0])


def test_mean_interval_uses_the_t_quantile():
    from scipy import stats

    values = [17.59, 17.33, 17.43]
    mean, low, high = tr.mean_interval(values)
    expected = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert (low, high) == pytest.approx(expected) and mean == pytest.approx(np.mean(values))
    # The quantiles the docstring quotes: wide for three seeds, near 2 for many.
    assert round(stats.t.ppf(0.975, 2), 2) == 4.30 and round(stats.t.ppf(0.975, 9), 2) == 2.26
    assert tr.mean_interval([2.0, 2.0]) == (2.0, 2.0, 2.0)


def test_compare_seeds_by_hand():
    from scipy import stats

    # Small cases worked on paper. With 2 degrees of freedom the t distribution has closed forms:
    # quantile (2p - 1) / sqrt(2p(1 - p)) and two-sided p-value 1 - |t| / sqrt(2 + t**2).
    t975 = 0.95 / np.sqrt(2 * 0.975 * 0.025)                  # 4.3027
    # Paired: differences 1, 2, 2: mean 5/3, standard error sqrt((2/3) / 2 / 3) = 1/3, t = 5.
    paired = tr.compare_seeds([1.0, 2.0, 3.0], [0.0, 0.0, 1.0], paired=True)
    assert paired.difference == pytest.approx(5 / 3) and paired.df == 2
    assert (paired.low, paired.high) == pytest.approx((5 / 3 - t975 / 3, 5 / 3 + t975 / 3))
    assert paired.p_value == pytest.approx(1 - 5 / np.sqrt(27)) and paired.detected
    # Unpaired, the same runs: Welch sees the seed-to-seed spread and resolves nothing.
    assert not tr.compare_seeds([1.0, 2.0, 3.0], [0.0, 0.0, 1.0]).detected
    # Welch, two seeds a side with equal variances 2: standard error sqrt(2/2 + 2/2) = sqrt(2),
    # degrees of freedom 2**2 / (1 + 1) = 2, t = 5 / sqrt(2).
    welch = tr.compare_seeds([1.0, 3.0], [6.0, 8.0])
    assert welch.difference == -5.0 and welch.df == pytest.approx(2.0)
    assert (welch.low, welch.high) == pytest.approx((-5 - t975 * np.sqrt(2), -5 + t975 * np.sqrt(2)))
    assert welch.p_value == pytest.approx(1 - (5 / np.sqrt(2)) / np.sqrt(2 + 12.5))
    assert not welch.detected
    # Unequal variances: variances 1 (3 seeds) and 8 (2 seeds), so the squared standard errors
    # are 1/3 and 4, and Welch-Satterthwaite gives (13/3)**2 / ((1/3)**2 / 2 + 4**2 / 1) = 338/289,
    # not the pooled test's 3.
    uneven = tr.compare_seeds([1.0, 2.0, 3.0], [0.0, 4.0])
    assert uneven.df == pytest.approx(338 / 289)
    half = (uneven.high - uneven.low) / 2
    assert half / np.sqrt(13 / 3) == pytest.approx(stats.t.ppf(0.975, 338 / 289))
