"""The figures are checked by what they draw: the numbers in the cells and the grid sizes."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from tconv_utils import plotting  # noqa: E402
from tconv_utils.matrix import conv_matrix  # noqa: E402
from tconv_utils.reference import conv_transpose2d  # noqa: E402

X = np.array([[0, 1], [2, 3]])
K = np.array([[4, 1], [2, 3]])


def _expected(x, k, s):
    return conv_transpose2d(x[None, None], k[None, None], stride=s)[0, 0]


def _cells(ax):
    """Grid drawn on ax: (rows, cols) from the cell rectangles, and the numbers by position."""
    rects = [p for p in ax.patches if isinstance(p, Rectangle)]
    rows = len({r.get_y() for r in rects})
    cols = len({r.get_x() for r in rects})
    assert len(rects) == rows * cols
    grid = np.full((rows, cols), None, dtype=object)
    for t in ax.texts:  # cell (i, j) has its lower-left corner at (j, rows - 1 - i)
        x, y = t.get_position()
        grid[rows - 1 - int(y), int(x)] = t.get_text()
    return (rows, cols), grid


def _numbers(ax, shape):
    (rows, cols), grid = _cells(ax)
    assert (rows, cols) == shape
    return grid


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("stride", [1, 2])
def test_scatter_panels_hold_each_term_and_the_sum(stride):
    fig = plotting.plot_scatter(X, K, stride)
    out = _expected(X, K, stride)
    bottom = fig.axes[len(fig.axes) // 2:]
    assert len(bottom) == X.size + 1
    # The last panel is the sum: every cell carries the transposed convolution's number.
    grid = _numbers(bottom[-1], out.shape)
    assert grid.tolist() == [[str(int(v)) for v in row] for row in out]
    # Each term panel carries x[i, j] * K in its window and nothing elsewhere.
    for ax, (i, j) in zip(bottom[:-1], np.ndindex(*X.shape)):
        grid = _numbers(ax, out.shape)
        window = grid[i * stride:i * stride + 2, j * stride:j * stride + 2]
        assert window.tolist() == [[str(int(v)) for v in row] for row in X[i, j] * K]
        assert sum(v is not None for v in grid.ravel()) == K.size
        assert f"x[{i},{j}]={X[i, j]}" in ax.get_title()
    assert f"output size {out.shape[0]}x{out.shape[1]}" in fig._suptitle.get_text()


def test_seed_numbers_at_stride_1():
    fig = plotting.plot_scatter(X, K, 1)
    grid = _numbers(fig.axes[-1], (3, 3))
    assert grid.tolist() == [["0", "4", "1"], ["8", "16", "6"], ["4", "12", "9"]]


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_zero_insertion_gives_the_scatter_numbers(stride):
    fig = plotting.plot_zero_insertion(X, K, stride)
    left, kernel_ax, right = fig.axes
    n = (X.shape[0] - 1) * stride + 1 + 2 * (K.shape[0] - 1)
    grid = _numbers(left, (n, n))
    # Input values sit stride apart inside a border of k - 1 zeros; every other cell is 0.
    inner = grid[1:-1:stride, 1:-1:stride]
    assert inner.tolist() == [[str(v) for v in row] for row in X]
    zeros = np.ones((n, n), bool)
    zeros[1:-1:stride, 1:-1:stride] = False
    assert set(grid[zeros]) == {"0"}
    assert _numbers(kernel_ax, (2, 2)).tolist() == [["3", "2"], ["1", "4"]]
    out = _expected(X, K, stride)
    assert _numbers(right, out.shape).tolist() == [[str(int(v)) for v in row] for row in out]


def test_plot_grid_draws_every_value():
    values = np.array([[1.5, -2], [0, 7], [3, 4]])
    fig = plotting.plot_grid(values, title="t")
    ax = fig.axes[0]
    assert _numbers(ax, (3, 2)).tolist() == [["1.50", "-2"], ["0", "7"], ["3", "4"]]
    assert ax.get_title() == "t"


def test_animation_is_deterministic_html_with_one_frame_per_cell():
    a = plotting.scatter_animation(X, K, 2, as_html_object=False)
    b = plotting.scatter_animation(X, K, 2, as_html_object=False)
    assert a == b
    assert a.count("data:image/png;base64") == X.size + 1
    assert "<video" not in a  # JavaScript player, no ffmpeg
    assert "http://" not in a and "https://" not in a  # nothing fetched from the network
    assert plt.get_fignums() == []  # the figure behind the frames is closed
    html = plotting.scatter_animation(X, K, 1)
    assert "_anim_img" in html.data


def test_plot_matrix_shows_C():
    C = conv_matrix(K, (3, 3))
    fig = plotting.plot_matrix(C, title="C")
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), C)
    labels = sorted(t.get_text() for t in ax.texts)
    assert labels == sorted(str(int(v)) for v in C[C != 0])
    assert "9" in ax.get_xlabel() and "4" in ax.get_ylabel()


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="x must be a non-empty 2-D array"):
        plotting.plot_scatter(np.ones(3), K)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        plotting.plot_zero_insertion(X, K, 0)
