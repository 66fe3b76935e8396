import {
  CLUSTER_NAMESPACE,
  closestMatch,
  isClusterScoped,
  KIND_ALIASES,
  KINDS,
  type Kind,
  kindInfo,
} from '@fedmesh/shared';

/** `svc`, `services`, `Service` → `Service`; undefined for anything else. */
export function resolveKind(input: string): Kind | undefined {
  return (
    KIND_ALIASES.get(input.toLowerCase()) ??
    ((KINDS as readonly string[]).find((k) => k === input) as Kind | undefined)
  );
}

/** The word to suggest for a mistyped kind ("servce" → "service"), if one is close. */
export function suggestKind(input: string): string | undefined {
  return closestMatch(input, [...KIND_ALIASES.keys()]);
}

/** `region, service (svc), …`: each kind's name in lowercase and its shortest alias. */
export const KIND_HELP = KINDS.map((k) => {
  const name = k.toLowerCase();
  const short = kindInfo(k).aliases.filter((a) => a !== name && !a.startsWith(name));
  return short.length ? `${name} (${short.at(-1)})` : name;
}).join(', ');

/** Cluster-scoped kinds live in `_` whatever `-n` says. */
export function namespaceFor(kind: Kind, namespace: string | undefined, fallback: string): string {
  return isClusterScoped(kind) ? CLUSTER_NAMESPACE : (namespace ?? fallback);
}
