// The hub's operator page: polls the /v1 API and draws what it says. Everything shown goes into
// the DOM as text (textContent, attribute values), never as markup: region names, NACK reasons and
// actors come from users and agents. The page's Content-Security-Policy forbids inline script too.

const params = new URLSearchParams(location.search);
/** Seconds out of sync after which a region counts as drifting rather than lagging (`?driftAfter=`). */
const DRIFT_AFTER_S = positive(params.get('driftAfter')) ?? 30;
/** Seconds between two reads of the API (`?refresh=`). */
const REFRESH_MS = Math.max(1, positive(params.get('refresh')) ?? 3) * 1000;
/** How much budget-use history each region's plot keeps, in memory only. */
const HISTORY_MS = 10 * 60_000;
const CHANGES_SHOWN = 20;
/** The first read of the audit log starts this many config revisions back. */
const CHANGES_LOOKBACK = 200;
const TOKEN_KEY = 'fedmesh.adminToken';

const $ = (id) => document.getElementById(id);

const state = {
  /** region → [{t, u}], u the receive rate over the budget, null while unknown. */
  history: new Map(),
  /** Audit entries, oldest first, the last CHANGES_SHOWN of them. */
  changes: [],
  /** `since` of the next read of /v1/changes; undefined until the first. */
  changesNext: undefined,
  /** Hub clock minus this browser's, from the Date header, so durations use the hub's clock. */
  skewMs: 0,
  timer: undefined,
  loaded: false,
};

class NeedToken extends Error {}

function positive(s) {
  const n = Number(s);
  return s !== null && Number.isFinite(n) && n > 0 ? n : undefined;
}

/** GET a hub path (relative, so a prefix in front of the hub works) with the stored token. */
async function api(path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const res = await fetch(path, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    cache: 'no-store',
  });
  const date = Date.parse(res.headers.get('date') ?? '');
  if (Number.isFinite(date)) {
    const skew = date - Date.now();
    // The header has one-second resolution: correct only a skew it can tell.
    state.skewMs = Math.abs(skew) > 2000 ? skew : 0;
  }
  const body = await res.json().catch(() => undefined);
  const message = body?.error?.message ?? res.statusText;
  if (res.status === 401) throw new NeedToken(message);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${message}`);
  return body;
}

/** Builds an element; strings among the children become text nodes, never markup. */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  for (const c of children) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
  return e;
}

function badge(kind, text, title) {
  return el('span', { class: `badge ${kind}`, title }, text);
}

const now = () => Date.now() + state.skewMs;

function fmtSeconds(s) {
  if (s === null || s === undefined) return '—';
  if (s < 60) return `${s < 10 ? Math.round(s * 10) / 10 : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} m`;
}

function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

function fmtAgo(iso) {
  if (!iso) return 'never';
  return `${fmtSeconds(Math.max(0, (now() - Date.parse(iso)) / 1000))} ago`;
}

function fmtTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

const shortHash = (h) => (h ? h.slice(0, 12) : '');

function versionCell(vh) {
  if (!vh) return el('td', { class: 'muted' }, 'none reported');
  return el(
    'td',
    { 'data-version': vh.version, 'data-hash': vh.hash },
    `v${vh.version} `,
    el('code', { title: vh.hash }, shortHash(vh.hash)),
  );
}

/** in sync, out of sync (for less than the drift threshold), or drifting. */
function syncOf(r) {
  if (r.inSync) return { key: 'in-sync', cell: badge('ok', 'in sync') };
  const since = r.drift?.since ? Date.parse(r.drift?.since) : now() - r.lag.seconds * 1000;
  const seconds = Math.max(0, (now() - since) / 1000);
  const title = r.drift?.since ? `out of sync since ${fmtTime(r.drift?.since)}` : undefined;
  if (seconds >= DRIFT_AFTER_S)
    return { key: 'drifting', cell: badge('bad', `drifting ${fmtSeconds(seconds)}`, title) };
  return { key: 'out-of-sync', cell: badge('warn', `out of sync ${fmtSeconds(seconds)}`, title) };
}

function utilizationOf(r) {
  if (r.stale) return null;
  const { utilization, receiveRate, budgetBytesPerSecond } = r.line;
  if (typeof utilization === 'number') return utilization;
  if (typeof receiveRate === 'number' && budgetBytesPerSecond) return receiveRate / budgetBytesPerSecond;
  return null;
}

function record(regions) {
  const t = now();
  const names = new Set();
  for (const r of regions) {
    names.add(r.region);
    const h = state.history.get(r.region) ?? [];
    h.push({ t, u: utilizationOf(r) });
    while (h.length > 0 && h[0].t < t - HISTORY_MS) h.shift();
    state.history.set(r.region, h);
  }
  for (const name of [...state.history.keys()]) if (!names.has(name)) state.history.delete(name);
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/**
 * The region's budget use over what the page has seen of the last 10 minutes (at least one: a
 * fresh page's few samples would be a dot at the edge of ten); the dashed line is the budget.
 */
function sparkline(points) {
  const W = 120;
  const H = 28;
  const top = Math.max(1.25, ...points.map((p) => p.u ?? 0));
  const t1 = now();
  const span = Math.min(HISTORY_MS, Math.max(60_000, t1 - (points[0]?.t ?? t1)));
  const x = (t) => (((t - (t1 - span)) / span) * W).toFixed(1);
  // Inside the frame, so a line at zero stays visible above its bottom edge.
  const y = (u) => (H - 3 - (Math.min(u, top) / top) * (H - 6)).toFixed(1);
  const root = svg('svg', { class: 'spark', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img' });
  root.append(svg('rect', { class: 'frame', x: 0.5, y: 0.5, width: W - 1, height: H - 1 }));
  root.append(svg('line', { class: 'budget', x1: 0, x2: W, y1: y(1), y2: y(1) }));
  // A gap where the figure was unknown (the agent silent) rather than a line across it.
  let run = [];
  const flush = () => {
    if (run.length === 1) run.push({ ...run[0], t: run[0].t + 1 });
    if (run.length > 1) {
      const over = run.some((p) => p.u > 1);
      root.append(
        svg('polyline', {
          class: over ? 'use over' : 'use',
          points: run.map((p) => `${x(p.t)},${y(p.u)}`).join(' '),
        }),
      );
    }
    run = [];
  };
  for (const p of points) {
    if (p.u === null) flush();
    else run.push(p);
  }
  flush();
  const title = svg('title', {});
  title.textContent = `receive rate over the budget, last ${fmtSeconds(span / 1000)} (dashed: the budget)`;
  root.append(title);
  return root;
}

function useCell(r) {
  const u = utilizationOf(r);
  const budget = r.line.budgetBytesPerSecond;
  return el(
    'td',
    { 'data-utilization': u ?? '' },
    sparkline(state.history.get(r.region) ?? []),
    u === null ? el('span', { class: 'muted' }, '—') : `${Math.round(u * 100)} %`,
    el('span', { class: 'muted' }, budget ? ` of ${fmtBytes(budget)}/s` : ' no budget'),
  );
}

function regionRow(r) {
  const sync = syncOf(r);
  const lag =
    r.lag.versions === 0 && r.lag.seconds === 0
      ? el('td', { class: 'muted' }, '—')
      : el('td', {}, `${r.lag.versions} v, ${fmtSeconds(r.lag.seconds)}`);
  const queued = `${fmtBytes(r.line.queuedBytes)}${r.line.queuedMessages ? ` (${r.line.queuedMessages} msgs)` : ''}`;
  const agent = r.stale
    ? el(
        'td',
        {},
        badge('stale', 'silent', `last report ${fmtAgo(r.lastReportAt)}`),
        ` ${fmtAgo(r.lastReportAt)}`,
      )
    : el('td', { class: 'muted', title: r.agent?.id ?? undefined }, `reported ${fmtAgo(r.lastReportAt)}`);
  const d = r.discovery;
  const discovery =
    d.services === 0
      ? el('td', { class: 'muted' }, '—')
      : el(
          'td',
          { 'data-stale': d.stale },
          `${d.services} service${d.services === 1 ? '' : 's'} `,
          d.stale ? badge('stale', 'stale', `last report ${fmtAgo(d.lastReportAt)}`) : '',
        );
  return el(
    'tr',
    { 'data-region': r.region, 'data-sync': sync.key },
    el('td', {}, el('strong', {}, r.region)),
    el('td', { class: 'sync' }, sync.cell),
    versionCell(r.desired),
    versionCell(r.applied),
    lag,
    useCell(r),
    el('td', { class: 'num' }, queued),
    el('td', { class: 'num' }, fmtSeconds(r.line.drainSeconds)),
    el('td', { class: 'num' }, r.connectedProxies),
    el('td', { class: r.nacks > 0 ? 'num count-bad' : 'num' }, r.nacks),
    agent,
    discovery,
    el('td', { class: 'wrap error' }, r.lastError ?? ''),
  );
}

const typeName = (url) => url.slice(url.lastIndexOf('.') + 1);

function proxyRow(p) {
  const kind = p.state === 'SYNCED' ? 'ok' : p.state === 'NACKED' ? 'bad' : 'stale';
  const acked = Object.entries(p.acked)
    .map(([t, v]) => `${typeName(t)} ${v}`)
    .join(', ');
  const n = p.lastNack;
  return el(
    'tr',
    { 'data-node': p.node, 'data-region': p.region },
    el('td', {}, el('code', {}, p.node)),
    el('td', {}, p.region),
    el('td', {}, p.client ?? ''),
    el('td', {}, p.protocol),
    el('td', {}, badge(kind, p.state)),
    el('td', { class: 'wrap' }, acked),
    el('td', { class: p.nacks > 0 ? 'num count-bad' : 'num' }, p.nacks),
    el(
      'td',
      { class: 'wrap nack' },
      n ? `${typeName(n.typeUrl)} ${n.version}: ${n.reason} (${fmtTime(n.at)})` : '',
    ),
  );
}

function changeRow(c) {
  return el(
    'tr',
    { 'data-revision': c.revision },
    el('td', { class: 'num' }, c.revision),
    el('td', {}, fmtTime(c.time)),
    el('td', { class: 'actor' }, c.actor),
    el('td', {}, c.op),
    el('td', {}, `${c.kind}/${c.namespace}/${c.name}`),
  );
}

function fill(tableId, emptyId, rows) {
  $(tableId).tBodies[0].replaceChildren(...rows);
  $(tableId).hidden = rows.length === 0;
  $(emptyId).hidden = rows.length > 0;
}

/** New audit entries since the last read; the first read starts a little before the current revision. */
async function readChanges(revision) {
  let since = state.changesNext ?? Math.max(0, (revision ?? 0) - CHANGES_LOOKBACK);
  for (let page = 0; page < 10; page++) {
    const { items, next } = await api(`v1/changes?since=${since}&limit=1000`);
    state.changes.push(...items);
    state.changes.splice(0, Math.max(0, state.changes.length - CHANGES_SHOWN));
    since = next;
    if (items.length < 1000) break;
  }
  state.changesNext = since;
}

async function readHealth() {
  // Not behind the token; 503 while the hub starts, with the same body.
  const res = await fetch('healthz', { cache: 'no-store' });
  const body = await res.json().catch(() => ({}));
  $('build').textContent =
    `${body.build?.version ? `v${body.build.version} · ` : ''}config revision ${body.revision ?? '?'}${res.ok ? '' : ` · ${body.status ?? res.status}`}`;
  return body.revision;
}

async function refresh() {
  clearTimeout(state.timer);
  try {
    const revision = await readHealth().catch(() => undefined);
    const { items: regions } = await api('v1/regions');
    // Only regions with proxies (or NACKs from ones gone) have a list worth asking for.
    const asked = regions.filter((r) => r.connectedProxies > 0 || r.nacks > 0);
    const lists = await Promise.all(
      asked.map((r) => api(`v1/regions/${encodeURIComponent(r.region)}/proxies`).then((b) => b.items)),
    );
    await readChanges(revision);

    record(regions);
    fill('regions', 'regions-empty', regions.map(regionRow));
    const proxies = lists
      .flat()
      .sort((a, b) => a.region.localeCompare(b.region) || a.node.localeCompare(b.node));
    fill('proxies', 'proxies-empty', proxies.map(proxyRow));
    fill('changes', 'changes-empty', [...state.changes].reverse().map(changeRow));
    showData(true);
    setStatus(`updated ${new Date().toLocaleTimeString()}`);
  } catch (err) {
    if (err instanceof NeedToken) {
      askForToken(err.message);
      return;
    }
    setStatus(`cannot read the hub: ${err.message}`, true);
  }
  state.timer = setTimeout(refresh, REFRESH_MS);
}

function setStatus(text, error = false) {
  $('status').textContent = text;
  $('status').className = error ? 'error' : 'muted';
}

function showData(on) {
  state.loaded = on;
  for (const id of ['regions-section', 'proxies-section', 'changes-section']) $(id).hidden = !on;
  $('forget').hidden = !on || !sessionStorage.getItem(TOKEN_KEY);
}

function askForToken(message) {
  const had = sessionStorage.getItem(TOKEN_KEY);
  sessionStorage.removeItem(TOKEN_KEY);
  showData(false);
  $('login').hidden = false;
  $('login-message').textContent = had
    ? `The hub refused the token (${message}). Enter another.`
    : 'This hub asks for an admin or read-only token. It is kept in this tab only (sessionStorage).';
  setStatus('a token is needed');
  $('token').focus();
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = $('token').value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('token').value = '';
  $('login').hidden = true;
  setStatus('loading…');
  refresh();
});

$('forget').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  state.changes = [];
  state.changesNext = undefined;
  state.history.clear();
  refresh();
});

showData(false);
setStatus('loading…');
refresh();
