import { UsageError } from './args.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

/** Where fedmeshctl sends requests, and who said so: error messages tell the user what to change. */
export interface ServerTarget {
  url: string;
  source: 'flag' | 'env' | 'default';
}

/**
 * `--server` beats `FEDMESH_SERVER` beats the default. `host:port` (and a bare host) mean
 * http://; anything that is not an http(s) URL is refused naming where it came from.
 */
export function resolveServer(flag: string | undefined, env: string | undefined): ServerTarget {
  if (flag !== undefined) return { url: normalizeServer(flag, '--server'), source: 'flag' };
  if (env !== undefined && env !== '') return { url: normalizeServer(env, 'FEDMESH_SERVER'), source: 'env' };
  return { url: DEFAULT_SERVER, source: 'default' };
}

const EXPECTED = 'give http://HOST:PORT, https://HOST:PORT or HOST:PORT, e.g. 127.0.0.1:8080';

export function normalizeServer(raw: string, from: string): string {
  const value = raw.trim();
  if (value === '') throw new UsageError(`${from} is empty: ${EXPECTED}`);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1];
  if (scheme && !/^https?$/i.test(scheme)) {
    throw new UsageError(`${from} "${value}" uses ${scheme}://; the hub's admin API is http:// or https://`);
  }
  if (!scheme) {
    const port = /^(?:\[[^\]]*\]|[^:/]*):([^/]*)/.exec(value)?.[1];
    if (port !== undefined && !/^\d{1,5}$/.test(port)) {
      throw new UsageError(`${from} "${value}": the port must be a number, not "${port}"; ${EXPECTED}`);
    }
  }
  let url: URL;
  try {
    url = new URL(scheme ? value : `http://${value}`);
  } catch {
    throw new UsageError(`${from} "${value}" is not a server address: ${EXPECTED}`);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new UsageError(
      `${from} "${value}" carries ${url.username || url.password ? 'credentials' : 'a query or fragment'}; ${EXPECTED}` +
        (url.username || url.password ? ' (and the token in --token or FEDMESH_TOKEN)' : ''),
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** What to tell a user whose hub cannot be reached, depending on where its address came from. */
export function serverHint(target: ServerTarget): string {
  const set =
    'set it with --server URL or `export FEDMESH_SERVER=http://HOST:PORT` (npm run demo prints that line)';
  if (target.source === 'default') return `no server was given, so fedmeshctl tried the default; ${set}`;
  if (target.source === 'env')
    return `the address came from FEDMESH_SERVER; is the hub running there? Or ${set}`;
  return 'the address came from --server; is the hub running there?';
}
