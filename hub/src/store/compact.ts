/**
 * What the hub holds of a mesh is mostly endpoints: at Alibaba scale 1.9 million of them, each
 * decoded from the KV store into objects of its own. Their zones and label sets repeat (a few
 * zones per region, a handful of label sets per service), so a decoded resource shares them:
 * one string per zone and one frozen object per label set, instead of one per endpoint. That
 * is about 100 bytes an endpoint. Frozen, because a shared object must never be changed in
 * place (resources are immutable once stored; a write brings a new object).
 */
import type { Resource } from '@fedmesh/shared';

/** Distinct values kept; past that, values are left as decoded (memory stays bounded). */
const MAX_SHARED = 100_000;
const zones = new Map<string, string>();
const labelSets = new Map<string, Readonly<Record<string, string>>>();

/** Shares the repeated parts of a freshly decoded resource (changing it in place) and returns it. */
export function compactResource(r: Resource): Resource {
  if (r.kind !== 'ServiceEndpoints') return r;
  for (const e of r.spec.endpoints) {
    if (e.zone !== undefined) e.zone = share(zones, e.zone, e.zone);
    if (e.labels !== undefined) {
      const key = JSON.stringify(e.labels);
      e.labels = share(labelSets, key, e.labels, Object.freeze) as typeof e.labels;
    }
  }
  return r;
}

function share<V>(table: Map<string, V>, key: string, value: V, prepare: (v: V) => V = (v) => v): V {
  const known = table.get(key);
  if (known !== undefined) return known;
  if (table.size >= MAX_SHARED) return value;
  const kept = prepare(value);
  table.set(key, kept);
  return kept;
}
