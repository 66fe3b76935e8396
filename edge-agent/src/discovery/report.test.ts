import { EndpointsReport } from '@fedmesh/shared';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createUplink, type Publisher } from '../uplink/lanes.js';
import { startEndpointsReporter } from './report.js';
import type { DiscoveredEndpoint, EndpointSource } from './source.js';

const log = { info() {}, warn() {}, error() {}, debug() {}, child: () => log } as never;

/** A source the test sets by hand. */
function handSource() {
  let items: DiscoveredEndpoint[] = [];
  const listeners: (() => void)[] = [];
  const source: EndpointSource = { list: () => items, onChange: (l) => listeners.push(l), stop() {} };
  return {
    source,
    set(next: DiscoveredEndpoint[]) {
      items = next;
      for (const l of listeners) l();
    },
  };
}

const ep = (service: string, i: number, healthy = true): DiscoveredEndpoint => ({
  namespace: 'shop',
  service,
  address: `10.0.${Math.floor(i / 250)}.${i % 250}`,
  port: 8080,
  labels: { version: 'v1', pod: `pod-${i}` },
  healthy,
});

function setup(budget: number | undefined) {
  const reports: EndpointsReport[] = [];
  const pub: Publisher = {
    publish: (_s, body) => reports.push(EndpointsReport.parse(JSON.parse(body))),
    isClosed: () => false,
  };
  const hand = handSource();
  const uplink = createUplink({ nc: () => pub, budget: () => budget, log, now: () => Date.now() });
  const reporter = startEndpointsReporter({
    region: 'eu-west',
    source: hand.source,
    uplink,
    budget: () => budget,
  });
  return { reports, hand, reporter, uplink };
}

describe('the endpoints reporter', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('report - a health flip sends its count first, ahead of the detail the bucket cannot take yet', () => {
    const { reports, hand } = setup(1024);
    hand.set([ep('payments', 0), ep('payments', 1)]);
    vi.advanceTimersByTime(10_000);
    reports.length = 0;
    // 200 new endpoints of another service (~10 KB of detail), and one payments endpoint fails.
    hand.set([
      ep('payments', 0),
      ep('payments', 1, false),
      ...Array.from({ length: 200 }, (_, i) => ep('frontend', 10 + i)),
    ]);
    vi.advanceTimersByTime(250);
    expect(reports[0]!.counts).toEqual({ 'shop/payments': 1, 'shop/frontend': 200 });
    expect(reports[0]!.services).toEqual({});
    vi.advanceTimersByTime(30_000); // (the minute's full round is not due yet)
    // The detail followed in pieces of at most one bucket (a piece holds at least one service).
    const detail = reports.filter((r) => Object.keys(r.services).length > 0);
    expect(detail.map((r) => Object.keys(r.services))).toEqual([['shop/frontend'], ['shop/payments']]);
    expect(detail[1]!.services['shop/payments']!.map((e) => e.healthy)).toEqual([true, false]);
  });

  it('report - churn that leaves the healthy counts alone sends no counts, only detail', () => {
    const { reports, hand } = setup(undefined);
    hand.set([ep('payments', 0), ep('payments', 1)]);
    vi.advanceTimersByTime(1000);
    reports.length = 0;
    hand.set([ep('payments', 0), ep('payments', 7)]); // an instance replaced
    vi.advanceTimersByTime(1000);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.counts).toBeUndefined();
    expect(Object.keys(reports[0]!.services)).toEqual(['shop/payments']);
  });

  it('report - a full round bigger than the bucket goes in pieces; the last says full and keeps the earlier ones', () => {
    const { reports, hand, reporter } = setup(4096);
    const services = ['a', 'b', 'c', 'd', 'e'];
    hand.set(services.flatMap((s, k) => Array.from({ length: 30 }, (_, i) => ep(s, k * 100 + i))));
    vi.advanceTimersByTime(30_000);
    reports.length = 0;
    reporter.resend();
    vi.advanceTimersByTime(30_000);
    const detail = reports.filter((r) => Object.keys(r.services).length > 0 || r.full);
    expect(detail.length).toBeGreaterThan(1);
    for (const r of detail) expect(JSON.stringify(r).length).toBeLessThan(4096);
    const last = detail.at(-1)!;
    expect(last.full).toBe(true);
    expect(detail.slice(0, -1).every((r) => !r.full)).toBe(true);
    const carried = new Set(detail.flatMap((r) => Object.keys(r.services)));
    expect([...carried].sort()).toEqual(services.map((s) => `shop/${s}`));
    expect(new Set([...(last.keep ?? []), ...Object.keys(last.services)])).toEqual(carried);
  });
});
