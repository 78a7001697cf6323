"""The notebooks' TeX renders the same in JupyterLab (MathJax 3), nbconvert's HTML (MathJax 2) and
the report's PDF (XeTeX).

Two constructs do not: macros inside text mode (MathJax shows `\\text{conv\\_backward}` with its
backslash), and `\\operatorname` around anything but letters (MathJax spaces out `col2im` as
"col 2 im" and drops the blanks of `argmax of window`). The browser test checks the rendering in
Lab; this checks the sources, for every renderer.
"""

import re
from pathlib import Path

import jupytext
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.py"))
TEXT_MODE = re.compile(r"\\text(?:rm|it|bf|sf|tt)?\{([^{}]*)\}")
OPERATOR_NAME = re.compile(r"\\operatorname\*?\{([^{}]*)\}")


def markdown(path):
    return "\n".join(c.source for c in jupytext.read(path).cells if c.cell_type == "markdown")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_math_uses_only_portable_tex(path):
    text = markdown(path)
    macros_in_text = [m.group(0) for m in TEXT_MODE.finditer(text) if "\\" in m.group(1)]
    odd_operators = [m.group(0) for m in OPERATOR_NAME.finditer(text)
                     if not m.group(1).isalpha()]
    assert macros_in_text == [] and odd_operators == []


def test_the_checks_find_the_old_defects():
    old = r"$\text{conv\_backward}$, $\operatorname{col2im}$, $\operatorname{argmax of window}$"
    assert [m.group(0) for m in TEXT_MODE.finditer(old) if "\\" in m.group(1)] == [
        r"\text{conv\_backward}"]
    assert [m.group(1) for m in OPERATOR_NAME.finditer(old) if not m.group(1).isalpha()] == [
        "col2im", "argmax of window"]
