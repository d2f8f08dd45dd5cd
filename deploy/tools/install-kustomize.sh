#!/usr/bin/env bash
# Install the pinned kustomize into a cache outside the clone (idempotent).
#
# The deploy tests (tests/deploy) render every overlay with this binary. It is built from the
# kustomize Go module with the machine's Go toolchain, so it needs only the Go module proxy.
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

command -v go >/dev/null 2>&1 || {
  echo "install-kustomize: the Go toolchain is needed to build kustomize (go not found)" >&2
  exit 1
}

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
