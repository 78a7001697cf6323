"""A synthetic class of hand-ins, to try `grade-class` on before a real one (notebook 5, the tests).

    write_project(folder, inputs, mistake)    a student's project folder: code_base/, input_files/,
                                              output_files/ (made by their code), report.pdf
    zip_project(folder, student, out)         its hand-in zip, as pack makes it but unchecked
    make_class(folder, inputs, students)      {ID: mistake name or None} -> a folder of zips

The correct hand-ins can go through `pack` itself; wrong ones cannot (pack refuses outputs that
fail the grader), hence zip_project. The code comes from :mod:`.mistakes`.
"""
import io
import shutil
import types
from pathlib import Path

from ...check import calls
from ..files import INPUT_SHAPES, load_folder, write_folder
from ..handin import CODE_DIR, OUTPUT_DIR, REPORT, student_id
from ..packer import handin_members, write_zip
from .mistakes import MISTAKES, layers_source

__all__ = ["report_pdf", "student_outputs", "write_project", "zip_project", "make_class"]


def report_pdf(pages=1):
    """The bytes of a PDF of `pages` blank pages (A4), written by pypdf."""
    import pypdf

    writer = pypdf.PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def student_outputs(source, inputs):
    """The outputs that the layers.py text `source` gives on the `name -> array` inputs, by the
    assignment's calls (check/calls.py), run in this process: for the trusted synthetic code only."""
    module = types.ModuleType("synthetic_student_layers")
    exec(compile(source, "layers.py", "exec"), module.__dict__)
    outputs = {}
    for function, needs in calls.NEEDS.items():
        if all(hasattr(module, name) for name in needs):  # no outputs for functions not written
            copies = {k: v.copy() for k, v in inputs.items()}
            outputs.update(calls.call(module, function, copies))  # the assignment's parameters
    return outputs


def write_project(folder, inputs, mistake=None, pages=1):
    """Write a student's project folder (created; must not exist) from the input folder `inputs`.

    Its code_base/layers.py is layers_source(mistake); its output files are what that code gives on
    `inputs` (or the correct code, for mistakes whose outputs were made by a correct version).
    """
    folder = Path(folder)
    m = MISTAKES[mistake] if mistake is not None else None
    (folder / CODE_DIR).mkdir(parents=True)
    (folder / CODE_DIR / "__init__.py").write_text("")
    (folder / CODE_DIR / "layers.py").write_text(layers_source(mistake))
    shutil.copytree(inputs, folder / "input_files")
    by_correct = m is None or m.outputs_by_correct_code
    outputs = student_outputs(layers_source(None if by_correct else mistake),
                              load_folder(inputs, INPUT_SHAPES))
    write_folder(folder / OUTPUT_DIR, outputs)
    (folder / REPORT).write_bytes(report_pdf(pages))
    for path, text in (m.extra_files if m else ()):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    return folder


def zip_project(folder, student, out):
    """Write out/ID.zip from the project `folder` the way pack lays it out, without pack's checks;
    files other than code_base/, output_files/ and report.pdf are put in the ID folder too."""
    sid = student_id(student)
    members, _, _ = handin_members(folder, sid)
    names = {name for name, _ in members}
    for path in sorted(Path(folder).rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not rel.startswith(("input_files/", f"{CODE_DIR}/")) \
                and f"{sid}/{rel}" not in names:
            members.append((f"{sid}/{rel}", path))
    write_zip(Path(out) / f"{sid}.zip", sorted(members, key=lambda m: m[0]))
    return Path(out) / f"{sid}.zip"


def make_class(folder, inputs, students, pages=1):
    """Zip a project for each `{ID: mistake name or None}` into `folder` (created); the zips' paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    projects = folder / "projects"
    zips = []
    for sid, mistake in students.items():
        project = write_project(projects / sid, inputs, mistake, pages)
        zips.append(zip_project(project, sid, folder))
    shutil.rmtree(projects)
    return zips
