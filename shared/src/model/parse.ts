import type { z } from 'zod';
import { FedmeshError, type FieldIssue, invalid } from '../errors.js';
import { API_VERSION, KINDS } from './kinds.js';
import { isClusterScoped, isKnownKind, kindInfo } from './registry.js';
import type { ParseOptions, Resource } from './types.js';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Zod's wording for a missing field ("expected string, received undefined") reads like a type
// error; users think of it as "required".
const errorMap: z.core.$ZodErrorMap = (iss) =>
  iss.code === 'invalid_type' && iss.input === undefined ? 'required' : undefined;

/** Flattens zod issues into dotted-path field issues; unknown keys get one issue each. */
export function toFieldIssues(
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PropertyKey[] = [],
): FieldIssue[] {
  const out: FieldIssue[] = [];
  const dotted = (path: readonly PropertyKey[]) => [...prefix, ...path].map(String).join('.');
  for (const iss of issues) {
    if (iss.code === 'unrecognized_keys') {
      for (const key of iss.keys) out.push({ path: dotted([...iss.path, key]), message: 'unknown field' });
    } else if (iss.code === 'invalid_key') {
      const inner = iss.issues[0]?.message ?? iss.message;
      out.push({ path: dotted(iss.path), message: `invalid key: ${inner}` });
    } else {
      out.push({ path: dotted(iss.path), message: iss.message || 'invalid value' });
    }
  }
  return out;
}

/**
 * Validates and normalizes one manifest. Normalization is limited to the namespace: a
 * namespaced kind takes `defaultNamespace` when it has none, a cluster-scoped kind drops `_`.
 * Everything else is kept as written (no defaults filled in). Throws `invalid` with dotted
 * field paths; never throws anything else for any JSON-like input.
 */
export function parseManifest(input: unknown, opts: ParseOptions = {}): Resource {
  if (!isPlainObject(input))
    throw invalid([{ path: '', message: 'manifest must be an object' }], 'invalid manifest');
  const head: FieldIssue[] = [];
  if (input.apiVersion !== API_VERSION) {
    head.push({
      path: 'apiVersion',
      message:
        input.apiVersion === undefined ? `required, must be "${API_VERSION}"` : `must be "${API_VERSION}"`,
    });
  }
  const kind = input.kind;
  if (!isKnownKind(kind)) {
    const got = typeof kind === 'string' ? `unknown kind ${JSON.stringify(kind.slice(0, 100))}` : 'required';
    head.push({ path: 'kind', message: `${got}; valid kinds: ${KINDS.join(', ')}` });
    throw invalid(head, 'invalid manifest');
  }

  let candidate = input;
  const metadata = input.metadata;
  const clusterScoped = isClusterScoped(kind);
  if (
    !clusterScoped &&
    opts.defaultNamespace !== undefined &&
    isPlainObject(metadata) &&
    metadata.namespace === undefined
  ) {
    candidate = { ...input, metadata: { ...metadata, namespace: opts.defaultNamespace } };
  }

  const result = kindInfo(kind).manifestSchema.safeParse(candidate, { error: errorMap });
  const issues = result.success ? [] : toFieldIssues(result.error.issues);
  // The schema reports apiVersion too; keep our clearer wording and avoid saying it twice.
  const all = [...head, ...issues.filter((i) => !(head.length && i.path === 'apiVersion'))];
  if (result.success && !clusterScoped) {
    const ns = (result.data as Resource).metadata.namespace;
    if (ns === undefined)
      all.push({ path: 'metadata.namespace', message: `required for namespaced kind ${kind}` });
  }
  if (all.length > 0 || !result.success) throw invalid(all, `invalid ${kind} manifest`);

  const resource = result.data as Resource;
  if (clusterScoped) delete resource.metadata.namespace;
  return resource;
}

/** Like `parseManifest`, but returns the issues instead of throwing. */
export function validateManifest(
  input: unknown,
  opts: ParseOptions = {},
): { ok: true; resource: Resource } | { ok: false; issues: FieldIssue[] } {
  try {
    return { ok: true, resource: parseManifest(input, opts) };
  } catch (err) {
    if (err instanceof FedmeshError) return { ok: false, issues: [...err.issues] };
    throw err;
  }
}
