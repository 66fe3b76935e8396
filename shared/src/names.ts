/**
 * Every NATS name fedmesh uses, defined once. Subjects put the region last so that NATS
 * permissions can confine a region's credentials to `fedmesh.*.<region>`.
 */
export const CONFIG_BUCKET = 'fedmesh_config';
export const STATUS_BUCKET = 'fedmesh_status';
export const SYNC_STREAM = 'FEDMESH_SYNC';
export const SYNC_SUBJECT_PREFIX = 'fedmesh.sync';
export const STATUS_SUBJECT_PREFIX = 'fedmesh.status';
export const RESYNC_SUBJECT_PREFIX = 'fedmesh.resync';
export const URGENT_SUBJECT_PREFIX = 'fedmesh.urgent';
export const UPLINK_SUBJECT_PREFIX = 'fedmesh.uplink';

/** Where a region's agent reports what it discovered (DESIGN.md "Discovery and the uplink"). */
export function uplinkSubject(region: string): string {
  return `${UPLINK_SUBJECT_PREFIX}.${region}`;
}

/**
 * The annotation that marks a ServiceEndpoints as its region's agent's (`agent/<region>`): the
 * hub writes it from the agent's reports and refuses admin writes to it.
 */
export const OWNER_ANNOTATION = 'fedmesh.io/owner';
export const agentOwner = (region: string) => `agent/${region}`;

/**
 * On an agent-owned ServiceEndpoints: the healthy count its agent reported ahead of the detail
 * (DESIGN.md "Uplink": counts cross first). While present it is the count other regions' gateway
 * entries are weighted by; the next detail report replaces the endpoints and drops it.
 */
export const HEALTHY_COUNT_ANNOTATION = 'fedmesh.io/healthy-count';

/**
 * A region's own agent-discovered endpoints: not part of that region's view (its agent serves
 * them locally, DESIGN.md "Local first"); other regions see them as its RemoteEndpoints entry.
 */
export function ownedByAgentOf(
  r: { metadata: { annotations?: Record<string, string> } },
  region: string,
): boolean {
  return r.metadata.annotations?.[OWNER_ANNOTATION] === agentOwner(region);
}

export function syncSubject(region: string): string {
  return `${SYNC_SUBJECT_PREFIX}.${region}`;
}
export function statusSubject(region: string): string {
  return `${STATUS_SUBJECT_PREFIX}.${region}`;
}
/** Request/reply subject on which an agent asks the hub for a fresh snapshot. */
export function resyncSubject(region: string): string {
  return `${RESYNC_SUBJECT_PREFIX}.${region}`;
}
/** Core NATS subject of a region's urgent lane (provisional overlays ahead of the chain). */
export function urgentSubject(region: string): string {
  return `${URGENT_SUBJECT_PREFIX}.${region}`;
}
/** Durable consumer name of a region's agent on the sync stream. */
/**
 * The inbox prefix of a region's agent: replies to it (JetStream pulls, API answers, the hub's
 * catch-up replies) arrive under `_INBOX_<region>.>`, which its NATS permissions allow and no
 * other region's do (deploy/nats/accounts.conf).
 */
export function agentInboxPrefix(region: string): string {
  return `_INBOX_${region}`;
}

export function agentDurableName(region: string): string {
  return `fedmesh-agent-${region}`;
}

/** KV key of a resource: `<kind>.<namespace>.<name>`; cluster-scoped kinds use namespace `_`. */
export const CLUSTER_NAMESPACE = '_';
export function configKey(kind: string, namespace: string, name: string): string {
  return `${kind}.${namespace}.${name}`;
}
export function parseConfigKey(key: string): { kind: string; namespace: string; name: string } | undefined {
  const parts = key.split('.');
  if (parts.length !== 3) return undefined;
  const [kind, namespace, name] = parts as [string, string, string];
  return { kind, namespace, name };
}
/** Key of a resource inside a region view: `<kind>/<namespace>/<name>`. */
export function viewKey(kind: string, namespace: string, name: string): string {
  // join, not a template: V8 keeps a concatenation as a tree of cons strings (32 bytes a node,
  // three nodes here) beside the flat copy it makes once the key is hashed; the hub holds about a
  // million keys at Alibaba scale. join builds one flat string.
  return [kind, namespace, name].join('/');
}
