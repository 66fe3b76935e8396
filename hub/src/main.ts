import { runProcess } from '@fedmesh/shared';
import { HUB_HELP, parseHubArgs } from './config.js';
import { startHub } from './hub.js';

/** `fedmesh-hub`. */
export function main(argv: string[]): Promise<void> {
  return runProcess({
    name: 'fedmesh-hub',
    help: HUB_HELP,
    parse: () => parseHubArgs(argv, process.env),
    start: startHub,
  });
}
