"""The student release: the kit built from this solution (build), and its proof (verify).

``python -m code_base.release build --out DIR`` and ``python -m code_base.release verify``;
see docs/release.md.
"""
