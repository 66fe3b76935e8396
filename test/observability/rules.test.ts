/**
 * The alert rules in deploy/observability: valid for Prometheus (`promtool check rules`), firing
 * when and only when their unit tests say (`promtool test rules`), and a dashboard whose every
 * panel asks Prometheus something. That the metrics they name exist is checked against a real
 * scrape in metrics.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DASHBOARD, OBSERVABILITY_DIR, RULES, runPromtool } from './support.js';

describe('alert rules and dashboard', () => {
  it('observability - the alert rules pass promtool check rules', async () => {
    const res = await runPromtool(['check', 'rules', RULES]);
    expect(res.code, res.output).toBe(0);
    expect(res.output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('observability - the alert rules pass their promtool unit tests', async () => {
    const res = await runPromtool(['test', 'rules', 'fedmesh-alerts.test.yaml'], '', {
      cwd: OBSERVABILITY_DIR,
    });
    expect(res.code, res.output).toBe(0);
    expect(res.output).toContain('SUCCESS');
  });

  it('observability - every dashboard panel queries Prometheus through the data source variable', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      uid: string;
      panels: { type: string; title: string; datasource?: { uid: string }; targets?: { expr: string }[] }[];
    };
    expect(dashboard.uid).toBe('fedmesh-overview');
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(10);
    for (const p of panels) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.expr, p.title).toMatch(/fedmesh_/);
    }
  });
});
