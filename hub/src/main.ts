import { createLogger } from '@fedmesh/shared';
import { HUB_HELP, parseHubArgs } from './config.js';
import { startHub } from './hub.js';

/** `fedmesh-hub`: parse configuration once, start, stop cleanly on SIGINT/SIGTERM. */
export async function main(argv: string[]): Promise<void> {
  let parsed: ReturnType<typeof parseHubArgs>;
  try {
    parsed = parseHubArgs(argv, process.env);
  } catch (err) {
    console.error(`fedmesh-hub: ${(err as Error).message}\nRun fedmesh-hub --help for usage.`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(`${HUB_HELP}\n`);
    return;
  }
  const logger = createLogger({ name: 'fedmesh-hub', level: parsed.config.logLevel });
  let hub: Awaited<ReturnType<typeof startHub>>;
  try {
    hub = await startHub(parsed.config, logger);
  } catch (err) {
    logger.fatal({ err }, 'cannot start the hub');
    logger.flush();
    process.exit(1);
  }
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    hub.stop().then(
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
