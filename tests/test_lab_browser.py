"""JupyterLab in a real browser, started the way `make lab` starts it (tools/lab.sh).

Debian's chromium, driven headless by Playwright, opens every notebook from its .py (as a notebook:
jupyter-config/ sets the default viewer), checks how its math rendered, runs chapters through
Run All (a training cell must show its progress-bar widget while it runs), saves and closes them,
and checks what reached the disk: `git status` shows the notebook outputs and nothing else, and
no CIFAR pixels. It also runs the README's Solver example in Lab:
one progress-bar widget, the `(Iteration ...)` lines as plain text.

Lab runs on 127.0.0.1 (a free port, a random token) in a committed copy of the working tree, so a
save cannot touch your files; the browser may fetch nothing but that address. Screenshots go to
build/browser/ (git-ignored). The test fails, never skips, without chromium or playwright; run the
other tests without it with `pytest --ignore=tests/test_lab_browser.py`.
"""

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import jupytext
import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import notebook_clean  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
# This machine has no network beyond 127.0.0.1: no first-run, sync, update or QUIC traffic.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = REPO / "build" / "browser"
NOTEBOOKS = sorted(p.stem for p in (REPO / "notebooks").glob("*.py"))
RUN_ALL = ["01_convolution", "06_best_net"]  # 06 draws CIFAR images, which a save must drop
PROGRESS_CHAPTER = "06_best_net"  # its short training run shows a progress bar (progress=True)
WAIT_MS = 120_000


def require_browser():
    problems = []
    if not os.access(CHROMIUM, os.X_OK):
        problems.append(f"Debian's chromium at {CHROMIUM} (as root: apt-get install -y chromium, "
                        "or `make browser-deps`)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("playwright in this environment (`make venv` installs requirements.txt)")
    if problems:
        pytest.fail("the JupyterLab browser test needs " + " and ".join(problems) + "; to run the "
                    "other tests without it: pytest --ignore=tests/test_lab_browser.py",
                    pytrace=False)


def git(root, *args):
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                          check=True).stdout


def copy_of_working_tree(dest):
    """The repository's files as they are now (committed or not, ignored ones left out), committed
    in a fresh git repository at ``dest``."""
    files = git(REPO, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-q", "-m", "copy")
    return dest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory, cifar_dir):
    """(url, token, root): JupyterLab serving a committed copy of the working tree."""
    require_browser()
    root = copy_of_working_tree(tmp_path_factory.mktemp("repo"))
    state = tmp_path_factory.mktemp("jupyter")  # no user settings, kernels or runtime files
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "CIFAR10_DIR": str(cifar_dir), "JUPYTER_CONFIG_DIR": str(state / "config"),
           "JUPYTER_DATA_DIR": str(state / "data"), "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces")}
    env.pop("JUPYTER_CONFIG_PATH", None)
    port, token = free_port(), secrets.token_hex(16)
    log = open(state / "lab.log", "w")
    server = subprocess.Popen(
        ["bash", str(root / "tools" / "lab.sh"), "--no-browser", f"--port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (state / "lab.log").read_text()
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "JupyterLab did not answer within 60 s"
                time.sleep(0.3)
        yield url, token, root
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def page(lab):
    from playwright.sync_api import sync_playwright

    url, token, _ = lab
    outside = []

    def only_this_machine(route):
        if route.request.url.startswith((url, url.replace("http", "ws", 1), "data:", "blob:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.route("**/*", only_this_machine)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{url}/lab?token={token}")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started")
        page.evaluate("() => window.jupyterapp.started")
        yield page
        browser.close()
    assert outside == []  # the browser asked for nothing beyond 127.0.0.1


OPEN = """async path => {
    const app = window.jupyterapp;
    const widget = await app.commands.execute('docmanager:open', {path});
    await widget.context.ready;
    await widget.sessionContext.ready;
    return {factory: app.docRegistry.defaultWidgetFactory(path).name,
            cells: widget.content.widgets.length};
}"""
KERNEL_IDLE = """() => { const k = window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel;
    return k && k.status === 'idle'; }"""
RUN = """async code => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    let text = '';
    const future = kernel.requestExecute({code, store_history: false});
    future.onIOPub = msg => { if (msg.header.msg_type === 'stream') text += msg.content.text; };
    await future.done;
    return text;
}"""
MATH = """() => {
    const node = window.jupyterapp.shell.currentWidget.content.node;
    const q = sel => [...node.querySelectorAll(sel)];
    return {formulas: q('mjx-container').length, errors: q('mjx-merror').length,
            backslashes: q('mjx-c.mjx-c5C').length,
            split_names: q('mjx-texatom[texclass="OP"]').filter(
                a => a.querySelectorAll(':scope > mjx-mi, :scope > mjx-mn').length > 1).length};
}"""
OUTPUTS = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const outputs = panel.content.widgets.filter(c => c.model.type === 'code')
        .flatMap(c => c.model.outputs.toJSON());
    const node = panel.content.node;
    return {errors: outputs.filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue),
            stderr: outputs.filter(o => o.name === 'stderr').map(o => o.text),
            stdout: outputs.filter(o => o.name === 'stdout').map(o => o.text).join(''),
            images: node.querySelectorAll('.jp-OutputArea-output img').length,
            widgets: node.querySelectorAll('.jp-OutputArea-output .widget-hprogress').length,
            bars: [...node.querySelectorAll('.jp-OutputArea-output .widget-hprogress')]
                .map(b => b.parentElement.textContent)};
}"""
# True once code cell ``index`` shows a progress-bar widget while the kernel is still running.
PROGRESS_WHILE_RUNNING = """index => {
    const panel = window.jupyterapp.shell.currentWidget;
    const kernel = panel.sessionContext.session?.kernel;
    const cell = panel.content.widgets[index];
    return !!cell.node.querySelector('.jp-OutputArea-output .widget-hprogress')
        && kernel.status === 'busy';
}"""
CLOSE = """async () => {
    const panel = window.jupyterapp.shell.currentWidget;
    await panel.sessionContext.shutdown();
    panel.dispose();
}"""


def open_notebook(page, path):
    opened = page.evaluate(OPEN, path)
    page.wait_for_function(KERNEL_IDLE)
    return opened


def run_all(page, name, progress_cells=()):
    """Run All; each cell of ``progress_cells`` (indices) must show a progress widget while the
    kernel is still busy, i.e. during the run, not only in the saved result."""
    start = time.monotonic()
    page.evaluate("() => { window.runAll = window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    for index in progress_cells:
        try:
            page.wait_for_function(PROGRESS_WHILE_RUNNING, arg=index)
        except PlaywrightTimeout:
            pytest.fail(f"{name}: cell {index} (progress=True) showed no progress-bar widget while "
                        "the notebook ran", pytrace=False)
    assert page.evaluate("() => window.runAll")
    page.wait_for_function(KERNEL_IDLE)
    seconds = time.monotonic() - start
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    return page.evaluate(OUTPUTS), seconds


def test_every_notebook_opens_from_its_py_as_a_notebook_and_its_math_renders(page):
    for name in NOTEBOOKS:
        path = f"notebooks/{name}.py"
        opened = open_notebook(page, path)
        assert opened == {"factory": "Jupytext Notebook",
                          "cells": len(jupytext.read(REPO / path).cells)}, path
        has_math = "$" in "".join(c.source for c in jupytext.read(REPO / path).cells
                                  if c.cell_type == "markdown")
        math, previous, deadline = page.evaluate(MATH), None, time.monotonic() + 60
        while math != previous or (has_math and not math["formulas"]):  # MathJax is typesetting
            assert time.monotonic() < deadline, (path, "MathJax did not finish in 60 s", math)
            page.wait_for_timeout(300)
            math, previous = page.evaluate(MATH), math
        assert (math["formulas"] > 0) == has_math, (path, math)
        # No TeX error, no literal backslash (\text{a\_b}), no operator name split (col 2 im).
        assert (math["errors"], math["backslashes"], math["split_names"]) == (0, 0, 0), (path, math)
        page.evaluate(CLOSE)


@pytest.mark.parametrize("name", RUN_ALL)
def test_run_all_then_save_changes_only_the_outputs(page, lab, name):
    _, _, root = lab
    path = f"notebooks/{name}.py"
    committed = nbformat.read(root / f"notebooks/{name}.ipynb", as_version=4)
    pixel_cells = [c for c in committed.cells if notebook_clean.is_pixel_cell(c.source)]
    expected_images = len(pixel_cells) + sum(
        any(mime.startswith("image/") for mime in o.get("data", {}))
        for c in committed.cells for o in c.get("outputs", []))

    # The training cells: a student must see the bar move, not only `[*]`.
    progress_cells = [i for i, c in enumerate(jupytext.read(REPO / path).cells)
                      if c.cell_type == "code" and "progress=True" in c.source]
    assert bool(progress_cells) == (name == PROGRESS_CHAPTER), progress_cells

    open_notebook(page, path)
    executable = page.evaluate(RUN, "import sys; print(sys.executable, sys.prefix)").split()
    assert Path(executable[1]).resolve() == Path(sys.prefix).resolve()  # the project's venv
    outputs, seconds = run_all(page, name, progress_cells)
    print(f"{name}: Run All took {seconds:.1f} s")
    code_cells = sum(c.cell_type == "code" for c in committed.cells)
    assert page.evaluate(RUN, "print(get_ipython().execution_count)") == f"{code_cells + 1}\n"
    assert outputs["errors"] == [] and outputs["stderr"] == []
    assert outputs["images"] == expected_images
    assert page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')") is not False
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")
    page.evaluate(CLOSE)

    changed = git(root, "status", "--porcelain", "--untracked-files=all").splitlines()
    saved = nbformat.read(root / f"notebooks/{name}.ipynb", as_version=4)
    git(root, "checkout", "-q", "--", ".")  # the next test starts from the committed copy again
    assert changed in ([], [f" M notebooks/{name}.ipynb"])
    assert notebook_clean.is_clean(saved)
    assert all(c.outputs == [] for c in saved.cells if notebook_clean.is_pixel_cell(c.source))

    def inputs(nb):
        nb = json.loads(json.dumps(nb))
        for cell in nb["cells"]:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
        return nb
    assert inputs(saved) == inputs(committed)


def test_the_readme_solver_example_shows_one_widget_and_plain_lines(page, lab):
    _, _, root = lab
    readme = (REPO / "README.md").read_text()
    example = next(block for block in re.findall(r"```python\n(.*?)```", readme, re.S)
                   if "solver.train()" in block)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(example)])
    nb.metadata["kernelspec"] = dict(notebook_clean.KERNELSPEC)
    (root / "build").mkdir(exist_ok=True)  # git-ignored
    nbformat.write(nb, root / "build" / "readme_example.ipynb")
    open_notebook(page, "build/readme_example.ipynb")
    outputs, seconds = run_all(page, "readme_example")
    print(f"README example: Run All took {seconds:.1f} s")
    page.evaluate(CLOSE)
    assert outputs["errors"] == [] and outputs["stderr"] == []  # no text bar on stderr
    assert outputs["widgets"] == 1
    assert re.search(r"\b196/196\b", outputs["bars"][0])
    lines = outputs["stdout"].splitlines()
    iterations = [line for line in lines if line.startswith("(Iteration ")]
    assert len(iterations) == 20 and all(re.fullmatch(r"\(Iteration \d+ / 196\) loss: [\d.]+", line)
                                         for line in iterations)
    assert sum(line.startswith("(Epoch ") for line in lines) == 2
