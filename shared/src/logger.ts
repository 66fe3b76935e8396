import { type LevelWithSilent, type Logger, pino } from 'pino';

export type { Logger };
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = LevelWithSilent;

/** The one root logger of a process; components take `logger.child({ component })`. */
export function createLogger(opts: {
  name: string;
  level?: LogLevel;
  destination?: NodeJS.WritableStream;
}): Logger {
  return pino(
    { name: opts.name, level: opts.level ?? 'info', base: { pid: process.pid } },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
