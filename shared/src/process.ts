import { BUILD } from './build.js';
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
  /** The command line, for `--version` (default: this process's). */
  argv?: readonly string[];
}): Promise<void> {
  if ((opts.argv ?? process.argv.slice(2)).includes('--version')) {
    process.stdout.write(`${opts.name} ${BUILD.version}\n`);
    return;
  }
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
  // A signal while still starting (NATS unreachable, say) ends the process at once: there is
  // nothing to drain yet, and waiting for a start that may never finish would ignore the operator.
  let running: { stop(): Promise<void> } | undefined;
  const early = (signal: string) => {
    if (running) return;
    logger.info({ signal }, 'stopped while starting');
    logger.flush();
    process.exit(0);
  };
  process.once('SIGINT', early);
  process.once('SIGTERM', early);
  try {
    running = await opts.start(parsed.config, logger);
  } catch (err) {
    logger.fatal({ err }, `cannot start ${opts.name}`);
    logger.flush();
    process.exit(1);
  }
  process.off('SIGINT', early);
  process.off('SIGTERM', early);
  const started = running;
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), opts.stopTimeoutMs ?? 10_000);
    force.unref();
    started.stop().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (err) => {
        logger.error({ err }, 'unclean shutdown');
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

/** Waits for `p` to settle, but no longer than `ms`: shutdown steps must not hang a stopping process. */
export function settleWithin(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!p) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    const done = () => {
      clearTimeout(t);
      resolve();
    };
    p.then(done, done);
  });
}
