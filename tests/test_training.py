"""The super-resolution data, decoders, training loop and PSNR of tconv_utils.training."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tconv_utils import training as tr


@pytest.fixture(autouse=True)
def restore_torch_settings():
    # set_deterministic changes process-wide settings; give other test files theirs back.
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


@settings(max_examples=20, deadline=None)
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


def test_set_deterministic_sets_what_it_says():
    tr.set_deterministic(3, threads=1)
    assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()
    first = torch.rand(3)
    tr.set_deterministic(3, threads=1)
    assert torch.equal(first, torch.rand(3))
