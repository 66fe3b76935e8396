#!/usr/bin/env bash
# Prints the absolute path of a promtool binary on stdout, fetching one when none is found.
# Everything else goes to stderr so callers can do
#   PROMTOOL_BIN="$(bash deploy/ensure-promtool.sh)"
# The tests check the hub's and the agent's /metrics and the alert rules in deploy/observability
# with it. Lookup order (keep in sync with ensure-promtool.mjs, which the tests use):
#   $PROMTOOL_BIN, then promtool on PATH, then $FEDMESH_TOOLS_DIR/prometheus/usr/bin/promtool
#   (FEDMESH_TOOLS_DIR defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/fedmesh-tools).
#
# On Debian/Ubuntu, Debian's prometheus package is downloaded and only its promtool unpacked into
# that directory; the package is not installed: installing it would start (and enable at boot) a
# Prometheus server on :9090, and the tests need only promtool, a static binary. Unpacking starts
# nothing, needs no root once the package lists are there, and leaves the system's packages as
# they were.
set -euo pipefail

log() { echo "ensure-promtool: $*" >&2; }

fail() {
  log "$*"
  log "Get promtool 2.42 or newer: Debian/Ubuntu 'apt-get download prometheus' and unpack it with" \
    "'dpkg-deb -x' (installing the package would also start a Prometheus server), macOS 'brew install prometheus', or a release from https://github.com/prometheus/prometheus/releases;" \
    "then run this again, or set PROMTOOL_BIN=/absolute/path/to/promtool."
  exit 1
}
# shellcheck source=lib/install.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/install.sh"

tools_dir() {
  if [[ -n "${FEDMESH_TOOLS_DIR:-}" ]]; then
    echo "$FEDMESH_TOOLS_DIR"
  elif [[ -n "${XDG_CACHE_HOME:-}" ]]; then
    echo "$XDG_CACHE_HOME/fedmesh-tools"
  elif [[ -n "${HOME:-}" ]]; then
    echo "$HOME/.cache/fedmesh-tools"
  else
    fail "neither FEDMESH_TOOLS_DIR, XDG_CACHE_HOME nor HOME is set: nowhere to unpack promtool."
  fi
}


find_binary() {
  if [[ -n "${PROMTOOL_BIN:-}" ]]; then
    absolute "$PROMTOOL_BIN"
    return 0
  fi
  local on_path
  if on_path="$(command -v promtool 2>/dev/null)" && [[ -f "$on_path" && -x "$on_path" ]]; then
    absolute "$on_path"
    return 0
  fi
  local unpacked
  unpacked="$(tools_dir)/prometheus/usr/bin/promtool"
  if [[ -x "$unpacked" ]]; then
    echo "$unpacked"
    return 0
  fi
  return 1
}

unpack_with_apt() {
  local dest work
  dest="$(tools_dir)"
  mkdir -p "$dest"
  work="$(mktemp -d "$dest/.download.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
  trap "rm -rf '$work'" EXIT
  log "downloading Debian's prometheus package (for promtool) into $dest"
  # apt-get download writes to the working directory; the sandbox user could not write there.
  if ! (cd "$work" && apt-get download -o APT::Sandbox::User=root prometheus >&2); then
    # A fresh container usually has empty package lists; refresh them only when needed, it is slow.
    log "apt-get download failed; running apt-get update and trying once more"
    as_root apt-get update >&2 || return 1
    (cd "$work" && apt-get download -o APT::Sandbox::User=root prometheus >&2) || return 1
  fi
  # Only promtool: the package's Prometheus server and web assets are of no use here.
  mkdir -p "$work/prometheus"
  dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$work/prometheus" ./usr/bin/promtool >&2 || return 1
  [[ -x "$work/prometheus/usr/bin/promtool" ]] || return 1
  # Into place in one step, so a concurrent run never sees half a tree.
  rm -rf "$dest/prometheus"
  mv "$work/prometheus" "$dest/prometheus"
}

install_with_brew() {
  log "installing prometheus (for promtool) with Homebrew; no service is started"
  brew install prometheus >&2
}

install_binary() {
  case "$(uname -s)" in
    Linux)
      command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 ||
        fail "promtool is not installed and this Linux has no apt-get and dpkg-deb to fetch it with."
      unpack_with_apt || fail "fetching promtool from Debian's prometheus package failed (see the output above)."
      ;;
    Darwin)
      command -v brew >/dev/null 2>&1 || fail "promtool is not installed and Homebrew (brew) is not available."
      install_with_brew || fail "brew install prometheus failed (see the output above)."
      ;;
    *)
      fail "promtool is not installed and $(uname -s) has no supported package manager here."
      ;;
  esac
}

main() {
  local bin
  check_executable_override PROMTOOL_BIN
  if bin="$(find_binary)"; then
    echo "$bin"
    return 0
  fi
  log "promtool not found (PROMTOOL_BIN unset, not on PATH, not in $(tools_dir)/prometheus)"
  install_binary
  if command -v brew >/dev/null 2>&1; then PATH="$PATH:$(brew --prefix)/bin"; fi
  bin="$(find_binary)" || fail "promtool was fetched but cannot be found."
  "$bin" --version >&2 || fail "$bin does not run."
  echo "$bin"
}

main "$@"
