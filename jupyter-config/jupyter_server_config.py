"""Jupyter server settings for this repository, loaded by `make lab` (JUPYTER_CONFIG_PATH).

- Every notebook is saved in the clean form of tools/notebook_clean.py: no machine-specific
  metadata (language_info.version), no timing metadata, no progress-bar widgets and no outputs
  in cells marked `# CIFAR-PIXELS`, so opening and running a committed notebook changes nothing
  in git but the outputs you save. (The jupytext extension saves each notebooks/*.py and its
  paired .ipynb together, with notebooks/jupytext.toml.)
- Kernels talk to the server over Unix sockets (ipc), not unencrypted TCP on localhost.
"""
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from notebook_clean import pre_save_hook  # noqa: E402

c = get_config()  # noqa: F821 - provided by the config loader
c.ContentsManager.pre_save_hook = pre_save_hook
# jupyter_server validates a configured hook twice (on set and on its cross-validation) and warns
# that the hook replaces itself: nothing is replaced.
warnings.filterwarnings("ignore", message=r"Overriding existing pre_save_hook \(pre_save_hook\) "
                        r"with a new one \(pre_save_hook\)")
c.KernelManager.transport = "ipc"
# The pinned Lab neither looks for updates nor fetches news: it only talks to this machine.
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.news_url = None
