#!/usr/bin/env bash
# Prints the absolute path of a Chromium binary on stdout, installing Debian's `chromium` package
# when none is found; everything else goes to stderr, so callers can do
#   CHROMIUM_BIN="$(bash scripts/ensure-chromium.sh)"
# The operator-page test (test/ui/) drives it headless with playwright-core, which cannot
# download a browser of its own here. Lookup order (keep in sync with test/support/browser.ts):
#   $CHROMIUM_BIN, then chromium or chromium-browser on PATH, then /usr/bin/chromium.
# Fast when Chromium is there: a lookup and `--version`, no package manager.
set -euo pipefail

readonly FALLBACK_BIN=/usr/bin/chromium

log() { echo "ensure-chromium: $*" >&2; }

fail() {
  log "$*"
  log "Install Chromium (Debian: 'apt-get install -y chromium'; Ubuntu's chromium-browser is a snap," \
    "which containers cannot run), then run this again, or set CHROMIUM_BIN=/absolute/path/to/chromium" \
    "(Google Chrome works too)."
  exit 1
}
# shellcheck source=../deploy/lib/install.sh
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/lib/install.sh"


find_binary() {
  if [[ -n "${CHROMIUM_BIN:-}" ]]; then
    absolute "$CHROMIUM_BIN"
    return 0
  fi
  local name on_path
  for name in chromium chromium-browser; do
    if on_path="$(command -v "$name" 2>/dev/null)" && [[ -f "$on_path" && -x "$on_path" ]]; then
      absolute "$on_path"
      return 0
    fi
  done
  if [[ -x "$FALLBACK_BIN" ]]; then
    echo "$FALLBACK_BIN"
    return 0
  fi
  return 1
}

install_with_apt() { apt_install "Chromium" chromium; }

main() {
  local bin
  check_executable_override CHROMIUM_BIN
  if ! bin="$(find_binary)"; then
    log "Chromium not found (CHROMIUM_BIN unset, no chromium or chromium-browser on PATH, no $FALLBACK_BIN)"
    [[ "$(uname -s)" == Linux ]] || fail "Chromium is not installed; this script installs it on Debian only."
    install_with_apt || fail "installing chromium with apt-get failed (see the output above)."
    bin="$(find_binary)" || fail "chromium was installed but cannot be found on PATH or at $FALLBACK_BIN."
  fi
  # (Debian's launcher is a shell script; a complaint of its /etc/chromium.d/dev-shm on stderr is harmless.)
  "$bin" --version >&2 || fail "$bin does not run ('$bin --version' failed)."
  echo "$bin"
}

main "$@"
