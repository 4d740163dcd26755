"""Every notebook opens with the setup cell that the sync script writes."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("sync_setup_cell",
                                              ROOT / "book" / "_tools" / "sync_setup_cell.py")
sync_setup_cell = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sync_setup_cell)


def test_every_notebook_has_the_current_setup_cell():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    assert sync_setup_cell.sync(notebooks, write=False) == []


def test_setup_cell_installs_from_the_configured_repository():
    source = sync_setup_cell.setup_source()
    assert "git+" + sync_setup_cell.repository_url() in source
    assert 'os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"' in source
