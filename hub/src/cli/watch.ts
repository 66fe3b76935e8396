import type { HubClient } from './client.js';
import type { ChangeEntry, ChangesResponse } from './types.js';

const PAGE = 1000;

/**
 * Follows the audit log (`GET /v1/changes`, every write through the API, agents' included):
 * `render` prints once, then again after each poll that brought a change `matches` accepts.
 * The cursor is read before the first render, so a write between the two shows up once more
 * rather than never. Ends when `signal` aborts (Ctrl-C); errors end it too, by throwing.
 */
export async function followChanges(opts: {
  client: HubClient;
  signal?: AbortSignal;
  intervalMs: number;
  matches: (e: ChangeEntry) => boolean;
  render: (changes: readonly ChangeEntry[]) => Promise<void>;
}): Promise<void> {
  const { client, signal } = opts;
  let cursor = (await client.request<ChangesResponse>('GET', '/v1/changes?order=desc&limit=1')).body.next;
  await opts.render([]);
  while (!signal?.aborted) {
    if (!(await sleep(opts.intervalMs, signal))) return;
    const seen: ChangeEntry[] = [];
    for (;;) {
      const { body } = await client.request<ChangesResponse>(
        'GET',
        `/v1/changes?since=${cursor}&limit=${PAGE}`,
      );
      seen.push(...body.items.filter(opts.matches));
      cursor = Math.max(cursor, body.next);
      if (body.items.length < PAGE) break;
    }
    if (seen.length) await opts.render(seen);
  }
}

/** Resolves true after `ms`, false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (slept: boolean) => {
      clearTimeout(t);
      signal?.removeEventListener('abort', onAbort);
      resolve(slept);
    };
    const onAbort = () => done(false);
    const t = setTimeout(() => done(true), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
