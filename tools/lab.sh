#!/usr/bin/env bash
# Start JupyterLab on this repository, as `make lab` does:
#
#   PATH=$PWD/.venv/bin:$PATH bash tools/lab.sh [jupyter lab options...]
#
# - from the repository root, with the python3 kernel of the environment on PATH (the venv);
# - listening on 127.0.0.1 only (pass --port=N, --no-browser, ... to change the rest);
# - with the repository's Jupyter settings (jupyter-config/, put first on JUPYTER_CONFIG_PATH):
#   notebooks/*.py open as notebooks, saves are cleaned by tools/notebook_clean.py, kernels use
#   ipc sockets;
# - with CIFAR10_DIR as the environment gives it: `make lab` sets it by the Makefile's one rule
#   for the data (kept when set, else the development copy ../shared/data/cifar-10-batches-py
#   beside the repository when there is one, else unset: the notebooks then download CIFAR-10
#   once to ~/.cache/cnn-from-scratch). Kernels inherit it from the server: restart Lab after
#   changing it.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

echo "CIFAR10_DIR=${CIFAR10_DIR:-<unset: CIFAR-10 is downloaded to ~/.cache/cnn-from-scratch on first use>}"

if ! command -v jupyter-lab >/dev/null; then
    echo "error: jupyter-lab not found on PATH; run 'make venv' and start Lab with 'make lab'" >&2
    exit 1
fi
export JUPYTER_CONFIG_PATH="$repo/jupyter-config${JUPYTER_CONFIG_PATH:+:$JUPYTER_CONFIG_PATH}"
as_root=()
if [ "$(id -u)" = 0 ]; then
    as_root=(--allow-root)  # Lab refuses root without it; CI and the project's machines run as root
fi
exec jupyter-lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir="$repo" "${as_root[@]}" "$@"
