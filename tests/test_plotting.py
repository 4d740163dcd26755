"""The figures are checked by what they draw: the numbers in the cells and the grid sizes."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
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
    assert [ax.get_title() for ax in fig.axes[:2]] == ["input x", "kernel K"]


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


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_zero_insertion_highlights_the_input_cells_and_says_how_many_zeros(stride):
    grid, is_input = plotting.zero_insertion_input(X, K, stride)
    where = np.zeros(grid.shape, bool)
    where[1:-1:stride, 1:-1:stride] = True  # X's cells, inside a border of k - 1 = 1
    np.testing.assert_array_equal(is_input, where)
    fig = plotting.plot_zero_insertion(X, K, stride)
    left = fig.axes[0]
    highlighted = np.zeros(grid.shape, bool)
    for r in left.patches:  # cell (i, j) has its lower-left corner at (j, rows - 1 - i)
        highlighted[grid.shape[0] - 1 - int(r.get_y()), int(r.get_x())] = (
            to_rgb(r.get_facecolor()) == to_rgb(plotting._HIGHLIGHT))
    np.testing.assert_array_equal(highlighted, where)
    assert left.get_title() == f"x with {stride - 1} zero(s) between, border 1"
    assert fig.axes[1].get_title() == "flipped K"
    assert fig._suptitle.get_text() == f"Zero-insertion view, stride {stride}"


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
    assert ax.get_title() == "C"


def test_plot_matrix_colours_zero_pale_and_signs_apart():
    # One colour scale symmetric about zero: 0 is the scale's pale middle even when every
    # entry is positive, and a value and its negative sit at opposite ends.
    for C in (np.array([[0, 1], [2, 4]]), np.array([[0, -3], [3, 1]])):
        image = plotting.plot_matrix(C).axes[0].images[0]
        limit = np.abs(C).max()
        assert image.norm(0) == 0.5 and image.norm(limit) == 1 and image.norm(-limit) == 0
        assert min(to_rgb(image.cmap(0.5))) > 0.9  # the middle of the scale is near white


def test_plot_matrix_writes_numbers_up_to_300_entries():
    assert len(plotting.plot_matrix(np.ones((15, 20))).axes[0].texts) == 300
    assert len(plotting.plot_matrix(np.ones((1, 301))).axes[0].texts) == 0
    assert len(plotting.plot_matrix(np.ones((1, 301)), annotate=True).axes[0].texts) == 301


def _contrast(a, b):
    """WCAG contrast ratio of two colours (1 to 21; 4.5 is the minimum for small text)."""
    def luminance(colour):
        c = np.array(to_rgb(colour))
        c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
        return c @ [0.2126, 0.7152, 0.0722]
    high, low = sorted([luminance(a), luminance(b)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_plot_matrix_writes_each_number_in_the_colour_that_reads_on_its_square():
    # Dark squares (large |value|, either sign) need white text, pale ones black. Values in
    # the band where the two contrast about equally (0.6-0.7 of the largest) are left out.
    C = np.array([[10, -9, 5, -5], [3, -3, 1, -1]])
    fig = plotting.plot_matrix(C)
    ax = fig.axes[0]
    image = ax.images[0]
    assert len(ax.texts) == C.size
    for t in ax.texts:
        j, i = (int(round(v)) for v in t.get_position())
        square = image.cmap(image.norm(C[i, j]))
        best = max(["white", "black"], key=lambda colour: _contrast(colour, square))
        assert to_rgb(t.get_color()) == to_rgb(best), (C[i, j], t.get_color())
        assert _contrast(t.get_color(), square) >= 4.5


def test_overlap_map_numbers_read_on_their_squares():
    from tconv_utils import checkerboard as cb

    fig = cb.plot_overlap_maps([(3, 2), (5, 2)], n=4)
    for ax in fig.axes:
        image = ax.images[0]
        assert image.norm.vmin == 0  # the colour scale starts at no overlap
        # Near mid-scale white gives 4.48:1 (black 4.7); the wrong colour at either end of the
        # scale gives under 2, so ask for 3.
        for t in ax.texts:
            square = image.cmap(image.norm(int(t.get_text())))
            assert _contrast(t.get_color(), square) >= 3, (t.get_text(), t.get_color())


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="x must be a non-empty 2-D array"):
        plotting.plot_scatter(np.ones(3), K)
    for empty in (np.ones((0, 3)), np.ones((3, 0))):
        with pytest.raises(ValueError, match=r"C must be a non-empty 2-D array, got shape"):
            plotting.plot_matrix(empty)
        with pytest.raises(ValueError, match=r"values must be a non-empty 2-D array, got shape"):
            plotting.plot_grid(empty)
    with pytest.raises(ValueError, match=r"C must be a non-empty 2-D array, got shape \(4,\)"):
        plotting.plot_matrix(np.ones(4))
    plotting.plot_matrix(np.ones((1, 3)))  # one row is a matrix
    plotting.plot_grid(np.ones((3, 1)))
    with pytest.raises(ValueError, match="stride must be >= 1"):
        plotting.plot_zero_insertion(X, K, 0)


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_padding_windows_name_each_setting_with_its_size_and_start():
    fig = plotting.plot_padding_windows(4, 3, 2, torch=[(0, 0), (1, 1)], keras=("valid", "same"))
    texts = _texts(fig)
    plt.close(fig)
    # The top strip holds the overlap counts of the full scatter, 9 cells for n4 k3 s2.
    assert texts[:9] == ["1", "1", "2", "1", "2", "1", "2", "1", "1"]
    assert "PyTorch padding=1, output_padding=1: 8 cells, starting at cell 1" in texts
    assert "Keras padding='valid': 9 cells, starting at cell 0" in texts
    assert "Keras padding='same': 8 cells, starting at cell 0" in texts


def test_padding_windows_hatch_the_cells_appended_past_the_full_scatter():
    # k < s: Keras 'valid' keeps n * s = 15 cells of a 14-cell scatter; one is appended.
    fig = plotting.plot_padding_windows(5, 2, 3, torch=(), keras=("valid",))
    hatched = [p for p in fig.axes[0].patches if p.get_hatch()]
    plt.close(fig)
    assert [p.get_x() for p in hatched] == [14]


def test_padding_windows_write_out_a_refused_setting():
    fig = plotting.plot_padding_windows(4, 3, 2, dilation=2, torch=[(0, 2)], keras=("same",))
    texts = " ".join(_texts(fig))
    plt.close(fig)
    assert "output_padding must be smaller than max(stride, dilation) = 2" in texts
    assert "Keras refuses strides > 1 together with dilation_rate > 1" in texts
