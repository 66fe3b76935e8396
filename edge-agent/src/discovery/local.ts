/**
 * Local first (DESIGN.md "Discovery and the uplink"): what the agent discovers is served to its
 * own proxies at once, without a round trip through the hub. For every Service of the view that
 * has registrations here, the view's `ServiceEndpoints/{ns}/{service}-{region}` is what the
 * registrations say, each endpoint with the health its check gives it; a backend that fails its
 * check leaves local routing within one check interval.
 */
import { createHash } from 'node:crypto';
import { API_VERSION, canonicalJson, type RegionView, type ViewResource, viewKey } from '@fedmesh/shared';
import type { DiscoveredEndpoint } from './source.js';

/**
 * `view` with the region's registered endpoints in place of its ServiceEndpoints entries for
 * those services; `view` itself when there are none. The result's hash is a digest of the view's
 * hash and what was put in (the xDS server's cue that something changed); the agent's reported
 * hash stays the verified view's.
 */
export function withLocalEndpoints(
  view: RegionView,
  region: string,
  discovered: readonly DiscoveredEndpoint[],
): RegionView {
  const byService = new Map<string, DiscoveredEndpoint[]>();
  for (const r of discovered) {
    const sid = `${r.namespace}/${r.service}`;
    byService.set(sid, [...(byService.get(sid) ?? []), r]);
  }
  let resources: Record<string, ViewResource> | undefined;
  const digest = createHash('sha256').update(view.hash);
  for (const sid of [...byService.keys()].sort()) {
    const [namespace, service] = sid.split('/') as [string, string];
    // Only for Services the hub knows (and sends this region): the view decides what exists.
    if (!view.resources[viewKey('Service', namespace, service)]) continue;
    const name = `${service}-${region}`;
    const entry = {
      apiVersion: API_VERSION,
      kind: 'ServiceEndpoints',
      metadata: { name, namespace },
      spec: {
        service,
        region,
        endpoints: byService.get(sid)!.map((r) => ({
          address: r.address,
          port: r.port,
          ...(r.zone ? { zone: r.zone } : {}),
          ...(r.labels ? { labels: r.labels } : {}),
          healthy: r.healthy,
        })),
      },
    } as ViewResource;
    resources ??= { ...view.resources };
    const key = viewKey('ServiceEndpoints', namespace, name);
    resources[key] = entry;
    digest.update(`\n${key}\n${canonicalJson(entry)}`);
  }
  return resources ? { ...view, resources, hash: `local-${digest.digest('hex')}` } : view;
}
