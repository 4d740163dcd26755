"""What a chapter needs from its notebook environment, with a fallback where it is missing.

``glue`` stores a value in the executed notebook so that a sentence of the website can quote it
(MyST-NB's ``{glue:text}`` role): numbers in prose then come from outputs, never typed by hand.
MyST-NB is installed with Jupyter Book but not on Colab, where gluing is skipped and the cell
still runs.
"""
from __future__ import annotations

from typing import Any


def glue(name: str, value: Any) -> None:
    """Store ``value`` under ``name`` for ``{glue:text}`name``` in the page.

    Nothing is displayed, and nothing is returned (so a ``glue`` call on a cell's last line adds
    no output). Without MyST-NB (on Colab, say) nothing is stored either. Pass numbers already
    rounded to the precision the page quotes, e.g. ``glue("n", f"{x:.2f}")``.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier such as 'n_rows', got {name!r}")
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=False)
