#!/usr/bin/env bash
# Prints the absolute path of a Python whose `grpc` module (gRPC C-core) works, installing
# Debian's python3-grpcio when none is found. test/xds/client-compat.test.ts drives it as a
# proxyless client of another family than grpc-js-xds, and an old one: bookworm's package is
# C-core 1.51, from before gRFC A63's string_match (docs/xds.md). Everything else goes to stderr:
#   FEDMESH_GRPC_PYTHON="$(bash deploy/ensure-grpc-python.sh)"
# Lookup order (keep in sync with findGrpcPython in test/xds/support.ts): $FEDMESH_GRPC_PYTHON,
# then /usr/bin/python3, where apt puts the module (a pyenv or venv python3 first on PATH usually
# lacks it), then python3 on PATH.
set -euo pipefail

log() { echo "ensure-grpc-python: $*" >&2; }

fail() {
  log "$*"
  log "Install gRPC for Python: Debian/Ubuntu 'sudo apt-get install -y python3-grpcio';" \
    "then run this again, or set FEDMESH_GRPC_PYTHON=/absolute/path/to/python3 (one with grpcio)."
  exit 1
}
# shellcheck source=lib/install.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/install.sh"

works() { "$1" -c 'import grpc' >/dev/null 2>&1; }

find_python() {
  if [[ -n "${FEDMESH_GRPC_PYTHON:-}" ]]; then
    works "$FEDMESH_GRPC_PYTHON" && command -v "$FEDMESH_GRPC_PYTHON" && return 0
    return 1
  fi
  local candidate
  for candidate in /usr/bin/python3 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && works "$candidate"; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

install_with_apt() { apt_install "gRPC for Python" python3-grpcio; }

main() {
  local python
  if python="$(find_python)"; then
    echo "$python"
    return 0
  fi
  # An explicit choice that does not work is an error, not a hint to install something else.
  [[ -z "${FEDMESH_GRPC_PYTHON:-}" ]] ||
    fail "FEDMESH_GRPC_PYTHON is set to '$FEDMESH_GRPC_PYTHON', which cannot import grpc."
  command -v apt-get >/dev/null 2>&1 || fail "no Python with grpcio, and no apt-get to install python3-grpcio with."
  install_with_apt || fail "installing python3-grpcio with apt-get failed (see the output above)."
  python="$(find_python)" || fail "python3-grpcio was installed but no python3 can import grpc."
  echo "$python"
}

main "$@"
