// Finds a promtool binary for the tests, fetching one through ensure-promtool.sh when none is found.
// The order must match the script: $PROMTOOL_BIN, then promtool on PATH, then
// $FEDMESH_TOOLS_DIR/prometheus/usr/bin/promtool (by default under ~/.cache/fedmesh-tools).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findTool, runEnsureScript } from './lib/tools.mjs';

const SCRIPT = fileURLToPath(new URL('./ensure-promtool.sh', import.meta.url));

/** @returns {string | undefined} */
function toolsDir() {
  const env = process.env;
  if (env.FEDMESH_TOOLS_DIR) return env.FEDMESH_TOOLS_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'fedmesh-tools');
  if (env.HOME) return join(env.HOME, '.cache', 'fedmesh-tools');
  return undefined;
}

/**
 * The absolute path of an installed promtool, or undefined. Never fetches anything.
 * @returns {string | undefined}
 */
export function findPromtoolBinary() {
  const dir = toolsDir();
  return findTool('promtool', 'PROMTOOL_BIN', [dir && join(dir, 'prometheus', 'usr', 'bin', 'promtool')]);
}

/**
 * The absolute path of a promtool binary, fetched with ensure-promtool.sh if needed (progress
 * goes to this process's stderr).
 * @returns {Promise<string>}
 */
export async function ensurePromtool() {
  return findPromtoolBinary() ?? runEnsureScript(SCRIPT, 'promtool');
}
