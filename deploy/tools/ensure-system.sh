#!/usr/bin/env bash
# Make sure the machine has what `make up` / `make test` need outside Python; install what is
# missing with apt-get when running as root on Debian/Ubuntu, else say in one line what to install.
#
#   deploy/tools/ensure-system.sh java maven chromium cjk-fonts go
#
#   java       Java 17 runtime        (runs the local Kafka broker)
#   maven      Maven                  (fetches the Kafka jars once)
#   chromium   /usr/bin/chromium      (the browser tests)
#   cjk-fonts  Noto Sans CJK          (Japanese text in the browser tests' screenshots)
#   go         the Go toolchain       (builds the pinned kustomize for tests/deploy)
set -euo pipefail

say() { echo "[tsunagu] $*" >&2; }

have_cjk_fonts() {
  if command -v fc-list >/dev/null 2>&1; then
    # Not `grep -q`: it would stop reading, and fc-list's SIGPIPE would fail the pipeline.
    fc-list 2>/dev/null | grep -i "Noto Sans CJK" >/dev/null
  else
    compgen -G "/usr/share/fonts/opentype/noto/NotoSansCJK*" >/dev/null
  fi
}

missing=()   # apt package names
why=()       # what each one is for
for need in "$@"; do
  case "$need" in
    java) command -v java >/dev/null 2>&1 || { missing+=(openjdk-17-jre-headless); why+=("Java 17 (Kafka broker)"); } ;;
    maven) command -v mvn >/dev/null 2>&1 || { missing+=(maven); why+=("Maven (Kafka jars)"); } ;;
    chromium) [ -x /usr/bin/chromium ] || { missing+=(chromium); why+=("Chromium (browser tests)"); } ;;
    cjk-fonts) have_cjk_fonts || { missing+=(fonts-noto-cjk); why+=("CJK fonts (browser tests)"); } ;;
    go) command -v go >/dev/null 2>&1 || { missing+=(golang-go); why+=("Go (builds kustomize)"); } ;;
    *) say "ensure-system.sh: unknown requirement '$need'"; exit 2 ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

list="$(printf '%s; ' "${why[@]}")"
list="${list%; }"
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    say "missing: $list. Install them once: sudo apt-get install -y --no-install-recommends ${missing[*]}"
  else
    say "missing: $list. Install them with your system's package manager (Debian names: ${missing[*]})"
  fi
  exit 1
fi

say "installing ${missing[*]} with apt-get for: $list (once; the first run downloads for a minute or two) ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
say "installed ${missing[*]}"
