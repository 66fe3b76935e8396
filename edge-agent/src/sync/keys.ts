/** Reading what trust.ts needs: the `--trust` file, and the hub's key announcements on FEDMESH_KEYS. */
import { readFileSync } from 'node:fs';
import { decodeAnnouncement, KEYS_STREAM, type KeyAnnouncement } from '@fedmesh/shared';
import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';

/** The `--trust` file's text; a missing or unreadable file stops the agent at start, in words. */
export function readTrustFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`--trust ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
}

/**
 * A reader of every record on FEDMESH_KEYS, oldest first (the stream keeps at most a few
 * hundred); none when the hub never signed. Each call costs one stream-info request; the records
 * are read again only when the stream has grown, so an agent shown message after message signed
 * by a key nobody announced pays one small request each, not a re-read. Malformed records are
 * skipped: only a trusted key's signature makes a record count.
 */
export function keyAnnouncementReader(jsm: JetStreamManager): () => Promise<KeyAnnouncement[]> {
  let readUpTo = 0;
  let records: KeyAnnouncement[] = [];
  return async () => {
    let first: number;
    let last: number;
    try {
      const { state } = await jsm.streams.info(KEYS_STREAM);
      ({ first_seq: first, last_seq: last } = state);
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return [];
      throw err;
    }
    if (last === readUpTo) return records;
    const out: KeyAnnouncement[] = [];
    for (let seq = Math.max(1, first); seq <= last && out.length < 1024; seq++) {
      const m = await jsm.streams.getMessage(KEYS_STREAM, { seq }).catch(() => null);
      if (!m) continue;
      try {
        out.push(decodeAnnouncement(m.data));
      } catch {
        // not an announcement: ignored
      }
    }
    records = out;
    readUpTo = last;
    return records;
  };
}
