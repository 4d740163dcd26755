"""Shape rules of tconv_utils.shapes checked against PyTorch and Keras/TensorFlow themselves.

Each hypothesis test draws tiny 1-D problems (N=1, C=1), so hundreds of framework calls stay
cheap; impossible configurations are drawn too, and then both sides must refuse them.
"""
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tconv_utils import frameworks, shapes
from tconv_utils.reference import conv_transpose


def _problem(n, k, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(-3, 4, (1, 1, n)).astype(np.float32),
            rng.integers(-3, 4, (1, 1, k)).astype(np.float32))


def _torch(x, w, **kw):
    return frameworks.torch_conv_transpose(x, w, **kw)


def _keras(x, w, **kw):
    return frameworks.keras_conv_transpose(x, w, **kw)


def _crop(y, before, after):
    return y[..., before:y.shape[-1] - after]


# -- PyTorch's rule ----------------------------------------------------------------------------

@settings(max_examples=500, deadline=None)
@given(n=st.integers(1, 6), k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 4),
       op=st.integers(0, 4), d=st.integers(1, 3))
def test_torch_output_size_matches_pytorch(n, k, s, p, op, d):
    x, w = _problem(n, k)
    try:
        size = shapes.torch_output_size(n, k, s, p, op, d)
    except ValueError as err:
        assert re.search(r"padding|output_padding", str(err))
        with pytest.raises((RuntimeError, ValueError)):
            _torch(x, w, stride=s, padding=p, output_padding=op, dilation=d)
        return
    y = _torch(x, w, stride=s, padding=p, output_padding=op, dilation=d)
    assert y.shape == (1, 1, size)
    np.testing.assert_allclose(y, conv_transpose(x, w, stride=s, padding=p, output_padding=op,
                                                 dilation=d), atol=1e-5)
    # Keras' equivalent (where one exists) gives the same numbers after its crop.
    keras = shapes.keras_args_for_torch(n, k, s, p, op, d)
    assert keras is not None or (s > 1 and d > 1) or op >= s
    if keras is not None:
        assert keras.crop_before >= 0 and keras.crop_after >= 0
        yk = conv_transpose(x, w, stride=s, padding=keras.padding,
                            output_padding=keras.output_padding, dilation=d)
        np.testing.assert_allclose(_crop(yk, keras.crop_before, keras.crop_after), y, atol=1e-5)


# -- Keras' rules and the PyTorch arguments that equal them ------------------------------------

@settings(max_examples=500, deadline=None)
@given(n=st.integers(1, 6), k=st.integers(1, 5), s=st.integers(1, 4),
       mode=st.sampled_from(["valid", "same"]), op=st.one_of(st.none(), st.integers(0, 4)))
def test_keras_rules_match_keras(n, k, s, mode, op):
    # dilation stays 1: TensorFlow's CPU kernels refuse dilation > 1 for transposed convolution
    x, w = _problem(n, k)
    try:
        start, size = shapes.keras_placement(n, k, s, mode, op)
    except ValueError as err:
        assert "output_padding" in str(err)
        with pytest.raises(Exception):  # Keras raises ValueError, TensorFlow InvalidArgumentError
            _keras(x, w, stride=s, padding=mode, output_padding=op)
        with pytest.raises(ValueError, match="output_padding"):
            shapes.torch_args_for_keras(n, k, s, mode, op)
        return
    yk = _keras(x, w, stride=s, padding=mode, output_padding=op)
    assert yk.shape == (1, 1, size) == (1, 1, shapes.keras_output_size(n, k, s, mode, op))
    # The placement: Keras' output is the full scatter's window, zeros past its end.
    full = _torch(x, w, stride=s)[0, 0]
    window = np.concatenate([full, np.zeros(start + size)])[start:start + size]
    np.testing.assert_allclose(yk[0, 0], window, atol=1e-5)
    # PyTorch arguments plus a non-negative crop give the same numbers, with no crop if possible.
    t = shapes.torch_args_for_keras(n, k, s, mode, op)
    assert t.crop_before >= 0 and t.crop_after >= 0
    yt = _torch(x, w, stride=s, padding=t.padding, output_padding=t.output_padding)
    np.testing.assert_allclose(_crop(yt, t.crop_before, t.crop_after), yk, atol=1e-5)
    if not t.exact:
        for p in range(0, full.size):
            for o in range(s):
                try:
                    alone = _torch(x, w, stride=s, padding=p, output_padding=o)
                except RuntimeError:
                    continue
                assert not (alone.shape == yk.shape and np.allclose(alone, yk)) or \
                    np.allclose(yk, 0), (p, o)


def test_keras_refuses_stride_with_dilation():
    x, w = _problem(4, 3)
    with pytest.raises(ValueError, match="dilation"):
        _keras(x, w, stride=2, padding="same", dilation=2)
    with pytest.raises(ValueError, match="dilation=2"):
        shapes.torch_args_for_keras(4, 3, 2, "same", None, 2)
    assert shapes.keras_args_for_torch(4, 3, 2, 0, 0, 2) is None


# -- the many-to-one problem -------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(m=st.integers(1, 5), k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 2),
       d=st.integers(1, 2))
def test_conv_input_sizes_are_exactly_those_pytorch_maps_to_m(m, k, s, p, d):
    import torch
    sizes = shapes.conv_input_sizes(m, k, s, p, d)
    assert len(sizes) <= s
    w = torch.ones(1, 1, k)
    for n in range(1, (m + 1) * s + d * k + 2 * p + 2):
        try:
            got = torch.nn.functional.conv1d(torch.ones(1, 1, n), w, stride=s, padding=p,
                                             dilation=d).shape[-1]
        except RuntimeError:
            got = 0  # the kernel does not fit
        assert (got == m) == (n in sizes), n
        if got:
            assert shapes.conv_output_size(n, k, s, p, d) == got
    # Each size has its PyTorch output_padding, and output_size= picks the same one.
    choices = shapes.output_padding_choices(m, k, s, p, d)
    x, wn = _problem(m, k)
    for size, op in choices.items():
        if op >= max(s, d):
            continue
        y = _torch(x, wn, stride=s, padding=p, output_padding=op, dilation=d)
        assert y.shape[-1] == size
        np.testing.assert_allclose(
            _torch(x, wn, stride=s, padding=p, dilation=d, output_size=[size]), y)


@pytest.mark.parametrize("mode", ["VALID", "SAME"])
def test_tf_output_shapes_and_placement_match_tensorflow(mode):
    tf = frameworks._import_keras() and __import__("tensorflow")
    checked = 0
    for n in range(1, 5):
        for k in range(1, 5):
            for s in range(1, 4):
                x, w = _problem(n, k)
                full = _torch(x, w, stride=s)[0, 0]
                accepted = shapes.tf_output_shapes(n, k, s, mode.lower())
                for size in range(1, full.size + s + 2):
                    try:
                        y = tf.nn.conv1d_transpose(x.transpose(0, 2, 1), w.transpose(2, 1, 0),
                                                   [1, size, 1], strides=s, padding=mode)
                    except tf.errors.InvalidArgumentError:
                        assert size not in accepted
                        with pytest.raises(ValueError, match="output_shape"):
                            shapes.tf_placement(n, k, s, mode.lower(), size)
                        continue
                    assert size in accepted
                    start, _ = shapes.tf_placement(n, k, s, mode.lower(), size)
                    window = np.concatenate([full, np.zeros(start + size)])[start:start + size]
                    np.testing.assert_allclose(np.asarray(y)[0, :, 0], window, atol=1e-5)
                    checked += 1
                # Keras' output_padding choices are sizes TensorFlow accepts.
                for size, op in shapes.output_padding_choices(n, k, s, mode.lower()).items():
                    assert size in accepted
                    assert shapes.keras_output_size(n, k, s, mode.lower(), op) == size
    assert checked == 16 * (1 + 2 + 3)  # TensorFlow accepts exactly `stride` sizes per case


# -- clear errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("call, pattern", [
    (lambda: shapes.conv_output_size(2, 5), r"kernel \(extent 5\).*larger"),
    (lambda: shapes.conv_input_sizes(0, 3), r"m must be >= 1, got 0"),
    (lambda: shapes.conv_output_size(4, 3, padding="full"), r"'valid' or 'same'.*'full'"),
    (lambda: shapes.tf_placement(4, 3, 2, "same", 9), r"refused.*accepted sizes are \[7, 8\]"),
    (lambda: shapes.torch_args_for_keras(4, 3, 2, "same", 2), r"output_padding.*smaller"),
    (lambda: shapes.output_padding_choices(4, 3, 2, (1, 0)), r"symmetric padding"),
    (lambda: shapes.keras_args_for_torch(2, 3, 1, 3), r"padding=3 crops away"),
])
def test_impossible_configurations_raise_clear_errors(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_bad_types_raise_type_errors():
    with pytest.raises(TypeError, match="stride must be an integer"):
        shapes.conv_output_size(4, 3, stride=1.5)
    with pytest.raises(TypeError, match="padding must be 'valid' or 'same'"):
        shapes.tf_output_shapes(4, 3, 2, 1)


# -- the command line --------------------------------------------------------------------------

def _cli(*args):
    return subprocess.run([sys.executable, "-W", "ignore::RuntimeWarning", "-m",
                           "tconv_utils.shapes", *args], capture_output=True, text=True)


@pytest.mark.parametrize("args", [
    ["--input", "4", "--kernel", "3", "--stride", "2", "--padding", "same"],
    ["--input", "4", "--kernel", "3", "--stride", "2", "--padding", "valid"],
    ["--input", "3", "--kernel", "4", "--stride", "2", "--padding", "same", "--output-padding", "1"],
])
def test_cli_keras_configurations(args):
    run = _cli(*args)
    assert run.returncode == 0, run.stderr
    n, k, s, mode = int(args[1]), int(args[3]), int(args[5]), args[7]
    op = int(args[9]) if len(args) > 8 else None
    x, w = _problem(n, k)
    yk = _keras(x, w, stride=s, padding=mode, output_padding=op)
    assert f"Keras output size: {yk.shape[-1]} " in run.stdout
    m = re.search(r"padding=(\d+), output_padding=(\d+), dilation=1\) gives (\d+); "
                  r"(exact, no crop|then crop (\d+) before and (\d+) after)", run.stdout)
    p, o, size = int(m[1]), int(m[2]), int(m[3])
    yt = _torch(x, w, stride=s, padding=p, output_padding=o)
    assert yt.shape[-1] == size
    before, after = (0, 0) if m[4].startswith("exact") else (int(m[5]), int(m[6]))
    np.testing.assert_allclose(_crop(yt, before, after), yk)


def test_cli_torch_configuration():
    run = _cli("--input", "4", "--kernel", "3", "--stride", "2", "--padding", "1",
               "--output-padding", "1")
    assert run.returncode == 0, run.stderr
    x, w = _problem(4, 3)
    yt = _torch(x, w, stride=2, padding=1, output_padding=1)
    assert f"PyTorch output size: {yt.shape[-1]} " in run.stdout
    m = re.search(r"padding='(\w+)', output_padding=(\w+), dilation_rate=1\) gives (\d+); then "
                  r"crop (\d+) before and (\d+) after", run.stdout)
    op = None if m[2] == "None" else int(m[2])
    yk = _keras(x, w, stride=2, padding=m[1], output_padding=op)
    assert yk.shape[-1] == int(m[3])
    np.testing.assert_allclose(_crop(yk, int(m[4]), int(m[5])), yt)


@pytest.mark.parametrize("args, pattern", [
    (["--padding", "same", "--output-padding", "2"], "output_padding"),
    (["--padding", "5"], "padding=5 crops away"),
    (["--padding", "same", "--dilation", "2"], "dilation"),
])
def test_cli_impossible_configuration_exits_2_with_one_line(args, pattern):
    run = _cli("--input", "4", "--kernel", "3", "--stride", "2", *args)
    assert run.returncode == 2
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and pattern in lines[0]


def test_cli_rejects_bad_padding_text():
    run = _cli("--input", "4", "--kernel", "3", "--padding", "full")
    assert run.returncode == 2 and "'valid', 'same' or a non-negative integer" in run.stderr
