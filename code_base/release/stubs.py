"""Stubs from the syntax tree: the solution's files with the students' functions left to write.

Driven by :data:`code_base.check.manifest.TASKS`, not by markers in the code: the solution reads
as it does, and :func:`release_source` turns one file of it into the student's file by

1. deleting the fast-kernel dispatches: an ``if`` whose test names ``fast`` and whose body is one
   ``return fast...`` statement, and the ``from . import fast`` line with the comment block
   right above it (the release has no :mod:`code_base.fast`);
2. replacing the body of each task's function, after its docstring and its first ``keep``
   statements, by a TODO, a hint and ``raise NotImplementedError(stub_message)``;
3. deleting private module-level helpers (``_name``) that nothing in the file uses any more.

Everything else stays byte for byte: edits are made on line ranges taken from the tree.
"""

import ast
import textwrap

from ..check.manifest import stub_message
from ..check.stubs import find_function

__all__ = ["ManifestError", "release_source", "is_fast_dispatch"]


class ManifestError(ValueError):
    """A manifest entry that no longer matches the code (one line)."""


def _names(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def is_fast_dispatch(node):
    """``if <test naming fast>: return fast.<kernel>(...)`` (comments allowed, nothing else)."""
    return (isinstance(node, ast.If) and not node.orelse and "fast" in _names(node.test)
            and len(node.body) == 1 and isinstance(node.body[0], ast.Return)
            and "fast" in _names(node.body[0]))


def _is_fast_import(node):
    return (isinstance(node, ast.ImportFrom) and node.level > 0 and not node.module
            and [a.name for a in node.names] == ["fast"])


def _delete(lines, ranges):
    """lines without the 0-based half-open ranges (non-overlapping)."""
    for start, stop in sorted(ranges, reverse=True):
        del lines[start:stop]
    return lines


def _drop_fast(text, path):
    lines = text.splitlines(keepends=True)
    ranges = []
    for node in ast.walk(ast.parse(text, path)):
        if _is_fast_import(node):
            start = node.lineno - 1
            while start > 0 and lines[start - 1].lstrip().startswith("#"):
                start -= 1  # the comment block that explains the import goes with it
            ranges.append((start, node.end_lineno))
        elif is_fast_dispatch(node):
            ranges.append((node.lineno - 1, node.end_lineno))
    return "".join(_delete(lines, ranges))


def _stub_lines(task, indent, width=99):
    pad = " " * indent
    lines = []
    for label, text in (("TODO", task.todo), ("Hint", task.hint)):
        lines += textwrap.wrap(f"{label}: {text}", width - indent - 2, initial_indent="# ",
                               subsequent_indent="#   ")
    message = f"{pad}raise NotImplementedError({stub_message(task)!r})"
    if len(message) > width:
        message = f"{pad}raise NotImplementedError(\n{pad}    {stub_message(task)!r})"
    return [pad + line + "\n" for line in lines] + [message.replace("'", '"') + "\n"]


def _stub(text, tasks, path):
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text, path)
    edits = []
    for task in tasks:
        node = find_function(tree, task.qualname)
        if node is None:
            raise ManifestError(f"manifest: {task.name} names {task.qualname} in {task.path}, "
                                f"which has no such function")
        body = node.body
        has_doc = (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                   and isinstance(body[0].value.value, str))
        kept = body[int(has_doc):][: task.keep]
        rest = body[int(has_doc) + len(kept):]
        if len(kept) < task.keep or not rest:
            raise ManifestError(f"manifest: {task.name} keeps {task.keep} statements of "
                                f"{task.qualname}, which leaves nothing to write")
        edits.append((rest[0].lineno - 1, rest[-1].end_lineno, _stub_lines(task, rest[0].col_offset)))
    for start, stop, new in sorted(edits, reverse=True):
        lines[start:stop] = new
    return "".join(lines)


def _drop_unused_helpers(text, path):
    """Delete module-level private functions no other code of the file refers to, until none."""
    while True:
        tree = ast.parse(text, path)
        helpers = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("_")]
        used = set()
        for node in tree.body:
            refs = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            refs |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
            used |= refs - ({node.name} if isinstance(node, ast.FunctionDef) else set())
        unused = [n for n in helpers if n.name not in used]
        if not unused:
            return text
        lines = text.splitlines(keepends=True)
        ranges = []
        for n in unused:
            start = min([n.lineno] + [d.lineno for d in n.decorator_list]) - 1
            stop = n.end_lineno
            while stop < len(lines) and not lines[stop].strip():
                stop += 1  # the blank lines after it
            ranges.append((start, stop))
        text = "".join(_delete(lines, ranges))


def release_source(text, tasks, path="<file>"):
    """The student's version of one file: fast dispatches dropped, `tasks` stubbed, orphans gone."""
    text = _drop_fast(text, path)
    if tasks:
        text = _stub(text, tasks, path)
        text = _drop_unused_helpers(text, path)
    return text
