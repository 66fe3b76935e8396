import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  applyPayload,
  canonicalJson,
  type EnvelopeMeta,
  ErrorCode,
  FedmeshError,
  MessageType,
  mirror,
  type RegionView,
  sha256Hex,
  viewHash,
} from '@fedmesh/shared';
import type { Operation } from 'fast-json-patch';
import { fsyncDir, writeFileDurably } from './durable-file.js';

/** The agent's durable state: its verified view and where in the sync stream it stands. */
export interface AgentState {
  view: RegionView;
  /** Stream sequence of the last sync message applied (0 = none yet). */
  streamSeq: number;
}

export interface StateStore {
  /**
   * The persisted state, or undefined on a first start. A damaged snapshot file is an error,
   * never a silent reset; a journal entry that does not verify ends the replay there.
   */
  load(): Promise<AgentState | undefined>;
  /** Durably replaces the state: write a temp file, fsync it, rename over, fsync the directory. */
  save(state: AgentState): Promise<void>;
  /**
   * Durably records a delta that turned the last persisted state into `state`: one appended,
   * fsynced journal line, so persisting costs the size of the change rather than of the view.
   * When the journal outgrows the snapshot it is folded into a fresh snapshot.
   */
  record(state: AgentState, fromVersion: number, ops: Operation[]): Promise<void>;
  /**
   * Records a run of deltas applied one after another, with one fsync: what a catch-up through
   * a backlog pays once per pull rather than once per delta.
   */
  recordRun(steps: readonly JournalStep[]): Promise<void>;
}

/** One delta of a run: the state it produced, from which version, with which ops. */
export interface JournalStep {
  state: AgentState;
  fromVersion: number;
  ops: Operation[];
}

const SNAPSHOT = 'view.json';
const JOURNAL = 'journal.jsonl';
/** The journal is folded into the snapshot once it is this large and larger than the snapshot. */
const MIN_COMPACT_BYTES = 256 * 1024;

interface JournalEntry {
  from: number;
  to: number;
  hash: string;
  seq: number;
  ops: Operation[];
}

export function createFileStateStore(dir: string): StateStore {
  const snapshotPath = join(dir, SNAPSHOT);
  const journalPath = join(dir, JOURNAL);
  let snapshotBytes = 0;
  let journalBytes = 0;

  const save = async (state: AgentState) => {
    await mkdir(dir, { recursive: true });
    const text = JSON.stringify(state);
    await writeFileDurably(dir, SNAPSHOT, text);
    // Only after the snapshot is durable: a crash in between leaves journal lines that start
    // below the snapshot's version, which load() skips.
    await rm(journalPath, { force: true });
    snapshotBytes = Buffer.byteLength(text);
    journalBytes = 0;
  };

  const recordRun = async (steps: readonly JournalStep[]): Promise<void> => {
    const last = steps.at(-1);
    if (!last) return;
    if (journalBytes > MIN_COMPACT_BYTES && journalBytes > snapshotBytes) return save(last.state);
    const text = steps
      .map(
        ({ state, fromVersion, ops }) =>
          `${JSON.stringify({ from: fromVersion, to: state.view.version, hash: state.view.hash, seq: state.streamSeq, ops } satisfies JournalEntry)}\n`,
      )
      .join('');
    await mkdir(dir, { recursive: true });
    const fh = await open(journalPath, 'a');
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (journalBytes === 0) await fsyncDir(dir); // the journal file itself was just created
    journalBytes += Buffer.byteLength(text);
  };

  return {
    async load() {
      let text: string;
      try {
        text = await readFile(snapshotPath, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      let state: AgentState;
      try {
        state = JSON.parse(text) as AgentState;
      } catch (err) {
        throw new FedmeshError(ErrorCode.DecodeFailed, `state file ${snapshotPath} is not valid JSON`, {
          cause: err,
        });
      }
      // Re-verified on load: a state file edited or damaged on disk must not be served.
      if (!state?.view?.resources) {
        throw new FedmeshError(ErrorCode.DecodeFailed, `state file ${snapshotPath} holds no view`);
      }
      const hash = viewHash(state.view.resources);
      if (hash !== state.view.hash) {
        if (legacyFlatHash(state.view.resources) !== state.view.hash) {
          throw new FedmeshError(
            ErrorCode.HashMismatch,
            `state file ${snapshotPath} does not match its hash`,
          );
        }
        // Written by an agent from before the v2 hash: verified under the hash it was written
        // with, then carried over (docs/protocol.md, "Upgrading from v1"). Its journal lines
        // name v1 hashes and cannot verify; the messages behind them are fetched again.
        const migrated = { ...state, view: { ...state.view, hash } };
        await save(migrated);
        return migrated;
      }
      snapshotBytes = Buffer.byteLength(text);
      journalBytes = await stat(journalPath).then(
        (s) => s.size,
        () => 0,
      );
      return replayJournal(state, await readFile(journalPath, 'utf8').catch(() => ''));
    },

    save,

    record: (state, fromVersion, ops) => recordRun([{ state, fromVersion, ops }]),
    recordRun,
  };
}

/**
 * Applies journal lines in order on top of the snapshot. A torn last line (a crash while
 * writing it, so never acknowledged) and lines the snapshot already covers are skipped; a line
 * that does not verify stops the replay, leaving the last verified state.
 */
function replayJournal(snapshot: AgentState, journal: string): AgentState {
  let state = snapshot;
  const cache = mirror(snapshot.view.resources);
  for (const raw of journal.split('\n')) {
    if (!raw) continue;
    let entry: JournalEntry;
    try {
      entry = JSON.parse(raw) as JournalEntry;
    } catch {
      break;
    }
    if (entry.to <= state.view.version) continue;
    if (entry.from !== state.view.version) break;
    try {
      const out = applyPayload(state.view, journalMeta(state.view.region, entry), { ops: entry.ops }, cache);
      if (out.kind === 'applied') state = { view: out.view, streamSeq: entry.seq };
    } catch {
      break;
    }
  }
  return state;
}

function journalMeta(region: string, entry: JournalEntry): EnvelopeMeta {
  return {
    type: MessageType.Delta,
    region,
    fromVersion: entry.from,
    toVersion: entry.to,
    toHash: entry.hash,
    codec: 'identity',
    chunk: { index: 1, count: 1 },
    rawSize: 0,
  };
}

/**
 * The retired v1 view hash (sha256 over the canonical JSON of the whole map). Kept for one
 * thing only: reading a state file written before v2, so an upgraded agent goes on serving its
 * last verified view instead of starting empty. Nothing on the wire is checked with it.
 */
function legacyFlatHash(resources: Readonly<Record<string, unknown>>): string {
  return sha256Hex(canonicalJson(resources));
}
