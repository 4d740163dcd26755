"""The website builds with warnings as errors, from the stored notebook outputs."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_book_builds_without_warnings(built_site):
    pages = {p.relative_to(built_site).as_posix() for p in built_site.rglob("*.html")}
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"notebooks/{notebook.stem}.html" in pages
    assert "book/intro.html" in pages


def test_pages_show_the_stored_outputs(built_site):
    # The website shows what the notebooks stored (no execution at build time): the seed's
    # 3x3 result appears on the manual-loop page exactly as the notebook printed it.
    page = (built_site / "notebooks" / "02_manual_loop.html").read_text()
    assert "[ 8. 16.  6.]" in page
    keras_page = (built_site / "notebooks" / "04_keras.html").read_text()
    assert "(1, 9, 9, 1)" in keras_page and "(1, 8, 8, 1)" in keras_page


def test_math_is_served_by_the_site_itself(built_site):
    # sphinx-mathjax-offline copies MathJax 3 into _static: pages load it from there, no CDN.
    page = (built_site / "notebooks" / "01_what_is_transposed_convolution.html").read_text()
    assert "_static/mathjax/tex-chtml.js" in page
    assert "cdn.jsdelivr.net" not in page
    assert (built_site / "_static" / "mathjax" / "tex-chtml.js").is_file()


def test_logo_and_favicon_are_drawn_by_the_script(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_logo", ROOT / "book" / "_tools" / "make_logo.py")
    make_logo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_logo)
    for fresh in make_logo.write(tmp_path):
        committed = ROOT / "book" / "_static" / fresh.name
        assert committed.read_bytes() == fresh.read_bytes(), f"{fresh.name}: run make_logo.py"
