"""Shape rules of tconv_utils.shapes checked against PyTorch and Keras/TensorFlow themselves.

Each hypothesis test draws tiny 1-D problems (N=1, C=1), so hundreds of framework calls stay
cheap; impossible configurations are drawn too, and then both sides must refuse them.
"""
import contextlib
import io
import itertools
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis_budget import examples

from bridge_helpers import keras_unless_refused, tf_onednn_on
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

@examples(500)
@given(n=st.integers(1, 6), k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 4),
       op=st.integers(0, 4), d=st.integers(1, 3))
# Always tried: Keras 'same' with a crop left over, dilation at stride 1, a kernel smaller than
# the stride, a configuration where Keras refuses some output_padding values.
@example(n=4, k=3, s=2, p=1, op=1, d=1)
@example(n=1, k=2, s=1, p=1, op=0, d=2)
@example(n=1, k=1, s=2, p=0, op=0, d=1)
@example(n=1, k=4, s=3, p=1, op=0, d=1)
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
        # The crop is the smallest any Keras configuration needs (none where one is exact).
        t_start, t_size = shapes.torch_window(n, k, s, p, op, d)
        excess = []
        for mode, o in itertools.product(["valid", "same"], [None, *range(s)]):
            try:
                start, size = shapes.keras_placement(n, k, s, mode, o, d)
            except ValueError:
                continue
            if start <= t_start and t_start + t_size <= start + size:
                excess.append(size - t_size)
        assert keras.crop_before + keras.crop_after == min(excess)


# -- Keras' rules and the PyTorch arguments that equal them ------------------------------------

@examples(500)
@given(n=st.integers(1, 6), k=st.integers(1, 5), s=st.integers(1, 4),
       mode=st.sampled_from(["valid", "same"]), op=st.one_of(st.none(), st.integers(0, 4)),
       d=st.integers(1, 3))
def test_keras_rules_match_keras(n, k, s, mode, op, d):
    # Dilation runs on TensorFlow's oneDNN kernels at stride 1 (its other kernels refuse it, which
    # keras_unless_refused checks); with stride > 1 Keras refuses it
    # (test_keras_refuses_stride_with_dilation), so those draws keep dilation 1.
    d = d if s == 1 else 1
    x, w = _problem(n, k)
    try:
        start, size = shapes.keras_placement(n, k, s, mode, op, d)
    except ValueError as err:
        assert "output_padding" in str(err)
        if "< 1" in str(err) and tf_onednn_on():
            # No cell left: the library refuses as PyTorch does; TensorFlow's oneDNN kernels
            # return an empty output instead (its other kernels raise).
            assert _keras(x, w, stride=s, padding=mode, output_padding=op, dilation=d).size == 0
        else:
            with pytest.raises(Exception):  # Keras raises ValueError, TensorFlow an OpError
                _keras(x, w, stride=s, padding=mode, output_padding=op, dilation=d)
        with pytest.raises(ValueError, match="output_padding"):
            shapes.torch_args_for_keras(n, k, s, mode, op, d)
        return
    yk = keras_unless_refused(lambda: _keras(x, w, stride=s, padding=mode, output_padding=op,
                                             dilation=d), d)
    if yk is None:
        return
    assert yk.shape == (1, 1, size) == (1, 1, shapes.keras_output_size(n, k, s, mode, op, d))
    # The placement: Keras' output is the full scatter's window, zeros past its end.
    full = _torch(x, w, stride=s, dilation=d)[0, 0]
    window = np.concatenate([full, np.zeros(start + size)])[start:start + size]
    np.testing.assert_allclose(yk[0, 0], window, atol=1e-5)
    # PyTorch arguments plus a non-negative crop give the same numbers, with no crop if possible.
    t = shapes.torch_args_for_keras(n, k, s, mode, op, d)
    assert t.crop_before >= 0 and t.crop_after >= 0
    yt = _torch(x, w, stride=s, padding=t.padding, output_padding=t.output_padding, dilation=d)
    np.testing.assert_allclose(_crop(yt, t.crop_before, t.crop_after), yk, atol=1e-5)
    if not t.exact:
        for p in range(0, full.size):
            for o in range(max(s, d)):
                try:
                    alone = _torch(x, w, stride=s, padding=p, output_padding=o, dilation=d)
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


def test_the_reason_no_keras_layer_fits_is_the_one_that_applies():
    """Where keras_args_for_torch finds nothing, the reason given is true: Keras refuses the
    stride with the dilation, or PyTorch ends more cells past the full result than any Keras
    placement reaches (the stated stride - 1)."""
    cases = {"refused": 0, "appends": 0}
    for n, k, s, d, p in itertools.product(range(1, 5), range(1, 5), range(1, 4), range(1, 4),
                                           range(3)):
        for op in range(max(s, d)):
            try:
                found = shapes.keras_args_for_torch(n, k, s, p, op, d)
            except ValueError:
                continue
            reason = shapes.no_keras_equivalent_reason(n, k, s, p, op, d)
            assert (reason is None) == (found is not None)
            if found is not None:
                continue
            if s > 1 and d > 1:
                assert reason.startswith("Keras refuses strides > 1"), reason
                cases["refused"] += 1
                continue
            full = shapes.full_size(n, k, s, d)
            start, size = shapes.torch_window(n, k, s, p, op, d)
            reach = max(b + z - full for mode in shapes.PADDING_MODES for o in (None, *range(s))
                        for b, z in [_placement_or_none(n, k, s, mode, o, d)] if b is not None)
            assert reach == s - 1 and start + size - full > reach
            assert reason == (f"PyTorch appends {start + size - full} zero(s) after the full "
                              f"result; Keras appends at most stride - 1 = {s - 1}")
            cases["appends"] += 1
    assert min(cases.values()) > 10, cases


def _placement_or_none(n, k, s, mode, op, d):
    try:
        return shapes.keras_placement(n, k, s, mode, op, d)
    except ValueError:
        return None, None


# -- the many-to-one problem -------------------------------------------------------------------

@examples(200)
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


@pytest.mark.parametrize("mode", ["valid", "same"])
def test_conv_output_size_with_tensorflows_padding_matches_tensorflow(mode):
    tf = frameworks.import_keras() and __import__("tensorflow")
    for n, k, s in itertools.product(range(1, 7), range(1, 5), range(1, 4)):
        if mode == "valid" and k > n:
            with pytest.raises(ValueError, match="larger than the padded input"):
                shapes.conv_output_size(n, k, s, mode)
            continue
        y = tf.nn.conv1d(np.ones((1, n, 1), np.float32), np.ones((k, 1, 1), np.float32), s,
                         mode.upper())
        assert shapes.conv_output_size(n, k, s, mode) == y.shape[1], (n, k, s)


@pytest.mark.parametrize("mode", ["VALID", "SAME"])
def test_tf_output_shapes_and_placement_match_tensorflow(mode):
    tf = frameworks.import_keras() and __import__("tensorflow")
    checked = exception = taken = 0
    for n in range(1, 5):
        for k in range(1, 5):
            for s in range(1, 4):
                x, w = _problem(n, k)
                full = _torch(x, w, stride=s)[0, 0]
                accepted = shapes.tf_output_shapes(n, k, s, mode.lower())
                for size in range(1, full.size + s + 2):
                    # The sizes outside the rule that TensorFlow's oneDNN kernels accept.
                    in_exception = n == 1 and mode == "VALID" and max(k - s, 0) < size < k
                    exception += in_exception
                    try:
                        y = tf.nn.conv1d_transpose(x.transpose(0, 2, 1), w.transpose(2, 1, 0),
                                                   [1, size, 1], strides=s, padding=mode)
                    except tf.errors.OpError:  # oneDNN kernels: AbortedError; others: InvalidArgument
                        assert size not in accepted
                        with pytest.raises(ValueError, match="output_shape"):
                            shapes.tf_placement(n, k, s, mode.lower(), size)
                        continue
                    if size not in accepted:
                        # TensorFlow's oneDNN kernels also take these sizes for a single input
                        # cell with VALID (tf_output_shapes' docstring); the first cells of the
                        # full scatter come back. The library refuses them.
                        assert in_exception
                        taken += 1
                        np.testing.assert_allclose(np.asarray(y)[0, :, 0], full[:size], atol=1e-5)
                        with pytest.raises(ValueError, match="output_shape"):
                            shapes.tf_placement(n, k, s, mode.lower(), size)
                        continue
                    start, _ = shapes.tf_placement(n, k, s, mode.lower(), size)
                    window = np.concatenate([full, np.zeros(start + size)])[start:start + size]
                    np.testing.assert_allclose(np.asarray(y)[0, :, 0], window, atol=1e-5)
                    checked += 1
                # Keras' output_padding choices are sizes TensorFlow accepts.
                for size, op in shapes.output_padding_choices(n, k, s, mode.lower()).items():
                    assert size in accepted
                    assert shapes.keras_output_size(n, k, s, mode.lower(), op) == size
    assert checked == 16 * (1 + 2 + 3)  # TensorFlow accepts exactly `stride` sizes per case
    # The exception: all of it with TensorFlow's oneDNN kernels, none with its other kernels.
    assert exception == (8 if mode == "VALID" else 0)
    assert taken == (exception if tf_onednn_on() else 0)


@pytest.mark.parametrize("mode", ["VALID", "SAME"])
def test_tf_conv_padding_is_the_padding_of_tensorflows_convolution(mode):
    # TensorFlow's convolution with `mode` equals its VALID convolution of the input padded by
    # tf_conv_padding, and the crop of Keras' 'same' starts at the same number of cells.
    tf = frameworks.import_keras() and __import__("tensorflow")
    for n in range(1, 8):
        for k in range(1, 6):
            for s, d in [(1, 1), (2, 1), (3, 1), (1, 2), (1, 3)]:
                if mode == "VALID" and d * (k - 1) + 1 > n:
                    continue
                x, w = _problem(n, k, seed=n * k)
                x_tf, w_tf = x.transpose(0, 2, 1), w.transpose(2, 1, 0)
                before, after = shapes.tf_conv_padding(n, k, s, mode.lower(), d)
                got = tf.nn.conv1d(x_tf, w_tf, s, mode, dilations=d)
                padded = np.pad(x_tf, ((0, 0), (before, after), (0, 0)))
                expected = tf.nn.conv1d(padded, w_tf, s, "VALID", dilations=d)
                np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
                assert got.shape[1] == shapes.conv_output_size(n, k, s, mode.lower(), d)
                assert shapes.tf_placement(got.shape[1], k, s, mode.lower(), n, d)[0] == before


# -- clear errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("call, pattern", [
    (lambda: shapes.conv_output_size(2, 5, padding=(0, 1)),
     r"kernel \(extent 5\) is larger than the padded input 3 \(n=2, padding=\(0, 1\)\)"),
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
    """The command, run in this process (so that a planted bug in it is seen by mutation
    testing): its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = shapes.main(list(args))
        except SystemExit as exit_:  # argparse refuses an argument
            status = exit_.code
    return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue())


def test_cli_runs_as_a_module():
    args = ["--input", "4", "--kernel", "3", "--stride", "2", "--padding", "same"]
    run = subprocess.run([sys.executable, "-W", "ignore::RuntimeWarning", "-m",
                          "tconv_utils.shapes", *args], capture_output=True, text=True)
    assert (run.returncode, run.stdout, run.stderr) == (0, _cli(*args).stdout, "")
    bad = subprocess.run([sys.executable, "-m", "tconv_utils.shapes", *args, "--dilation", "2"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ")


def _cli_args(args):
    """The command's numbers: input, kernel, stride, padding, output_padding, dilation."""
    given = dict(zip(args[::2], args[1::2]))
    padding = given["--padding"]
    op = given.get("--output-padding")
    return (int(given["--input"]), int(given["--kernel"]), int(given.get("--stride", 1)),
            padding if padding in ("valid", "same") else int(padding),
            None if op is None else int(op), int(given.get("--dilation", 1)))


def _keras_rule(x, w, **kw):
    # Keras itself where its CPU kernels run the case; the reference's Keras rule (checked
    # against Keras in test_frameworks.py) for a dilated one.
    return _keras(x, w, **kw) if kw.get("dilation", 1) == 1 else conv_transpose(x, w, **kw)


CROP = r"gives (\d+); (exact, no crop|then crop (\d+) before and (\d+) after)"


def _crop_of(kind, before, after):
    return (0, 0) if kind.startswith("exact") else (int(before), int(after))


@pytest.mark.parametrize("args", [
    ["--input", "4", "--kernel", "3", "--stride", "2", "--padding", "same"],
    ["--input", "4", "--kernel", "3", "--stride", "2", "--padding", "valid"],
    ["--input", "3", "--kernel", "4", "--stride", "2", "--padding", "same", "--output-padding", "1"],
    ["--input", "5", "--kernel", "3", "--padding", "same", "--dilation", "2"],  # stride 1
])
def test_cli_keras_configurations(args):
    run = _cli(*args)
    assert run.returncode == 0, run.stderr
    n, k, s, mode, op, d = _cli_args(args)
    x, w = _problem(n, k)
    yk = _keras_rule(x, w, stride=s, padding=mode, output_padding=op, dilation=d)
    assert f"Keras output size: {yk.shape[-1]} " in run.stdout
    m = re.search(rf"stride={s}, padding=(\d+), output_padding=(\d+), dilation={d}\) " + CROP,
                  run.stdout)
    p, o = int(m[1]), int(m[2])
    yt = _torch(x, w, stride=s, padding=p, output_padding=o, dilation=d)
    assert yt.shape[-1] == int(m[3])
    before, after = _crop_of(*m.groups()[3:])
    np.testing.assert_allclose(_crop(yt, before, after), yk, atol=1e-5)


@pytest.mark.parametrize("args", [
    ["--input", "4", "--kernel", "3", "--stride", "2", "--padding", "1", "--output-padding", "1"],
    ["--input", "4", "--kernel", "5", "--stride", "2", "--padding", "2", "--output-padding", "1"],
    ["--input", "4", "--kernel", "3", "--padding", "1"],  # stride 1 by default
])
def test_cli_torch_configuration(args):
    run = _cli(*args)
    assert run.returncode == 0, run.stderr
    n, k, s, p, op, d = _cli_args(args)
    x, w = _problem(n, k)
    yt = _torch(x, w, stride=s, padding=p, output_padding=op or 0)
    assert f"PyTorch ConvTranspose(kernel_size={k}, stride={s}, padding={p}," in run.stdout
    assert f"PyTorch output size: {yt.shape[-1]} " in run.stdout
    m = re.search(r"padding='(\w+)', output_padding=(\w+), dilation_rate=1\) " + CROP,
                  run.stdout)
    o = None if m[2] == "None" else int(m[2])
    yk = _keras(x, w, stride=s, padding=m[1], output_padding=o)
    assert yk.shape[-1] == int(m[3])
    before, after = _crop_of(*m.groups()[3:])
    np.testing.assert_allclose(_crop(yk, before, after), yt, atol=1e-5)


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
