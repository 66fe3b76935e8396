// Finds a nats-server binary for the demo launcher and the tests, installing one through
// ensure-nats-server.sh when none is found (the test harness uses this lookup too). The order must
// match the script: $NATS_SERVER_BIN, then nats-server on PATH, then /usr/sbin/nats-server.
import { fileURLToPath } from 'node:url';
import { findTool, runEnsureScript } from './lib/tools.mjs';

const SCRIPT = fileURLToPath(new URL('./ensure-nats-server.sh', import.meta.url));

/**
 * The absolute path of an installed nats-server, or undefined. Never installs anything.
 * @returns {string | undefined}
 */
export function findNatsServerBinary() {
  return findTool('nats-server', 'NATS_SERVER_BIN', ['/usr/sbin/nats-server']);
}

/**
 * The absolute path of a nats-server binary, installed with the OS package manager if needed.
 * Installation progress goes to this process's stderr.
 * @returns {Promise<string>}
 */
export async function ensureNatsServer() {
  return findNatsServerBinary() ?? runEnsureScript(SCRIPT, 'nats-server');
}
