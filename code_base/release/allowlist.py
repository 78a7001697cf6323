"""What the student kit holds: an allowlist of the solution's files, and the files made for it.

Nothing is shipped because it is not excluded: a file reaches the kit only through a pattern
below.  Left out on purpose: code_base/fast (it computes the students' functions),
code_base/training and configs/ and runs/ (the best net is a deliverable),
code_base/submission/classgrade (the class grader and its synthetic students), code_base/release,
the tests (their naive references), output_files/ (the solution's answers), chapters 06-07, the
instructor notebook and the report (templates of their own are made instead).
"""

__all__ = ["SHIPPED", "STUDENT_NOTEBOOKS", "MADE"]

# (glob, relative to the repository root); each must match at least one file.
SHIPPED = (
    "code_base/*.py",
    "code_base/classifiers/*.py",
    "code_base/utils/*.py",
    # The check, but not check/mistake_models.py: its loops recompute mistakes from a correct
    # conv and pool (the kit's check reads the mistakes' outputs from expected.json instead).
    *(f"code_base/check/{name}.py" for name in (
        "__init__", "__main__", "calls", "cases", "hints", "layer_checks", "manifest",
        "model_checks", "notebook", "reference", "runner", "stubs")),
    "code_base/check/expected.json",
    "code_base/submission/*.py",
    "input_files/*.csv",
    "kitten.jpg", "puppy.jpg",
    "LICENSE", "NOTICE.md", "requirements.txt", "pyproject.toml", "jupytext.toml",
    "jupyter-config/jupyter_server_config.py", "jupyter-config/labconfig/*.json",
    "tools/lab.sh", "tools/notebook_clean.py",
    "notebooks/jupytext.toml", "notebooks/sanitize.cfg",  # the kit's pytest runs the chapters
)

# Chapters shipped as .py (SOLUTION-ONLY cells dropped) plus a paired .ipynb without outputs.
STUDENT_NOTEBOOKS = (
    "notebooks/01_convolution.py",
    "notebooks/02_pooling_and_sandwich.py",
    "notebooks/03_three_layer_convnet.py",
    "notebooks/04_dropout.py",
    "notebooks/05_submission.py",
)

# Made for the kit (from code_base/release/kit/, or computed): path in the kit.
MADE = (
    "README.md", "Makefile", ".gitignore", "output_files/README.md",
    "notebooks/06_best_net.py", "notebooks/06_best_net.ipynb",
    "notebooks/report.py", "notebooks/report.ipynb",
    "code_base/RELEASE.json",
)
