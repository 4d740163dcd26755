"""Chromium for the book's browser tests and its PDF printer: how to start it, and when a page
of the book is ready to be read.

Chromium is Debian's package (`apt-get install chromium`), driven by Playwright's Python package
through `executable_path`, so Playwright downloads no browser of its own.
"""
import shutil

INSTALL = "sudo apt-get install -y chromium"
# Keep Chromium from calling home: the test machines have no network beyond loopback.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path():
    """Chromium's executable, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def launch(playwright):
    """A headless Chromium from a started `sync_playwright()`."""
    path = chromium_path()
    if path is None:
        raise RuntimeError(f"no Chromium: install it with `{INSTALL}`")
    return playwright.chromium.launch(executable_path=path, headless=True, args=ARGS)


def typeset_math(tab):
    """Wait for MathJax; return (math elements, typeset ones, formulas MathJax could not parse)."""
    n_math = tab.locator(".math").count()
    if not n_math:
        return 0, 0, 0
    tab.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
    tab.evaluate("MathJax.startup.promise")
    # mjx-merror is MathJax's red box for TeX it cannot parse.
    return n_math, tab.locator(".math mjx-container").count(), tab.locator("mjx-merror").count()


def load_images(tab):
    """Scroll through the page so lazy images load; return the sources of images without pixels."""
    tab.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    tab.wait_for_load_state("networkidle")
    tab.wait_for_function("Array.from(document.images).every(i => i.complete)")
    return tab.evaluate("Array.from(document.images).filter(i => i.naturalWidth === 0)"
                        ".map(i => i.src)")


def record_errors(tab):
    """A list that collects, from now on, every console error and uncaught exception of `tab`."""
    errors = []
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda err: errors.append(str(err)))
    return errors
