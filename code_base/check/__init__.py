"""The student's check: which of the assignment's functions pass, on public cases.

    python -m code_base.check [NAME ...] [-v]       (or `make check`)

:mod:`.runner` runs it: one line per function, PASS, FAIL or TODO.  :mod:`.layer_checks` and
:mod:`.model_checks` hold the cases; :mod:`.cases` the small fixed cases and ``expected.json``;
:mod:`.hints` the known mistakes, recomputed; :mod:`.calls` the assignment's six calls, shared
with the grader.  :mod:`.manifest` lists the functions a student writes (the release stubs
exactly these); :mod:`.reference` holds the assignment's published reference values;
:mod:`.notebook` is the IPython extension the chapters load (check cells, and cells that need an
unwritten function).
"""
