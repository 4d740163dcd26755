"""Bad input gets a clear error: the right type, and a message naming the argument."""
import numpy as np
import pytest

from tconv_utils import conv, conv_transpose, conv_transpose2d, trans_conv
from tconv_utils import shapes

X = np.ones((1, 2, 3, 3))
W = np.ones((2, 1, 3, 3))

BAD_CALLS = [
    # (label, call, exception, words the message must contain)
    ("zero stride", lambda: conv_transpose(X, W, stride=0), ValueError, ["stride", ">= 1", "0"]),
    ("negative stride", lambda: conv_transpose(X, W, stride=(1, -2)), ValueError, ["stride[1]", "-2"]),
    ("float stride", lambda: conv_transpose(X, W, stride=1.5), TypeError, ["stride", "integer", "1.5"]),
    ("bool stride", lambda: conv_transpose(X, W, stride=True), TypeError, ["stride", "integer"]),
    ("stride of the wrong length", lambda: conv_transpose(X, W, stride=(1, 2, 3)), ValueError,
     ["stride", "2 ints", "length 3"]),
    ("output_padding too large", lambda: conv_transpose(X, W, stride=2, output_padding=2),
     ValueError, ["output_padding", "smaller than max(stride, dilation) = 2", "2"]),
    ("negative output_padding", lambda: conv_transpose(X, W, output_padding=-1), ValueError,
     ["output_padding", ">= 0"]),
    ("groups not dividing channels", lambda: conv_transpose(X, W, groups=3), ValueError,
     ["groups=3", "C_in=2"]),
    ("zero groups", lambda: conv_transpose(X, W, groups=0), ValueError, ["groups", ">= 1"]),
    ("x of wrong rank", lambda: conv_transpose(np.ones((3, 3)), W), ValueError, ["x", "ndim=2"]),
    ("w rank differs from x", lambda: conv_transpose(X, np.ones((2, 1, 3))), ValueError,
     ["w", "dims"]),
    ("channel mismatch", lambda: conv_transpose(X, np.ones((3, 1, 3, 3))), ValueError,
     ["w.shape[0]", "input channels", "2"]),
    ("string array", lambda: conv_transpose(np.array([[["a"]]]), W), TypeError, ["x", "numeric"]),
    ("object array", lambda: conv_transpose(X, np.array([None] * 4).reshape(1, 1, 2, 2)), TypeError,
     ["w", "numeric"]),
    ("complex array", lambda: conv_transpose(X * 1j, W), TypeError, ["x", "complex"]),
    ("unknown padding string", lambda: conv_transpose(X, W, padding="full"), ValueError,
     ["padding", "'valid' or 'same'", "'full'"]),
    ("negative padding", lambda: conv_transpose(X, W, padding=-1), ValueError, ["padding", ">= 0"]),
    ("negative output_padding with 'same'",
     lambda: conv_transpose(X, W, stride=2, padding="same", output_padding=-1), ValueError,
     ["output_padding must be >= 0, got -1"]),
    ("padding pair malformed", lambda: conv_transpose(X, W, padding=((1, 1), (1,))), ValueError,
     ["padding", "(before, after) pairs"]),
    ("padding of the wrong type", lambda: conv_transpose(X, W, padding=1.0), TypeError, ["padding"]),
    ("padding crops everything", lambda: conv_transpose(X, W, padding=3), ValueError,
     ["padding=3", "crops away the whole output"]),
    ("bias of wrong shape", lambda: conv_transpose(X, W, np.ones(2)), ValueError,
     ["bias", "(1,)", "(2,)"]),
    ("empty spatial dim", lambda: conv_transpose(np.ones((1, 2, 0, 3)), W), ValueError,
     ["x", "spatial", "(1, 2, 0, 3)"]),
    ("empty kernel", lambda: conv_transpose(X, np.ones((2, 1, 0, 3))), ValueError,
     ["w", "non-empty", "(2, 1, 0, 3)"]),
    ("Keras output_padding not below stride",
     lambda: conv_transpose(X, W, stride=2, padding="same", output_padding=2), ValueError,
     ["output_padding", "smaller than stride"]),
    ("output size TensorFlow refuses",
     lambda: conv_transpose(X, np.ones((2, 1, 4, 4)), stride=2, padding="same", output_padding=0),
     ValueError, ["output_padding=0", "gives back n=3"]),
    ("kernel larger than the padded input in conv",
     lambda: conv(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3))), ValueError,
     ["kernel extent 3", "larger than the padded input"]),
    ("conv channel mismatch", lambda: conv(X, np.ones((1, 3, 3, 3))), ValueError,
     ["w.shape[1] * groups", "input channels"]),
    ("trans_conv on 3-D input", lambda: trans_conv(np.ones((2, 2, 2)), np.ones((2, 2))), ValueError,
     ["X and K must be 2-D", "X.ndim=3"]),
    ("trans_conv with an empty input", lambda: trans_conv(np.ones((0, 3)), np.ones((2, 2))),
     ValueError, ["X and K must be non-empty", "(0, 3)"]),
    ("trans_conv with an empty kernel", lambda: trans_conv(np.ones((2, 2)), np.ones((2, 0))),
     ValueError, ["X and K must be non-empty", "(2, 0)"]),
    ("shape rule with zero-size input", lambda: shapes.torch_output_size(0, 3), ValueError,
     ["n", ">= 1"]),
    ("fixed-rank variant given 3-D data", lambda: conv_transpose2d(np.ones((1, 1, 2, 2, 2)),
                                                                   np.ones((1, 1, 2, 2, 2))),
     ValueError, ["conv_transpose2d", "4 dims"]),
]


@pytest.mark.parametrize("label, call, exc, words", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_input_raises_a_clear_error(label, call, exc, words):
    with pytest.raises(exc) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, f"{label}: {word!r} not in {message!r}"


def test_there_are_at_least_fifteen_kinds_of_bad_input():
    assert len(BAD_CALLS) >= 15


# Every integer argument a library function checks, with a call that is valid otherwise: the
# argument below its minimum must raise ValueError, and a float TypeError, each message naming
# the argument as the caller spells it.
def _argument_checks():
    import torch

    from tconv_utils import checkerboard as cb, formulations as fm, matrix, plotting
    from tconv_utils import training as tr

    x4, w4 = torch.zeros(1, 2, 3, 3), torch.zeros(2, 2, 3, 3)
    k = np.ones((2, 2))
    return [
        # (function, valid keyword arguments, {argument: minimum})
        (conv_transpose, dict(x=X, w=W, stride=2, padding=1, output_padding=1, dilation=1,
                              groups=1),
         dict(stride=1, padding=0, output_padding=0, dilation=1, groups=1)),
        (conv, dict(x=X, w=np.ones((1, 2, 2, 2)), stride=2, padding=1, dilation=1, groups=1),
         dict(stride=1, padding=0, dilation=1, groups=1)),
        (cb.overlap_counts, dict(n=4, kernel=3, stride=2, dilation=1),
         dict(n=1, kernel=1, stride=1, dilation=1)),
        (cb.interior_slice, dict(n=4, kernel=3, stride=2, dilation=1),
         dict(n=1, kernel=1, stride=1, dilation=1)),
        (cb.min_interior_n, dict(kernel=3, stride=2, dilation=1), dict(kernel=1, stride=1, dilation=1)),
        (cb.interior_overlap, dict(kernel=3, stride=2, dilation=1),
         dict(kernel=1, stride=1, dilation=1)),
        (cb.even_overlap, dict(kernel=3, stride=2, dilation=1), dict(kernel=1, stride=1, dilation=1)),
        (cb.checkerboard_energy, dict(image=np.ones((4, 4)), period=2), dict(period=1)),
        (cb.same_size_padding, dict(kernel=3, stride=2), dict(kernel=1, stride=1)),
        (cb.icnr_, dict(weight=torch.zeros(4, 1, 3, 3), stride=2), dict(stride=1)),
        (cb.subpixel_as_transposed, dict(weight=np.zeros((4, 1, 3, 3)), stride=2), dict(stride=1)),
        (cb.upsampling_layer, dict(method="nearest", in_channels=1, out_channels=1, kernel=3,
                                   stride=2), dict(kernel=1, stride=1)),
        (cb.upsampling_stack, dict(method="nearest", layers=1, channels=1), dict(layers=1)),
        (shapes.effective_kernel, dict(kernel=3, dilation=2), dict(kernel=1, dilation=1)),
        (shapes.full_size, dict(n=4, kernel=3, stride=2, dilation=1),
         dict(n=1, kernel=1, stride=1, dilation=1)),
        (shapes.torch_output_size, dict(n=4, kernel=3, stride=2, padding=1, output_padding=1,
                                        dilation=1),
         dict(n=1, kernel=1, stride=1, padding=0, output_padding=0, dilation=1)),
        (shapes.keras_output_size, dict(n=4, kernel=3, stride=2, padding="same", output_padding=1,
                                        dilation=1),
         dict(n=1, kernel=1, stride=1, output_padding=0, dilation=1)),
        (shapes.keras_placement, dict(n=4, kernel=3, stride=2, padding="same", output_padding=1),
         dict(n=1, kernel=1, stride=1, output_padding=0)),
        (shapes.conv_output_size, dict(n=4, kernel=3, stride=2, padding=1, dilation=1),
         dict(n=1, kernel=1, stride=1, padding=0, dilation=1)),
        (shapes.conv_input_sizes, dict(m=4, kernel=3, stride=2, padding=1, dilation=1),
         dict(m=1, kernel=1, stride=1, padding=0, dilation=1)),
        (shapes.output_padding_choices, dict(n=4, kernel=3, stride=2, padding=1, dilation=1),
         dict(n=1, kernel=1, stride=1, padding=0, dilation=1)),
        (shapes.tf_output_shapes, dict(n=4, kernel=3, stride=2, padding="same", dilation=1),
         dict(n=1, kernel=1, stride=1, dilation=1)),
        (shapes.tf_placement, dict(n=4, kernel=3, stride=2, padding="same", size=8),
         dict(n=1, kernel=1, stride=1, size=1)),
        (shapes.torch_args_for_keras, dict(n=4, kernel=3, stride=2, padding="same",
                                           output_padding=1, dilation=1),
         dict(n=1, kernel=1, stride=1, output_padding=0, dilation=1)),
        (shapes.keras_args_for_torch, dict(n=4, kernel=3, stride=2, padding=1, output_padding=1,
                                           dilation=1),
         dict(n=1, kernel=1, stride=1, padding=0, output_padding=0, dilation=1)),
        (shapes.describe, dict(n=4, kernel=3, stride=2, padding=1), dict(padding=0)),
        (tr.set_deterministic, dict(seed=0, threads=1), dict(seed=0, threads=1)),
        (tr.downsample, dict(images=np.ones((1, 1, 4, 4)), factor=2), dict(factor=1)),
        (tr.make_decoder, dict(kind="resize", channels=2), dict(channels=1)),
        (tr.digit_pairs, dict(n_test=297), dict(n_test=1)),
        (tr.train, dict(model=tr.make_decoder("resize", channels=1), low=np.ones((1, 1, 2, 2)),
                        high=np.ones((1, 1, 4, 4)),
                        epochs=1, batch_size=1), dict(epochs=1, batch_size=1)),
        (plotting.plot_scatter, dict(x=k, kernel=k, stride=2), dict(stride=1)),
        (plotting.scatter_terms, dict(x=k, kernel=k, stride=2), dict(stride=1)),
        (plotting.zero_insertion_input, dict(x=k, kernel=k, stride=2), dict(stride=1)),
        (plotting.zero_insertion_output, dict(x=k, kernel=k, stride=2), dict(stride=1)),
        (plotting.scatter_animation, dict(x=k, kernel=k, stride=2), dict(stride=1)),
        (matrix.conv_matrix, dict(w=k, input_shape=(4, 4), stride=2, dilation=1),
         dict(stride=1, dilation=1)),
        (matrix.conv_output_shape, dict(input_shape=(4, 4), kernel_shape=(2, 2), stride=2,
                                        dilation=1), dict(stride=1, dilation=1)),
        (fm.direct, dict(x=x4, w=w4, stride=2, padding=1, output_padding=1, dilation=1, groups=1),
         dict(stride=1, padding=0, output_padding=0, dilation=1, groups=1)),
        (fm.subpixel_taps, dict(kernel=3, stride=2, dilation=1), dict(kernel=1, stride=1, dilation=1)),
        (fm.subpixel_weight, dict(w=w4, stride=2, dilation=1), dict(stride=1, dilation=1)),
        (fm.work, dict(x_shape=(1, 2, 3, 3), w_shape=(2, 2, 3, 3), stride=2, padding=1,
                       output_padding=1, dilation=1, groups=1),
         dict(stride=1, padding=0, output_padding=0, dilation=1, groups=1)),
    ]


def _argument_cases():
    cases = []
    for fn, valid, minimums in _argument_checks():
        for name, minimum in minimums.items():
            cases.append(pytest.param(fn, valid, name, minimum, id=f"{fn.__name__}-{name}"))
    return cases


@pytest.mark.parametrize("fn, valid, name, minimum", _argument_cases())
def test_each_integer_argument_is_checked_and_named(fn, valid, name, minimum):
    fn(**valid)  # the valid call works
    with pytest.raises(ValueError) as info:
        fn(**{**valid, name: minimum - 1})
    assert str(info.value) == f"{name} must be >= {minimum}, got {minimum - 1}"
    with pytest.raises(TypeError) as info:
        fn(**{**valid, name: 1.5})
    assert str(info.value).startswith(f"{name} must be ") and "1.5" in str(info.value)


def _array_checks():
    import torch

    from tconv_utils import checkerboard as cb, frameworks, matrix, plotting
    from tconv_utils import training as tr

    k, img = np.ones((2, 2)), np.ones((1, 1, 4, 4))
    x, w = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))
    model = torch.nn.Upsample(scale_factor=2)
    return [
        # (function, valid keyword arguments, array arguments)
        (trans_conv, dict(X=k, K=k), ["X", "K"]),
        (conv_transpose, dict(x=x, w=w, bias=np.ones(1)), ["x", "w", "bias"]),
        (conv, dict(x=x, w=w, bias=np.ones(1)), ["x", "w", "bias"]),
        (cb.checkerboard_energy, dict(image=k), ["image"]),
        (cb.subpixel_as_transposed, dict(weight=np.ones((4, 1, 3, 3)), stride=2), ["weight"]),
        (tr.downsample, dict(images=img), ["images"]),
        (tr.train, dict(model=tr.make_decoder("resize", channels=1), low=img[..., :2, :2],
                        high=img, epochs=1), ["low", "high"]),
        (tr.predict, dict(model=model, low=img), ["low"]),
        (tr.interpolate, dict(low=img), ["low"]),
        (tr.psnr, dict(prediction=img, target=img), ["prediction", "target"]),
        (plotting.plot_grid, dict(values=k), ["values"]),
        (plotting.plot_matrix, dict(C=k), ["C"]),
        (plotting.plot_scatter, dict(x=k, kernel=k), ["x", "kernel"]),
        (plotting.plot_zero_insertion, dict(x=k, kernel=k), ["x", "kernel"]),
        (plotting.scatter_terms, dict(x=k, kernel=k), ["x", "kernel"]),
        (plotting.zero_insertion_input, dict(x=k, kernel=k), ["x", "kernel"]),
        (plotting.zero_insertion_output, dict(x=k, kernel=k), ["x", "kernel"]),
        (plotting.scatter_animation, dict(x=k, kernel=k), ["x", "kernel"]),
        (matrix.conv_matrix, dict(w=k, input_shape=(3, 3)), ["w"]),
        (frameworks.keras_kernel_from_torch, dict(w=w), ["w"]),
        (frameworks.torch_weight_from_keras, dict(kernel=w), ["kernel"]),
        (frameworks.torch_conv_transpose, dict(x=x, w=w, bias=np.ones(1)), ["x", "w", "bias"]),
        (frameworks.keras_layer, dict(w=w, bias=np.ones(1)), ["w", "bias"]),
        (frameworks.keras_conv_transpose, dict(x=x, w=w), ["x"]),
    ]


@pytest.mark.parametrize("fn, valid, name", [
    pytest.param(fn, valid, name, id=f"{fn.__name__}-{name}")
    for fn, valid, names in _array_checks() for name in names])
def test_each_array_argument_is_checked_and_named(fn, valid, name):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fn(**valid)  # the valid call works
    plt.close("all")
    with pytest.raises(TypeError) as info:
        fn(**{**valid, name: np.full(np.shape(valid[name]), "a")})
    assert str(info.value) == f"{name} must be a real numeric array, got dtype <U1"
