#!/usr/bin/env bash
# Acceptance check, from a fresh venv: the README's first command ("Run it") installs the
# project and starts JupyterLab serving notebooks/01_quickstart.ipynb.
#
# The command runs verbatim in a scratch copy of this working tree (so the repository's own
# .venv is neither used nor touched). Only the environment is ours: a free port and a random
# token (JUPYTER_PORT, JUPYTER_TOKEN), Jupyter's state in the scratch folder, and $BROWSER set
# to a script that records the page JupyterLab asks it to open. Then the script checks, over
# the server's HTTP API, that the page is the quickstart and that the server serves it, and
# shuts the server down. Needs python3, curl and the package index pip is configured for.
# tests/test_readme_command.py runs the same check with the current venv (no install).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/dailypay-lab-check.XXXXXX")
pid=""

cleanup() {
  local rc=$?
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    curl -s -X POST -H "Authorization: token $token" "http://127.0.0.1:$port/api/shutdown" >/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -TERM -- "-$pid" 2>/dev/null || true  # the group we started
    wait "$pid" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -f "$scratch/lab.log" ]; then
    echo "--- last lines of the JupyterLab log ---" >&2
    tail -n 40 "$scratch/lab.log" >&2
  fi
  rm -rf "$scratch"
  exit "$rc"
}
trap cleanup EXIT

# The README's command: the first line of the first code block after "**Run it**".
cmd=$(python3 - "$repo/README.md" <<'PY'
import sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
start = next(i for i, line in enumerate(lines) if line.startswith("**Run it**"))
fence = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
print(lines[fence + 1].strip())
PY
)
echo "+ $cmd"

# A copy of the working tree: tracked and untracked files, without ignored ones (.venv, .env).
mkdir "$scratch/repo"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf -) | tar -C "$scratch/repo" -xf -

# Jupyter's state out of $HOME, no news or update checks, a recording browser.
for d in home config data runtime settings workspaces ipython; do mkdir -p "$scratch/env/$d"; done
export HOME="$scratch/env/home" JUPYTER_CONFIG_DIR="$scratch/env/config" \
  JUPYTER_DATA_DIR="$scratch/env/data" JUPYTER_RUNTIME_DIR="$scratch/env/runtime" \
  JUPYTERLAB_SETTINGS_DIR="$scratch/env/settings" JUPYTERLAB_WORKSPACES_DIR="$scratch/env/workspaces" \
  IPYTHONDIR="$scratch/env/ipython" JUPYTER_PLATFORM_DIRS=1
for name in jupyter_server_config.json jupyter_lab_config.json; do
  printf '%s\n' '{"ServerApp": {"port_retries": 0}, "LabApp": {"news_url": null, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}}' \
    >"$JUPYTER_CONFIG_DIR/$name"
done
printf '#!/bin/sh\nprintf "%%s" "$1" > "%s/opened.txt"\n' "$scratch" >"$scratch/browser.sh"
chmod +x "$scratch/browser.sh"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
while IFS= read -r name; do unset "$name"; done < <(env | sed -n 's/^\(DAILYPAY_[A-Za-z0-9_]*\)=.*/\1/p')
export JUPYTER_PORT="$port" JUPYTER_TOKEN="$token" BROWSER="$scratch/browser.sh"

started=$(date +%s)
(cd "$scratch/repo" && exec setsid bash -c "$cmd") >"$scratch/lab.log" 2>&1 &
pid=$!

api() { curl -s -f -H "Authorization: token $token" "http://127.0.0.1:$port$1"; }
until api /api/status >/dev/null 2>&1; do
  kill -0 "$pid" 2>/dev/null || { echo "the README command exited before JupyterLab answered" >&2; exit 1; }
  [ $(($(date +%s) - started)) -lt 900 ] || { echo "JupyterLab did not answer within 15 minutes" >&2; exit 1; }
  sleep 1
done
echo "JupyterLab answered $(($(date +%s) - started)) s after the command started (install included)"

for _ in $(seq 1 150); do [ -s "$scratch/opened.txt" ] && break; sleep 0.2; done
[ -s "$scratch/opened.txt" ] || { echo "JupyterLab did not open a page" >&2; exit 1; }
opened=$(cat "$scratch/opened.txt")
case "$opened" in file://*) opened=$(cat "${opened#file://}") ;; esac
landing=$(printf '%s' "$opened" | grep -o "http://127\.0\.0\.1:$port/lab/tree/[^\"'?< ]*" | head -n 1)
served=${landing#*/lab/tree/}
[ "${served##*/}" = "01_quickstart.ipynb" ] || { echo "JupyterLab opened ${landing:-nothing}, not the quickstart" >&2; exit 1; }

api "/api/contents/$served" | python3 -c '
import json, sys
model = json.load(sys.stdin)
assert model["type"] == "notebook", model["type"]
first = model["content"]["cells"][0]["source"]
assert first.startswith("# Quickstart"), first[:60]
print("served", model["path"], "with", len(model["content"]["cells"]), "cells")
'
page=$(api "/lab/tree/$served")  # (not piped into grep -q: SIGPIPE + pipefail)
[[ "$page" == *JupyterLab* ]] || { echo "/lab/tree/$served is not the JupyterLab page" >&2; exit 1; }
echo "OK: the README command serves the quickstart at $landing"
