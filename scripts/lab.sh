#!/usr/bin/env bash
# Open the course: JupyterLab on notebooks/, listening on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
args=(--ServerApp.root_dir=notebooks --ServerApp.ip=127.0.0.1 --LabApp.news_url=None
      --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate)  # no calls home
[[ $EUID -eq 0 ]] && args+=(--allow-root)     # containers and Binder-like machines run as root
[[ -z "${DISPLAY:-}" && -z "${BROWSER:-}" ]] && args+=(--no-browser) && echo "No display: open the URL printed below in your browser."
exec .venv/bin/jupyter lab "${args[@]}" "$@" notebooks/00_start_here.ipynb
