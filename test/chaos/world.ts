/**
 * The production topology of deploy/, on one machine: a 3-node JetStream cluster (domain `hub`,
 * routes, leafnode listeners), two hub processes with `--replicas 3` and `--nats` listing all three
 * servers, one agent process per region, the leaf region's agent behind its own nats-server joined
 * to the cluster as a leaf node. Optionally one cluster member keeps its JetStream store on a
 * small tmpfs mounted here, so a fault can fill it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Resource, sampleMesh } from '@fedmesh/shared';
import { poorlyCompressingService } from '../support/fixtures.js';
import {
  type NatsCluster,
  type NatsServerHandle,
  startNatsCluster,
  startNatsServer,
  waitForJetStream,
} from '../support/nats.js';
import { extraEndpoints } from './churn.js';
import { createManagedProcess, type ManagedProcess, stablePort } from './procs.js';

/** The sample mesh's regions; the last one sits behind a leaf node. */
export const REGIONS = ['eu-west', 'us-east', 'ap-south'] as const;
export const LEAF_REGION = 'ap-south';
/** The leaf region's agent's --budget: its Region says 128 KiB/s, the agent lowers it. */
export const LEAF_BUDGET = '16KiB/s';

/**
 * The cluster drops a client that has not answered two pings two seconds apart, so a hub paused
 * for longer loses its connection (and its subscriptions, its consumers' interest) as it would
 * at the defaults after four minutes.
 */
const SERVER_PING = 'ping_interval: "2s"\nping_max: 2';
const TMPFS_SIZE = '64m';

export interface ChaosWorldOptions {
  /** Keep one member's store on a tmpfs (needs root and mount; skipped with a reason otherwise). */
  tmpfs?: boolean;
  /** Full logs of every process go here when given (a directory the caller owns). */
  logDir?: string;
  logLevel?: string;
}

export interface Tmpfs {
  /** Mount point, the store dir of `member`. */
  path: string;
  member: number;
  /** Fills the file system (a filler file) and returns its size. */
  fill(): number;
  unfill(): void;
  /** Empties the store (the member must be stopped): a new disk. */
  wipe(): void;
}

export interface AgentProc extends ManagedProcess {
  region: string;
  stateDir: string;
}

export interface ChaosWorld {
  dir: string;
  cluster: NatsCluster;
  leaf: NatsServerHandle;
  hubs: ManagedProcess[];
  agents: AgentProc[];
  tmpfs: Tmpfs | undefined;
  /** Why there is no tmpfs, when one was asked for. */
  tmpfsSkipped: string | undefined;
  /** The ServiceEndpoints the churn updates, as set up. */
  endpoints: Resource[];
  close(): Promise<void>;
}

export async function startChaosWorld(opts: ChaosWorldOptions = {}): Promise<ChaosWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-chaos-'));
  removeOnExit(dir);
  const closers: Array<() => Promise<void> | void> = [
    () => {
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
  ];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        console.error(`chaos: clean-up step failed: ${(err as Error).message}`);
      }
    }
  };
  try {
    let tmpfs: Tmpfs | undefined;
    let tmpfsSkipped: string | undefined;
    if (opts.tmpfs) {
      const made = mountTmpfs(join(dir, 'n3-store'));
      if (typeof made === 'string') tmpfsSkipped = made;
      else {
        tmpfs = made;
        closers.push(() => unmount(made.path));
      }
    }
    if (opts.logDir) mkdirSync(opts.logDir, { recursive: true }); // --log-dir need not exist
    const cluster = await startNatsCluster(
      3,
      { domain: 'hub', leafListen: true, extraConfig: SERVER_PING },
      // Its own max_file_store: sized from a 64 MiB file system, it would refuse the sync stream.
      tmpfs ? [undefined, undefined, { storeDir: tmpfs.path, maxFileStore: '8G' }] : [],
    );
    closers.push(() => cluster.cleanup());
    if (opts.logDir) {
      // Before the servers go: their logs live in memory.
      closers.push(() => {
        for (const s of cluster.servers) writeFileSync(join(opts.logDir!, `${s.name}.log`), s.logs());
      });
    }
    const leaf = await startNatsServer({
      name: LEAF_REGION,
      domain: LEAF_REGION,
      leafRemoteUrls: cluster.servers.map((s) => s.leafUrl!),
    });
    closers.push(() => leaf.cleanup());
    if (opts.logDir) closers.push(() => writeFileSync(join(opts.logDir!, 'leaf.log'), leaf.logs()));
    await waitForJetStream(leaf.url, { domain: 'hub', timeoutMs: 60_000 });

    const natsList = cluster.urls.join(',');
    const log = (name: string) => (opts.logDir ? join(opts.logDir, `${name}.log`) : undefined);
    const hubs: ManagedProcess[] = [];
    for (const name of ['hub-a', 'hub-b']) {
      const port = await stablePort();
      const logFile = log(name);
      hubs.push(
        createManagedProcess({
          name,
          bin: 'hub/bin/fedmesh-hub.mjs',
          args: [
            ...['--nats', natsList, '--listen', `127.0.0.1:${port}`, '--replicas', '3'],
            ...['--debounce', '20ms', '--max-wait', '200ms', '--log-level', opts.logLevel ?? 'warn'],
            ...['--signing-key', join(dir, 'hub.pem')],
            // Snapshots of several chunks, so that faults land in the middle of one.
            ...['--chunk-size', '1KiB'],
          ],
          url: `http://127.0.0.1:${port}`,
          readyPath: '/readyz',
          ...(logFile ? { logFile } : {}),
        }),
      );
    }
    closers.push(() => Promise.all(hubs.map((h) => h.stop())).then(() => undefined));
    // The first creates the signing key the second reads.
    await hubs[0]!.start();
    await hubs[1]!.start();

    const endpoints = [
      ...sampleMesh().filter((r) => r.kind === 'ServiceEndpoints'),
      ...extraEndpoints(REGIONS),
    ];
    const setup = [
      ...sampleMesh().filter((r) => r.kind !== 'ServiceEndpoints'),
      ...endpoints,
      ...bulkForLeafRegion(),
    ];
    for (const r of setup) await put(hubs[0]!.url, r);

    const agents: AgentProc[] = [];
    for (const region of REGIONS) {
      const stateDir = join(dir, `agent-${region}`);
      mkdirSync(stateDir);
      const [status, xds] = [await stablePort(), await stablePort()];
      const behindLeaf = region === LEAF_REGION;
      const logFile = log(`agent-${region}`);
      const proc = createManagedProcess({
        name: `agent-${region}`,
        bin: 'edge-agent/bin/fedmesh-agent.mjs',
        args: [
          ...['--region', region, '--nats', behindLeaf ? leaf.url : natsList, '--state-dir', stateDir],
          ...['--xds-listen', `127.0.0.1:${xds}`, '--status-listen', `127.0.0.1:${status}`],
          ...['--heartbeat', '1s', '--log-level', opts.logLevel ?? 'warn'],
          // A slow line behind the leaf: a fresh snapshot takes seconds, time for a fault to land in it.
          ...(behindLeaf ? ['--hub-domain', 'hub', '--budget', LEAF_BUDGET] : []),
        ],
        url: `http://127.0.0.1:${status}`,
        readyPath: '/status',
        ...(logFile ? { logFile } : {}),
      });
      agents.push(Object.assign(proc, { region, stateDir }));
    }
    closers.push(() => Promise.all(agents.map((a) => a.stop())).then(() => undefined));
    await Promise.all(agents.map((a) => a.start()));
    return { dir, cluster, leaf, hubs, agents, tmpfs, tmpfsSkipped, endpoints, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * A service with 600 endpoints in the leaf region, labelled so that they compress poorly: its
 * snapshots run to about ten 1 KiB chunks, two to three seconds at the leaf agent's budget, long
 * enough for a leaf-node restart or an agent kill to land in the middle of one. The churn leaves
 * it alone.
 */
function bulkForLeafRegion(): Resource[] {
  return poorlyCompressingService(LEAF_REGION, 1000);
}

async function put(hubUrl: string, r: Resource): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(
      `${hubUrl}/v1/resources/${r.kind}/${r.metadata.namespace ?? '_'}/${r.metadata.name}`,
      {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(r),
        signal: AbortSignal.timeout(10_000),
      },
    );
    const text = await res.text();
    if (res.ok) return;
    if (attempt >= 5) throw new Error(`set-up PUT ${r.kind}/${r.metadata.name}: ${res.status} ${text}`);
    await sleep(500);
  }
}

/** A tmpfs under the run's temp dir, or the reason there cannot be one. */
function mountTmpfs(path: string): Tmpfs | string {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root: mounting a tmpfs needs CAP_SYS_ADMIN';
  mkdirSync(path);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE}`, 'tmpfs', path], { stdio: 'pipe' });
  } catch (err) {
    return `mount -t tmpfs failed: ${(err as Error).message.split('\n')[0]}`;
  }
  installUnmountOnExit(path);
  const filler = join(path, 'chaos-filler');
  return {
    path,
    member: 2,
    fill: () => {
      // dd stops at ENOSPC with a non-zero status; what it wrote is what matters.
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M'], { stdio: 'pipe' });
      } catch {
        // the file system is full
      }
      return Number(execFileSync('stat', ['-c', '%s', filler], { encoding: 'utf8' }).trim());
    },
    unfill: () => rmSync(filler, { force: true }),
    wipe: () => {
      for (const f of readdirSync(path)) rmSync(join(path, f), { recursive: true, force: true });
    },
  };
}

const mounted = new Set<string>();
const dirs = new Set<string>();
let exitHook = false;

/**
 * A runner that dies still unmounts what it mounted (lazily: a server may still hold files) and
 * removes its temp dir. Runs after the harness has killed its servers: both listen for 'exit'.
 */
function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const p of mounted) {
      try {
        execFileSync('umount', ['-l', p], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
}

function installUnmountOnExit(path: string): void {
  installExitHook();
  mounted.add(path);
}

function removeOnExit(dir: string): void {
  installExitHook();
  dirs.add(dir);
}

async function unmount(path: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync('umount', [path], { stdio: 'pipe' });
      mounted.delete(path);
      return;
    } catch (err) {
      if (attempt >= 10) {
        execFileSync('umount', ['-l', path], { stdio: 'pipe' });
        mounted.delete(path);
        return;
      }
      await sleep(300);
      void err;
    }
  }
}
