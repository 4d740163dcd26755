"""Draw the book's logo and favicon: the article's 2x2 example scattered by a transposed convolution.

    python book/_tools/make_logo.py            # writes book/_static/logo.png and favicon.png
    python book/_tools/make_logo.py --out DIR  # writes them elsewhere (the tests compare)

The colours are the output of tconv_utils.trans_conv on the article's input and kernel, so the
picture is computed, not drawn by hand.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tconv_utils import trans_conv  # noqa: E402

STATIC = Path(__file__).resolve().parents[1] / "_static"
X = np.array([[0.0, 1.0], [2.0, 3.0]])
K = np.array([[4.0, 1.0], [2.0, 3.0]])


def draw(size_px: int, with_input: bool):
    """A figure of size_px x size_px pixels: the 3x3 output (and, if asked, the 2x2 input)."""
    dpi = 100
    fig = plt.figure(figsize=(size_px / dpi, size_px / dpi), dpi=dpi)
    Y = trans_conv(X, K)
    if with_input:
        # The small input grid in the corner, the larger output grid behind it.
        out_ax = fig.add_axes((0.26, 0.0, 0.74, 0.74))
        in_ax = fig.add_axes((0.0, 0.52, 0.48, 0.48))
        in_ax.imshow(X, cmap="Blues", vmin=-1, vmax=4)
        in_ax.set_xticks(np.arange(-0.5, 2, 1), minor=True)
        in_ax.set_yticks(np.arange(-0.5, 2, 1), minor=True)
    else:
        out_ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    out_ax.imshow(Y, cmap="Oranges", vmin=-2, vmax=16)
    out_ax.set_xticks(np.arange(-0.5, 3, 1), minor=True)
    out_ax.set_yticks(np.arange(-0.5, 3, 1), minor=True)
    for ax in fig.axes:
        ax.grid(which="minor", color="white", linewidth=max(1.0, size_px / 60))
        ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
        for spine in ax.spines.values():
            spine.set_visible(False)
    return fig


def write(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, size, with_input in (("logo.png", 200, True), ("favicon.png", 32, False)):
        fig = draw(size, with_input)
        path = out_dir / name
        # No metadata: the same code gives the same bytes, so the tests can compare them.
        fig.savefig(path, dpi=100, transparent=True, metadata={"Software": None})
        plt.close(fig)
        paths.append(path)
    return paths


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=STATIC)
    for p in write(parser.parse_args().out):
        print("wrote", p)
