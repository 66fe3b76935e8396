import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, FedmeshError, type RegionView, viewHash } from '@fedmesh/shared';

/** The agent's durable state: its verified view and where in the sync stream it stands. */
export interface AgentState {
  view: RegionView;
  /** Stream sequence of the last sync message applied (0 = none yet). */
  streamSeq: number;
}

export interface StateStore {
  /** The persisted state, or undefined on a first start. A corrupt file is an error, never a silent reset. */
  load(): Promise<AgentState | undefined>;
  /** Durably replaces the state: write a temp file, fsync it, rename over, fsync the directory. */
  save(state: AgentState): Promise<void>;
}

const FILE = 'view.json';

export function createFileStateStore(dir: string): StateStore {
  const path = join(dir, FILE);
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      let state: AgentState;
      try {
        state = JSON.parse(text) as AgentState;
      } catch (err) {
        throw new FedmeshError(ErrorCode.DecodeFailed, `state file ${path} is not valid JSON`, {
          cause: err,
        });
      }
      // Re-verify on load: a state file edited or damaged on disk must not be served.
      if (!state?.view?.resources || viewHash(state.view.resources) !== state.view.hash) {
        throw new FedmeshError(ErrorCode.HashMismatch, `state file ${path} does not match its hash`);
      }
      return state;
    },
    async save(state) {
      await mkdir(dir, { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(JSON.stringify(state));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path).catch(async (err) => {
        await rm(tmp, { force: true });
        throw err;
      });
      const dh = await open(dir, 'r');
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
    },
  };
}
