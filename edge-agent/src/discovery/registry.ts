/**
 * The agent's local registrations (IDC and VM sites): from the registration API and from the
 * `--registrations` file, each with its health from an active check on an interval (rise/fall
 * thresholds) and, with a `ttl`, from heartbeats. API registrations are persisted in the state
 * dir and come back after a restart; file ones come from the file, which is followed.
 */
import { readFile } from 'node:fs/promises';
import { ErrorCode, FedmeshError, type Logger } from '@fedmesh/shared';
import { writeFileDurably } from '../state/durable-file.js';
import { type Probe, type ProbeResult, probe as realProbe } from './checks.js';
import {
  keyOf,
  type Registration,
  type RegistrationBody,
  RegistrationBodySchema,
  type RegistrationKey,
  timingsOf,
} from './registration.js';

const FILE = 'registrations.json';

export interface RegistrationStatus extends Registration {
  healthy: boolean;
  registeredAt: string;
  lastCheck: { at: string; ok: boolean; error?: string } | null;
  /** With a ttl: when the last heartbeat (or the registration) arrived. */
  lastHeartbeat: string | null;
}

interface Entry {
  reg: Registration;
  registeredAt: number;
  lastHeartbeat: number;
  /** What the active check says (true without one). */
  checkHealthy: boolean;
  passes: number;
  failures: number;
  everChecked: boolean;
  lastCheck?: { at: number } & ProbeResult;
  timer?: NodeJS.Timeout;
  ttlTimer?: NodeJS.Timeout;
  probing: boolean;
  /** The health last told to listeners. */
  told?: boolean;
}

export interface Registry {
  /** Loads what the API registered before a restart. */
  load(): Promise<void>;
  /** Registers or replaces; `created` when it is new. Throws `already_exists` over a file entry. */
  put(key: RegistrationKey, body: RegistrationBody, source?: 'api' | 'file'): Promise<{ created: boolean }>;
  /** Removes an API registration; false when there is none. */
  delete(key: RegistrationKey): Promise<boolean>;
  /** A TTL heartbeat; false when there is no such registration. */
  heartbeat(key: RegistrationKey): boolean;
  list(): RegistrationStatus[];
  /** Replaces the file's registrations with `entries` (the file was read again). */
  replaceFileEntries(entries: (RegistrationKey & RegistrationBody)[]): void;
  /** Told whenever a registration comes, goes, or changes health. */
  onChange(listener: () => void): void;
  stop(): void;
}

export function createRegistry(deps: {
  stateDir: string;
  log: Logger;
  probe?: Probe;
  now?: () => number;
}): Registry {
  const probe = deps.probe ?? realProbe;
  const now = deps.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const listeners: (() => void)[] = [];
  let stopped = false;
  let writing: Promise<void> = Promise.resolve();

  const healthOf = (e: Entry): boolean => {
    const { ttlMs } = timingsOf(e.reg);
    const fresh = ttlMs === undefined || now() - e.lastHeartbeat <= ttlMs;
    return e.checkHealthy && fresh;
  };
  const changed = () => {
    for (const l of listeners) l();
  };
  const tellIfChanged = (e: Entry) => {
    const h = healthOf(e);
    if (e.told === h) return;
    if (e.told !== undefined)
      deps.log.info(
        { registration: keyOf(e.reg), healthy: h, check: e.lastCheck?.error },
        'registration health changed',
      );
    e.told = h;
    changed();
  };
  const persist = () => {
    const api = [...entries.values()].filter((e) => e.reg.source === 'api').map((e) => e.reg);
    writing = writing
      .catch(() => undefined)
      .then(() => writeFileDurably(deps.stateDir, FILE, JSON.stringify(api)));
    return writing;
  };
  const scheduleTtl = (e: Entry) => {
    clearTimeout(e.ttlTimer);
    const { ttlMs } = timingsOf(e.reg);
    if (ttlMs === undefined || stopped) return;
    e.ttlTimer = setTimeout(() => tellIfChanged(e), Math.max(0, e.lastHeartbeat + ttlMs - now()) + 1);
    e.ttlTimer.unref();
  };
  const runCheck = async (e: Entry) => {
    const check = e.reg.check;
    if (!check || e.probing || stopped) return;
    e.probing = true;
    const { timeoutMs, rise, fall } = timingsOf(e.reg);
    const result = await probe(e.reg, check, timeoutMs);
    e.probing = false;
    if (entries.get(keyOf(e.reg)) !== e) return; // replaced or removed meanwhile
    e.lastCheck = { at: now(), ...result };
    if (result.ok) {
      e.passes++;
      e.failures = 0;
      // A new registration is healthy at its first pass; after a fall it takes `rise` passes.
      if (!e.checkHealthy && (!e.everChecked || e.passes >= rise)) e.checkHealthy = true;
    } else {
      e.failures++;
      e.passes = 0;
      if (e.checkHealthy && e.failures >= fall) e.checkHealthy = false;
    }
    e.everChecked = true;
    tellIfChanged(e);
  };
  const start = (e: Entry) => {
    scheduleTtl(e);
    if (!e.reg.check || stopped) return;
    const { intervalMs } = timingsOf(e.reg);
    void runCheck(e);
    e.timer = setInterval(() => void runCheck(e), intervalMs);
    e.timer.unref();
  };
  const remove = (key: string) => {
    const e = entries.get(key);
    if (!e) return false;
    clearInterval(e.timer);
    clearTimeout(e.ttlTimer);
    entries.delete(key);
    return true;
  };
  const add = (reg: Registration): boolean => {
    const key = keyOf(reg);
    const created = remove(key) === false;
    const t = now();
    const e: Entry = {
      reg,
      registeredAt: t,
      lastHeartbeat: t,
      checkHealthy: reg.check === undefined,
      passes: 0,
      failures: 0,
      everChecked: false,
      probing: false,
    };
    entries.set(key, e);
    e.told = healthOf(e);
    start(e);
    return created;
  };

  return {
    async load() {
      let saved: unknown;
      try {
        saved = JSON.parse(await readFile(`${deps.stateDir}/${FILE}`, 'utf8'));
      } catch {
        return; // none yet
      }
      for (const item of Array.isArray(saved) ? saved : []) {
        const { namespace, service, id, source: _, ...body } = item as Registration;
        const parsed = RegistrationBodySchema.safeParse(body);
        if (
          !parsed.success ||
          typeof namespace !== 'string' ||
          typeof service !== 'string' ||
          typeof id !== 'string'
        )
          continue;
        add({ namespace, service, id, ...parsed.data, source: 'api' });
      }
      if (entries.size > 0) {
        deps.log.info({ registrations: entries.size }, 'registrations restored from the state dir');
        changed();
      }
    },

    async put(key, body, source = 'api') {
      const prior = entries.get(keyOf(key));
      if (source === 'api' && prior?.reg.source === 'file') {
        throw new FedmeshError(
          ErrorCode.AlreadyExists,
          `${keyOf(key)} comes from the --registrations file; change it there`,
        );
      }
      const created = add({ ...key, ...body, source });
      changed();
      if (source === 'api') await persist();
      return { created };
    },

    async delete(key) {
      const e = entries.get(keyOf(key));
      if (!e) return false;
      if (e.reg.source === 'file') {
        throw new FedmeshError(
          ErrorCode.AlreadyExists,
          `${keyOf(key)} comes from the --registrations file; remove it there`,
        );
      }
      remove(keyOf(key));
      changed();
      await persist();
      return true;
    },

    heartbeat(key) {
      const e = entries.get(keyOf(key));
      if (!e) return false;
      e.lastHeartbeat = now();
      scheduleTtl(e);
      tellIfChanged(e);
      return true;
    },

    list() {
      return [...entries.values()]
        .sort((a, b) => (keyOf(a.reg) < keyOf(b.reg) ? -1 : 1))
        .map((e) => ({
          ...e.reg,
          healthy: healthOf(e),
          registeredAt: new Date(e.registeredAt).toISOString(),
          lastCheck: e.lastCheck
            ? {
                at: new Date(e.lastCheck.at).toISOString(),
                ok: e.lastCheck.ok,
                ...(e.lastCheck.error ? { error: e.lastCheck.error } : {}),
              }
            : null,
          lastHeartbeat: e.reg.ttl ? new Date(e.lastHeartbeat).toISOString() : null,
        }));
    },

    replaceFileEntries(next) {
      const keep = new Set(next.map(keyOf));
      for (const [key, e] of [...entries]) if (e.reg.source === 'file' && !keep.has(key)) remove(key);
      for (const { namespace, service, id, ...body } of next) {
        const prior = entries.get(keyOf({ namespace, service, id }));
        const reg: Registration = { namespace, service, id, ...body, source: 'file' };
        // Unchanged entries keep their health and timers.
        if (prior && JSON.stringify(prior.reg) === JSON.stringify(reg)) continue;
        add(reg);
      }
      changed();
    },

    onChange(listener) {
      listeners.push(listener);
    },

    stop() {
      stopped = true;
      for (const key of [...entries.keys()]) remove(key);
    },
  };
}
