import { runProcess } from '@fedmesh/shared';
import { startAgent } from './agent.js';
import { AGENT_HELP, parseAgentArgs } from './config.js';

/** `fedmesh-agent`. */
export function main(argv: string[]): Promise<void> {
  return runProcess({
    name: 'fedmesh-agent',
    help: AGENT_HELP,
    parse: () => parseAgentArgs(argv, process.env),
    start: startAgent,
  });
}
