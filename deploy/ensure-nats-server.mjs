// Finds a nats-server binary for the demo launcher and the tests, installing one through
// ensure-nats-server.sh when none is found (the test harness uses this lookup too). The order must
// match the script: $NATS_SERVER_BIN, then nats-server on PATH, then /usr/sbin/nats-server.
import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const FALLBACK_BIN = '/usr/sbin/nats-server';
const SCRIPT = fileURLToPath(new URL('./ensure-nats-server.sh', import.meta.url));

/** @param {string} file */
function isExecutableFile(file) {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The absolute path of an installed nats-server, or undefined. Never installs anything.
 * @returns {string | undefined}
 */
export function findNatsServerBinary() {
  const override = process.env.NATS_SERVER_BIN;
  if (override) {
    // An explicit choice that does not work is an error, not a hint to look elsewhere.
    if (!isExecutableFile(override)) {
      throw new Error(`NATS_SERVER_BIN is set to '${override}', which is not an executable file`);
    }
    return resolve(override);
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir || '.', 'nats-server');
    if (isExecutableFile(candidate)) return resolve(candidate);
  }
  return isExecutableFile(FALLBACK_BIN) ? FALLBACK_BIN : undefined;
}

/**
 * The absolute path of a nats-server binary, installed with the OS package manager if needed.
 * Installation progress goes to this process's stderr.
 * @returns {Promise<string>}
 */
export async function ensureNatsServer() {
  const found = findNatsServerBinary();
  if (found) return found;
  return new Promise((resolvePath, reject) => {
    const child = execFile('bash', [SCRIPT], { encoding: 'utf8' }, (error, stdout) => {
      const path = stdout.trim();
      if (error || !path) {
        reject(
          new Error(`${SCRIPT} could not provide nats-server (see its messages above)`, { cause: error }),
        );
      } else {
        resolvePath(path);
      }
    });
    child.stderr?.pipe(process.stderr);
  });
}
