#!/usr/bin/env bash
# Prints the absolute path of a nats-server binary on stdout, installing one with the OS package
# manager when none is found. Everything else goes to stderr so callers can do
#   NATS_SERVER_BIN="$(bash deploy/ensure-nats-server.sh)"
# Lookup order (keep in sync with ensure-nats-server.mjs, which the test harness uses):
#   $NATS_SERVER_BIN, then nats-server on PATH, then /usr/sbin/nats-server (Debian's package puts it
#   there, and /usr/sbin is often missing from a non-root PATH).
set -euo pipefail

readonly FALLBACK_BIN=/usr/sbin/nats-server

log() { echo "ensure-nats-server: $*" >&2; }

fail() {
  log "$*"
  log "Install nats-server 2.9 or newer: Debian/Ubuntu 'sudo apt-get install -y nats-server'," \
    "macOS 'brew install nats-server', or a release from https://github.com/nats-io/nats-server/releases;" \
    "then run this again, or set NATS_SERVER_BIN=/absolute/path/to/nats-server."
  exit 1
}
# shellcheck source=lib/install.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/install.sh"


find_binary() {
  if [[ -n "${NATS_SERVER_BIN:-}" ]]; then
    absolute "$NATS_SERVER_BIN"
    return 0
  fi
  local on_path
  if on_path="$(command -v nats-server 2>/dev/null)" && [[ -f "$on_path" && -x "$on_path" ]]; then
    absolute "$on_path"
    return 0
  fi
  if [[ -x "$FALLBACK_BIN" ]]; then
    echo "$FALLBACK_BIN"
    return 0
  fi
  return 1
}

install_with_apt() { apt_install "nats-server" nats-server; }

install_with_brew() {
  log "installing nats-server with Homebrew"
  brew install nats-server >&2
}

install_binary() {
  case "$(uname -s)" in
    Linux)
      command -v apt-get >/dev/null 2>&1 ||
        fail "nats-server is not installed and this Linux has no apt-get to install it with."
      install_with_apt || fail "installing nats-server with apt-get failed (see the output above)."
      ;;
    Darwin)
      command -v brew >/dev/null 2>&1 || fail "nats-server is not installed and Homebrew (brew) is not available."
      install_with_brew || fail "brew install nats-server failed (see the output above)."
      ;;
    *)
      fail "nats-server is not installed and $(uname -s) has no supported package manager here."
      ;;
  esac
}

main() {
  local bin
  check_executable_override NATS_SERVER_BIN
  if bin="$(find_binary)"; then
    echo "$bin"
    return 0
  fi
  log "nats-server not found (NATS_SERVER_BIN unset, not on PATH, no $FALLBACK_BIN)"
  install_binary
  # Homebrew's prefix may not be on PATH yet in a non-login shell.
  if command -v brew >/dev/null 2>&1; then PATH="$PATH:$(brew --prefix)/bin"; fi
  bin="$(find_binary)" || fail "nats-server was installed but cannot be found on PATH or at $FALLBACK_BIN."
  "$bin" --version >&2 || fail "$bin does not run."
  echo "$bin"
}

main "$@"
