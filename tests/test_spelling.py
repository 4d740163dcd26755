"""Spelling of what readers read: the notebooks' markdown cells, book/ and README.md, checked by
codespell (a list of common misspellings, so names and code rarely trip it). The words of this
project that it would take for typos are listed in pyproject.toml under [tool.codespell]."""
import json
from pathlib import Path

from codespell_lib import main as codespell

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ["--toml", str(ROOT / "pyproject.toml")]
FOUND_TYPOS = 65  # codespell's exit status when it finds a misspelling (0 when none)


def markdown_of_notebooks(folder):
    """Each notebook's markdown cells as `folder/<notebook>.md`, so a typo names its chapter."""
    files = []
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        text = "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        files.append(folder / f"{notebook.stem}.md")
        files[-1].write_text(text)
    return files


def test_no_misspellings_in_the_prose(tmp_path, capsys):
    files = markdown_of_notebooks(tmp_path) + [ROOT / "book", ROOT / "README.md"]
    status = codespell(*CONFIG, *map(str, files))
    assert status == 0, capsys.readouterr().out


def test_codespell_finds_a_typo_with_this_configuration(tmp_path, capsys):
    # The word list must not switch the check off.
    (tmp_path / "typo.md").write_text("The output is teh scatter of every input cell.\n")
    assert codespell(*CONFIG, str(tmp_path / "typo.md")) == FOUND_TYPOS
    assert "teh ==> the" in capsys.readouterr().out
