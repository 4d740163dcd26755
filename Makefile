# The two commands of the README: `make book` and `make test`. Both create .venv when absent.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NB     ?= notebooks/*.ipynb

.PHONY: book test execute setup-cells screenshot clean

# Reinstall when the pins or the package metadata change.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "The book: $(CURDIR)/_build/html/index.html"

test: $(STAMP)
	$(BIN)/python -m pytest

# The only way notebook outputs are regenerated: run every cell in a fresh kernel, in order.
# One notebook at a time (the machine has two cores): make execute NB=notebooks/02_manual_loop.ipynb
execute: $(STAMP)
	$(BIN)/python book/_tools/sync_setup_cell.py --write
	for nb in $(NB); do echo "executing $$nb"; $(BIN)/jupyter execute --inplace "$$nb" || exit 1; done

setup-cells: $(STAMP)
	$(BIN)/python book/_tools/sync_setup_cell.py --write

# Refresh the README's screenshot from the browser test's picture of the intro page.
screenshot: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider -o addopts="" tests/test_browser.py -k intro -q
	cp _build/screenshots/book__intro.png book/_static/screenshot.png

clean:
	rm -rf _build
