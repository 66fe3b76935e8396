/**
 * What every discovery source gives the agent (DESIGN.md "Discovery and the uplink"): the
 * endpoints it found in this region, per service, each with its health. The registrations of
 * IDC and VM sites and the Kubernetes source both produce these; local serving and the uplink
 * read the union and do not care where an endpoint came from.
 */
export interface DiscoveredEndpoint {
  namespace: string;
  service: string;
  address: string;
  port: number;
  zone?: string;
  labels?: Record<string, string>;
  healthy: boolean;
}

export interface EndpointSource {
  /** Everything the source knows now, in a stable order. */
  list(): readonly DiscoveredEndpoint[];
  /** Told whenever an endpoint comes, goes, or changes health. */
  onChange(listener: () => void): void;
  stop(): void;
}

/** One source made of several: their lists in order, a change in any tells every listener. */
export function combineSources(sources: readonly EndpointSource[]): EndpointSource {
  if (sources.length === 1) return sources[0]!;
  return {
    list: () => sources.flatMap((s) => s.list()),
    onChange(listener) {
      for (const s of sources) s.onChange(listener);
    },
    stop() {
      for (const s of sources) s.stop();
    },
  };
}
