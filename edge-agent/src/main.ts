import { createLogger } from '@fedmesh/shared';
import { startAgent } from './agent.js';
import { AGENT_HELP, parseAgentArgs } from './config.js';

/** `fedmesh-agent`: parse configuration once, start, stop cleanly on SIGINT/SIGTERM. */
export async function main(argv: string[]): Promise<void> {
  let parsed: ReturnType<typeof parseAgentArgs>;
  try {
    parsed = parseAgentArgs(argv, process.env);
  } catch (err) {
    console.error(`fedmesh-agent: ${(err as Error).message}\nRun fedmesh-agent --help for usage.`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(`${AGENT_HELP}\n`);
    return;
  }
  const logger = createLogger({ name: 'fedmesh-agent', level: parsed.config.logLevel });
  let agent: Awaited<ReturnType<typeof startAgent>>;
  try {
    agent = await startAgent(parsed.config, logger);
  } catch (err) {
    logger.fatal({ err }, 'cannot start the agent');
    logger.flush();
    process.exit(1);
  }
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    agent.stop().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (err) => {
        logger.error({ err }, 'unclean shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}
