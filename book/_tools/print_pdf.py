"""Print the whole book to one PDF with Chromium, without LaTeX.

    python book/_tools/print_pdf.py _build/singlehtml _build/pdf/book.pdf

The input is Sphinx's single-page HTML build of the book (`make pdf` runs it first); Chromium
(Debian's, the one the browser test drives through Playwright) typesets the math with the
site's own MathJax and prints the page. Before printing, the script refuses a page whose math
did not typeset, whose images did not load, or whose code is wider than the paper.
"""
from __future__ import annotations

import argparse
import urllib.parse
from pathlib import Path

import yaml

import book_browser

ROOT = Path(__file__).resolve().parents[2]
BASE = "http://book.local"  # never resolved: every request is answered from the build folder

# Paper is not a screen: every chapter starts a page, code wraps instead of scrolling, a figure
# is not split across pages, and folded cells (exercise solutions, setup cells) are shown open.
PRINT_CSS = """
@media print {
  span[id^="document-"] + section { break-before: page; }
  pre { white-space: pre-wrap !important; overflow-wrap: anywhere; }
  .cell_output img, figure { break-inside: avoid; }
  mjx-container[display="true"] { overflow: visible !important; }
}
"""
OVERFLOWING = """() => Array.from(document.querySelectorAll(
    "#main-content :is(pre, .cell_output, table, mjx-container[display='true'])"))
  .filter(e => e.getClientRects().length && e.scrollWidth > e.clientWidth + 1)
  .map(e => e.tagName + ": " + e.textContent.trim().slice(0, 80))"""


def root_page(singlehtml: Path) -> Path:
    """The single page: Sphinx writes it under the root document's name (book/intro.html)."""
    root = yaml.safe_load((ROOT / "_toc.yml").read_text())["root"]
    return singlehtml / f"{root}.html"


def page_html(singlehtml: Path) -> str:
    """The page, served from the folder's top level (where its relative links point), with its
    links to itself (`book/intro.html#x`) turned into anchors so they stay inside the PDF."""
    page = root_page(singlehtml)
    own = page.relative_to(singlehtml).as_posix()
    return page.read_text(encoding="utf-8").replace(f'href="{own}#', 'href="#')


def serve_folder(tab, singlehtml: Path):
    html = page_html(singlehtml)

    def answer(route):
        path = urllib.parse.unquote(urllib.parse.urlparse(route.request.url).path).lstrip("/")
        if path == "book.html":
            route.fulfill(body=html, content_type="text/html; charset=utf-8")
        elif path == "searchindex.js":
            # The single-page builder writes no search index; search has no use on paper.
            route.fulfill(body="", content_type="text/javascript")
        elif (singlehtml / path).is_file():
            route.fulfill(path=singlehtml / path)
        else:
            route.fulfill(status=404, body="")

    tab.route(f"{BASE}/**", answer)


def print_book(singlehtml: Path, out: Path, browser) -> dict:
    """Print the single-page build to `out`; return what was checked on the page."""
    context = browser.new_context(viewport={"width": 1000, "height": 1400}, color_scheme="light")
    tab = context.new_page()
    errors = book_browser.record_errors(tab)
    serve_folder(tab, singlehtml)
    tab.goto(f"{BASE}/book.html", wait_until="load")

    n_math, typeset, errors_tex = book_browser.typeset_math(tab)
    if typeset < n_math or errors_tex:
        raise RuntimeError(f"math not typeset: {typeset} of {n_math} formulas, {errors_tex} errors")
    broken = book_browser.load_images(tab)
    if broken:
        raise RuntimeError(f"images that did not load: {broken}")

    tab.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    tab.add_style_tag(content=PRINT_CSS)
    tab.emulate_media(media="print")
    wide = tab.evaluate(OVERFLOWING)
    if wide:
        raise RuntimeError(f"wider than the paper, would be cut: {wide}")
    if errors:
        raise RuntimeError(f"console or page errors: {errors}")

    out.parent.mkdir(parents=True, exist_ok=True)
    footer = ('<div style="font-size:8px; width:100%; text-align:center">'
              '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')
    # outline: PDF bookmarks from the headings; tagged: a structure screen readers can follow.
    tab.pdf(path=str(out), format="A4", print_background=True, outline=True, tagged=True,
            margin={"top": "15mm", "bottom": "15mm", "left": "14mm", "right": "14mm"},
            display_header_footer=True, header_template="<span></span>", footer_template=footer)
    checked = {"math": typeset, "images": tab.evaluate("document.images.length")}
    context.close()
    return checked


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("singlehtml", type=Path, help="the single-page HTML build folder")
    parser.add_argument("out", type=Path, help="the PDF to write")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = book_browser.launch(p)
        checked = print_book(args.singlehtml, args.out, browser)
        browser.close()
    size = args.out.stat().st_size / 1e6
    print(f"{args.out}: {size:.1f} MB, {checked['images']} images, {checked['math']} formulas")


if __name__ == "__main__":
    main()
