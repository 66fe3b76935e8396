/**
 * `/metrics` of a hub and an agent as Prometheus reads them, scraped from real processes (the
 * bins, on a real nats-server): `promtool check metrics` finds nothing to say, the region figures
 * are there without any REST call, bytes sent are the same number in `GET /v1/regions` and in
 * `/metrics`, and every metric the dashboard and the alert rules in deploy/observability name
 * exists.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILD, resyncSubject, SYNC_STREAM, sampleMesh, syncSubject } from '@fedmesh/shared';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { eps } from '../../hub/src/scope/test-fixtures.js';
import {
  type AgentProcess,
  type HubProcess,
  hubClient,
  putResource,
  removeDir,
  spawnAgent,
  spawnHub,
  waitConverged,
  waitFor,
} from '../support/fedmesh.js';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';
import { DASHBOARD, metricNames, RULES, runPromtool, sampleValue, scrape } from './support.js';

const REGION = 'eu-west';
/** A region of the sample mesh that no agent serves in this file: it never catches up. */
const SILENT = 'us-east';

describe('metrics of a real hub and agent', () => {
  let nats: NatsServerHandle;
  let hub: HubProcess;
  let agent: AgentProcess;
  let nc: NatsConnection;
  let stateDir: string | undefined;

  beforeAll(async () => {
    nats = await startNatsServer();
    hub = await spawnHub(nats.url);
    for (const r of sampleMesh()) await putResource(hub.url, r);
    stateDir = mkdtempSync(join(tmpdir(), `fedmesh-metrics-${REGION}-`));
    agent = await spawnAgent(nats.url, REGION, stateDir);
    // The view route, not the regions one: nothing here asks for a region summary.
    await waitConverged(hub.url, agent.statusUrl, REGION, 60_000);
    nc = await connect({ servers: nats.url });
  }, 120_000);

  afterAll(async () => {
    await nc?.close();
    await agent?.stop();
    await hub?.stop();
    if (stateDir) removeDir(stateDir);
    await nats?.cleanup();
  });

  it('metrics - the hub and the agent pass promtool check metrics, and each says its build', async () => {
    printLogsOnFailure(nats);
    // promtool must notice a problem when there is one, or a pass below would prove nothing.
    const bad = await runPromtool(
      ['check', 'metrics'],
      '# HELP x_total x\n# TYPE x_total gauge\nx_total 1\n',
    );
    expect(bad.code, bad.output).not.toBe(0);

    for (const [who, url] of [
      ['hub', hub.url],
      ['agent', agent.statusUrl],
    ] as const) {
      const text = await scrape(url);
      const checked = await runPromtool(['check', 'metrics'], text);
      expect({ who, code: checked.code, output: checked.output }).toEqual({ who, code: 0, output: '' });
      expect(text, who).toContain(`fedmesh_build_info{version="${BUILD.version}"} 1`);
    }
    const hubText = await scrape(hub.url);
    for (const name of [
      'fedmesh_hub_sync_bytes_sent_total',
      'fedmesh_hub_sync_publications_total',
      'fedmesh_hub_region_line_bytes_received_total',
      'fedmesh_hub_region_nacks_total',
    ]) {
      expect(hubText).toContain(`# TYPE ${name} counter`);
    }
    // Where a write's time goes: the store's round trips, and the publication rounds after it.
    for (const name of ['fedmesh_hub_sync_round_seconds', 'fedmesh_hub_store_operation_seconds']) {
      expect(hubText).toContain(`# TYPE ${name} histogram`);
    }
    expect(sampleValue(hubText, 'fedmesh_hub_sync_round_seconds_count')).toBeGreaterThan(0);
    expect(
      sampleValue(hubText, 'fedmesh_hub_store_operation_seconds_count', { op: 'create' }),
    ).toBeGreaterThan(0);
    const agentText = await scrape(agent.statusUrl);
    for (const name of ['fedmesh_agent_sync_applied_total', 'fedmesh_agent_xds_nacks_total']) {
      expect(agentText).toContain(`# TYPE ${name} counter`);
    }
  });

  it('metrics - lag and drift are on /metrics without a REST call: 0 in sync, growing for a region left behind', async () => {
    printLogsOnFailure(nats);
    const figures = async () => {
      const text = await scrape(hub.url);
      const at = (name: string, region: string) => sampleValue(text, name, { region });
      return {
        lag: at('fedmesh_hub_region_lag_versions', REGION),
        drift: at('fedmesh_hub_region_drift_seconds', REGION),
        stale: at('fedmesh_hub_region_stale', REGION),
        silentLag: at('fedmesh_hub_region_lag_versions', SILENT),
        silentDrift: at('fedmesh_hub_region_drift_seconds', SILENT),
        silentStale: at('fedmesh_hub_region_stale', SILENT),
      };
    };
    const first = (await waitFor(
      async () => {
        const f = await figures();
        return f.lag === 0 && f.drift === 0 && f.stale === 0 ? f : undefined;
      },
      { what: `${REGION} in sync on /metrics` },
    ))!;
    expect(first.silentLag).toBeGreaterThan(0);
    expect(first.silentStale).toBe(1);
    // Dated by the oldest publication the silent region never consumed: the clock runs.
    await new Promise((r) => setTimeout(r, 1_500));
    const later = await figures();
    expect(later.silentDrift!).toBeGreaterThanOrEqual(first.silentDrift! + 1);
  });

  it('metrics - bytes sent are one number in GET /v1/regions and /metrics, also after a snapshot JetStream deduplicated', async () => {
    printLogsOnFailure(nats);
    const api = hubClient(hub.url);
    const jsm = await jetstreamManager(nc);
    const onStream = async () =>
      (await jsm.streams.info(SYNC_STREAM, { subjects_filter: syncSubject(REGION) })).state.subjects?.[
        syncSubject(REGION)
      ] ?? 0;
    // Both sides read at one quiet moment: /metrics, REST, /metrics again, unchanged.
    const sent = async () =>
      (await waitFor(
        async () => {
          const read = async () => {
            const text = await scrape(hub.url);
            return {
              bytes: sampleValue(text, 'fedmesh_hub_sync_bytes_sent_total', { region: REGION }),
              snapshots: sampleValue(text, 'fedmesh_hub_sync_publications_total', {
                region: REGION,
                type: 'snapshot',
              }),
            };
          };
          const before = await read();
          const rest = (await api.region(REGION)).body as { bytesSent: number; snapshotsSent: number };
          const after = await read();
          if (before.bytes !== after.bytes || before.snapshots !== after.snapshots) return undefined;
          return { rest: { bytes: rest.bytesSent, snapshots: rest.snapshotsSent }, metrics: after };
        },
        { what: 'a quiet moment to read bytes sent' },
      ))!;
    // What an agent's resync request without a reason gets: a snapshot at the head.
    const askSnapshot = async () =>
      JSON.parse(
        new TextDecoder().decode((await nc.request(resyncSubject(REGION), '{}', { timeout: 10_000 })).data),
      ) as {
        plan: string;
        seq: number;
      };

    // A change first: the view's last snapshot (the agent's first) is not at the head version,
    // so the first snapshot asked for below is a new one.
    await putResource(hub.url, eps('frontend', REGION, 7));
    await waitConverged(hub.url, agent.statusUrl, REGION);
    const start = await sent();
    expect(start.metrics).toEqual(start.rest);
    const messagesAtStart = await onStream();

    const first = await askSnapshot();
    expect(first.plan).toBe('snapshot');
    const afterFirst = await sent();
    expect(afterFirst.metrics).toEqual(afterFirst.rest);
    expect(afterFirst.rest.bytes).toBeGreaterThan(start.rest.bytes);
    expect(afterFirst.rest.snapshots).toBe(start.rest.snapshots + 1);
    const messagesAfterFirst = await onStream();
    expect(messagesAfterFirst).toBeGreaterThan(messagesAtStart);

    // The same snapshot again within the dedup window: the same Nats-Msg-Id, so JetStream hands
    // back the first one's sequence and stores nothing. Nothing was sent, on either side.
    const second = await askSnapshot();
    expect(second.seq).toBe(first.seq);
    expect(await onStream(), 'JetStream stored nothing new').toBe(messagesAfterFirst);
    const afterSecond = await sent();
    expect(afterSecond.metrics).toEqual(afterSecond.rest);
    expect(afterSecond.rest).toEqual(afterFirst.rest);
  });

  it('observability - every metric the dashboard and the alert rules name is in a real scrape', async () => {
    printLogsOnFailure(nats);
    const exported = new Set([
      ...metricNames(await scrape(hub.url)),
      ...metricNames(await scrape(agent.statusUrl)),
    ]);
    const named = new Set<string>();
    const collect = (text: string) => {
      for (const m of text.matchAll(/\bfedmesh_[a-z0-9_]+/g)) named.add(m[0]);
    };
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      panels: { targets?: { expr: string }[] }[];
      templating: { list: { definition?: string }[] };
    };
    for (const p of dashboard.panels) for (const t of p.targets ?? []) collect(t.expr);
    for (const v of dashboard.templating.list) collect(v.definition ?? '');
    const rules = parseYaml(readFileSync(RULES, 'utf8')) as { groups: { rules: { expr: string }[] }[] };
    for (const g of rules.groups) for (const r of g.rules) collect(r.expr);
    expect(named.size).toBeGreaterThan(15);
    // A histogram declares its base name; a query names its _bucket, _count or _sum series.
    const exists = (n: string) => exported.has(n) || exported.has(n.replace(/_(bucket|count|sum)$/, ''));
    expect([...named].filter((n) => !exists(n))).toEqual([]);
  });
});
