"""Build the student kit from the solution: the same source, the same bytes.

    build(out)  ->  BuildResult(out, files, release)

The kit is written into ``out.partial`` beside ``out`` and renamed into place when whole, so a
failed build leaves nothing half-written; ``out`` must not exist yet (or be an empty folder).
"""

import hashlib
import json
import shutil
from pathlib import Path
from typing import NamedTuple

from ..check.manifest import TASKS
from .allowlist import SHIPPED, STUDENT_NOTEBOOKS
from .notebooks import student_notebook
from .stubs import release_source

__all__ = ["REPO", "BuildError", "BuildResult", "build", "kit_files"]

REPO = Path(__file__).resolve().parents[2]
KIT = Path(__file__).with_name("kit")
# kit template -> path in the kit (notebook templates also get their .ipynb)
TEMPLATES = {"README.md": "README.md", "Makefile": "Makefile", "gitignore": ".gitignore",
             "output_files_README.md": "output_files/README.md",
             "06_best_net.py": "notebooks/06_best_net.py", "report.py": "notebooks/report.py"}


class BuildError(ValueError):
    """The build cannot go on (one line)."""


class BuildResult(NamedTuple):
    out: Path
    files: tuple      # paths in the kit, sorted
    release: str      # the release id written to code_base/RELEASE.json


def _shipped_sources(root):
    found = {}
    for pattern in SHIPPED:
        matches = sorted(p for p in root.glob(pattern) if p.is_file())
        if not matches:
            raise BuildError(f"release: the allowlist pattern {pattern!r} matches no file in {root}")
        for p in matches:
            found[p.relative_to(root).as_posix()] = p
    missing = sorted({t.path for t in TASKS} - set(found))
    if missing:
        raise BuildError(f"release: the manifest's file {missing[0]} is not in the allowlist")
    return found


def kit_files(root=REPO):
    """{path in the kit: bytes}, RELEASE.json included."""
    root = Path(root)
    files = {}
    for rel, path in _shipped_sources(root).items():
        data = path.read_bytes()
        if rel.startswith("code_base/") and rel.endswith(".py"):
            tasks = [t for t in TASKS if t.path == rel]
            data = release_source(data.decode("utf-8"), tasks, rel).encode("utf-8")
        files[rel] = data
    for rel in STUDENT_NOTEBOOKS:
        py, ipynb = student_notebook((root / rel).read_text(encoding="utf-8"))
        files[rel], files[rel[:-3] + ".ipynb"] = py.encode(), ipynb.encode()
    for name, rel in TEMPLATES.items():
        text = (KIT / name).read_text(encoding="utf-8")
        if rel.endswith(".py"):
            py, ipynb = student_notebook(text)
            files[rel], files[rel[:-3] + ".ipynb"] = py.encode(), ipynb.encode()
        else:
            files[rel] = text.encode()
    files["code_base/RELEASE.json"] = _release_json(files, root)
    return dict(sorted(files.items()))


def _release_json(files, root):
    digest = hashlib.sha256()
    for rel in sorted(files):
        digest.update(rel.encode() + b"\0" + hashlib.sha256(files[rel]).digest())
    manifest = (root / "code_base/check/manifest.py").read_bytes()
    record = {"release": f"cnn-from-scratch-a2-{digest.hexdigest()[:12]}",
              "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
              "functions": [t.name for t in TASKS]}
    return (json.dumps(record, indent=2) + "\n").encode()


def build(out, root=REPO):
    """Write the kit into the folder `out` (new, or empty); a BuildResult."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BuildError(f"release: {out} exists and is not an empty folder; "
                         f"choose a new --out (nothing was written)")
    files = kit_files(root)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        for rel, data in files.items():
            target = partial / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if out.exists():
            out.rmdir()
        partial.rename(out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    release = json.loads(files["code_base/RELEASE.json"])["release"]
    return BuildResult(out, tuple(files), release)
