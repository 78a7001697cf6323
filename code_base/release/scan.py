"""The leak scan: nothing of the answers may reach the kit.

Secrets are normalised source lines (stripped, white space folded; blank, comment-only and
short lines left out) of the stubbed function bodies, of code_base/fast, of the class grader's
synthetic students, and of the test suite's naive references; the numbers of the solution's
output_files/; and the lines of the best net's config.  Lines the kit's own code also holds
(given code, such as an argument check shared with a stub) are not secrets.  Every text file of
the kit is searched: code, notebooks, READMEs.
"""

import ast
import re
from pathlib import Path
from typing import NamedTuple

from ..check.manifest import TASKS
from ..check.stubs import find_function

__all__ = ["Leak", "secrets", "scan"]

NUMBER = r"-?\d+\.\d{6,}(?:e[-+]?\d+)?"  # a value written with six decimals or more
MIN_CHARS = 16  # shorter lines (`return dx`, `N = x.shape[0]`) say nothing of an answer
SOURCES = ("code_base/fast/*.py", "code_base/submission/classgrade/mistakes.py",
           "code_base/submission/classgrade/synthetic.py", "code_base/check/mistake_models.py")
CONFIGS = ("configs/best.json", "runs/best/config.json")


class Leak(NamedTuple):
    path: str
    line: int
    what: str  # where the secret comes from


def normalise(line):
    line = " ".join(line.strip().split())
    if len(line) < MIN_CHARS or line.startswith("#") or not re.search(r"[A-Za-z0-9]", line):
        return None
    return line


def _lines(text):
    return {n for n in map(normalise, text.splitlines()) if n}


def _stubbed_bodies(root):
    for t in TASKS:
        text = (root / t.path).read_text(encoding="utf-8")
        node = find_function(ast.parse(text), t.qualname)
        lines = text.splitlines()
        doc = 1 if isinstance(node.body[0], ast.Expr) else 0
        body = node.body[doc + t.keep:]
        yield t.name, "\n".join(lines[body[0].lineno - 1 : body[-1].end_lineno])


def _naive_references(root):
    for path in sorted((root / "tests").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("naive"):
                yield f"tests/{path.name}:{node.name}", ast.get_source_segment(text, node)


def secrets(root, kit_code_lines=frozenset()):
    """{normalised line or number: where it comes from}."""
    root = Path(root)
    found = {}
    pieces = list(_stubbed_bodies(root)) + list(_naive_references(root))
    for pattern in SOURCES + CONFIGS:
        pieces += [(p.relative_to(root).as_posix(), p.read_text(encoding="utf-8"))
                   for p in sorted(root.glob(pattern))]
    for what, text in pieces:
        for line in _lines(text) - kit_code_lines:
            found.setdefault(line, what)
    given = set()  # an output equal to an input (dropout's test mode) tells nothing
    for path in sorted((root / "input_files").glob("*.csv")):
        given.update(re.findall(NUMBER, path.read_text()))
    for path in sorted((root / "output_files").glob("*.csv")):
        for number in set(re.findall(NUMBER, path.read_text())) - given:
            found.setdefault(number, f"output_files/{path.name}")
    return found


def scan(kit):
    """The leaks in the kit folder: [Leak], empty when clean.

    Lines that are not secrets (given code shared with a stub) are those of a clean build's code,
    not of the kit scanned: a body pasted into the kit's own code is still found."""
    kit = Path(kit)
    texts = {}
    for path in sorted(kit.rglob("*")):
        if path.is_file() and path.suffix not in (".jpg", ".png", ".pdf", ".zip"):
            texts[path.relative_to(kit).as_posix()] = path.read_text(encoding="utf-8")
    from .build import REPO, kit_files
    kit_code = set()
    for rel, data in kit_files(REPO).items():
        if rel.startswith("code_base/") and rel.endswith(".py"):
            kit_code |= _lines(data.decode("utf-8"))
    table = secrets(REPO, frozenset(kit_code))
    numbers = {k: v for k, v in table.items() if re.fullmatch(NUMBER, k)}
    leaks = []
    for rel, text in texts.items():
        for i, raw in enumerate(text.splitlines(), 1):
            line = normalise(raw.lstrip("#").lstrip('"').rstrip('",'))
            if line and line in table and line not in numbers:
                leaks.append(Leak(rel, i, table[line]))
            for number in re.findall(NUMBER, raw):
                if number in numbers:
                    leaks.append(Leak(rel, i, numbers[number]))
    return leaks
