/**
 * The hub's signing keys (docs/protocol.md, "Signatures"): loaded (or created) at start, and
 * announced on `FEDMESH_KEYS` so that agents can learn them: the current key alone, or signed
 * by the key it replaces when `--previous-signing-key` is given.
 */
import {
  announceKey,
  encodeAnnouncement,
  KEYS_STREAM,
  KEYS_SUBJECT,
  type Logger,
  loadOrCreateSigningKey,
  type SigningKey,
  type TrustedKeys,
  trustedKeys,
} from '@fedmesh/shared';
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';

export interface HubKeys {
  current: SigningKey;
  previous?: SigningKey;
  /** What this hub signs with, now or before the rotation: the heads it can vouch for. */
  own: TrustedKeys;
}

export function loadHubKeys(file: string, previousFile: string | undefined, log: Logger): HubKeys {
  const { key: current, created } = loadOrCreateSigningKey(file);
  if (created)
    log.warn(
      { file, keyId: current.keyId },
      'created a new signing key: give every hub replica this file, and agents its public key (fedmesh-hub --print-public-key)',
    );
  let previous: SigningKey | undefined;
  if (previousFile) {
    const loaded = loadOrCreateSigningKey(previousFile);
    if (loaded.created) throw new Error(`--previous-signing-key ${previousFile} does not exist`);
    previous = loaded.key;
  }
  log.info({ keyId: current.keyId, previous: previous?.keyId }, 'signing sync messages');
  return {
    current,
    ...(previous ? { previous } : {}),
    own: trustedKeys([current.publicKey, ...(previous ? [previous.publicKey] : [])]),
  };
}

/** Creates FEDMESH_KEYS if needed and publishes this hub's announcements (deduplicated by key id). */
export async function announceKeys(
  js: JetStreamClient,
  jsm: JetStreamManager,
  keys: HubKeys,
  replicas: number,
): Promise<void> {
  const config = {
    name: KEYS_STREAM,
    subjects: [KEYS_SUBJECT],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_msgs: 256,
    num_replicas: replicas,
  };
  try {
    await jsm.streams.info(KEYS_STREAM);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
    await jsm.streams.add(config);
  }
  const records = keys.previous
    ? [announceKey(keys.previous), announceKey(keys.current, keys.previous)]
    : [announceKey(keys.current)];
  for (const r of records) {
    // One record per key and predecessor, whichever replica or restart publishes it.
    await js.publish(KEYS_SUBJECT, encodeAnnouncement(r), { msgID: `${r.id}.${r.previous ?? 'first'}` });
  }
}
