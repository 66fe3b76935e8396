# Shared by the ensure-*.sh scripts (sourced, not run). Each script defines `log` and `fail`
# (its own prefix and its own advice) before sourcing this file. stdout is reserved for the path
# each script prints, so everything here talks on stderr.

# The absolute path of a file, symlinks of its directory resolved.
absolute() { (cd "$(dirname "$1")" && echo "$(pwd -P)/$(basename "$1")"); }

# Runs a command as root: directly when we are root, through sudo otherwise. Without a terminal,
# sudo must not wait for a password nobody can type, so it runs with -n and fails at once.
as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    if [[ -t 0 ]]; then sudo "$@"; else sudo -n "$@"; fi
  else
    return 1
  fi
}

# An explicit choice that does not work is an error, not a hint to look elsewhere:
#   check_executable_override NATS_SERVER_BIN
check_executable_override() {
  local name="$1" value="${!1:-}"
  if [[ -n "$value" && ! (-f "$value" && -x "$value") ]]; then
    fail "$name is set to '$value', which is not an executable file."
  fi
}

# Installs Debian packages: apt_install <what, for messages> <package>...
apt_install() {
  local what="$1"
  shift
  command -v apt-get >/dev/null 2>&1 || fail "$what is not installed and this machine has no apt-get."
  if [[ "$(id -u)" -ne 0 ]] && ! command -v sudo >/dev/null 2>&1; then
    fail "$what is not installed and installing it needs root (or sudo), which is not available."
  fi
  export DEBIAN_FRONTEND=noninteractive
  log "installing $* with apt-get"
  if as_root apt-get install -y --no-install-recommends "$@" >&2; then return 0; fi
  # A fresh container usually has empty package lists; refresh them only when needed, it is slow.
  log "apt-get install failed; running apt-get update and trying once more"
  as_root apt-get update >&2 && as_root apt-get install -y --no-install-recommends "$@" >&2
}
