/**
 * `--registrations <file>`: a YAML (or JSON) list of registrations, each naming itself
 * (`- {namespace, service, id, address, port, ...}`), followed while the agent runs. The file is
 * polled (an editor that writes a new file and renames it over the old one is seen too); a file
 * that does not parse or validate is reported in the log and changes nothing, so a typo never
 * takes a site's endpoints away.
 */
import { type Stats, unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { type Logger, toFieldIssues } from '@fedmesh/shared';
import { parse } from 'yaml';
import { RegistrationsFileSchema } from './registration.js';
import type { Registry } from './registry.js';

/** How often the file is looked at. */
const POLL_MS = 1_000;

/** Reads the file into the registry; throws, in words, when it cannot. */
export async function loadRegistrationsFile(path: string, registry: Registry): Promise<number> {
  const text = await readFile(path, 'utf8');
  let raw: unknown;
  try {
    raw = parse(text, { maxAliasCount: 0 }) ?? [];
  } catch (err) {
    throw new Error(`${path}: not YAML: ${(err as Error).message}`);
  }
  const parsed = RegistrationsFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = toFieldIssues(parsed.error.issues)[0]!;
    throw new Error(`${path}: ${issue.path || 'the file'}: ${issue.message}`);
  }
  registry.replaceFileEntries(parsed.data);
  return parsed.data.length;
}

/** Loads the file now (failing the start when it is bad) and follows it; returns the stop. */
export async function followRegistrationsFile(
  path: string,
  registry: Registry,
  log: Logger,
): Promise<() => void> {
  const count = await loadRegistrationsFile(path, registry);
  log.info({ file: path, registrations: count }, 'registrations file loaded');
  const onChange = () => {
    loadRegistrationsFile(path, registry).then(
      (n) => log.info({ file: path, registrations: n }, 'registrations file reloaded'),
      (err: Error) =>
        log.error({ err: err.message }, 'registrations file not reloaded; keeping what it said before'),
    );
  };
  const listener = (cur: Stats, prev: Stats) => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) onChange();
  };
  watchFile(path, { interval: POLL_MS, persistent: false }, listener);
  return () => unwatchFile(path, listener);
}
