/**
 * Compression on the sync line: brotli (the default), gzip and identity, and the experiment of
 * deflate with a preset dictionary both sides already hold, on the sample mesh and on a generated
 * 10k-service mesh, for snapshots and for typical deltas.
 *
 *   npx tsx test/bandwidth/bench-compression.ts [--services 10000] [--seed 1]
 *
 * Two dictionaries are tried:
 *  - static: canonical JSON of one manifest of every kind (what a shared build of fedmesh would
 *    ship to both sides), so keys and common values are already known;
 *  - view: for a delta, the previous versions of the resources it touches, which the agent holds
 *    at the delta's from-version (the best case a view-derived dictionary can reach).
 * Deflate's window is 32 KiB, so only a dictionary's last 32 KiB count.
 *
 * Line bytes add the framing (a ~40 B binary envelope and ~85 B of JetStream headers) and split payloads
 * into 64 KiB chunks, as the hub does.
 */
import { parseArgs, promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { DEFAULT_CHUNK_SIZE, diffResources, headerBytes, scopeRegion } from '@fedmesh/hub';
import {
  canonicalJson,
  compress,
  encodeEnvelope,
  MessageType,
  type Resource,
  sampleMesh,
  type ViewResource,
} from '@fedmesh/shared';
import { DEFAULT_REGIONS, generateMesh, prng, rollEndpoints } from './support/mesh.js';

const deflateRaw = promisify(zlib.deflateRaw);
const inflateRaw = promisify(zlib.inflateRaw);

const { values } = parseArgs({
  options: { services: { type: 'string', default: '10000' }, seed: { type: 'string', default: '1' } },
});
const SERVICES = Number(values.services);
const SEED = Number(values.seed);

/** One manifest of every kind, canonical: the static dictionary. */
const STATIC_DICTIONARY = Buffer.from(
  [...new Map(sampleMesh().map((r) => [r.kind, r])).values()]
    .map((r) => canonicalJson(r))
    .concat(canonicalJson(generateMesh({ services: 3, endpointsPerService: 3 }).at(-4)))
    .join(''),
);

interface Row {
  what: string;
  raw: number;
  sizes: Record<string, number>;
  messages: number;
}

const CODECS = ['identity', 'gzip', 'br', 'br-11', 'deflate+static', 'deflate+view'] as const;

async function encode(raw: Buffer, viewDictionary: Buffer | undefined): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  out.identity = raw.byteLength;
  out.gzip = (await compress('gzip', raw)).byteLength;
  out.br = (await compress('br', raw)).byteLength;
  out['br-11'] = (await compress('br', raw, { level: 11 })).byteLength;
  const withDict = async (dictionary: Buffer) => {
    const body = await deflateRaw(raw, { level: 9, dictionary });
    // A dictionary the receiver does not hold byte for byte would decode to garbage: check.
    const back = await inflateRaw(body, { dictionary });
    if (!back.equals(raw)) throw new Error('dictionary round trip failed');
    return body.byteLength;
  };
  out['deflate+static'] = await withDict(STATIC_DICTIONARY);
  out['deflate+view'] = viewDictionary ? await withDict(viewDictionary) : out['deflate+static'];
  return out;
}

/** Bytes on the line: payload in 64 KiB chunks, each with its envelope and JetStream headers. */
function lineBytes(payload: number, region: string): number {
  const chunks = Math.max(1, Math.ceil(payload / DEFAULT_CHUNK_SIZE));
  const head =
    headerBytes(123_456) +
    encodeEnvelope({
      type: MessageType.Delta,
      region,
      fromVersion: 123_456,
      toVersion: 123_457,
      toHash: 'f'.repeat(64),
      codec: 'br',
      chunk: { index: 1, count: chunks },
      rawSize: 1_000_000,
    }).byteLength;
  return payload + chunks * head;
}

async function snapshotRow(what: string, region: string, mesh: Resource[]): Promise<Row> {
  const resources = scopeRegion(region, mesh);
  const raw = Buffer.from(canonicalJson({ resources }));
  const sizes = await encode(raw, undefined);
  return { what, raw: raw.byteLength, sizes, messages: Math.ceil(sizes.br! / DEFAULT_CHUNK_SIZE) };
}

/** A delta for `region` from `before` to `after`, and the previous versions of what it touches. */
async function deltaRow(what: string, region: string, before: Resource[], after: Resource[]): Promise<Row> {
  const a = scopeRegion(region, before);
  const b = scopeRegion(region, after);
  const keys = new Set(
    [...Object.keys(a), ...Object.keys(b)].filter((k) => canonicalJson(a[k]) !== canonicalJson(b[k])),
  );
  const ops = diffResources(a, b, keys);
  const raw = Buffer.from(canonicalJson({ ops }));
  const touched = [...keys].map((k) => a[k]).filter((r): r is ViewResource => r !== undefined);
  const viewDict = Buffer.from(touched.map((r) => canonicalJson(r)).join(''));
  const sizes = await encode(raw, viewDict.byteLength > 0 ? viewDict : undefined);
  return { what, raw: raw.byteLength, sizes, messages: 1 };
}

function changeSet(mesh: Resource[], seed: number) {
  const rnd = prng(seed);
  const eps = mesh.filter((r) => r.kind === 'ServiceEndpoints');
  const pick = () => eps[Math.floor(rnd() * eps.length)]!;
  const replace = (changed: Resource[]) => {
    const byKey = new Map(changed.map((r) => [`${r.kind}/${r.metadata.namespace}/${r.metadata.name}`, r]));
    return mesh.map((r) => byKey.get(`${r.kind}/${r.metadata.namespace}/${r.metadata.name}`) ?? r);
  };
  const flap = (() => {
    const r = pick();
    if (r.kind !== 'ServiceEndpoints') throw new Error('unreachable');
    const endpoints = r.spec.endpoints.map((e, i) => (i === 0 ? { ...e, healthy: e.healthy === false } : e));
    return replace([{ ...r, spec: { ...r.spec, endpoints } }]);
  })();
  const rolling = replace(Array.from({ length: 10 }, (_, i) => rollEndpoints(pick(), seed + i)));
  const route = (() => {
    const r = mesh.find((x) => x.kind === 'TrafficRoute');
    if (r?.kind !== 'TrafficRoute') return mesh;
    // The canary's split moves from 90/10-ish to 50/50.
    const rules = r.spec.rules.map((rule, i) =>
      i === 0 ? { ...rule, backends: rule.backends.map((b) => ({ ...b, weight: 50 })) } : rule,
    );
    return replace([{ ...r, spec: { ...r.spec, rules } }]);
  })();
  return { flap, rolling, route };
}

function table(rows: Row[]): string {
  const head = ['payload', 'raw', ...CODECS.map((c) => `${c} (ratio)`), 'line br', 'line dict'];
  const body = rows.map((r) => [
    r.what,
    String(r.raw),
    ...CODECS.map((c) => `${r.sizes[c]} (${(r.raw / r.sizes[c]!).toFixed(1)}x)`),
    String(lineBytes(r.sizes.br!, 'eu-west')),
    String(lineBytes(Math.min(r.sizes['deflate+static']!, r.sizes['deflate+view']!), 'eu-west')),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body].map((cells) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n');
}

const rows: Row[] = [];
const sample = sampleMesh();
for (const region of DEFAULT_REGIONS)
  rows.push(await snapshotRow(`sample mesh, ${region} snapshot`, region, sample));
{
  const changed = sample.map((r) =>
    r.kind === 'TrafficRoute'
      ? ({
          ...r,
          spec: {
            ...r.spec,
            rules: r.spec.rules.map((x) => ({
              ...x,
              backends: [
                { subset: 'v1', weight: 50 },
                { subset: 'v2', weight: 50 },
              ],
            })),
          },
        } as Resource)
      : r,
  );
  rows.push(await deltaRow('sample mesh, eu-west delta: canary 80/20 → 50/50', 'eu-west', sample, changed));
}
const t0 = performance.now();
const big = generateMesh({ services: SERVICES, seed: SEED });
const genMs = performance.now() - t0;
for (const region of DEFAULT_REGIONS) {
  rows.push(
    await snapshotRow(`${SERVICES}-service mesh (${big.length} resources), ${region} snapshot`, region, big),
  );
}
const changes = changeSet(big, SEED + 1);
rows.push(
  await deltaRow(`${SERVICES}-service mesh, eu-west delta: one endpoint flaps`, 'eu-west', big, changes.flap),
);
rows.push(
  await deltaRow(
    `${SERVICES}-service mesh, eu-west delta: rolling restart of 10 services`,
    'eu-west',
    big,
    changes.rolling,
  ),
);
rows.push(
  await deltaRow(
    `${SERVICES}-service mesh, eu-west delta: one route's weights`,
    'eu-west',
    big,
    changes.route,
  ),
);

console.log(
  `static dictionary: ${STATIC_DICTIONARY.byteLength} bytes; mesh generated in ${genMs.toFixed(0)} ms\n`,
);
console.log(table(rows));
