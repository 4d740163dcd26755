"""`make execute` stores each cell's printed text as one output, however the kernel flushed it."""
import importlib.util
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("execute_notebook",
                                              ROOT / "book" / "_tools" / "execute_notebook.py")
execute_notebook = importlib.util.module_from_spec(spec)
spec.loader.exec_module(execute_notebook)


def test_a_cell_stores_one_stdout_output(tmp_path):
    # The pause makes the kernel send the two prints as separate messages.
    source = 'import time\nprint("first", flush=True)\ntime.sleep(0.5)\nprint("second")'
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = tmp_path / "two_prints.ipynb"
    nbformat.write(nb, path)
    assert execute_notebook.main([str(path)]) == 0
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    assert [(o.output_type, o.name, o.text) for o in outputs] == [
        ("stream", "stdout", "first\nsecond\n")]
