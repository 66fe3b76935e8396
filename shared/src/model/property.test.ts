import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FedmeshError } from '../errors.js';
import { sampleMesh } from './fixtures.js';
import { parseManifest } from './parse.js';

// Tests poke at arbitrary depths of untyped manifests; typing every path would only add noise.
// biome-ignore lint/suspicious/noExplicitAny: see above
type Loose = any;

type Json = unknown;
type Path = (string | number)[];

/** Every node of a manifest with its path, root first. */
function nodes(value: Json, path: Path = [], out: { path: Path; value: Json }[] = []) {
  out.push({ path, value });
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      nodes(v, [...path, i], out);
    });
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) nodes(v, [...path, k], out);
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function setAt(root: Loose, path: Path, value: Json): void {
  let cur = root;
  for (const p of path.slice(0, -1)) cur = cur[p];
  cur[path[path.length - 1]!] = value;
}

const HOSTILE = [
  '../etc',
  '..',
  'Payments',
  'café',
  '名前',
  '💥',
  '',
  '-a',
  'a-',
  'a_b',
  'a/b',
  ' a',
  'a\u0000b',
  '__proto__',
  'a'.repeat(300),
];

/** A mutation that is guaranteed to make any valid manifest invalid. */
type Mutation = (m: Loose) => void;

const unknownField: fc.Arbitrary<Mutation> = fc
  .tuple(fc.nat(), fc.constantFrom('portt', 'extra', 'Spec', 'weight_', '__x'))
  .map(([pick, key]) => (m) => {
    // Only objects that are not string maps: every such object in the model is strict.
    const objects = nodes(m).filter(
      (n) =>
        n.value !== null &&
        typeof n.value === 'object' &&
        !Array.isArray(n.value) &&
        !['labels', 'annotations'].includes(String(n.path[n.path.length - 1])),
    );
    const target = objects[pick % objects.length]!;
    // An object value is also invalid inside a string map, so this cannot accidentally be valid.
    (target.value as Record<string, unknown>)[key] = { nested: true };
  });

function wrongValuesFor(v: Json): Json[] {
  if (typeof v === 'boolean') return [null, {}, [], 'yes', 1];
  if (Array.isArray(v)) return [null, {}, 'x', 7];
  if (v !== null && typeof v === 'object') return [null, [], 'x', 7, true];
  return [null, {}, [], true];
}

/** Paths each manifest had replaced by `wrongType`. */
const mutated = new WeakMap<object, string[]>();

const wrongType: fc.Arbitrary<Mutation> = fc.tuple(fc.nat(), fc.nat()).map(([pick, which]) => (m) => {
  const leaves = nodes(m).filter((n) => n.path.length > 0);
  const target = leaves[pick % leaves.length]!;
  // A value an earlier mutation put there must stay broken: replacing it could undo that
  // mutation (`spec: "x"` → `spec: {}` is a valid Region, whose spec fields are all optional).
  const key = target.path.join('.');
  const done = mutated.get(m) ?? [];
  if (done.some((d) => key === d || key.startsWith(`${d}.`))) return;
  const options = wrongValuesFor(target.value);
  setAt(m, target.path, options[which % options.length]);
  mutated.set(m, [...done, key]);
});

const badName: fc.Arbitrary<Mutation> = fc
  .tuple(fc.constantFrom(...HOSTILE), fc.constantFrom('name', 'namespace', 'service', 'region'))
  .map(([name, field]) => (m) => {
    // An earlier mutation may have replaced metadata or spec; the manifest is invalid already.
    if (!isObject(m.metadata) || !isObject(m.spec)) return;
    if (field === 'name' || field === 'namespace') m.metadata[field] = name;
    else if (m.kind !== 'Region' && m.kind !== 'Service' && field === 'service') m.spec.service = name;
    else m.metadata.name = name;
  });

const badKind: fc.Arbitrary<Mutation> = fc
  .oneof(fc.string(), fc.constantFrom(undefined, null, 1, 'service', 'toString', '__proto__', 'constructor'))
  .map((kind) => (m) => {
    m.kind = kind;
  });

const badApiVersion: fc.Arbitrary<Mutation> = fc
  .oneof(fc.string(), fc.constantFrom(undefined, null, 'fedmesh.io/v2', 'v1'))
  .filter((v) => v !== 'fedmesh.io/v1')
  .map((apiVersion) => (m) => {
    m.apiVersion = apiVersion;
  });

const mutation = fc.oneof(unknownField, wrongType, badName, badKind, badApiVersion);

function expectInvalid(input: unknown): void {
  let thrown: unknown;
  try {
    parseManifest(input);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(FedmeshError);
  const e = thrown as FedmeshError;
  expect(e.code).toBe('invalid');
  expect(e.issues.length).toBeGreaterThan(0);
  for (const issue of e.issues) {
    expect(typeof issue.path).toBe('string');
    expect(issue.message.length).toBeGreaterThan(0);
  }
}

describe('model - property', () => {
  const mesh = sampleMesh();

  it('model - random mutations of a valid manifest always yield an invalid error with issues', () => {
    fc.assert(
      fc.property(
        fc.nat(mesh.length - 1),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        (index, mutations) => {
          const m = structuredClone(mesh[index]);
          for (const mutate of mutations) mutate(m);
          expectInvalid(m);
        },
      ),
      { numRuns: Number(process.env.FEDMESH_PROPERTY_RUNS ?? 500) },
    );
  });

  it('model - arbitrary values are rejected as invalid, never with another exception', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withObjectString: true }), (value) => {
        expectInvalid(value);
      }),
      { numRuns: 300 },
    );
  });

  it('model - arbitrary specs under a valid header are rejected or accepted, never crash', () => {
    fc.assert(
      fc.property(fc.nat(mesh.length - 1), fc.jsonValue(), (index, spec) => {
        const m = structuredClone(mesh[index]) as Loose;
        m.spec = spec;
        try {
          parseManifest(m);
        } catch (err) {
          expect(err).toBeInstanceOf(FedmeshError);
          expect((err as FedmeshError).issues.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 300 },
    );
  });
});
