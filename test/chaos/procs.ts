/**
 * Hub and agent processes that the fault loop kills, pauses and restarts: real bins, fixed
 * ports (a restarted process comes back where its clients dial), a log tail, and a supervisor
 * that restarts a process which exits on its own, as systemd's Restart=on-failure would, and
 * counts that exit: a process that dies without being told to is a finding, not noise.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

const LOG_LIMIT = 200_000;
const STOP_TIMEOUT_MS = 10_000;
/** A supervisor waits this long before it restarts a process that exited on its own. */
const RESTART_DELAY_MS = 1_000;

export interface OwnExit {
  process: string;
  at: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines of its output, to say why. */
  tail: string;
}

export interface ManagedProcess {
  readonly name: string;
  /** Base URL of its HTTP listener (admin API or status). */
  readonly url: string;
  running(): boolean;
  paused(): boolean;
  /** The running process's pid (for /proc). */
  pid(): number | undefined;
  /** Spawn and wait until it answers `ready` (start-up may take long when NATS does). */
  start(): Promise<void>;
  /** SIGKILL, as in a crash, and wait for the exit. */
  kill9(): Promise<void>;
  /** SIGSTOP: the process keeps its sockets and its state, and does nothing. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** SIGTERM, then SIGKILL if it has not exited in time; the supervisor stays out of it. */
  stop(): Promise<void>;
  /** Resolves once the process is up, or a restart of it is no longer under way. */
  settled(): Promise<void>;
  /** Waits until the process answers ready again (after a resume, or a NATS fault). */
  waitReady(timeoutMs?: number): Promise<number>;
  output(): string;
  /** Exits nobody asked for, in order. */
  readonly ownExits: OwnExit[];
}

export interface ProcessSpec {
  name: string;
  /** The bin, relative to the repository root. */
  bin: string;
  args: string[];
  url: string;
  /** Path answering 200 once the process is ready, e.g. `/readyz`. */
  readyPath: string;
  env?: NodeJS.ProcessEnv;
  /** Full output of every run is appended here, when given. */
  logFile?: string;
  startTimeoutMs?: number;
}

const live = new Set<ChildProcess>();
let hookInstalled = false;

/** No chaos process outlives the runner, whatever ends it. */
function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  const killAll = () => {
    for (const child of live) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    live.clear();
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

export function createManagedProcess(spec: ProcessSpec): ManagedProcess {
  installExitHook();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  /** Exits we cause are expected; any other is counted and supervised. */
  let expectExit = false;
  let isPaused = false;
  let restarting: Promise<void> = Promise.resolve();
  let closed = false;
  let log = '';
  const ownExits: OwnExit[] = [];
  const append = (text: string) => {
    log = (log + text).slice(-LOG_LIMIT);
    if (spec.logFile) appendFileSync(spec.logFile, text);
  };

  const spawnOnce = (): void => {
    expectExit = false;
    isPaused = false;
    const proc = spawn(process.execPath, [join(REPO_ROOT, spec.bin), ...spec.args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...spec.env },
    });
    child = proc;
    live.add(proc);
    append(`\n[chaos] ----- ${spec.name} started (pid ${proc.pid}) -----\n`);
    for (const s of [proc.stdout!, proc.stderr!]) {
      s.setEncoding('utf8');
      s.on('data', append);
    }
    exited = new Promise<void>((resolve) => {
      proc.once('exit', (code, signal) => {
        live.delete(proc);
        append(`[chaos] ${spec.name} exited (${signal ?? `code ${code}`})\n`);
        if (child === proc) child = undefined;
        if (!expectExit && !closed) {
          ownExits.push({ process: spec.name, at: Date.now(), code, signal, tail: log.slice(-3_000) });
          restarting = restarting.then(async () => {
            await sleep(RESTART_DELAY_MS);
            if (!closed && !child) await startAndWait().catch(() => undefined);
          });
        }
        resolve();
      });
    });
  };

  const ready = async (): Promise<boolean> => {
    try {
      const res = await fetch(spec.url + spec.readyPath, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  };

  const waitReady = async (timeoutMs = spec.startTimeoutMs ?? 90_000): Promise<number> => {
    const started = Date.now();
    while (!(await ready())) {
      if (Date.now() - started > timeoutMs) {
        throw new Error(
          `${spec.name} not ready at ${spec.url}${spec.readyPath} after ${timeoutMs} ms\n${log.slice(-4_000)}`,
        );
      }
      await sleep(100);
    }
    return Date.now() - started;
  };

  const startAndWait = async (): Promise<void> => {
    spawnOnce();
    await waitReady();
  };

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (!proc) return;
    expectExit = true;
    if (isPaused) proc.kill('SIGCONT');
    isPaused = false;
    proc.kill(signal);
    const gone = exited;
    const late = await Promise.race([gone.then(() => false), sleep(STOP_TIMEOUT_MS, true)]);
    if (late) {
      proc.kill('SIGKILL');
      await gone;
    }
  };

  return {
    name: spec.name,
    url: spec.url,
    ownExits,
    running: () => child !== undefined,
    paused: () => isPaused,
    pid: () => child?.pid,
    start: async () => {
      await restarting;
      if (child) return;
      await startAndWait();
    },
    kill9: () => terminate('SIGKILL'),
    pause: () => {
      if (!child) return;
      child.kill('SIGSTOP');
      isPaused = true;
    },
    resume: () => {
      if (!child) return;
      child.kill('SIGCONT');
      isPaused = false;
    },
    stop: async () => {
      closed = true;
      await terminate('SIGTERM');
    },
    settled: () => restarting,
    waitReady,
    output: () => log,
  };
}

/**
 * A free port for a process that is restarted on it, from below the kernel's ephemeral range
 * (32768 and up on Linux): a port from `listen(0)` comes from that range, and once the process
 * is killed, any outgoing connection on the machine may get it as its local port, so the restart
 * fails with EADDRINUSE (seen: an agent's xDS port taken while it was down).
 */
export async function stablePort(): Promise<number> {
  const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
    .trim()
    .split(/\s+/)
    .map(Number);
  const top = Math.min(low ?? 32768, 32768);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * (top - 20000));
    // Callers ask for many at once (a storm of agents): no port is handed out twice.
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await canListen(port)) return port;
  }
  throw new Error('no free port below the ephemeral range');
}

const handedOut = new Set<number>();

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
