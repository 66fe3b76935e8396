/**
 * A real, shaped link for tests: two network namespaces joined by a veth pair, each end shaped
 * by a token bucket filter (`tc qdisc ... tbf`). Only addresses inside those namespaces are used
 * (10.203.0.0/30) and loopback; everything is removed in `destroy()`, and on process exit too.
 *
 * The test process stays in the root namespace. It reaches services inside a namespace through
 * `bridge()`: a forwarder in the namespace listens on unix sockets (files are not namespaced) and
 * the test listens on its own loopback, so no address leaves the namespaces.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const HELPER = resolve('test/bandwidth/support/nshelper.mjs');

/** Why the shaped-link test cannot run here, or undefined when it can. */
export function shapedLinkUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'creating network namespaces needs root (CI runs as root)';
  for (const [cmd, args] of [
    ['ip', ['netns', 'list']],
    ['tc', ['-V']],
    ['ss', ['-V']],
  ] as const) {
    try {
      execFileSync(cmd, args, { stdio: 'pipe', timeout: 5_000 });
    } catch (err) {
      return `\`${cmd} ${args.join(' ')}\` is not available: ${(err as Error).message.split('\n')[0]}`;
    }
  }
  return undefined;
}

export interface ShapedLink {
  hubNs: string;
  agentNs: string;
  hubIf: string;
  agentIf: string;
  hubAddr: string;
  agentAddr: string;
  /** Link rate in bytes per second, as shaped. */
  bytesPerSecond: number;
  destroy(): void;
}

const live = new Set<() => void>();
let exitHook = false;
let seq = 0;

function onExit(cleanup: () => void): () => void {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const c of live) c();
    });
  }
  live.add(cleanup);
  return () => live.delete(cleanup);
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe', timeout: 10_000 });
}

/**
 * Creates the namespaces, the veth pair and the shaping: `tc qdisc add dev <veth> root tbf rate
 * <rate> burst 32kbit latency 400ms` on both ends, so both directions are shaped.
 */
export function createShapedLink(rateMbit = 2): ShapedLink {
  const id = `${process.pid % 100_000}${++seq}`;
  const link: ShapedLink = {
    hubNs: `fmbw-hub-${id}`,
    agentNs: `fmbw-agent-${id}`,
    hubIf: `fmh${id}`,
    agentIf: `fma${id}`,
    hubAddr: '10.203.0.1',
    agentAddr: '10.203.0.2',
    bytesPerSecond: (rateMbit * 1_000_000) / 8,
    destroy: () => undefined,
  };
  const destroy = () => {
    for (const ns of [link.hubNs, link.agentNs]) {
      try {
        // Deleting a namespace deletes the veth end inside it, and with it the pair.
        ip('netns', 'del', ns);
      } catch {
        // not created, or already gone
      }
    }
  };
  const forget = onExit(destroy);
  link.destroy = () => {
    destroy();
    forget();
  };
  try {
    ip('netns', 'add', link.hubNs);
    ip('netns', 'add', link.agentNs);
    ip('link', 'add', link.hubIf, 'type', 'veth', 'peer', 'name', link.agentIf);
    ip('link', 'set', link.hubIf, 'netns', link.hubNs);
    ip('link', 'set', link.agentIf, 'netns', link.agentNs);
    for (const [ns, dev, addr] of [
      [link.hubNs, link.hubIf, link.hubAddr],
      [link.agentNs, link.agentIf, link.agentAddr],
    ] as const) {
      ip('-n', ns, 'addr', 'add', `${addr}/30`, 'dev', dev);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
      execFileSync(
        'ip',
        [
          'netns',
          'exec',
          ns,
          'tc',
          'qdisc',
          'add',
          'dev',
          dev,
          'root',
          'tbf',
          'rate',
          `${rateMbit}mbit`,
        ].concat(['burst', '32kbit', 'latency', '400ms']),
        { stdio: 'pipe', timeout: 10_000 },
      );
    }
  } catch (err) {
    link.destroy();
    throw new Error(`cannot build the shaped link: ${(err as Error & { stderr?: Buffer }).stderr ?? err}`);
  }
  return link;
}

export interface NsProcess {
  proc: ChildProcess;
  output(): string;
  /** Resolves with the first output line matching `re`, or rejects when the process exits first. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Runs `command` inside namespace `ns` (ip netns exec execs it, so the pid is the command's own). */
export function nsSpawn(ns: string, command: string, args: readonly string[]): NsProcess {
  const proc = spawn('ip', ['netns', 'exec', ns, command, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const listeners = new Set<() => void>();
  for (const stream of [proc.stdout, proc.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (d: string) => {
      out = (out + d).slice(-200_000);
      for (const l of listeners) l();
    });
  }
  const exited = new Promise<void>((r) => {
    proc.once('exit', () => r());
    proc.once('error', () => r());
  });
  let done = false;
  void exited.then(() => {
    done = true;
    for (const l of listeners) l();
  });
  const forget = onExit(() => proc.kill('SIGKILL'));
  void exited.then(forget);
  return {
    proc,
    output: () => out,
    waitForOutput: (re, timeoutMs = 30_000) =>
      new Promise((resolvePromise, reject) => {
        const timer = setTimeout(
          () => finish(new Error(`timed out waiting for ${re} from ${command}:\n${out.slice(-4000)}`)),
          timeoutMs,
        );
        const check = () => {
          const m = re.exec(out);
          if (m) finish(undefined, m[0]);
          else if (done) finish(new Error(`${command} exited before printing ${re}:\n${out.slice(-4000)}`));
        };
        function finish(err?: Error, line?: string) {
          clearTimeout(timer);
          listeners.delete(check);
          if (err) reject(err);
          else resolvePromise(line!);
        }
        listeners.add(check);
        check();
      }),
    stop: async (graceMs = 10_000) => {
      if (done) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface Bridge {
  /** Local (root namespace, 127.0.0.1) port for each port inside the namespace. */
  port(inside: number): number;
  close(): Promise<void>;
}

/** Makes `ports` on 127.0.0.1 inside `ns` reachable on this process's loopback. */
export async function bridge(ns: string, ports: readonly number[]): Promise<Bridge> {
  const dir = mkdtempSync(join(tmpdir(), 'fmbw-bridge-'));
  const forwarder = nsSpawn(ns, process.execPath, [HELPER, 'forward', dir, ...ports.map(String)]);
  const servers: Server[] = [];
  const clients = new Set<Socket>();
  const local = new Map<number, number>();
  try {
    for (const p of ports) await forwarder.waitForOutput(new RegExp(`listening .*/${p}\\.sock`), 15_000);
    for (const p of ports) {
      const server = createServer((client) => {
        clients.add(client);
        client.once('close', () => clients.delete(client));
        const upstream = netConnect(join(dir, `${p}.sock`));
        client.pipe(upstream).pipe(client);
        const close = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', close);
        upstream.on('error', close);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      servers.push(server);
      local.set(p, (server.address() as AddressInfo).port);
    }
  } catch (err) {
    await forwarder.stop(1_000);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port: (inside) => {
      const p = local.get(inside);
      if (p === undefined) throw new Error(`port ${inside} is not bridged`);
      return p;
    },
    close: async () => {
      for (const c of clients) c.destroy();
      for (const s of servers) await new Promise((r) => s.close(() => r(undefined)));
      await forwarder.stop(2_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
