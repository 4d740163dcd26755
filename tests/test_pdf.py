"""The offline PDF: the single-page build printed by Chromium (`make pdf` does the same into
_build/pdf/book.pdf), read back with pypdf.

Printing refuses a page with untypeset math, a missing image or code wider than the paper
(book/_tools/print_pdf.py); these tests check what came out.
"""
import base64
import collections
import io
import json
import re
from pathlib import Path

import print_pdf  # book/_tools, put on sys.path by conftest
import pypdf
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def chapter_title(notebook):
    first = json.loads(notebook.read_text())["cells"][0]
    return "".join(first["source"]).splitlines()[0].removeprefix("# ").replace("`", "").strip()


TITLES = [chapter_title(nb) for nb in NOTEBOOKS] + ["References"]


def squeeze(text):
    """Text with every run of whitespace removed: PDF text breaks lines where the page did."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def book_pdf(built_singlehtml, browser, tmp_path_factory):
    out = tmp_path_factory.mktemp("pdf") / "book.pdf"
    checked = print_pdf.print_book(built_singlehtml, out, browser)
    reader = pypdf.PdfReader(out)
    pages = [page.extract_text() for page in reader.pages]
    size = out.stat().st_size
    print(f"book.pdf: {len(pages)} pages, {size / 1e6:.1f} MB, {checked}")
    return reader, pages, checked


def bookmarks(reader, outline=None):
    """(title without whitespace, page index) of every PDF bookmark, in order."""
    for item in reader.outline if outline is None else outline:
        if isinstance(item, list):
            yield from bookmarks(reader, item)
        else:
            yield squeeze(item.title), reader.get_destination_page_number(item)


def test_every_chapter_has_a_bookmark_to_its_first_page(book_pdf):
    reader, pages, _ = book_pdf
    marks = dict(bookmarks(reader))
    starts = [marks.get(squeeze(t)) for t in TITLES]
    assert None not in starts, f"chapters without a bookmark: {dict(zip(TITLES, starts))}"
    assert starts == sorted(set(starts)), f"chapters out of order: {dict(zip(TITLES, starts))}"
    for title, start in zip(TITLES, starts):
        assert squeeze(title) in squeeze(pages[start]), f"{title!r} not on page {start + 1}"
        # Every chapter begins a page: its title is not on the page before.
        assert squeeze(title) not in squeeze(pages[start - 1]), f"{title!r} starts mid-page"


def test_page_count(book_pdf):
    _, pages, _ = book_pdf
    # More than a page per chapter; more than 25 a chapter on average (the book has about 12)
    # would mean the layout broke: a word a line, a figure a page.
    assert len(TITLES) + 1 < len(pages) < 25 * len(TITLES), f"{len(pages)} pages"


def test_table_of_contents_lists_every_chapter(book_pdf):
    _, pages, _ = book_pdf
    assert "Contents" in pages[0]
    positions = [squeeze(pages[0]).find(squeeze(t)) for t in TITLES]
    assert -1 not in positions and positions == sorted(positions), dict(zip(TITLES, positions))


def test_math_is_typeset(book_pdf):
    _, pages, checked = book_pdf
    text = "\n".join(pages)
    assert checked["math"] > 0
    assert "$$" not in text and "\\(" not in text and "\\frac" not in text


def test_every_figure_of_the_notebooks_is_in_the_pdf(book_pdf):
    # Chromium embeds each picture at its own pixel size: every PNG a notebook cell drew must
    # be there, as many times as the notebooks drew it.
    from PIL import Image

    reader, _, _ = book_pdf
    drawn = collections.Counter()
    for notebook in NOTEBOOKS:
        for cell in json.loads(notebook.read_text())["cells"]:
            for output in cell.get("outputs", []):
                if png := output.get("data", {}).get("image/png"):
                    drawn[Image.open(io.BytesIO(base64.b64decode(png))).size] += 1
    embedded = collections.Counter()
    for page in reader.pages:
        xobjects = page.get("/Resources", {}).get("/XObject", {})
        for ref in xobjects.values():
            image = ref.get_object()
            if image.get("/Subtype") == "/Image":
                embedded[(int(image["/Width"]), int(image["/Height"]))] += 1
    missing = drawn - embedded
    assert drawn and not missing, f"figures missing from the PDF (by pixel size): {missing}"


def test_the_intro_page_links_to_the_pdf(built_site):
    # `make pdf` puts book.pdf at the website's root, beside the page that links to it.
    intro = (built_site / "book" / "intro.html").read_text()
    assert 'href="../book.pdf" download' in intro
