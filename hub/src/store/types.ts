import type { Resource, ResourceRef } from '@fedmesh/shared';

/** A resource as stored, with the config revision of its last write (the REST ETag). */
export interface StoredResource {
  resource: Resource;
  revision: number;
}

/** One write to the config store, as watchers and the audit history see it. */
export interface ConfigChange {
  op: 'put' | 'delete';
  ref: ResourceRef;
  revision: number;
  time: Date;
  /** Present for puts. */
  resource?: Resource;
}

export interface ListFilter {
  kind?: string;
  namespace?: string;
}

/**
 * The hub's source of truth. Every write returns the new config revision; revisions are
 * global, strictly increasing and shared by all keys (on JetStream KV: the stream sequence).
 * Errors: `already_exists` (create), `revision_mismatch` (stale expected revision), `not_found`.
 */
export interface ConfigStore {
  get(ref: ResourceRef): Promise<StoredResource | undefined>;
  list(filter?: ListFilter): Promise<StoredResource[]>;
  create(resource: Resource): Promise<number>;
  /** Replaces a resource only if its stored revision is `expectedRevision`. */
  update(resource: Resource, expectedRevision: number): Promise<number>;
  /** Creates or replaces, no precondition. */
  put(resource: Resource): Promise<number>;
  /** Deletes (optionally only at `expectedRevision`); returns the revision of the deletion. */
  delete(ref: ResourceRef, expectedRevision?: number): Promise<number>;
  /** Past writes of one resource, oldest first (bounded by the store's history depth). */
  history(ref: ResourceRef): Promise<ConfigChange[]>;
  /**
   * Every change after `afterRevision` (0 = replay the current state of every key, then
   * follow). `onReady` fires once the replay has caught up with the revision current at the call.
   */
  watch(opts: {
    afterRevision?: number;
    onReady?: () => void;
    signal?: AbortSignal;
  }): AsyncIterable<ConfigChange>;
  /** Latest revision written to the store (0 when empty). */
  revision(): Promise<number>;
}
