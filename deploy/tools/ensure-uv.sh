#!/usr/bin/env bash
# Find uv, installing it when it is missing; print its path on the last line of stdout.
#
# Looked for, in order: `uv` on PATH, the uv that pip installed for python3
# (wherever pip put it: user site, pyenv, a virtualenv), and the project's own copy in
# ${XDG_CACHE_HOME:-~/.cache}/tsunagu/uv. When none is there, uv is installed into that cache
# with `python3 -m pip install --target` (works also where the system Python is
# "externally managed", needs no root and nothing on PATH). Messages go to stderr.
set -euo pipefail

say() { echo "[tsunagu] $*" >&2; }

works() { [ -n "$1" ] && [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }

found="$(command -v uv 2>/dev/null || true)"
if works "$found"; then echo "$found"; exit 0; fi

PYTHON=python3
from_pip() {
  # The uv Python package knows where its own binary went.
  "$PYTHON" -c 'import uv, sys; sys.stdout.write(uv.find_uv_bin())' 2>/dev/null || true
}
found="$(from_pip)"
if works "$found"; then echo "$found"; exit 0; fi

TARGET_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/tsunagu/uv"
found="$TARGET_DIR/bin/uv"
if works "$found"; then echo "$found"; exit 0; fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  say "uv is not installed and there is no $PYTHON to install it with:"
  say "install Python 3.11 with pip (apt-get install python3-pip) or uv itself, then re-run"
  exit 1
fi
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
  say "uv is not installed and $PYTHON has no pip: install pip (apt-get install python3-pip)"
  say "or uv itself (see its documentation), then re-run"
  exit 1
fi

say "uv not found: installing it with pip into $TARGET_DIR (once; a few seconds) ..."
rm -rf "$TARGET_DIR.tmp"
PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
  --target "$TARGET_DIR.tmp" uv >&2
rm -rf "$TARGET_DIR"
mv "$TARGET_DIR.tmp" "$TARGET_DIR"
if ! works "$found"; then
  say "installing uv with pip did not give a working $found; install uv yourself and re-run"
  exit 1
fi
say "uv installed: $found"
echo "$found"
