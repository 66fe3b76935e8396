import { describe, expect, it } from 'vitest';
import {
  describeOp,
  formatApply,
  formatBytes,
  formatChanges,
  formatHistory,
  formatPreview,
  formatRegions,
  formatResources,
  formatSeconds,
  formatTable,
  formatValidation,
  type StoredManifest,
  TABLE_WIDTH,
} from './output.js';
import type { ApplyResponse, RegionSummary } from './types.js';

const region: StoredManifest = {
  apiVersion: 'fedmesh.io/v1',
  kind: 'Region',
  metadata: { name: 'eu-west', revision: 3 },
  spec: {
    labels: { geo: 'eu' },
    link: { budget: '256KiB/s', burst: '1MiB' },
    gateway: { address: '10.1.0.10', port: 15443 },
  },
};
const svc: StoredManifest = {
  apiVersion: 'fedmesh.io/v1',
  kind: 'Service',
  metadata: { name: 'payments', namespace: 'shop', revision: 7 },
  spec: { ports: [{ name: 'grpc', port: 9091, protocol: 'grpc' }], exportTo: ['eu-west', 'geo=us'] },
};

describe('cli output', () => {
  it('cli - formats a table with aligned columns and no trailing spaces', () => {
    expect(
      formatTable(
        ['A', 'LONGER'],
        [
          ['x', '1'],
          ['yyyy', '22'],
        ],
      ),
    ).toBe('A      LONGER\nx      1\nyyyy   22\n');
  });

  it('cli - shows per-kind columns for one kind and a KIND column for mixed kinds', () => {
    expect(formatResources([region], 'table', false)).toBe(
      'NAME      REVISION   LABELS   BUDGET                  GATEWAY\n' +
        'eu-west   3          geo=eu   256KiB/s (burst 1MiB)   10.1.0.10:15443\n',
    );
    expect(formatResources([svc], 'table', false)).toContain(
      'shop        payments   7          grpc:9091/grpc   eu-west,geo=us   <none>',
    );
    const mixed = formatResources([region, svc], 'table', false);
    expect(mixed.split('\n')[0]).toBe('KIND      NAMESPACE   NAME       REVISION');
    expect(formatResources([], 'table', false)).toBe('No resources found.\n');
  });

  it('cli - prints YAML as a stream that can be applied back, JSON as an object or a list', () => {
    expect(formatResources([region, svc], 'yaml', false)).toMatch(
      /^apiVersion: fedmesh.io\/v1\nkind: Region\n[\s\S]*\n---\napiVersion/,
    );
    expect(JSON.parse(formatResources([svc], 'json', true))).toEqual(svc);
    expect(JSON.parse(formatResources([svc], 'json', false))).toEqual({ items: [svc] });
  });

  it('cli - reports apply results per document with its source, issues and a summary', () => {
    const res: ApplyResponse = {
      dryRun: false,
      summary: { created: 1, updated: 0, unchanged: 1, invalid: 1, conflict: 0, skipped: 0 },
      items: [
        { index: 0, kind: 'Region', namespace: '_', name: 'eu-west', result: 'created', revision: 4 },
        { index: 1, kind: 'Service', namespace: 'shop', name: 'payments', result: 'unchanged', revision: 2 },
        {
          index: 2,
          kind: 'Service',
          namespace: 'shop',
          name: 'bad',
          result: 'invalid',
          message: 'invalid Service manifest',
          issues: [{ path: 'spec.ports.0.port', message: 'expected number' }],
        },
      ],
      error: { code: 'invalid', message: '1 of 3 documents are invalid; nothing was applied' },
    };
    expect(formatApply(res, ['a.yaml#1', 'a.yaml#2', 'b.yaml#1'])).toBe(
      [
        'a.yaml#1: Region eu-west created (revision 4)',
        'a.yaml#2: Service shop/payments unchanged (revision 2)',
        'b.yaml#1: Service shop/bad invalid',
        '    spec.ports.0.port: expected number',
        '3 documents: 1 created, 1 unchanged, 1 invalid',
        'error: 1 of 3 documents are invalid; nothing was applied',
        '',
      ].join('\n'),
    );
  });

  it('cli - a dry run says what would happen and prints the diff; diff mode hides unchanged documents', () => {
    const res: ApplyResponse = {
      dryRun: true,
      summary: { created: 0, updated: 1, unchanged: 1, invalid: 0, conflict: 0, skipped: 0 },
      items: [
        {
          index: 0,
          kind: 'Service',
          namespace: 'shop',
          name: 'a',
          result: 'updated',
          revision: 5,
          diff: ['~ /spec/ports/0/port: 80 → 81'],
        },
        { index: 1, kind: 'Region', namespace: '_', name: 'r', result: 'unchanged', revision: 1 },
      ],
    };
    expect(formatApply(res, ['x#1', 'x#2'], { diffOnly: true })).toBe(
      'x#1: Service shop/a would be updated\n    ~ /spec/ports/0/port: 80 → 81\n2 documents (dry run): 1 updated, 1 unchanged\n',
    );
  });

  it('cli - formats history, the audit log and region status', () => {
    expect(
      formatHistory(
        [{ revision: 3, time: '2024-01-01T00:00:00.000Z', op: 'put', action: 'create', actor: 'ops' }],
        'table',
      ),
    ).toBe(
      'REVISION   TIME                       OP       ACTOR\n3          2024-01-01T00:00:00.000Z   create   ops\n',
    );
    expect(
      formatChanges(
        [
          {
            revision: 9,
            time: 't',
            actor: 'ops',
            role: 'admin',
            op: 'delete',
            kind: 'Region',
            namespace: '_',
            name: 'eu-west',
          },
        ],
        'table',
      ),
    ).toContain('9          t      ops     delete   Region eu-west');
    // What the CLI reads of a region's summary (the hub sends more).
    const r: RegionSummary = {
      region: 'eu-west',
      desired: { version: 5, hash: 'h5' },
      applied: { version: 4, hash: 'h4' },
      inSync: false,
      lag: { versions: 1, seconds: 2.5 },
      drift: { since: '2024-05-01T10:00:00.000Z', seconds: 7.5 },
      stale: false,
      bytesSent: 123_456,
      budget: { bytesPerSecond: 262_144, burstBytes: null },
      connectedProxies: 2,
      line: {
        budgetBytesPerSecond: 131_072,
        utilization: 0.916,
        queuedBytes: 3 * 1024 * 1024,
        drainSeconds: 24,
        compressionRatio: 10.94,
      },
      lastError: 'line\nbroken',
    };
    expect(formatRegions([r], 'wide')).toBe(
      'REGION    DESIRED   APPLIED   IN-SYNC   LAG       SENT     RATIO   BUDGET      USE   QUEUED   DRAIN   PROXIES   STALE   LAST-ERROR\n' +
        'eu-west   5         4         no        1v/2.5s   121KiB   10.9x   128KiB/s*   92%   3MiB     24s     2         no      line broken\n',
    );
    expect(formatRegions([r], 'table')).toBe(
      'REGION    VERSION   SYNC   LAG       BUDGET      USE   DRAIN   PROXIES   LAST-ERROR\n' +
        'eu-west   4/5       no     1v/2.5s   128KiB/s*   92%   24s     2         line broken\n',
    );
    // However long the error and the region's name, the default table keeps to 100 columns.
    const long = {
      ...r,
      region: 'ap-southeast-1',
      stale: true,
      lag: { versions: 120, seconds: 3600.5 },
      lastError: `agent rejected the delta: ${'x'.repeat(300)}`,
    };
    const lines = formatRegions([r, long], 'table').trimEnd().split('\n');
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(TABLE_WIDTH);
    expect(lines[2]).toMatch(/^ap-southeast-1\s+4\/5\s+stale\s+120v\/1h\s.*agent rej.*…$/);
    expect(formatRegions([long], 'wide')).toContain('x'.repeat(150));
    expect(formatRegions([], 'table')).toBe('No regions.\n');
  });

  it('cli - formats drain times in seconds, minutes and hours', () => {
    expect([0, 0.2, 59, 60, 61, 3599, 3600, 7260].map(formatSeconds)).toEqual([
      '0s',
      '1s',
      '59s',
      '1m',
      '1m1s',
      '59m59s',
      '1h',
      '2h1m',
    ]);
  });

  it('cli - formats byte counts in binary units', () => {
    expect([0, 512, 1536, 10 * 1024, 5 * 1024 * 1024 + 1].map(formatBytes)).toEqual([
      '0B',
      '512B',
      '1.5KiB',
      '10KiB',
      '5MiB',
    ]);
  });

  it('cli - history says create/update/delete like changes, also from a hub that only says put/delete', () => {
    const old = [
      { revision: 1, time: 't1', op: 'put', actor: 'ops' },
      { revision: 2, time: 't2', op: 'put', actor: null },
      { revision: 3, time: 't3', op: 'delete', actor: 'ops' },
      { revision: 4, time: 't4', op: 'put', actor: 'ops' },
    ] as const;
    expect(
      formatHistory(old, 'table')
        .trimEnd()
        .split('\n')
        .map((l) => l.split(/\s+/)[2]),
    ).toEqual(['OP', 'create', 'update', 'delete', 'create']);
  });

  it('cli - apply prints the warnings of a document under it and counts them', () => {
    const res: ApplyResponse = {
      dryRun: false,
      summary: { created: 1, updated: 0, unchanged: 0, invalid: 0, conflict: 0, skipped: 0 },
      items: [
        {
          index: 0,
          kind: 'Service',
          namespace: 'shop',
          name: 'front',
          result: 'created',
          revision: 4,
          warnings: [{ path: 'spec.dependsOn.0', message: 'Service shop/ledger does not exist (yet)' }],
        },
      ],
    };
    expect(formatApply(res, ['f.yaml#1'])).toBe(
      'f.yaml#1: Service shop/front created (revision 4)\n' +
        '    warning: spec.dependsOn.0: Service shop/ledger does not exist (yet)\n' +
        '1 document: 1 created (1 with warnings)\n',
    );
  });

  it('cli - a preview shows per region the ops, their bytes and their time at the budget', () => {
    const base = { fromHash: 'a', toHash: 'b', codec: 'br', rawBytes: 900, messages: 1 };
    const text = formatPreview(
      [
        {
          ...base,
          region: 'eu-west',
          ops: [
            { op: 'replace', path: '/Service~1shop~1payments/spec/ports/0/port', value: 9092 },
            { op: 'remove', path: '/ServiceEndpoints~1shop~1payments-eu-west' },
          ],
          encodedBytes: 2048,
          budgetBytesPerSecond: 1024,
          seconds: 2,
        },
        { ...base, region: 'us-east', ops: [], encodedBytes: 0, budgetBytesPerSecond: null, seconds: null },
      ],
      'table',
    );
    expect(text).toBe(
      'eu-west: 2 ops, 2KiB (br, 900B raw) in 1 message, 2s at its budget of 1KiB/s\n' +
        '    replace Service/shop/payments /spec/ports/0/port: 9092\n' +
        '    remove ServiceEndpoints/shop/payments-eu-west\n' +
        'us-east: nothing to send (the change is outside its view)\n',
    );
    expect(
      describeOp({ op: 'add', path: '/Region~1_~1x', value: { spec: { long: 'y'.repeat(100) } } }),
    ).toMatch(/^add Region\/_\/x: \{"spec":\{"long":"y+…$/);
  });

  it('cli - validation lists every document, the field paths of invalid ones, and a count', () => {
    expect(
      formatValidation(
        [
          { source: 'a.yaml#1', kind: 'Region', namespace: '_', name: 'r', valid: true, issues: [] },
          {
            source: 'a.yaml#2',
            kind: 'Service',
            namespace: 'shop',
            name: 'x',
            valid: false,
            issues: [{ path: 'spec.ports.0.port', message: 'must be 1..65535' }],
          },
        ],
        'table',
      ),
    ).toBe(
      'a.yaml#1: Region r valid\na.yaml#2: Service shop/x invalid\n    spec.ports.0.port: must be 1..65535\n' +
        '2 documents: 1 valid, 1 invalid\n',
    );
  });
});
