"""tconv_utils.notebook.glue: values reach MyST-NB where it is installed, and cells still run
where it is not (Colab)."""
import sys

import pytest

from tconv_utils.notebook import glue


def test_glue_hands_the_value_to_myst_nb(monkeypatch):
    calls = []
    import myst_nb

    monkeypatch.setattr(myst_nb, "glue", lambda *args, **kw: calls.append((args, kw)))
    assert glue("n_rows", "39") is None
    assert calls == [(("n_rows", "39"), {"display": False})]


def test_glue_without_myst_nb_stores_nothing_and_the_cell_runs(monkeypatch):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # import myst_nb now raises ImportError
    assert glue("psnr", "19.4") is None


@pytest.mark.parametrize("name", ["", "two words", "1st", None, 3])
def test_glue_refuses_a_name_the_role_cannot_quote(name):
    with pytest.raises(ValueError, match="name must be an identifier"):
        glue(name, 1)
