#!/usr/bin/env bash
# Install the pinned kustomize into a cache outside the clone (idempotent).
#
# The deploy tests (tests/deploy) render every overlay with this binary. It is built from the
# kustomize Go module with the machine's Go toolchain, so it needs only the Go module proxy.
# Without Go it installs golang-go with apt-get when running as root (deploy/tools/ensure-system.sh).
# Prints the binary's path on its last line.
#
#   bash deploy/tools/install-kustomize.sh            # install if missing, print the path
#   TSUNAGU_TOOLS_BIN=/opt/bin bash deploy/tools/...  # another cache directory
set -euo pipefail

KUSTOMIZE_VERSION="v5.8.1"
BIN_DIR="${TSUNAGU_TOOLS_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/tsunagu/bin}"
TARGET="$BIN_DIR/kustomize-$KUSTOMIZE_VERSION"

if [ -x "$TARGET" ] && "$TARGET" version >/dev/null 2>&1; then
  echo "$TARGET"
  exit 0
fi

say() { echo "[tsunagu] $*" >&2; }

# Go itself: installed with apt-get when running as root, else one line saying how.
if ! command -v go >/dev/null 2>&1; then
  "$(dirname "$0")/ensure-system.sh" go
  hash -r
fi
# kustomize $KUSTOMIZE_VERSION needs Go 1.24; Go 1.21 and later fetch that toolchain themselves.
go_minor="$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
if [ "${go_minor:-0}" -lt 21 ] 2>/dev/null; then
  say "kustomize $KUSTOMIZE_VERSION needs Go 1.24 or later, this machine has $(go env GOVERSION): install a newer Go (e.g. the golang-1.24-go package or the official tarball) and re-run"
  exit 1
elif [ "$go_minor" -lt 24 ]; then
  export GOTOOLCHAIN=auto
fi

say "building kustomize $KUSTOMIZE_VERSION with Go into $BIN_DIR (once; the first run downloads for a minute or two) ..."

mkdir -p "$BIN_DIR"
build_dir="$(mktemp -d)"
trap 'rm -rf "$build_dir"' EXIT
# GOBIN must be absolute; build into a scratch dir, then move into place atomically.
GOBIN="$build_dir" GOFLAGS="-trimpath" CGO_ENABLED=0 \
  go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
mv "$build_dir/kustomize" "$TARGET"
ln -sf "kustomize-$KUSTOMIZE_VERSION" "$BIN_DIR/kustomize"
"$TARGET" version >&2
echo "$TARGET"
