/**
 * A Region's `link` (budget and burst as the manifest spells them) as numbers: the one
 * conversion the hub's regions API, its catch-up replies, its urgent lane and the agent's pacer
 * all use.
 */
import { parseByteRate, parseByteSize } from '../model/quantity.js';

export interface RegionLink {
  bytesPerSecond: number;
  burstBytes?: number;
}

/**
 * The link of a Region resource (or of anything shaped like one); undefined without a link,
 * or with one this build cannot read (a newer model: not a reason to stop).
 */
export function regionLinkOf(resource: unknown): RegionLink | undefined {
  const link = (resource as { spec?: { link?: { budget?: unknown; burst?: unknown } } } | undefined)?.spec
    ?.link;
  if (!link || (typeof link.budget !== 'string' && typeof link.budget !== 'number')) return undefined;
  try {
    const bytesPerSecond = parseByteRate(link.budget);
    const burst = link.burst;
    return typeof burst === 'string' || typeof burst === 'number'
      ? { bytesPerSecond, burstBytes: parseByteSize(burst) }
      : { bytesPerSecond };
  } catch {
    return undefined;
  }
}

/** The Region's `uplink.budget` (what its agent may send up) in bytes/s; undefined without one. */
export function regionUplinkOf(resource: unknown): number | undefined {
  const budget = (resource as { spec?: { uplink?: { budget?: unknown } } } | undefined)?.spec?.uplink?.budget;
  if (typeof budget !== 'string' && typeof budget !== 'number') return undefined;
  try {
    return parseByteRate(budget);
  } catch {
    return undefined;
  }
}
