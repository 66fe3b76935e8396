#!/usr/bin/env bash
# Prints the path of a Node.js binary of the major line asked for (default 24), fetching it from
# the npm registry (the `node-linux-<arch>` packages ship the official binaries) into a cache
# when the machine's own node is another line. CI runs the suite on it; the machine's node is
# left alone.
#   bash scripts/ensure-node.sh [major]      -> /root/.cache/fedmesh/node-24.x.y/bin/node
set -euo pipefail
major="${1:-24}"
if command -v node >/dev/null && [[ "$(node -p 'process.versions.node.split(".")[0]')" == "$major" ]]; then
  command -v node
  exit 0
fi
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "ensure-node: no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac
version="$(npm view "node-linux-${arch}@${major}" version 2>/dev/null | tail -1 | sed -E "s/.*'([0-9.]+)'.*/\1/; s/^node-linux-${arch}@//")"
[[ -n "$version" ]] || { echo "ensure-node: the npm registry has no node-linux-${arch}@${major}" >&2; exit 1; }
cache="${FEDMESH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fedmesh}/node-${version}"
if [[ ! -x "$cache/bin/node" ]]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-${arch}@${version}" >/dev/null)
  mkdir -p "$cache"
  tar -xzf "$tmp"/node-linux-*.tgz -C "$cache" --strip-components=1
fi
"$cache/bin/node" --version >/dev/null
echo "$cache/bin/node"
