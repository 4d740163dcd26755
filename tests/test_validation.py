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
     ValueError, ["output_padding", "smaller than stride or dilation", "2"]),
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
    ("padding pair malformed", lambda: conv_transpose(X, W, padding=((1, 1), (1,))), ValueError,
     ["padding", "(before, after) pairs"]),
    ("padding of the wrong type", lambda: conv_transpose(X, W, padding=1.0), TypeError, ["padding"]),
    ("padding crops everything", lambda: conv_transpose(X, W, padding=3), ValueError,
     ["padding=3", "crops away the whole output"]),
    ("bias of wrong shape", lambda: conv_transpose(X, W, np.ones(2)), ValueError,
     ["bias", "(1,)", "(2,)"]),
    ("empty input", lambda: conv_transpose(np.ones((1, 2, 0, 3)), W), ValueError, ["non-empty"]),
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
