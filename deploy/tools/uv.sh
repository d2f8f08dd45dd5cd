#!/usr/bin/env bash
# Run uv, found (or installed) by ensure-uv.sh when this runs: `deploy/tools/uv.sh sync --frozen`.
set -euo pipefail
uv="$("$(dirname "$0")/ensure-uv.sh")"
exec "$uv" "$@"
