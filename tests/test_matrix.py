"""conv_matrix: C reproduces the convolution, and C.T the transposed convolution."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_budget import examples

from tconv_utils import frameworks
from tconv_utils.matrix import conv_matrix, conv_output_shape, transpose_output_padding
from tconv_utils.reference import conv, conv_transpose


@st.composite
def problems(draw):
    ndim = draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(ndim))
    pads = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(ndim))
    spatial = tuple(max(draw(st.integers(1, 6)), d * (k - 1) + 1 - b - a, 1)
                    for k, d, (b, a) in zip(kernel, dilation, pads))
    c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    return spatial, kernel, stride, dilation, pads, c_in, c_out


@examples(200)
@given(problems(), st.integers(0, 2**16))
def test_C_is_conv_and_C_T_is_conv_transpose(problem, seed):
    spatial, kernel, stride, dilation, pads, c_in, c_out = problem
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(c_out, c_in) + kernel)
    x = rng.normal(size=(1, c_in) + spatial)
    kw = dict(stride=stride, padding=[list(p) for p in pads], dilation=dilation)
    C = conv_matrix(w, (c_in,) + spatial, **kw)
    y_conv = conv(x, w, **kw)
    np.testing.assert_allclose(C @ x.ravel(), y_conv.ravel(), atol=1e-10)
    # C.T is the transposed convolution whose weight is the same array (C_in/C_out swap roles).
    y = rng.normal(size=y_conv.shape)
    op = transpose_output_padding(spatial, kernel, **kw)
    back = conv_transpose(y, w, output_padding=op, **kw)
    assert back.shape == x.shape
    np.testing.assert_allclose(C.T @ y.ravel(), back.ravel(), atol=1e-10)
    # The adjoint identity <C x, y> = <x, C.T y>.
    assert abs(np.dot(C @ x.ravel(), y.ravel()) - np.dot(x.ravel(), C.T @ y.ravel())) < 1e-9
    sparse = conv_matrix(w, (c_in,) + spatial, sparse=True, **kw)
    np.testing.assert_array_equal(sparse.toarray(), C)
    # Each column holds at most one copy of each tap of each output channel.
    assert np.count_nonzero(C, axis=0).max() <= w[:, 0].size


@examples(60)
@given(st.integers(1, 6), st.integers(1, 3), st.integers(1, 3), st.integers(0, 1),
       st.integers(1, 2))
def test_C_T_matches_pytorch(n, k, s, p, d):
    if n + 2 * p < d * (k - 1) + 1:
        return
    rng = np.random.default_rng(n * 100 + k * 10 + s)
    w = rng.integers(-3, 4, (1, 1, k, k)).astype(np.float32)
    C = conv_matrix(w[0, 0], (n, n), stride=s, padding=p, dilation=d)
    m = conv_output_shape((n, n), (k, k), stride=s, padding=p, dilation=d)
    y = rng.integers(-3, 4, (1, 1) + m).astype(np.float32)
    op = transpose_output_padding((n, n), (k, k), stride=s, padding=p, dilation=d)
    torch_y = frameworks.torch_conv_transpose(y, w, stride=s, padding=p, output_padding=op,
                                              dilation=d)
    np.testing.assert_allclose(C.T @ y.ravel(), torch_y.ravel(), atol=1e-5)


def test_seed_example_matrix_by_hand():
    # 2x2 kernel over a 3x3 input, stride 1: four rows, each the kernel laid into the 3x3 grid.
    K = np.array([[4, 1], [2, 3]])
    C = conv_matrix(K, (3, 3))
    by_hand = np.zeros((4, 9))
    for r, (i, j) in enumerate(np.ndindex(2, 2)):
        grid = np.zeros((3, 3))
        grid[i:i + 2, j:j + 2] = K
        by_hand[r] = grid.ravel()
    np.testing.assert_array_equal(C, by_hand)
    # The seed's result: C.T applied to the 2x2 input is [[0,4,1],[8,16,6],[4,12,9]].
    np.testing.assert_array_equal((C.T @ np.array([0, 1, 2, 3])).reshape(3, 3),
                                  [[0, 4, 1], [8, 16, 6], [4, 12, 9]])


def test_C_T_C_is_not_the_identity():
    C = conv_matrix(np.array([[4, 1], [2, 3]]), (3, 3))
    assert not np.allclose(C.T @ C, np.eye(9))
    assert np.linalg.matrix_rank(C) == 4  # 9 unknowns, 4 equations: no inverse exists


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: conv_matrix(np.ones((3,)), (2,)), ValueError, r"larger than the padded input 2"),
    (lambda: conv_matrix(np.ones((1, 2, 3)), (3, 5)), ValueError, r"C_in=2.*input_shape\[0\]"),
    (lambda: conv_matrix(np.ones((2, 2)), (4, 4, 4, 4)), ValueError, r"bare kernel with 4 dims"),
    (lambda: conv_matrix(np.ones(3), (5,), stride=0), ValueError, r"stride must be >= 1"),
    (lambda: conv_matrix(np.array(["a"]), (5,)), TypeError, r"w must be a real numeric array"),
])
def test_bad_arguments_raise(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
