/**
 * The discovery sources that `--discovery` turns on, besides the registrations (always on).
 * The Kubernetes client is loaded only when it is asked for: importing it costs an agent about
 * half a second at start, which a VM site's agent has no reason to pay.
 */
import type { Logger } from '@fedmesh/shared';
import type { AgentConfig } from '../config.js';
import type { EndpointSource } from './source.js';

export async function startConfiguredSources(config: AgentConfig, log: Logger): Promise<EndpointSource[]> {
  const sources: EndpointSource[] = [];
  if (config.discovery.includes('kubernetes')) {
    const { createKubernetesSource } = await import('./kubernetes.js');
    sources.push(
      await createKubernetesSource({
        region: config.region,
        kubeconfig: config.kubeconfig,
        namespaces: config.kubeNamespaces,
        selector: config.kubeSelector,
        log,
      }),
    );
  }
  return sources;
}
