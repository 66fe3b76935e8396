// Finds a promtool binary for the tests, fetching one through ensure-promtool.sh when none is found.
// The order must match the script: $PROMTOOL_BIN, then promtool on PATH, then
// $FEDMESH_TOOLS_DIR/prometheus/usr/bin/promtool (by default under ~/.cache/fedmesh-tools).
import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./ensure-promtool.sh', import.meta.url));

/** @param {string} file */
function isExecutableFile(file) {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

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
  const override = process.env.PROMTOOL_BIN;
  if (override) {
    // An explicit choice that does not work is an error, not a hint to look elsewhere.
    if (!isExecutableFile(override)) {
      throw new Error(`PROMTOOL_BIN is set to '${override}', which is not an executable file`);
    }
    return resolve(override);
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir || '.', 'promtool');
    if (isExecutableFile(candidate)) return resolve(candidate);
  }
  const dir = toolsDir();
  const unpacked = dir ? join(dir, 'prometheus', 'usr', 'bin', 'promtool') : undefined;
  return unpacked && isExecutableFile(unpacked) ? resolve(unpacked) : undefined;
}

/**
 * The absolute path of a promtool binary, fetched with ensure-promtool.sh if needed (progress
 * goes to this process's stderr).
 * @returns {Promise<string>}
 */
export async function ensurePromtool() {
  const found = findPromtoolBinary();
  if (found) return found;
  return new Promise((resolvePath, reject) => {
    const child = execFile('bash', [SCRIPT], { encoding: 'utf8' }, (error, stdout) => {
      const path = stdout.trim();
      if (error || !path) {
        reject(new Error(`${SCRIPT} could not provide promtool (see its messages above)`, { cause: error }));
      } else {
        resolvePath(path);
      }
    });
    child.stderr?.pipe(process.stderr);
  });
}
