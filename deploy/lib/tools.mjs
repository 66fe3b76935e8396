// Shared by the ensure-*.mjs lookups (the Node side of the ensure-*.sh scripts): finding a tool
// the way the scripts do, and running a script to provide it.
import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

/** @param {string} file */
export function isExecutableFile(file) {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * `$<overrideVar>` when set (an error if it is not an executable: an explicit choice that does
 * not work is not a hint to look elsewhere), else `name` on PATH, else the first executable of
 * `fallbacks`; undefined when none.
 * @param {string} name @param {string} overrideVar @param {(string | undefined)[]} fallbacks
 * @returns {string | undefined}
 */
export function findTool(name, overrideVar, fallbacks = []) {
  const override = process.env[overrideVar];
  if (override) {
    if (!isExecutableFile(override)) {
      throw new Error(`${overrideVar} is set to '${override}', which is not an executable file`);
    }
    return resolve(override);
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir || '.', name);
    if (isExecutableFile(candidate)) return resolve(candidate);
  }
  const found = fallbacks.find((f) => f !== undefined && isExecutableFile(f));
  return found ? resolve(found) : undefined;
}

/**
 * Runs an ensure-*.sh script and resolves with the path it prints (its progress goes to this
 * process's stderr).
 * @param {string} script @param {string} what
 * @returns {Promise<string>}
 */
export function runEnsureScript(script, what) {
  return new Promise((resolvePath, reject) => {
    const child = execFile('bash', [script], { encoding: 'utf8' }, (error, stdout) => {
      const path = stdout.trim();
      if (error || !path) {
        reject(new Error(`${script} could not provide ${what} (see its messages above)`, { cause: error }));
      } else {
        resolvePath(path);
      }
    });
    child.stderr?.pipe(process.stderr);
  });
}
