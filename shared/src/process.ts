import { createLogger, type Logger, type LogLevel } from './logger.js';

/**
 * The life of a fedmesh process, the same for every bin: parse the configuration once (exit 2
 * with a message on bad flags), print help, start, and on SIGINT/SIGTERM stop gracefully and
 * exit 0 (1 if stopping fails or takes longer than `stopTimeoutMs`).
 */
export async function runProcess<C extends { logLevel: LogLevel }>(opts: {
  name: string;
  help: string;
  parse: () => { help: true } | { help: false; config: C };
  start: (config: C, logger: Logger) => Promise<{ stop(): Promise<void> }>;
  stopTimeoutMs?: number;
}): Promise<void> {
  let parsed: ReturnType<typeof opts.parse>;
  try {
    parsed = opts.parse();
  } catch (err) {
    console.error(`${opts.name}: ${(err as Error).message}\nRun ${opts.name} --help for usage.`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(`${opts.help}\n`);
    return;
  }
  const logger = createLogger({ name: opts.name, level: parsed.config.logLevel });
  let running: { stop(): Promise<void> };
  try {
    running = await opts.start(parsed.config, logger);
  } catch (err) {
    logger.fatal({ err }, `cannot start ${opts.name}`);
    logger.flush();
    process.exit(1);
  }
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), opts.stopTimeoutMs ?? 10_000);
    force.unref();
    running.stop().then(
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
