"""Whether a function a student writes is still the release's stub, read from its file on disk."""

import ast
from pathlib import Path

from .manifest import task

__all__ = ["find_function", "is_stub"]

_ROOT = Path(__file__).resolve().parents[2]


def find_function(tree, qualname):
    """The (last) function or method `qualname` ("f" or "Class.f") of a module's tree, or None."""
    node = tree
    for part in qualname.split("."):
        found = [n for n in getattr(node, "body", [])
                 if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part]
        if not found:
            return None
        node = found[-1]
    return node if isinstance(node, ast.FunctionDef) else None


def _raises_not_implemented(statement):
    if not isinstance(statement, ast.Raise) or statement.exc is None:
        return False
    exc = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def is_stub(name, root=_ROOT):
    """True when task `name`'s function, as its file reads now, ends in raise NotImplementedError."""
    t = task(name)
    tree = ast.parse((Path(root) / t.path).read_text(encoding="utf-8"))
    node = find_function(tree, t.qualname)
    return node is not None and _raises_not_implemented(node.body[-1])
