"""Figures drawn from the numbers the code computes: grids, the scatter and zero-insertion
pictures of transposed convolution, an animation of the scatter, and a matrix as an image.

matplotlib is imported inside the functions, so importing ``tconv_utils`` needs NumPy alone.
Every function returns the matplotlib ``Figure`` (the animation returns HTML). The figures are
made with pyplot, so a notebook cell shows each one once by ending with ``plt.show()``; code
that only inspects a figure should ``plt.close(fig)`` it.

The pictures are 2-D, one channel, no padding, as in the seed's example: input ``x`` and kernel
``k`` are small 2-D integer arrays.
"""
from __future__ import annotations

import hashlib
import re
from html import escape

import numpy as np

from ._checks import as_int, numeric_array

# Colours: one for cells holding a value that matters, one for cells that are empty or zero.
_HIGHLIGHT = "#9ecae1"
_PLAIN = "#ffffff"
_ZERO = "#eeeeee"


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("this function needs matplotlib: pip install matplotlib") from err
    return plt


def _grid_2d(name, values):
    arr = numeric_array(name, values)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {arr.shape}")
    return arr


def _label(v) -> str:
    v = float(v)
    return f"{int(round(v))}" if abs(v - round(v)) < 1e-9 else f"{v:.2f}"


def draw_grid(ax, values, *, title=None, colors=None, blank=None, fontsize=11):
    """Draw ``values`` as a table of numbered cells on ``ax``.

    ``colors``: an array of colour strings per cell (default: white); ``blank``: a boolean
    mask of cells drawn empty (no number). Row 0 is at the top, as when printing an array.
    """
    values = _grid_2d("values", values)
    rows, cols = values.shape
    for i in range(rows):
        for j in range(cols):
            face = _PLAIN if colors is None else colors[i][j]
            ax.add_patch(_rectangle((j, rows - 1 - i), face))
            if blank is None or not blank[i][j]:
                ax.text(j + 0.5, rows - 0.5 - i, _label(values[i, j]), ha="center",
                        va="center", fontsize=fontsize)
    ax.set_xlim(0, cols)
    ax.set_ylim(0, rows)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    if title:
        ax.set_title(title, fontsize=fontsize)
    return ax


def _rectangle(corner, face):
    from matplotlib.patches import Rectangle
    return Rectangle(corner, 1, 1, facecolor=face, edgecolor="#444444", linewidth=1)


def plot_grid(values, *, title=None, dpi=80):
    """One array as a grid of numbered cells. Returns the Figure."""
    values = _grid_2d("values", values)
    plt = _pyplot()
    rows, cols = values.shape
    fig, ax = plt.subplots(figsize=(0.55 * cols + 0.4, 0.55 * rows + 0.6), dpi=dpi)
    draw_grid(ax, values, title=title)
    return fig


def _stride(stride):
    return as_int("stride", stride, minimum=1)


def scatter_terms(x, kernel, stride=1):
    """The scatter view as data: one ``(cell, value, term)`` per input cell, where ``term`` is
    the output-sized array holding ``value * kernel`` at offset ``cell * stride`` (zeros
    elsewhere). Their sum is the transposed convolution."""
    x, kernel = _grid_2d("x", x), _grid_2d("kernel", kernel)
    s = _stride(stride)
    (h, w), (kh, kw) = x.shape, kernel.shape
    out = ((h - 1) * s + kh, (w - 1) * s + kw)
    terms = []
    for i, j in np.ndindex(h, w):
        term = np.zeros(out)
        term[i * s:i * s + kh, j * s:j * s + kw] = x[i, j] * kernel
        terms.append(((i, j), x[i, j], term))
    return terms


def _window_mask(shape, cell, kernel_shape, stride):
    mask = np.zeros(shape, dtype=bool)
    i, j = cell
    mask[i * stride:i * stride + kernel_shape[0], j * stride:j * stride + kernel_shape[1]] = True
    return mask


def plot_scatter(x, kernel, stride=1, *, dpi=80):
    """The scatter picture: each input cell times the kernel, written into the output at its
    offset, then their sum.

    Top row: the input and the kernel. Bottom row: one panel per input cell (the scaled kernel
    in its window, other cells left empty), then the sum. Returns the Figure.
    """
    x, kernel = _grid_2d("x", x), _grid_2d("kernel", kernel)
    s = _stride(stride)
    terms = scatter_terms(x, kernel, s)
    total = sum(term for _, _, term in terms)
    plt = _pyplot()
    ncols = max(len(terms) + 1, 2)
    rows, cols = total.shape
    fig, axes = plt.subplots(2, ncols, figsize=(ncols * (0.5 * cols + 0.5), 2 * (0.5 * rows + 0.8)),
                             dpi=dpi, squeeze=False)
    for ax in axes[0]:
        ax.axis("off")
    draw_grid(axes[0, 0], x, title="input x", colors=_colors(np.ones(x.shape, bool)))
    draw_grid(axes[0, 1], kernel, title="kernel K")
    for ax, small in ((axes[0, 0], x), (axes[0, 1], kernel)):
        # Same cell size as the output panels: pad the view, anchored at the top left.
        ax.set_xlim(0, max(cols, small.shape[1]))
        ax.set_ylim(small.shape[0] - max(rows, small.shape[0]), small.shape[0])
    for ax, (cell, value, term) in zip(axes[1], terms):
        window = _window_mask(total.shape, cell, kernel.shape, s)
        draw_grid(ax, term, blank=~window, colors=_colors(window),
                  title=f"x[{cell[0]},{cell[1]}]={_label(value)}: {_label(value)}·K")
    draw_grid(axes[1, len(terms)], total, title="sum = output",
              colors=_colors(np.ones(total.shape, bool)))
    fig.suptitle(f"Scatter view, stride {s}: output size {rows}x{cols}", fontsize=12)
    fig.tight_layout()
    return fig


def _colors(mask, on=_HIGHLIGHT, off=_PLAIN):
    return np.where(mask, on, off)


def zero_insertion_input(x, kernel, stride=1):
    """The zero-insertion view's input: ``stride - 1`` zeros between the cells of ``x`` and a
    border of ``k - 1`` zeros. Returns ``(grid, is_input)``, ``is_input`` marking x's cells."""
    x, kernel = _grid_2d("x", x), _grid_2d("kernel", kernel)
    s = _stride(stride)
    (h, w), (kh, kw) = x.shape, kernel.shape
    grid = np.zeros(((h - 1) * s + 1 + 2 * (kh - 1), (w - 1) * s + 1 + 2 * (kw - 1)))
    is_input = np.zeros(grid.shape, dtype=bool)
    grid[kh - 1:kh - 1 + (h - 1) * s + 1:s, kw - 1:kw - 1 + (w - 1) * s + 1:s] = x
    is_input[kh - 1:kh - 1 + (h - 1) * s + 1:s, kw - 1:kw - 1 + (w - 1) * s + 1:s] = True
    return grid, is_input


def zero_insertion_output(x, kernel, stride=1):
    """Slide the flipped kernel over :func:`zero_insertion_input` with stride 1 (a plain
    cross-correlation, written out): the same numbers as the scatter's sum."""
    grid, _ = zero_insertion_input(x, kernel, stride)
    flipped = np.asarray(kernel, dtype=float)[::-1, ::-1]
    kh, kw = flipped.shape
    out = np.zeros((grid.shape[0] - kh + 1, grid.shape[1] - kw + 1))
    for i, j in np.ndindex(*out.shape):
        out[i, j] = np.sum(grid[i:i + kh, j:j + kw] * flipped)
    return out


def plot_zero_insertion(x, kernel, stride=1, *, dpi=80):
    """The zero-insertion picture: the stretched, zero-bordered input, the flipped kernel, and
    the stride-1 convolution of the two, which equals the scatter's sum. Returns the Figure."""
    x, kernel = _grid_2d("x", x), _grid_2d("kernel", kernel)
    s = _stride(stride)
    grid, is_input = zero_insertion_input(x, kernel, s)
    out = zero_insertion_output(x, kernel, s)
    plt = _pyplot()
    widths = [grid.shape[1], kernel.shape[1] + 1, out.shape[1]]
    fig, axes = plt.subplots(1, 3, figsize=(0.5 * sum(widths) + 1.5, 0.5 * grid.shape[0] + 1.2),
                             dpi=dpi, gridspec_kw={"width_ratios": widths})
    draw_grid(axes[0], grid, colors=_colors(is_input, off=_ZERO),
              title=f"x with {s - 1} zero(s) between, border {kernel.shape[0] - 1}")
    draw_grid(axes[1], kernel[::-1, ::-1], title="flipped K")
    draw_grid(axes[2], out, title="stride-1 conv", colors=_colors(np.ones(out.shape, bool)))
    fig.suptitle(f"Zero-insertion view, stride {s}", fontsize=12)
    fig.tight_layout()
    return fig


def scatter_animation(x, kernel, stride=1, *, dpi=60, interval=900, as_html_object=True,
                      alt=None):
    """An animation of the scatter: one frame per input cell, the running sum growing.

    Drawn with matplotlib's JavaScript HTML writer (``to_jshtml``: frames embedded as PNG, no
    ffmpeg), without its link to a Font Awesome CDN. matplotlib names the player with a random
    ``uuid4``; it is replaced here by a hash of the content, so equal frames give byte-equal
    HTML. ``alt`` describes the picture to screen readers (default: what every frame shows).
    Returns an ``IPython.display.HTML`` object (or the HTML string with ``as_html_object=False``).
    """
    from matplotlib import animation
    x, kernel = _grid_2d("x", x), _grid_2d("kernel", kernel)
    s = _stride(stride)
    terms = scatter_terms(x, kernel, s)
    plt = _pyplot()
    shape = terms[0][2].shape
    fig, ax = plt.subplots(figsize=(0.55 * shape[1] + 0.4, 0.55 * shape[0] + 0.7), dpi=dpi)

    def draw(frame):
        ax.clear()
        running = sum((t for _, _, t in terms[:frame]), np.zeros(shape))
        if frame == 0:
            draw_grid(ax, running, title="start: all zeros")
            return
        cell, value, _ = terms[frame - 1]
        window = _window_mask(shape, cell, kernel.shape, s)
        draw_grid(ax, running, colors=_colors(window),
                  title=f"+ x[{cell[0]},{cell[1]}]={_label(value)} times K")

    anim = animation.FuncAnimation(fig, draw, frames=len(terms) + 1, interval=interval)
    html = anim.to_jshtml(default_mode="once")
    plt.close(fig)  # the player shows the frames; a static copy would print a second figure
    html = _stable_ids(html)
    # The player links Font Awesome from a CDN for its button icons: offline (a downloaded site,
    # the test browser) that link fails. The book's theme ships Font Awesome itself.
    html = re.sub(r'<link rel="stylesheet"[^>]*font-awesome[^>]*>\s*', "", html)
    # matplotlib's player gives its picture no text alternative and its slider no name.
    if alt is None:
        alt = (f"Animation in {len(terms) + 1} frames of the {shape[0]}x{shape[1]} output: it "
               f"starts at zeros, and each frame adds one input cell times the kernel into the "
               f"window that cell writes to, showing the running sum")
    html = re.sub(r'(<img id="_anim_img\w+")', lambda m: f'{m.group(1)} alt="{escape(alt)}"',
                  html, count=1)
    html = re.sub(r'(<input id="_anim_slider\w+")', r'\1 aria-label="Animation frame"', html,
                  count=1)
    if not as_html_object:
        return html
    from IPython.display import HTML
    return HTML(html)


def _stable_ids(html: str) -> str:
    ids = set(re.findall(r"_anim_img([0-9a-f]{32})", html))
    for old in ids:
        new = hashlib.sha1(html.replace(old, "").encode()).hexdigest()[:32]
        html = html.replace(old, new)
    return html


def plot_matrix(C, *, title=None, annotate=None, dpi=80):
    """A matrix (the convolution matrix ``C``) as an image: one square per entry, zeros pale.

    ``annotate``: write each non-zero value in its square (default: when ``C`` has at most
    300 entries). Returns the Figure.
    """
    C = numeric_array("C", C)
    if C.ndim != 2 or 0 in C.shape:
        raise ValueError(f"C must be a non-empty 2-D array, got shape {C.shape}")
    plt = _pyplot()
    rows, cols = C.shape
    if annotate is None:
        annotate = C.size <= 300
    scale = min(0.4, 8 / max(rows, cols))
    fig, ax = plt.subplots(figsize=(cols * scale + 1.5, rows * scale + 1.0), dpi=dpi)
    limit = float(np.abs(C).max()) or 1.0
    ax.imshow(C, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_xticks(np.arange(-0.5, cols), minor=True)
    ax.set_yticks(np.arange(-0.5, rows), minor=True)
    ax.grid(which="minor", color="#bbbbbb", linewidth=0.5)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel(f"input cell (column), {cols}")
    ax.set_ylabel(f"output cell (row), {rows}")
    if annotate:
        for i, j in zip(*np.nonzero(C)):
            strong = abs(C[i, j]) > 0.6 * limit  # white text on the dark squares
            ax.text(j, i, _label(C[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if strong else "black")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_padding_windows(n, kernel, stride=1, *, dilation=1, torch=((0, 0),),
                         keras=("valid", "same"), dpi=80):
    """Which cells of the full 1-D scatter each framework's arguments keep.

    The top strip is the full (uncropped) output of ``n`` input cells, each cell holding its
    overlap count (how many kernel taps land there). Below it, one strip per setting: PyTorch
    ``(padding, output_padding)`` pairs from ``torch`` and Keras modes from ``keras`` (with
    Keras' default ``output_padding=None``). Kept cells are shaded, cropped cells left empty,
    and cells past the end of the full scatter (zeros the framework appends) are hatched. A
    setting the framework refuses is written out with the rule it breaks. Returns the Figure.
    """
    from . import checkerboard, shapes

    counts = checkerboard.overlap_counts(n, kernel, stride, dilation)
    full = len(counts)
    rows = []
    for padding, output_padding in torch:
        label = f"PyTorch padding={padding}, output_padding={output_padding}"
        try:
            start, size = shapes.torch_window(n, kernel, stride, padding, output_padding,
                                              dilation)
        except ValueError as err:
            rows.append((label, None, str(err)))
            continue
        rows.append((label, (start, size), None))
    for mode in keras:
        label = f"Keras padding='{mode}'"
        try:
            shapes.keras_refusal(stride, dilation)
            start, size = shapes.keras_placement(n, kernel, stride, mode, None, dilation)
        except ValueError as err:
            rows.append((label, None, str(err)))
            continue
        rows.append((label, (start, size), None))

    right = max([full] + [w[0] + w[1] for _, w, _ in rows if w is not None])
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(0.42 * right + 4.8, 0.5 * (len(rows) + 1) + 0.7), dpi=dpi)
    top = len(rows)
    for j in range(full):
        ax.add_patch(_rectangle((j, top), _HIGHLIGHT if counts[j] else _ZERO))
        ax.text(j + 0.5, top + 0.5, str(int(counts[j])), ha="center", va="center", fontsize=10)
    ax.text(right + 0.3, top + 0.5, f"full scatter: {full} cells (numbers: overlap counts)",
            va="center", fontsize=10)
    for r, (label, window, refusal) in enumerate(rows):
        y = top - 1 - r
        if window is None:
            ax.text(0, y + 0.5, f"{label}: refused ({refusal})", va="center", fontsize=9,
                    wrap=True)
            continue
        start, size = window
        for j in range(start, start + size):
            past_end = j >= full
            patch = _rectangle((j, y), _ZERO if past_end else _HIGHLIGHT)
            if past_end:
                patch.set_hatch("//")
            ax.add_patch(patch)
        for j in list(range(0, start)) + list(range(start + size, full)):
            ax.add_patch(_rectangle((j, y), _PLAIN))
        ax.text(right + 0.3, y + 0.5, f"{label}: {size} cells, starting at cell {start}",
                va="center", fontsize=10)
    ax.set_xlim(0, right + 0.2)
    ax.set_ylim(0, top + 1)
    ax.set_xticks(np.arange(right) + 0.5, [str(j) for j in range(right)], fontsize=8)
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(f"n={n}, kernel={kernel}, stride={stride}"
                 + (f", dilation={dilation}" if dilation != 1 else ""), loc="left", fontsize=11)
    fig.tight_layout()
    return fig
