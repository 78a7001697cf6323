"""The package's shape: no import cycle, imports flowing one way, modest sizes, public notebooks.

The import graph is read from the source (ast), not from sys.modules, so a cycle is found even
where Python's import order happens to tolerate it.
"""

import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "code_base"

# Groups from the bottom up; a module may import from its own group or from a lower one.
# training and submission share a rank: neither may import the other.
LAYERS = [
    ({"utils"}, 0),
    ({"geometry", "im2col"}, 1),
    ({"fast"}, 2),
    ({"layers", "layer_utils"}, 3),
    ({"classifiers", "optim", "solver", "solver_checks", "data_utils", "gradient_check",
      "vis_utils"}, 4),
    ({"training"}, 5),
    ({"check"}, 5),
    ({"submission"}, 6),
    ({"release"}, 7),
]
# Packages that are a group of their own (their modules may import each other).
PACKAGES = ("training", "check", "submission", "release", "fast", "utils")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60


def modules(package=PACKAGE):
    """{dotted name: path} of every module of the package."""
    names = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imported_modules(name, path, known):
    """The code_base modules that the module ``name`` at ``path`` imports."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "code_base")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "code_base":
                continue
            # ``from package import submodule`` imports the submodule.
            subs = {f"{target}.{a.name}" for a in node.names} & set(known)
            found.update(subs or {target})
    return {m for m in found if m in known and m != name}


def graph(package=PACKAGE):
    known = modules(package)
    return {name: imported_modules(name, path, known) for name, path in known.items()}


def find_cycles(edges):
    """Tarjan's strongly connected components: each of two or more modules is a cycle."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return cycles


def group_of(name):
    top = name.split(".")[1] if name.count(".") else ""
    for members, rank in LAYERS:
        if top in members:
            return top if top in PACKAGES else frozenset(members), rank
    return None, None


def test_every_module_belongs_to_a_layer():
    unplaced = [m for m in modules() if m != "code_base" and group_of(m)[0] is None]
    assert unplaced == []


def test_no_import_cycle():
    assert find_cycles(graph()) == []


def test_the_cycle_check_finds_a_cycle(tmp_path):
    # The checker itself, on a small package whose modules import each other in a circle.
    fake = tmp_path / "code_base"
    (fake / "sub").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "sub" / "__init__.py").write_text("")
    (fake / "a.py").write_text("from .sub import b\n")
    (fake / "sub" / "b.py").write_text("from ..c import thing\n")
    (fake / "c.py").write_text("import code_base.a\n")
    (fake / "d.py").write_text("from . import c\n")
    edges = graph(fake)
    assert edges["code_base.d"] == {"code_base.c"}
    assert find_cycles(edges) == [["code_base.a", "code_base.c", "code_base.sub.b"]]


def test_imports_flow_one_way():
    wrong = []
    for name, targets in graph().items():
        group, rank = group_of(name)
        for target in targets:
            target_group, target_rank = group_of(target)
            if target == "code_base" or target_group == group:
                continue
            if target_rank >= rank:
                wrong.append(f"{name} -> {target}")
    assert wrong == []


def test_modules_and_functions_are_small():
    big_modules, long_functions = [], []
    for name, path in modules().items():
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            big_modules.append(f"{name} ({len(text.splitlines())} lines)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{name}.{node.name} ({length} lines)")
    assert big_modules == [] and long_functions == []


def notebook_imports():
    for path in sorted((REPO / "notebooks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("code_base"):
                for alias in node.names:
                    yield path.name, node.module, alias.name
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("code_base"):
                        yield path.name, alias.name, None


def test_notebooks_import_only_public_api():
    private = []
    for notebook, module, name in notebook_imports():
        if any(part.startswith("_") for part in module.split(".")):
            private.append(f"{notebook}: {module}")
            continue
        target = importlib.import_module(module)
        public = getattr(target, "__all__", None)
        is_submodule = name is not None and (PACKAGE.joinpath(*module.split(".")[1:], name).is_dir()
                                             or PACKAGE.joinpath(*module.split(".")[1:],
                                                                 f"{name}.py").is_file())
        if name is not None and not is_submodule and (name.startswith("_") or
                                                      (public is not None and name not in public)):
            private.append(f"{notebook}: {module}.{name}")
    assert private == []
