/**
 * Which hub keys the agent accepts (DESIGN.md, "Trust"; docs/protocol.md, "Signatures").
 *  - `--trust <file>`: the PEM public keys listed there, and any key a trusted key announces
 *    as its successor on `FEDMESH_KEYS`.
 *  - Without it, trust on first use: the key of the first signed message the agent receives is
 *    pinned in `<state-dir>/trust.json` (with a warning), then followed through rotations.
 *  - Until then (a hub that does not sign), unsigned messages are taken, with a warning once;
 *    once a key is trusted, an unsigned message is refused like a forged one.
 * Every message is checked before it is spooled or decompressed.
 */
import { mkdir, readFile } from 'node:fs/promises';
import {
  type EnvelopeSignature,
  ErrorCode,
  extendTrust,
  FedmeshError,
  type KeyAnnouncement,
  type Logger,
  parsePublicKeys,
  publicKeyFromRaw,
  rawPublicKey,
  signatureProblem,
  trustedKeys,
} from '@fedmesh/shared';
import { writeFileDurably } from '../state/durable-file.js';

const FILE = 'trust.json';

export type TrustMode = 'configured' | 'first-use' | 'unsigned';

export interface TrustStatus {
  mode: TrustMode;
  keys: string[];
}

export interface SyncTrust {
  /** Loads the trust file and what earlier runs pinned or learnt. */
  load(): Promise<void>;
  /** Throws `decode_failed` when the message on `region`'s line is not signed by a trusted key. */
  verify(region: string, payload: Uint8Array, signature: EnvelopeSignature | undefined): Promise<void>;
  status(): TrustStatus;
}

export interface SyncTrustDeps {
  stateDir: string;
  /** Text of the `--trust` file, when there is one. */
  trustFile?: { path: string; text: string };
  /**
   * The records on FEDMESH_KEYS (empty when there are none); cheap to call again when nothing
   * was announced since (keys.ts).
   */
  announcements: () => Promise<KeyAnnouncement[]>;
  log: Logger;
}

export function createSyncTrust(deps: SyncTrustDeps): SyncTrust {
  const trust = trustedKeys([]);
  let mode: TrustMode = 'unsigned';
  let warnedUnsigned = false;
  const fail = (message: string): never => {
    throw new FedmeshError(ErrorCode.DecodeFailed, `untrusted sync message: ${message}`);
  };
  const persist = async () => {
    await mkdir(deps.stateDir, { recursive: true });
    await writeFileDurably(
      deps.stateDir,
      FILE,
      JSON.stringify({ keys: trust.ids().map((id) => rawPublicKey(trust.get(id)!).toString('base64')) }),
    );
  };
  /** Reads the announcements (again) and follows rotations from the keys trusted now. */
  const refresh = async (): Promise<KeyAnnouncement[]> => {
    const records = await deps.announcements().catch((err: Error) => {
      deps.log.warn({ err: err.message }, 'cannot read the hub key announcements');
      return [];
    });
    if (mode !== 'unsigned') {
      const added = extendTrust(trust, records);
      if (added.length > 0) {
        deps.log.info({ keys: added }, 'trusting hub keys announced by a trusted key (a rotation)');
        await persist();
      }
    }
    return records;
  };

  return {
    async load() {
      if (deps.trustFile) {
        for (const k of parsePublicKeys(deps.trustFile.text, deps.trustFile.path)) trust.add(k);
        mode = 'configured';
      }
      let saved: { keys?: unknown } | undefined;
      try {
        saved = JSON.parse(await readFile(`${deps.stateDir}/${FILE}`, 'utf8')) as { keys?: unknown };
      } catch {
        saved = undefined; // nothing pinned yet
      }
      for (const k of Array.isArray(saved?.keys) ? saved.keys : []) {
        if (typeof k === 'string') trust.add(publicKeyFromRaw(Buffer.from(k, 'base64')));
      }
      if (mode === 'unsigned' && trust.ids().length > 0) mode = 'first-use';
    },

    async verify(region, payload, signature) {
      if (mode === 'unsigned') {
        if (!signature) {
          if (!warnedUnsigned)
            deps.log.warn(
              'the hub does not sign sync messages: they are taken as they come (set its --signing-key)',
            );
          warnedUnsigned = true;
          return;
        }
        // Trust on first use: the key the hub announced under this id, if it signed this message.
        const records = await refresh();
        const record = records.find((r) => r.id === signature.keyId);
        if (!record) return fail(`signed by key ${signature.keyId}, which the hub has not announced`);
        const candidate = trustedKeys([publicKeyFromRaw(Buffer.from(record.key, 'base64'))]);
        const problem = signatureProblem(region, payload, signature, candidate);
        if (problem) return fail(problem.message);
        trust.add(candidate.get(signature.keyId)!);
        mode = 'first-use';
        extendTrust(trust, records);
        await persist();
        deps.log.warn(
          { keyId: signature.keyId, file: `${deps.stateDir}/${FILE}` },
          'trusting the hub key on first use; pin it with --trust to be sure it is the hub you meant',
        );
        return;
      }
      let problem = signatureProblem(region, payload, signature, trust);
      if (problem?.reason === 'unknown-key') {
        await refresh();
        problem = signatureProblem(region, payload, signature, trust);
      }
      if (problem) fail(problem.message);
    },

    status: () => ({ mode, keys: trust.ids() }),
  };
}
