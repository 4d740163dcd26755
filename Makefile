# The two commands of the README: `make book` and `make test`. Both create .venv when absent.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NB     ?= notebooks/*.ipynb

.PHONY: book test test-jax pdf test-latest check-requirements execute setup-cells screenshot mutation clean

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

# The JAX and Flax property checks (tests/jax_bridge_checks.py), outside `make test`: XLA's CPU
# compiler aborts the process in some runs (see that file). One code-generation thread is a guess
# at the race, not a proven cure.
test-jax: $(STAMP)
	XLA_FLAGS=--xla_cpu_parallel_codegen_split_count=1 $(BIN)/python -m pytest -p no:cacheprovider \
	    -p no:xdist -o addopts= -q tests/jax_bridge_checks.py

# The whole book as one PDF, without LaTeX: the single-page HTML build printed by Chromium
# (book/_tools/print_pdf.py). The intro page links to book.pdf at the website's root.
pdf: book
	$(BIN)/jupyter-book build . -W -n --keep-going --builder custom --custom-builder singlehtml
	$(BIN)/python book/_tools/print_pdf.py _build/singlehtml _build/pdf/book.pdf
	cp _build/pdf/book.pdf _build/html/book.pdf

# Tomorrow's versions: a second environment on Python 3.12 (Colab's) with the newest torch,
# TensorFlow/Keras, NumPy, SciPy, Matplotlib, scikit-learn, pandas, JAX/Flax and ONNX (Runtime)
# the index offers (no pins; the test tools keep their pins), running every notebook under nbval
# in lax mode: a cell that raises fails, outputs are not compared (they may change with
# versions). Not in `make test`.
VENV_LATEST   := .venv-latest
PYTHON_LATEST ?= $(firstword $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12; \
                   do "$$p" --version >/dev/null 2>&1 && echo "$$p"; done))
test-latest:
	@test -n "$(PYTHON_LATEST)" || { echo "test-latest needs python3.12 (PYTHON_LATEST=...)"; exit 1; }
	test -x $(VENV_LATEST)/bin/python || $(PYTHON_LATEST) -m venv $(VENV_LATEST)
	$(VENV_LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_LATEST)/bin/python -m pip install --quiet --upgrade torch tensorflow numpy scipy \
	    matplotlib scikit-learn pandas jax flax onnx onnxruntime onnxscript \
	    $$(grep -E '^(nbval|pytest|ipykernel|nbclient)==' requirements.txt)
	$(VENV_LATEST)/bin/python -m pip install --quiet --no-deps -e .
	$(VENV_LATEST)/bin/python --version
	$(VENV_LATEST)/bin/python -m pip list 2>/dev/null | grep -iE '^(torch|tensorflow|keras|numpy|scipy|matplotlib|scikit-learn|pandas|jax|flax|onnx|onnxruntime) '
	$(VENV_LATEST)/bin/python -m pytest -p no:cacheprovider -o addopts="" --nbval-lax \
	    --nbval-current-env notebooks/

# Does requirements.txt resolve on the machines readers have? uv evaluates the environment
# markers for each target platform (pip's --platform reads them from this machine), wheels only.
# Needs PyPI, takes a minute; not in `make test`. The README records the last result.
PLATFORMS := x86_64-manylinux_2_28 aarch64-manylinux_2_28 aarch64-apple-darwin x86_64-pc-windows-msvc
check-requirements: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[maintainer]"
	for platform in $(PLATFORMS); do for python in 3.11 3.12 3.13; do \
	    MACOSX_DEPLOYMENT_TARGET=14.0 $(BIN)/uv pip compile --quiet --only-binary :all: \
	        --python-platform $$platform --python-version $$python requirements.txt -o /dev/null \
	    && echo "resolves: $$platform, Python $$python" || exit 1; done; done

# The only way notebook outputs are regenerated: run every cell in a fresh kernel, in order,
# each cell's printed text stored as one output (book/_tools/execute_notebook.py).
# One notebook at a time (the machine has two cores): make execute NB=notebooks/02_manual_loop.ipynb
execute: $(STAMP)
	$(BIN)/python book/_tools/sync_setup_cell.py --write
	$(BIN)/python book/_tools/execute_notebook.py $(NB)

setup-cells: $(STAMP)
	$(BIN)/python book/_tools/sync_setup_cell.py --write

# Refresh the README's screenshot from the browser test's picture of the intro page.
screenshot: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider -o addopts="" tests/test_browser.py -k intro -q
	cp _build/screenshots/book__intro.png book/_static/screenshot.png

# Mutation testing, not part of `make test` (hours on two cores): mutmut plants one bug at a time
# in tconv_utils and runs the library tests that call the changed function ([tool.mutmut] in
# pyproject.toml). Results accumulate in mutants/ and a rerun resumes; `rm -rf mutants` starts
# afresh. One module: make mutation MUTANTS='tconv_utils.reference.*'
MUTANTS ?=
# The report, one line per module; score = (killed + timeout) / mutants with a verdict.
MUTATION_REPORT := { key = $$1; sub(/:$$/, "", key); st = $$2 (NF > 2 ? " " $$3 : ""); m = key; \
  sub(/\.x(_|ǁ).*/, "", m); sub(/^tconv_utils\.?/, "", m); m = (m == "" ? "__init__" : m); \
  if (!(m in n)) mods[++k] = m; n[m]++; n["ALL"]++; s[m, st]++; s["ALL", st]++ } \
  END { for (i = 2; i <= k; i++) for (j = i; j > 1 && mods[j-1] > mods[j]; j--) { \
      t = mods[j]; mods[j] = mods[j-1]; mods[j-1] = t }; mods[++k] = "ALL"; \
    printf "%-13s %7s %7s %8s %8s %7s %6s\n", "module", "mutants", "killed", "survived", \
      "no tests", "timeout", "score"; \
    for (i = 1; i <= k; i++) { m = mods[i]; kt = s[m, "killed"] + s[m, "timeout"]; \
      d = kt + s[m, "survived"] + s[m, "no tests"]; \
      printf "%-13s %7d %7d %8d %8d %7d %5.1f%%\n", m, n[m], s[m, "killed"], s[m, "survived"], \
        s[m, "no tests"], s[m, "timeout"], d ? 100 * kt / d : 0 } }

$(VENV)/.mutation-installed: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[mutation]'
	touch $@

mutation: $(VENV)/.mutation-installed
	TCONV_MAX_EXAMPLES=10 nice -n 19 $(BIN)/mutmut run --max-children 1 $(MUTANTS)
	$(BIN)/mutmut results --all true | awk '$(MUTATION_REPORT)'

clean:
	rm -rf _build
