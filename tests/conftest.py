"""Fixtures shared by the book tests: one build of the website per test session, the site served
on 127.0.0.1, a headless Chromium and an axe-core scan (for the browser tests: without Chromium
they are skipped with one line saying how to install it, and fail in CI)."""
import functools
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The maintainer tools that the tests drive too (book_browser, print_pdf).
sys.path.insert(0, str(ROOT / "book" / "_tools"))
import book_browser  # noqa: E402
import vector_instructions  # noqa: E402


def build_book(out, *builder):
    """`jupyter-book build` of the repository into `out` (warnings and broken references are
    errors); returns the `_build` folder."""
    jb = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(jb), "build", str(ROOT), "-W", "-n", "--keep-going",
                             "--path-output", str(out), *builder], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return out / "_build"


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """Build the book (warnings and broken references are errors); return its html folder."""
    return build_book(tmp_path_factory.mktemp("book")) / "html"


@pytest.fixture(scope="session")
def built_singlehtml(tmp_path_factory):
    """The whole book as one HTML page, the source of the PDF; returns its folder."""
    out = tmp_path_factory.mktemp("singlehtml")
    return build_book(out, "--builder", "custom", "--custom-builder", "singlehtml") / "singlehtml"


@pytest.fixture(scope="session")
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


def chromium_path():
    return book_browser.chromium_path()


@pytest.fixture(scope="session")
def browser():
    if chromium_path() is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs Chromium for the browser tests: {book_browser.INSTALL}")
        pytest.skip(f"browser test skipped: no Chromium (install it with: {book_browser.INSTALL})")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = book_browser.launch(p)
        yield b
        b.close()


@pytest.fixture(scope="session")
def axe():
    """`axe(tab, context=None)`: the axe-core violations on the page open in `tab` (or in the
    part that the axe `context` selects, e.g. {"exclude": [["div.highlight"]]}), as axe reports
    them: dicts with "id", "impact", "help" and "nodes". The test decides which impacts fail."""
    from axe_playwright_python.sync_playwright import Axe

    scanner = Axe()

    def scan(tab, context=None):
        # preload off: axe then fetches no stylesheet itself. Its fetch resolves the theme's
        # `@import "../basic.css"` against the page instead of the stylesheet, and the 404 would
        # show as a console error of the page. Only the experimental rule css-orientation-lock
        # reads those stylesheets, and experimental rules are off by default.
        options = {"resultTypes": ["violations"], "preload": False}
        return scanner.run(tab, context=context, options=options).response["violations"]

    return scan


# How `make test` shares its tests between two pytest-xdist workers (`-n 2 --dist loadscope`).
# xdist hands out *scopes*, each run whole on one worker. The cells of one notebook form a scope
# (they run in order in one kernel); each page of the browser test is a scope, so the pages spread
# over both workers (each worker builds the website once, the first time one of its tests needs
# it); every other test module is a scope. Scopes are chosen from the test id, because
# ``--dist loadgroup``, which reads marks, groups nothing under pytest 9.2 (pytest-xdist #1386).

def scope_of(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return nodeid if path == "tests/test_browser.py" else path  # a notebook, or a test module


# The scopes that take a minute or more go out first: a long one handed out last would leave
# the other worker idle while it runs (measured: 12 min with the notebooks last, on two cores).
LONG_FIRST = ("notebooks/", "tests/test_pdf.py")


def pytest_collection_modifyitems(config, items):
    def rank(item):
        path = item.nodeid.split("::", 1)[0]
        return next((i for i, prefix in enumerate(LONG_FIRST) if path.startswith(prefix)),
                    len(LONG_FIRST))

    items.sort(key=rank)  # stable: a notebook's cells keep their order


def pytest_configure(config):
    # Before any worker or notebook kernel starts, so that all of them, and what they start,
    # compute with the vector instructions of tests/vector_instructions.py.
    os.environ.update(vector_instructions.restriction())


@pytest.hookimpl(optionalhook=True)  # a hook of xdist: absent when xdist is not loaded
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class BookScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return scope_of(nodeid)

    return BookScheduling(config, log)
