import { describe, expect, it } from 'vitest';
import type {
  ProxySummary as HubProxySummary,
  RegionSummary as HubRegionSummary,
} from '../api/regions/schemas.js';
// The one place the CLI's code meets the server's types: to hold the wire types to them.
import type { HistoryEntry, ApplyResponse as HubApplyResponse } from '../api/resources/schemas.js';
import type { AuditEntry } from '../audit/index.js';
import type { RegionPreview as HubRegionPreview } from '../sync/index.js';
import type {
  ApplyResponse,
  ChangeEntry,
  HistoryItem,
  ProxySummary,
  RegionPreview,
  RegionSummary,
} from './types.js';

/** Compiles only when every value the hub sends is a value the CLI reads (checked by tsc). */
function fits<Client>() {
  return <_Hub extends Client>(): true => true;
}

describe('cli wire types', () => {
  it("cli - the hub's answers fit the types fedmeshctl reads them as", () => {
    expect(fits<ApplyResponse>()<HubApplyResponse>()).toBe(true);
    expect(fits<ChangeEntry>()<AuditEntry>()).toBe(true);
    expect(fits<HistoryItem>()<HistoryEntry>()).toBe(true);
    expect(fits<RegionSummary>()<HubRegionSummary>()).toBe(true);
    expect(fits<ProxySummary>()<HubProxySummary>()).toBe(true);
    expect(fits<RegionPreview>()<HubRegionPreview>()).toBe(true);
  });
});
