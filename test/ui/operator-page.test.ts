import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RunningHub } from '@fedmesh/hub';
import { type Resource, SAMPLE_NAMESPACE, sampleMesh } from '@fedmesh/shared';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TypeUrl } from '../../edge-agent/src/xds/index.js';
import { launchChromium } from '../support/browser.js';
import {
  agentStatus,
  hubClient,
  removeDir,
  startTestAgent,
  startTestHub,
  step,
  type TestAgent,
  waitFor,
} from '../support/fedmesh.js';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';
import { type RawStream, rawAds } from '../xds/support.js';

const ROOT = resolve(import.meta.dirname, '../..');
/** The page at the end (a region drifting) and while it was in sync; test artifacts, gitignored. */
const SCREENSHOT = join(ROOT, 'test-artifacts/operator-page.png');
const SCREENSHOT_IN_SYNC = join(ROOT, 'test-artifacts/operator-page-in-sync.png');
const TOKEN = 'ui-admin-token-0123456789abcdef';
const REGION = 'eu-west';
/** Markup in a NACK reason (proxies choose it): the page must show it as text and run nothing. */
const NACK_REASON = `<img src=x onerror="document.title='owned'"> listener rejected (ui test)`;
/** Seconds out of sync before the page calls a region drifting, short for the test. */
const DRIFT_AFTER_S = 4;

let nats: NatsServerHandle;
let hub: RunningHub;
let agent: TestAgent | undefined;
let agentStopped = false;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const api = () => hubClient(hub.url, TOKEN);

/** What the browser said that a clean page never says, with what the test expected filtered out. */
const consoleErrors: string[] = [];
const pageErrors: string[] = [];
let tokenAccepted = false;

beforeAll(async () => {
  // The browser first: without one the test fails at once, saying how to install it.
  browser = await step('headless Chromium starts', 45_000, () => launchChromium());
  nats = await startNatsServer();
  hub = await startTestHub(nats.url, { adminToken: TOKEN });
  const applied = await api().call('POST', '/v1/apply', sampleMesh());
  if (applied.status !== 200) throw new Error(`apply: ${applied.status} ${JSON.stringify(applied.body)}`);
  agent = await startTestAgent(nats.url, REGION);
  context = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
  // Reported by the page itself: a violation also logs a console error, but this names the directive.
  await context.addInitScript({
    content: `window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`,
  });
  page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Reads without a token, or with the wrong one, are answered 401: that is how the page learns to ask.
    const expected401 = !tokenAccepted && /status of 401/.test(m.text()) && m.location().url.includes('/v1/');
    if (!expected401) consoleErrors.push(`${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (err) => pageErrors.push(err.message));
}, 90_000);

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  if (!agentStopped) await agent?.stop();
  if (agent) removeDir(agent.stateDir);
  await hub?.stop();
  await nats?.cleanup();
});

beforeEach(() => {
  printLogsOnFailure(nats);
});

/** waitFor for a check that answers a value once the condition holds, undefined before. */
function until<T>(
  check: () => Promise<T | undefined>,
  opts: { what: string; timeoutMs?: number },
): Promise<T> {
  return waitFor(check, opts) as Promise<T>;
}

/** The region's row as the page shows it: sync state, desired and applied version and hash, text. */
async function regionRow(region: string) {
  const row = page.locator(`#regions tr[data-region="${region}"]`);
  if ((await row.count()) === 0) return undefined;
  const cells = row.locator('td[data-hash]');
  const vh = async (i: number) =>
    i < (await cells.count())
      ? {
          version: Number(await cells.nth(i).getAttribute('data-version')),
          hash: (await cells.nth(i).getAttribute('data-hash')) ?? '',
          text: (await cells.nth(i).textContent()) ?? '',
        }
      : undefined;
  return {
    sync: await row.getAttribute('data-sync'),
    desired: await vh(0),
    applied: await vh(1),
    text: (await row.textContent()) ?? '',
    plotted: await row.locator('svg.spark polyline.use').count(),
  };
}

async function changeRows() {
  return page.locator('#changes tbody tr').evaluateAll((rows) =>
    rows.map((r) => {
      const cells = r.querySelectorAll('td');
      return {
        revision: Number(r.getAttribute('data-revision')),
        actor: cells[2]?.textContent ?? '',
        op: cells[3]?.textContent ?? '',
        resource: cells[4]?.textContent ?? '',
      };
    }),
  );
}

describe('operator page', () => {
  it('ui - GET /ui needs no token, carries a strict CSP, and the API behind it still does', async () => {
    const res = await fetch(`${hub.url}/ui`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    const html = await res.text();
    // No inline script: every <script> names its source.
    expect(html.match(/<script\b[^>]*>/g)?.every((tag) => / src=/.test(tag))).toBe(true);
    for (const asset of ['/ui/app.js', '/ui/app.css']) {
      const a = await fetch(`${hub.url}${asset}`);
      expect(a.status, asset).toBe(200);
      expect(a.headers.get('x-content-type-options')).toBe('nosniff');
    }
    expect((await fetch(`${hub.url}/v1/regions`)).status).toBe(401);
  });

  it('ui - asks for the token, then shows desired against applied, NACKs, drift and the changes with their actor', async () => {
    // A proxy that NACKs with markup in its reason.
    let raw: RawStream | undefined = rawAds(agent!.xdsPort);
    const node = { id: 'ui-proxy', cluster: 'ui' };
    raw.send({ node, type_url: TypeUrl.Listener, resource_names: [], version_info: '', response_nonce: '' });
    const lds = await raw.next(10_000);
    raw.send({
      node,
      type_url: TypeUrl.Listener,
      resource_names: [],
      version_info: '',
      response_nonce: lds.nonce,
      error_detail: { code: 3, message: NACK_REASON },
    });
    await waitFor(
      async () =>
        (await api().call('GET', `/v1/regions/${REGION}/proxies`)).body?.items?.some(
          (p: { lastNack: { reason: string } | null }) => p.lastNack?.reason === NACK_REASON,
        ),
      { what: 'the NACK in the hub proxy list' },
    );

    // The page, with a short drift threshold and a fast refresh for the test.
    const res = await page.goto(`${hub.url}/ui?refresh=1&driftAfter=${DRIFT_AFTER_S}`);
    expect(res?.status()).toBe(200);
    await page.locator('#login').waitFor({ state: 'visible' });
    expect(await page.locator('#regions-section').isVisible()).toBe(false);
    // A wrong token is refused and asked for again; the right one is kept for the tab.
    await page.fill('#token', 'not-the-token-0123456789');
    await page.click('#login button[type=submit]');
    await page.locator('#login-message', { hasText: 'refused' }).waitFor();
    expect(await page.evaluate(`sessionStorage.getItem('fedmesh.adminToken')`)).toBeNull();
    tokenAccepted = true;
    await page.fill('#token', TOKEN);
    await page.click('#login button[type=submit]');
    await page.locator('#regions-section').waitFor({ state: 'visible' });
    expect(await page.locator('#login').isVisible()).toBe(false);
    expect(await page.evaluate(`sessionStorage.getItem('fedmesh.adminToken')`)).toBe(TOKEN);

    // In sync: the hub's desired version and hash, the agent's applied ones, side by side.
    const converged = await until(
      async () => {
        const s = await agentStatus(agent!.statusUrl);
        const { body: region } = await api().region(REGION);
        const row = await regionRow(REGION);
        const ok =
          row?.sync === 'in-sync' &&
          region.inSync &&
          row.desired?.version === region.desired.version &&
          row.desired?.hash === region.desired.hash &&
          row.applied?.version === s.version &&
          row.applied?.hash === s.hash &&
          row.plotted > 0;
        return ok ? { row, region, s } : undefined;
      },
      { what: `the page to show ${REGION} in sync`, timeoutMs: 30_000 },
    );
    expect(converged.s.hash).toBe(converged.region.desired.hash);
    expect(converged.row.desired!.text).toContain(`v${converged.region.desired.version}`);
    expect(converged.row.desired!.text).toContain(converged.region.desired.hash.slice(0, 12));
    expect(converged.row.applied!.text).toContain(converged.s.hash.slice(0, 12));
    expect(converged.region.drift.since).toBeNull();
    // Regions without an agent are listed as never reported.
    expect((await regionRow('us-east'))?.text).toContain('none reported');
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT_IN_SYNC, fullPage: true });

    // The NACK, its reason shown as text: no element made of it, nothing ran.
    const proxy = page.locator('#proxies tr[data-node="ui-proxy"]');
    await proxy.waitFor();
    expect(await proxy.textContent()).toContain('NACKED');
    expect(await proxy.locator('td.nack').textContent()).toContain(NACK_REASON);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.title()).toBe('fedmesh hub');

    // Recent changes: the sample mesh, written with the admin token, newest first.
    const { body: log } = await api().call('GET', '/v1/changes?limit=1000');
    const newest = log.items.at(-1);
    const rows = await until(
      async () => {
        const r = await changeRows();
        return r[0]?.revision === newest.revision ? r : undefined;
      },
      { what: 'the newest change on the page' },
    );
    expect(rows[0]).toMatchObject({ actor: 'admin', op: newest.op });
    expect(rows.every((r) => r.actor === 'admin')).toBe(true);
    expect(rows.map((r) => r.resource)).toContain('Region/_/eu-west');

    // Out of sync: the agent stops, then the config changes under it.
    raw.close();
    raw = undefined;
    agentStopped = true;
    await agent!.stop();
    const stoppedAt = converged.s;
    const endpoints = sampleMesh().find(
      (r) => r.kind === 'ServiceEndpoints' && r.metadata.name === `payments-${REGION}`,
    ) as Extract<Resource, { kind: 'ServiceEndpoints' }>;
    endpoints.spec.endpoints.push({ address: '10.1.3.12', port: 9091, zone: 'eu-west-1c' });
    const changedAt = Date.now();
    const put = await api().put('ServiceEndpoints', SAMPLE_NAMESPACE, endpoints.metadata.name, endpoints);
    expect(put.status).toBe(200);
    const behind = await until(
      async () => {
        const { body } = await api().region(REGION);
        return body.desired.version > stoppedAt.version && !body.inSync ? body : undefined;
      },
      { what: `the hub to want a newer view for ${REGION}` },
    );
    expect(Date.parse(behind.drift.since)).toBeGreaterThanOrEqual(changedAt);
    expect(Date.parse(behind.drift.since)).toBeLessThanOrEqual(Date.now());

    const lagging = await until(
      async () => {
        const row = await regionRow(REGION);
        return row?.sync === 'out-of-sync' || row?.sync === 'drifting' ? row : undefined;
      },
      { what: `the page to show ${REGION} out of sync` },
    );
    expect(lagging.desired).toMatchObject({ version: behind.desired.version, hash: behind.desired.hash });
    expect(lagging.applied).toMatchObject({ version: stoppedAt.version, hash: stoppedAt.hash });
    // Past the threshold it drifts; by then the silent agent is marked too.
    const drifting = await until(
      async () => {
        const row = await regionRow(REGION);
        return row?.sync === 'drifting' && row.text.includes('silent') ? row : undefined;
      },
      { what: `the page to show ${REGION} drifting with a silent agent`, timeoutMs: 20_000 },
    );
    expect(drifting.text).toMatch(/drifting \d/);

    // The change, with its actor, at the top of the recent changes.
    const after = await until(
      async () => {
        const r = await changeRows();
        return r[0]?.revision === put.body.metadata.revision ? r : undefined;
      },
      { what: 'the change on the page' },
    );
    expect(after[0]).toMatchObject({
      actor: 'admin',
      op: 'update',
      resource: `ServiceEndpoints/${SAMPLE_NAMESPACE}/payments-${REGION}`,
    });

    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    expect(await page.evaluate('window.__csp')).toEqual([]);
    expect(consoleErrors).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
