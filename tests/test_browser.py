"""Open every page of the built website in headless Chromium, as a reader would, in the light
and the dark colour mode.

Per page and mode: no console or page error at all, every formula typeset, every image loaded,
the sidebar complete, every figure legible against the page (pixel contrast measured on a
screenshot of it) and no critical or serious accessibility violation (axe-core). Chapter pages
also have their Colab link and their `.ipynb` download; every figure has alt text that describes
it. Screenshots of each page in both modes go to `_build/screenshots/`.

The fixtures (the built and served site, Chromium, axe) are in conftest.py; without Chromium
these tests are skipped locally and fail in CI.
"""
import io
import json
import re
import urllib.parse
from pathlib import Path

import book_browser  # book/_tools, put on sys.path by conftest
import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"
MODES = ("light", "dark")
FIGURES = "div.cell_output img"  # the images a notebook cell drew
FAILING_IMPACTS = {"critical", "serious"}
# Highlighted code is coloured by token class with the same style sheet on every page, and its
# thousands of token spans make axe's colour-contrast rule slow (about 10 s a page). Pages are
# scanned without it; test_code_colours_have_contrast scans one code block holding every token
# class the book's code uses, in each mode.
CODE = "div.highlight"
# Figures: text and axes need WCAG's 4.5:1 against the figure's background (the most common
# colour of its outer frame). Light mode must show such ink on at least 0.5% of a figure's pixels, and dark mode
# must keep at least half of what light mode shows (black text on a transparent figure would
# keep almost none on a dark page).
TEXT_CONTRAST, MIN_INK, KEPT_IN_DARK = 4.5, 0.005, 0.5


def toc_pages():
    """Every page of _toc.yml, as a path relative to the site root without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part["chapters"]]
    return [str(Path(p).with_suffix("")) for p in pages]


PAGES = toc_pages()
CHAPTERS = [p for p in PAGES if p.startswith("notebooks/")]


def describes(alt):
    """Alt text that says something: a few words, not a file name (MyST-NB's default alt is
    the image's path)."""
    alt = (alt or "").strip()
    return len(alt.split()) >= 4 and not alt.lower().endswith((".png", ".svg", ".jpg"))


def relative_luminance(rgb):
    """WCAG 2 relative luminance of sRGB colours (uint8, last axis RGB)."""
    c = np.asarray(rgb, dtype=float) / 255
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return c @ [0.2126, 0.7152, 0.0722]


def ink_share(rgb):
    """The share of pixels with text contrast (4.5:1) against the figure's background, taken as
    the most common colour of its outer frame (a heatmap's most common colour is data). For a
    figure with a transparent background, that is the page's colour."""
    rgb = np.asarray(rgb)[..., :3]
    frame = np.concatenate([rgb[:2].reshape(-1, 3), rgb[-2:].reshape(-1, 3),
                            rgb[:, :2].reshape(-1, 3), rgb[:, -2:].reshape(-1, 3)])
    colours, counts = np.unique(frame, axis=0, return_counts=True)
    lum = relative_luminance(rgb.reshape(-1, 3))
    bg = relative_luminance(colours[counts.argmax()])
    ratio = (np.maximum(lum, bg) + 0.05) / (np.minimum(lum, bg) + 0.05)
    return float((ratio >= TEXT_CONTRAST).mean())


def screenshot_rgb(locator):
    """The element as the reader sees it (the theme's dark-mode filter included), without the
    padding and border the theme puts around figures in dark mode."""
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB"))
    top, right, bottom, left = locator.evaluate(
        "e => { const s = getComputedStyle(e); return ['Top', 'Right', 'Bottom', 'Left'].map("
        "k => Math.round(parseFloat(s['padding' + k]) + parseFloat(s['border' + k + 'Width'])))}")
    return rgb[top:rgb.shape[0] - bottom, left:rgb.shape[1] - right]


def test_every_chapter_is_in_the_toc():
    on_disk = {f"notebooks/{p.stem}" for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert on_disk == set(CHAPTERS)


def test_every_figure_cell_has_alt_text():
    # Written in the notebook as cell metadata {"mystnb": {"image": {"alt": "..."}}}, which
    # MyST-NB renders as the figure's alt; the browser test below checks the rendered page.
    missing = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            draws = any("image/png" in out.get("data", {}) for out in cell.get("outputs", []))
            alt = cell["metadata"].get("mystnb", {}).get("image", {}).get("alt")
            if draws and not describes(alt):
                missing.append(f"{path.name} cell {i}: {alt!r}")
    assert not missing, "figure cells without alt text that describes the figure:\n" + "\n".join(
        missing)


def test_ink_share_tells_a_legible_figure_from_an_illegible_one():
    # Black text on white, as a figure with its own background shows on either page; the
    # same text on a transparent figure over the dark page, where it disappears.
    white, dark = np.full((100, 100, 3), 255, np.uint8), np.full((100, 100, 3), 18, np.uint8)
    for picture in (white, dark):
        picture[40:45, 10:90] = 0
    assert ink_share(white) >= MIN_INK
    assert ink_share(dark) < KEPT_IN_DARK * ink_share(white)


def open_page(browser, site_url, page, mode):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=mode)
    tab = context.new_page()
    errors = book_browser.record_errors(tab)
    response = tab.goto(f"{site_url}/{page}.html", wait_until="load")
    assert response is not None and response.ok, f"{page}: HTTP {response and response.status}"
    return context, tab, errors


def check_reading(tab, page, mode):
    """Math typeset, images loaded, the sidebar complete. Returns the number of formulas."""
    where = f"{page} ({mode})"
    theme = tab.evaluate("document.documentElement.dataset.theme")
    assert theme == mode, f"{where}: the theme shows {theme!r} for a reader whose system is {mode}"
    n_math, typeset, unparsed = book_browser.typeset_math(tab)
    assert typeset >= n_math, f"{where}: {typeset} of {n_math} math elements typeset"
    assert unparsed == 0, f"{where}: {unparsed} formulas MathJax could not typeset"
    if n_math:
        text = tab.locator("article").inner_text()
        assert "$$" not in text and "\\(" not in text and "\\[" not in text, f"{where}: raw TeX"
    broken = book_browser.load_images(tab)
    assert not broken, f"{where}: images that did not load: {broken}"
    hrefs = tab.eval_on_selector_all("nav.bd-links a", "els => els.map(e => e.href)")
    linked = {urllib.parse.urlparse(h).path.lstrip("/").removesuffix(".html") for h in hrefs}
    missing = [c for c in CHAPTERS if c not in linked]
    assert not missing, f"{where}: sidebar lacks {missing}"
    return typeset


def check_launch_and_download(context, tab, page):
    colab = tab.locator("a[href*='colab.research.google.com']")
    assert colab.count() >= 1, f"{page}: no Colab launch link"
    assert page.split("/")[-1] + ".ipynb" in colab.first.get_attribute("href")
    download = tab.locator("a[href*='_sources/'][href$='.ipynb']")
    assert download.count() >= 1, f"{page}: no .ipynb download"
    url = urllib.parse.urljoin(tab.url, download.first.get_attribute("href"))
    body = context.request.get(url)
    assert body.ok, f"{page}: download {url} gave HTTP {body.status}"
    notebook = json.loads(body.text())
    stored = json.loads((ROOT / f"{page}.ipynb").read_text())
    assert notebook["cells"] == stored["cells"], f"{page}: the download is not the notebook"


def failures(violations):
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
            for v in violations if v["impact"] in FAILING_IMPACTS]


@pytest.mark.parametrize("page", PAGES)
def test_page_works_in_a_real_browser(browser, site_url, axe, page):
    name = page.replace("/", "__")
    ink, record = {}, {"page": page}
    for mode in MODES:
        context, tab, errors = open_page(browser, site_url, page, mode)
        typeset = check_reading(tab, page, mode)
        if mode == "light" and page in CHAPTERS:
            check_launch_and_download(context, tab, page)
        figures = tab.locator(FIGURES)
        alts = [figures.nth(i).get_attribute("alt") for i in range(figures.count())]
        unnamed = [a for a in alts if not describes(a)]
        assert not unnamed, f"{page}: figures whose alt text does not describe them: {unnamed}"
        ink[mode] = [ink_share(screenshot_rgb(figures.nth(i))) for i in range(figures.count())]

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.evaluate("window.scrollTo(0, 0)")
        suffix = "" if mode == "light" else "__dark"  # the light one is the README's picture
        tab.screenshot(path=str(SCREENSHOTS / f"{name}{suffix}.png"))
        # Errors are read before axe runs: whatever the scan logs is not the page's doing.
        assert not errors, f"{page} ({mode}): console or page errors {errors}"
        violations = axe(tab, {"exclude": [[CODE]]})
        failing = failures(violations)
        assert not failing, f"{page} ({mode}): accessibility violations {failing}"
        # What was verified, for the record (not committed).
        record[mode] = {"images": tab.evaluate("document.images.length"), "figures": len(alts),
                        "math_typeset": typeset, "ink": [round(s, 4) for s in ink[mode]],
                        "axe": {v["id"]: v["impact"] for v in violations}}
        context.close()
    (SCREENSHOTS / f"{name}.json").write_text(json.dumps(record))

    for i, (light, dark) in enumerate(zip(ink["light"], ink["dark"])):
        assert light >= MIN_INK, f"{page}: figure {i} has almost no legible ink ({light:.4f})"
        assert dark >= KEPT_IN_DARK * light, (
            f"{page}: figure {i} loses its contrast in dark mode (ink {light:.4f} -> {dark:.4f})")


@pytest.mark.parametrize("mode", MODES)
def test_code_colours_have_contrast(browser, site_url, built_site, axe, mode):
    classes = set()
    for html in built_site.glob("notebooks/*.html"):
        for block in re.findall(r'<div class="highlight"><pre>(.*?)</pre>', html.read_text(), re.S):
            classes |= set(re.findall(r'<span class="(\w+)"', block))
    assert len(classes) > 10, classes  # keywords, names, numbers, strings, comments, ...
    context, tab, errors = open_page(browser, site_url, CHAPTERS[0], mode)
    # The first code block of the page, with one line in each token class appended.
    tab.evaluate("""classes => {
        const pre = document.querySelector("div.highlight pre");
        for (const c of classes) {
            const token = document.createElement("span");
            token.className = c;
            token.textContent = "\\n" + c;
            pre.appendChild(token);
        }
        pre.closest("div.highlight").id = "token-sample";
    }""", sorted(classes))
    failing = failures(axe(tab, {"include": [["#token-sample"]]}))
    assert not failing, f"code in {mode} mode: {failing}"
    assert not errors
    context.close()


def test_the_colour_mode_switch_works(browser, site_url):
    # A reader whose system is light clicks the theme's switch: the page turns dark, and stays
    # dark on the next page they open.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    tab = context.new_page()
    tab.goto(f"{site_url}/{PAGES[0]}.html", wait_until="load")
    assert tab.evaluate("document.documentElement.dataset.theme") == "light"
    tab.locator(".theme-switch-button:visible").first.click()
    assert tab.evaluate("document.documentElement.dataset.theme") == "dark"
    tab.goto(f"{site_url}/{CHAPTERS[0]}.html", wait_until="load")
    assert tab.evaluate("document.documentElement.dataset.theme") == "dark"
    context.close()
