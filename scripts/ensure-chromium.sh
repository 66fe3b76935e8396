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

absolute() { (cd "$(dirname "$1")" && echo "$(pwd -P)/$(basename "$1")"); }

# An explicit choice that does not work is an error, not a hint to look elsewhere.
check_override() {
  if [[ -n "${CHROMIUM_BIN:-}" && ! (-f "$CHROMIUM_BIN" && -x "$CHROMIUM_BIN") ]]; then
    fail "CHROMIUM_BIN is set to '$CHROMIUM_BIN', which is not an executable file."
  fi
}

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

as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    if [[ -t 0 ]]; then sudo "$@"; else sudo -n "$@"; fi
  else
    return 1
  fi
}

install_with_apt() {
  command -v apt-get >/dev/null 2>&1 || fail "Chromium is not installed and this machine has no apt-get."
  if [[ "$(id -u)" -ne 0 ]] && ! command -v sudo >/dev/null 2>&1; then
    fail "Chromium is not installed and installing it needs root (or sudo), which is not available."
  fi
  export DEBIAN_FRONTEND=noninteractive
  log "installing chromium with apt-get"
  if as_root apt-get install -y chromium >&2; then return 0; fi
  # A fresh container usually has empty package lists; refresh them only when needed, it is slow.
  log "apt-get install failed; running apt-get update and trying once more"
  as_root apt-get update >&2 && as_root apt-get install -y chromium >&2
}

main() {
  local bin
  check_override
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
