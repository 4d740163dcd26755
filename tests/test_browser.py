"""Open every page of the built website in headless Chromium, as a reader would.

Chromium is Debian's package (`apt-get install chromium`), driven by Playwright's Python
package through `executable_path`, so Playwright downloads no browser of its own. Locally a
missing Chromium skips these tests with one line saying how to install it; in CI (CI=true) it is
a failure.
"""
import functools
import http.server
import json
import os
import shutil
import threading
import urllib.parse
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# sphinx-thebe (which Jupyter Book 1 always loads) includes its script twice on every page; the
# second copy redeclares a `const`. It is the one page error tolerated, and only this one.
KNOWN_PAGE_ERROR = "Identifier 'THEBE_JS_URL' has already been declared"

if CHROMIUM is None:
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError("CI needs Chromium for the browser test: apt-get install -y chromium")
    pytest.skip("browser test skipped: no Chromium (install it with: sudo apt-get install -y chromium)",
                allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402


def toc_pages():
    """Every page of _toc.yml, as a path relative to the site root without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part["chapters"]]
    return [str(Path(p).with_suffix("")) for p in pages]


PAGES = toc_pages()
CHAPTERS = [p for p in PAGES if p.startswith("notebooks/")]


@pytest.fixture(scope="module")
def site_url(built_site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built_site))

    class QuietHandler(handler.func):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(QuietHandler, directory=str(built_site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        # The flags keep Chromium from calling home: this machine has no network beyond loopback.
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def test_every_chapter_is_in_the_toc():
    on_disk = {f"notebooks/{p.stem}" for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert on_disk == set(CHAPTERS)


@pytest.mark.parametrize("page", PAGES)
def test_page_works_in_a_real_browser(browser, site_url, page):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    console_errors, page_errors = [], []
    tab.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda err: page_errors.append(str(err)))

    response = tab.goto(f"{site_url}/{page}.html", wait_until="load")
    assert response is not None and response.ok, f"{page}: HTTP {response and response.status}"

    # Math: wait until MathJax has typeset the page, then no TeX source may be left visible.
    n_math = tab.locator(".math").count()
    if n_math:
        tab.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
        tab.evaluate("MathJax.startup.promise")
        typeset = tab.locator(".math mjx-container").count()
        assert typeset >= n_math, f"{page}: {typeset} of {n_math} math elements typeset"
        errors = tab.locator("mjx-merror").count()  # MathJax's red box for TeX it cannot parse
        assert errors == 0, f"{page}: {errors} formulas MathJax could not typeset"
        text = tab.locator("article").inner_text()
        assert "$$" not in text and "\\(" not in text and "\\[" not in text, f"{page}: raw TeX left"

    else:
        typeset = 0

    # Images: scroll through the page so lazy images load, then each must have pixels.
    tab.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    tab.wait_for_load_state("networkidle")
    tab.wait_for_function("Array.from(document.images).every(i => i.complete)")
    broken = tab.evaluate("Array.from(document.images).filter(i => i.naturalWidth === 0)"
                          ".map(i => i.src)")
    assert not broken, f"{page}: images that did not load: {broken}"

    # The sidebar links to every chapter.
    hrefs = tab.eval_on_selector_all("nav.bd-links a", "els => els.map(e => e.href)")
    linked = {urllib.parse.urlparse(h).path.lstrip("/").removesuffix(".html") for h in hrefs}
    missing = [c for c in CHAPTERS if c not in linked]
    assert not missing, f"{page}: sidebar lacks {missing}"

    if page.startswith("notebooks/"):
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

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.evaluate("window.scrollTo(0, 0)")
    name = page.replace("/", "__")
    tab.screenshot(path=str(SCREENSHOTS / (name + ".png")))
    # What was verified on this page, for the record (not committed).
    n_images = tab.evaluate("document.images.length")
    (SCREENSHOTS / (name + ".json")).write_text(json.dumps(
        {"page": page, "images": n_images, "math_typeset": typeset}))
    context.close()

    unexpected = [e for e in page_errors if KNOWN_PAGE_ERROR not in e]
    assert not unexpected, f"{page}: page errors {unexpected}"
    unexpected = [e for e in console_errors if KNOWN_PAGE_ERROR not in e]
    assert not unexpected, f"{page}: console errors {unexpected}"
