import { loadOrCreateSigningKey, publicKeyPem, runProcess } from '@fedmesh/shared';
import { HUB_HELP, parseHubArgs } from './config.js';
import { startHub } from './hub.js';

/** `fedmesh-hub`. */
export async function main(argv: string[]): Promise<void> {
  if (argv.includes('--print-public-key'))
    return printPublicKey(argv.filter((a) => a !== '--print-public-key'));
  return runProcess({
    name: 'fedmesh-hub',
    help: HUB_HELP,
    parse: () => parseHubArgs(argv, process.env),
    start: startHub,
  });
}

/** `fedmesh-hub --signing-key <file> --print-public-key`: what agents list in `--trust`. */
function printPublicKey(argv: string[]): void {
  const parsed = parseHubArgs(argv, process.env);
  const file = parsed.help ? undefined : parsed.config.signingKey;
  if (!file) {
    process.stderr.write(
      'fedmesh-hub: --print-public-key needs --signing-key <file> (or FEDMESH_SIGNING_KEY)\n',
    );
    process.exitCode = 2;
    return;
  }
  const { key, created } = loadOrCreateSigningKey(file);
  if (created) process.stderr.write(`fedmesh-hub: created ${file} (mode 0600), key ${key.keyId}\n`);
  process.stdout.write(publicKeyPem(key.publicKey));
}
